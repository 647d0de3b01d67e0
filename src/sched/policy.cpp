#include "sched/policy.hpp"

namespace fanout::sched {

static_assert(
    [] {
      for (std::size_t i = 0; i < POLICIES.size(); ++i)
        if (static_cast<std::size_t>(POLICIES[i].policy) != i) return false;
      return true;
    }(),
    "POLICIES must list the policies in enum order");

std::string_view policy_name(Policy policy) { return POLICIES.at(static_cast<std::size_t>(policy)).name; }

std::optional<Policy> parse_policy(std::string_view name) {
  for (const auto& info : POLICIES)
    if (info.name == name) return info.policy;
  return std::nullopt;
}

const std::vector<std::string>& policy_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    out.reserve(POLICIES.size());
    for (const auto& info : POLICIES) out.emplace_back(info.name);
    return out;
  }();
  return names;
}

std::string policy_descriptions() {
  std::string out;
  for (const auto& info : POLICIES) {
    if (!out.empty()) out += ", ";
    out.append(info.name).append(" (").append(info.description).append(")");
  }
  return out;
}

}  // namespace fanout::sched
