#pragma once
// How ranks reach rank 0: directly (flat), or through a leader per node or
// per group of N consecutive ranks ([schedule] hierarchy).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fanout::sched {

enum class HierarchyKind : std::uint8_t { Auto, Flat, Node, Groups };

struct Hierarchy {
  HierarchyKind kind = HierarchyKind::Auto;
  int group_size = 0;  // Groups only: ranks per group (>= 1)
  // "auto", "flat", "node", or the group size as digits: the config value and
  // the file's root attribute `hierarchy`.
  std::string name() const;
  bool operator==(const Hierarchy&) const = default;
};

// The words the config key takes besides a whole number.
const std::vector<std::string>& hierarchy_words();
// "auto" | "flat" | "node" | digits (>= 1); nullopt for anything else.
std::optional<Hierarchy> parse_hierarchy(const std::string& text);

}  // namespace fanout::sched
