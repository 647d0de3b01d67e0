#include "sched/hierarchy.hpp"

#include <charconv>

namespace fanout::sched {

std::string Hierarchy::name() const {
  switch (kind) {
    case HierarchyKind::Auto:
      return "auto";
    case HierarchyKind::Flat:
      return "flat";
    case HierarchyKind::Node:
      return "node";
    case HierarchyKind::Groups:
      return std::to_string(group_size);
  }
  return "auto";
}

const std::vector<std::string>& hierarchy_words() {
  static const std::vector<std::string> words{"auto", "flat", "node"};
  return words;
}

std::optional<Hierarchy> parse_hierarchy(const std::string& text) {
  if (text == "auto") return Hierarchy{HierarchyKind::Auto, 0};
  if (text == "flat") return Hierarchy{HierarchyKind::Flat, 0};
  if (text == "node") return Hierarchy{HierarchyKind::Node, 0};
  int n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end != text.data() + text.size() || n < 1 || text.empty()) return std::nullopt;
  return Hierarchy{HierarchyKind::Groups, n};
}

}  // namespace fanout::sched
