// Who serves whom (core/topology.hpp): groups of N consecutive ranks, groups
// by node name, each rank's parent, children and route, /ranks `leader`, and
// hierarchy "auto" made concrete.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "core/topology.hpp"

using namespace fanout;
using sched::Hierarchy;
using sched::HierarchyKind;

using Ints = std::vector<int>;

TEST(Topology, GroupsOfN) {
  EXPECT_EQ(leaders_of_groups(5, 2), (Ints{0, 0, 2, 2, 4}));
  EXPECT_EQ(leaders_of_groups(4, 1), (Ints{0, 1, 2, 3}));
  EXPECT_EQ(leaders_of_groups(3, 3), (Ints{0, 0, 0}));
  EXPECT_EQ(leaders_of_groups(3, 64), (Ints{0, 0, 0}));
  EXPECT_EQ(leaders_of_groups(1, 1), (Ints{0}));
  EXPECT_THROW(leaders_of_groups(3, 0), std::invalid_argument);
}

// Rank 0's node need not come first by name: each node's leader is its
// first rank, whatever the names' order.
TEST(Topology, NodesByName) {
  const std::vector<std::string> nodes{"node-b", "node-a", "node-b", "node-c", "node-a", "node-a"};
  EXPECT_EQ(leaders_of_nodes(nodes), (Ints{0, 1, 0, 3, 1, 1}));
  EXPECT_EQ(count_nodes(nodes), 3);
  EXPECT_EQ(leaders_of_nodes({"z", "z"}), (Ints{0, 0}));
  EXPECT_EQ(count_nodes({"z", "z"}), 1);

  // Rank 1 leads node-a (ranks 1, 4, 5); rank 3 leads node-c alone; rank 2 is under rank 0.
  const Ints leaders = leaders_of_nodes(nodes);
  const Topology zero = make_topology(0, leaders);
  EXPECT_EQ(zero.children, (Ints{1, 2, 3}));
  EXPECT_EQ(zero.route, (Ints{0, 1, 2, 3, 1, 1}));
  const Topology one = make_topology(1, leaders);
  EXPECT_TRUE(one.is_leader());
  EXPECT_EQ(one.parent, 0);
  EXPECT_EQ(one.children, (Ints{4, 5}));
  EXPECT_EQ(one.route, zero.route) << "every rank knows the same routes";
  const Topology five = make_topology(5, leaders);
  EXPECT_EQ(five.parent, 1);
  EXPECT_EQ(five.recorded_leader(), 1);
  EXPECT_FALSE(five.serves());
}

TEST(Topology, GroupsOfTwo) {
  const Ints leaders = leaders_of_groups(5, 2);  // {0, 1} {2, 3} {4}
  const Topology zero = make_topology(0, leaders);
  EXPECT_EQ(zero.parent, -1);
  EXPECT_EQ(zero.children, (Ints{1, 2, 4}));
  EXPECT_EQ(zero.route, (Ints{0, 1, 2, 2, 4}));
  EXPECT_TRUE(zero.serves());
  EXPECT_FALSE(zero.is_leader()) << "rank 0 serves, but is no group leader";
  EXPECT_EQ(zero.recorded_leader(), 0);

  const Topology two = make_topology(2, leaders);
  EXPECT_EQ(two.parent, 0);
  EXPECT_EQ(two.children, (Ints{3}));
  EXPECT_TRUE(two.is_leader());
  EXPECT_TRUE(two.serves());
  EXPECT_EQ(two.recorded_leader(), 0);

  const Topology three = make_topology(3, leaders);
  EXPECT_EQ(three.parent, 2);
  EXPECT_TRUE(three.children.empty());
  EXPECT_FALSE(three.is_leader());
  EXPECT_FALSE(three.serves());
  EXPECT_EQ(three.recorded_leader(), 2);

  const Topology four = make_topology(4, leaders);  // a group of itself alone
  EXPECT_EQ(four.parent, 0);
  EXPECT_TRUE(four.children.empty());
  EXPECT_TRUE(four.is_leader());
  EXPECT_EQ(four.recorded_leader(), 0);

  const Topology one = make_topology(1, leaders);  // in rank 0's group
  EXPECT_EQ(one.parent, 0);
  EXPECT_FALSE(one.is_leader());
  EXPECT_EQ(one.route, zero.route);
}

