#include "core/topology.hpp"

#include <map>
#include <set>
#include <stdexcept>

namespace fanout {

sched::Hierarchy resolve_hierarchy(const sched::Hierarchy& wanted, int ranks, int nodes) {
  if (wanted.kind != sched::HierarchyKind::Auto) return wanted;
  if (ranks >= AUTO_LEADERS_FROM_RANKS && nodes > 1) return {sched::HierarchyKind::Node, 0};
  return {sched::HierarchyKind::Flat, 0};
}

std::vector<int> leaders_of_groups(int ranks, int size) {
  if (size < 1) throw std::invalid_argument("leaders_of_groups: group size must be >= 1");
  std::vector<int> out(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r) out[static_cast<std::size_t>(r)] = r / size * size;
  return out;
}

std::vector<int> leaders_of_nodes(const std::vector<std::string>& node_of_rank) {
  std::map<std::string, int> first;
  std::vector<int> out(node_of_rank.size());
  for (std::size_t r = 0; r < node_of_rank.size(); ++r) {
    auto [it, added] = first.emplace(node_of_rank[r], static_cast<int>(r));
    out[r] = it->second;
  }
  return out;
}

int count_nodes(const std::vector<std::string>& node_of_rank) {
  return static_cast<int>(std::set<std::string>(node_of_rank.begin(), node_of_rank.end()).size());
}

void detach_rank_zero(std::vector<int>& leader_of) {
  int second = -1;
  for (std::size_t r = 1; r < leader_of.size(); ++r) {
    if (leader_of[r] != 0) continue;
    if (second < 0) second = static_cast<int>(r);
    leader_of[r] = second;
  }
}

Topology make_topology(int rank, const std::vector<int>& leader_of) {
  const int ranks = static_cast<int>(leader_of.size());
  if (ranks < 1 || rank < 0 || rank >= ranks || leader_of[0] != 0)
    throw std::invalid_argument("make_topology: rank 0 must lead its own group");
  auto parent_of = [&](int r) {
    if (r == 0) return -1;
    int leader = leader_of[static_cast<std::size_t>(r)];
    if (leader < 0 || leader >= ranks || leader_of[static_cast<std::size_t>(leader)] != leader)
      throw std::invalid_argument("make_topology: a leader that does not lead itself");
    return leader == r ? 0 : leader;
  };
  Topology t;
  t.rank = rank;
  t.parent = parent_of(rank);
  t.leads_group = rank != 0 && leader_of[static_cast<std::size_t>(rank)] == rank;
  t.route.resize(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r) {
    int p = parent_of(r);
    if (p == rank) t.children.push_back(r);
    t.route[static_cast<std::size_t>(r)] = p <= 0 ? r : p;
  }
  return t;
}

}  // namespace fanout
