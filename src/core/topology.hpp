#pragma once
// Who serves whom in a run: with flat dispatch rank 0 serves every rank;
// under leaders it serves the groups' leaders only (detach_rank_zero), and a
// leader serves the other ranks of its group (a node, or N consecutive
// ranks) and takes work for them from rank 0.
#include <string>
#include <vector>

#include "sched/hierarchy.hpp"

namespace fanout {

// Runs of at least this many ranks use node leaders under hierarchy "auto"
// (when they span more than one node; see docs/performance.md for the
// measurement behind it). Below it one dispatcher keeps up.
inline constexpr int AUTO_LEADERS_FROM_RANKS = 64;

// "auto" made concrete for a run of `ranks` ranks on `nodes` nodes.
sched::Hierarchy resolve_hierarchy(const sched::Hierarchy& wanted, int ranks, int nodes);

// Each rank's group leader (itself for a leader): groups of `size`
// consecutive ranks, or the first rank of each node name.
std::vector<int> leaders_of_groups(int ranks, int size);
std::vector<int> leaders_of_nodes(const std::vector<std::string>& node_of_rank);
int count_nodes(const std::vector<std::string>& node_of_rank);
// Under leaders rank 0 serves leaders only: the other ranks of its own group
// get a leader of their own, the group's second rank (rank 0 stays a group
// of one that dispatches, collects and computes).
void detach_rank_zero(std::vector<int>& leader_of);

struct Topology {
  int rank = 0;
  int parent = -1;            // the rank this one takes work from (-1: rank 0, which serves)
  std::vector<int> children;  // the ranks this one serves
  // For every rank: the child of rank 0 its tasks come through (itself for
  // rank 0, its group's ranks and leaders; its leader for the others).
  std::vector<int> route;
  // /ranks `leader`: the parent, and 0 for rank 0.
  int recorded_leader() const { return parent < 0 ? 0 : parent; }
  bool serves() const { return !children.empty() || parent < 0; }
  // A group leader other than rank 0 (its group may be itself alone).
  bool is_leader() const { return leads_group; }
  bool leads_group = false;
};

// `leader_of[r]`: the group leader of rank r (leader_of[0] must be 0).
Topology make_topology(int rank, const std::vector<int>& leader_of);

}  // namespace fanout