// Groups of 1 and groups of at least the rank count are both flat dispatch
// in effect: every rank's parent is rank 0, every route the rank itself.
TEST(Topology, GroupsOfOneAndOfAll) {
  for (int size : {1, 4, 9}) {
    SCOPED_TRACE("groups of " + std::to_string(size));
    const Ints leaders = leaders_of_groups(4, size);
    const Topology zero = make_topology(0, leaders);
    EXPECT_EQ(zero.children, (Ints{1, 2, 3}));
    EXPECT_EQ(zero.route, (Ints{0, 1, 2, 3}));
    for (int r = 1; r < 4; ++r) {
      const Topology t = make_topology(r, leaders);
      EXPECT_EQ(t.parent, 0);
      EXPECT_TRUE(t.children.empty());
      EXPECT_EQ(t.is_leader(), size == 1);
      EXPECT_EQ(t.recorded_leader(), 0);
    }
  }
  const Topology alone = make_topology(0, {0});
  EXPECT_TRUE(alone.serves());
  EXPECT_TRUE(alone.children.empty());
  EXPECT_EQ(alone.route, (Ints{0}));
}

TEST(Topology, RefusesLeadersThatDoNotLead) {
  EXPECT_THROW(make_topology(0, {}), std::invalid_argument);
  EXPECT_THROW(make_topology(0, {1, 1}), std::invalid_argument) << "rank 0 under another";
  EXPECT_THROW(make_topology(0, {0, 2, 1}), std::invalid_argument) << "rank 1's leader is under rank 1";
  EXPECT_THROW(make_topology(0, {0, 5}), std::invalid_argument) << "no such rank";
  EXPECT_THROW(make_topology(2, {0, 0}), std::invalid_argument);
  EXPECT_THROW(make_topology(-1, {0, 0}), std::invalid_argument);
}

TEST(Topology, ResolveAuto) {
  const Hierarchy automatic{HierarchyKind::Auto, 0};
  const Hierarchy flat{HierarchyKind::Flat, 0};
  const Hierarchy node{HierarchyKind::Node, 0};
  EXPECT_EQ(resolve_hierarchy(automatic, AUTO_LEADERS_FROM_RANKS, 2), node);
  EXPECT_EQ(resolve_hierarchy(automatic, 4096, 64), node);
  EXPECT_EQ(resolve_hierarchy(automatic, AUTO_LEADERS_FROM_RANKS - 1, 2), flat) << "few ranks";
  EXPECT_EQ(resolve_hierarchy(automatic, 4096, 1), flat) << "one node";
  EXPECT_EQ(resolve_hierarchy(automatic, 1, 1), flat);
  for (const Hierarchy& chosen : {flat, node, Hierarchy{HierarchyKind::Groups, 3}}) {
    EXPECT_EQ(resolve_hierarchy(chosen, 4096, 64), chosen);
    EXPECT_EQ(resolve_hierarchy(chosen, 2, 1), chosen);
  }
}

// Under leaders rank 0 serves leaders only: the rest of its group gets the
// group's second rank as leader; other groups and a group of one keep theirs.
TEST(Topology, RankZeroIsDetachedFromItsGroup) {
  std::vector<int> leaders = leaders_of_groups(8, 4);
  detach_rank_zero(leaders);
  EXPECT_EQ(leaders, (std::vector<int>{0, 1, 1, 1, 4, 4, 4, 4}));
  Topology zero = make_topology(0, leaders);
  EXPECT_EQ(zero.children, (std::vector<int>{1, 4}));
  Topology one = make_topology(1, leaders);
  EXPECT_TRUE(one.is_leader());
  EXPECT_EQ(one.children, (std::vector<int>{2, 3}));
  std::vector<int> alone = leaders_of_groups(3, 1);
  detach_rank_zero(alone);
  EXPECT_EQ(alone, (std::vector<int>{0, 1, 2}));
}
