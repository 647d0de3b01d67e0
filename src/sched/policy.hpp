#pragma once
// The scheduling policies: one table of their names (the config value, the
// run file's `scheduler` attribute, predict --policy) and help text, which
// the config validates against and predict replays from.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fanout::sched {

enum class Policy : std::uint8_t { StaticBlock, StaticCyclic, Dynamic, Guided };

struct PolicyInfo {
  Policy policy;
  std::string_view name;
  std::string_view description;  // for the config key's help
};

// In enum order (policy_name indexes it).
inline constexpr std::array<PolicyInfo, 4> POLICIES{{
    {Policy::StaticBlock, "static-block", "contiguous blocks"},
    {Policy::StaticCyclic, "static-cyclic", "round robin"},
    {Policy::Dynamic, "dynamic", "idle workers ask rank 0 for the next chunk"},
    {Policy::Guided, "guided", "chunks of remaining / (2 x workers), shrinking"},
}};

std::string_view policy_name(Policy policy);
// nullopt for a name not in POLICIES.
std::optional<Policy> parse_policy(std::string_view name);
// The names in table order, for validators that take a list.
const std::vector<std::string>& policy_names();
// "static-block (contiguous blocks), static-cyclic (round robin), ...".
std::string policy_descriptions();

}  // namespace fanout::sched
