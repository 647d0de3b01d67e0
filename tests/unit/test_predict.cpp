// fanout predict's dispatch model: who answers whom under flat dispatch and
// leaders, where rank 0 saturates, and the compute phase it bounds, on
// made-up runs whose answers are known in closed form.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "report/predict.hpp"

using namespace fanout;
using namespace fanout::report;

namespace {

// 1000 tasks of 1 ms, dynamic with chunk 1, recorded on `ranks` ranks (two
// per node); rank 0 received `messages` in `comm` seconds (0: not recorded).
io::RunFile made_up_run(int ranks, std::uint64_t messages, double comm, const std::string& hierarchy = "flat") {
  io::RunFile run;
  run.path = "made-up.h5";
  run.scheduler = "dynamic";
  run.chunk = "1";
  run.order = "given";
  run.hierarchy = hierarchy;
  run.n_ranks = ranks;
  run.threads_per_rank = 1;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    TaskRecord t;
    t.id = i;
    t.rank = static_cast<int>(i % static_cast<std::uint64_t>(ranks));
    t.attempt = 1;
    t.t_start = 0.001 * static_cast<double>(i / static_cast<std::uint64_t>(ranks));
    t.t_end = t.t_start + 0.001;
    run.tasks.push_back(t);
  }
  run.ranks.resize(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r) {
    run.ranks[static_cast<std::size_t>(r)].rank = r;
    std::snprintf(run.ranks[static_cast<std::size_t>(r)].node, HOST_NAME_BYTES, "n%d", r / 2);
  }
  run.ranks[0].messages_in = messages;
  run.ranks[0].comm = comm;
  return run;
}

PredictOptions at(int ranks, const std::string& hierarchy = "", int ranks_per_node = 0) {
  PredictOptions o;
  o.ranks = ranks;
  o.latency = 0;
  if (!hierarchy.empty()) o.hierarchy = parse_hierarchy_option(hierarchy);
  if (ranks_per_node > 0) o.ranks_per_node = ranks_per_node;
  return o;
}

}  // namespace

TEST(DispatchTree, FlatAndGroupsInClosedForm) {
  for (long n : {1L, 2L, 7L, 1000L}) {
    DispatchTree flat = dispatch_tree(n, 0);
    EXPECT_EQ(flat.direct, n - 1);
    EXPECT_EQ(flat.leaders, 0);
  }
  DispatchTree t = dispatch_tree(10, 4);  // groups {0-3}, {4-7}, {8-9}: rank 0 answers 1, 2, 3 and leaders 4, 8
  EXPECT_EQ(t.direct, 5);
  EXPECT_EQ(t.leaders, 2);
  EXPECT_EQ(t.per_leader, 3);
  t = dispatch_tree(5, 4);  // {0-3}, {4}: a leader alone
  EXPECT_EQ(t.direct, 4);
  EXPECT_EQ(t.leaders, 1);
  EXPECT_EQ(t.per_leader, 0);
  t = dispatch_tree(4, 8);  // one group holds every rank: flat
  EXPECT_EQ(t.direct, 3);
  EXPECT_EQ(t.leaders, 0);
  t = dispatch_tree(4096, 32);
  EXPECT_EQ(t.direct, 31 + 127);
  EXPECT_EQ(t.per_leader, 31);
}

TEST(DispatchTree, SaturationIsTheFirstRankCountThatFillsRankZero) {
  EXPECT_EQ(saturation_ranks(0, 0.01), 101);  // 100 ranks x 0.01 fill rank 0
  EXPECT_EQ(saturation_ranks(0, 2.0), 2);     // one rank alone is more than it can answer
  EXPECT_EQ(saturation_ranks(0, 0), std::nullopt);
  EXPECT_EQ(saturation_ranks(0, 1e-9), std::nullopt);  // beyond 10^7 ranks
  EXPECT_EQ(saturation_ranks(8, 0.05), 105);           // 7 members + 13 leaders = 20 = 1 / 0.05
  for (int group : {0, 1, 2, 4, 8, 32})
    for (double load : {0.3, 0.05, 0.01, 0.0037}) {
      auto n = saturation_ranks(group, load);
      ASSERT_TRUE(n) << group << " " << load;
      auto busy = [&](long ranks) { return static_cast<double>(dispatch_tree(ranks, group).direct) * load; };
      EXPECT_GE(busy(*n), 1 - 1e-12) << "group " << group << ", load " << load << ": " << *n << " ranks";
      if (*n > 2) EXPECT_LT(busy(*n - 1), 1) << "group " << group << ", load " << load << ": " << *n - 1 << " ranks";
    }
}

TEST(PredictDispatch, FlatSaturatesWhereRankZerosMessagesFillTheComputePhase) {
  // Rank 0 took 50 us per message in the file: 1 ms tasks, one message each,
  // so each rank is 5% of rank 0's time and 20 ranks fill it.
  io::RunFile run = made_up_run(2, 1000, 0.05);
  Prediction two = predict(run, at(2));
  EXPECT_TRUE(two.measured);
  EXPECT_DOUBLE_EQ(two.seconds_per_message, 50e-6);
  EXPECT_EQ(two.hierarchy, "flat");
  EXPECT_NEAR(two.messages_per_task, 1.0, 1e-12);
  EXPECT_NEAR(two.task_seconds, 0.001, 1e-12);
  EXPECT_EQ(two.flat_saturation, 21);
  EXPECT_EQ(two.saturation, 21);
  EXPECT_EQ(two.compute, two.simulated_compute) << "2 ranks are far from saturating rank 0";
  EXPECT_LT(two.rank0_busy, 0.1);

  Prediction flat = predict(run, at(64));  // past saturation: rank 0's messages set the compute phase
  EXPECT_EQ(flat.tree.direct, 63);
  EXPECT_GE(flat.rank0_messages, 1000 * 63.0 / 64);  // a message per task the other ranks ran...
  EXPECT_GT(flat.compute, flat.simulated_compute);
  EXPECT_DOUBLE_EQ(flat.compute, flat.rank0_messages * 50e-6);
  EXPECT_DOUBLE_EQ(flat.rank0_busy, 1.0);
  EXPECT_DOUBLE_EQ(flat.wall, flat.fixed + flat.compute);

  // A leader per node of 8: rank 0 answers 7 ranks and 7 leaders, 14 of the 63.
  Prediction node = predict(run, at(64, "node", 8));
  EXPECT_EQ(node.group, 8);
  EXPECT_EQ(node.tree.direct, 14);
  EXPECT_EQ(node.tree.leaders, 7);
  EXPECT_NEAR(node.rank0_messages, flat.rank0_messages * 14 / 63, 1e-9);
  EXPECT_NEAR(node.leader_messages, flat.rank0_messages * 8 / 63, 1e-9);
  EXPECT_LT(node.compute, flat.compute);
  EXPECT_LT(node.rank0_busy, 1.0);
  EXPECT_EQ(node.flat_saturation, 21);
  EXPECT_EQ(node.saturation, 105);
  EXPECT_FALSE(node.leader_saturated);
  EXPECT_TRUE(predict(run, at(64, "node", 32)).leader_saturated) << "32 ranks x 5% fill a leader";
  EXPECT_EQ(predict(run, at(64, "16")).group, 16);
}

TEST(PredictDispatch, DefaultsFromTheFileOrTheDocumentedTime) {
  // Before format 1.7: no messages recorded, the default time per message.
  io::RunFile old = made_up_run(4, 0, 0.5);
  Prediction p = predict(old, at(1));
  EXPECT_FALSE(p.measured);
  EXPECT_DOUBLE_EQ(p.seconds_per_message, DEFAULT_SECONDS_PER_MESSAGE);
  EXPECT_EQ(p.rank0_messages, 0) << "one rank sends no message";
  EXPECT_NEAR(p.messages_per_task, 1.0, 1e-12) << "the chunking two ranks would see";
  EXPECT_EQ(p.flat_saturation, 101);  // 1 ms / 10 us
  // The file's hierarchy and ranks per node (2 per node in made_up_run).
  Prediction led = predict(made_up_run(4, 1000, 0.05, "node"), at(16));
  EXPECT_EQ(led.hierarchy, "node");
  EXPECT_EQ(led.ranks_per_node, 2);
  EXPECT_EQ(led.tree.direct, 1 + 7);
  EXPECT_EQ(predict(made_up_run(4, 1000, 0.05, "node"), at(16, "flat")).tree.direct, 15);
}

TEST(PredictDispatch, BadHierarchyAndRanksPerNodeAreRefused) {
  for (const char* bad : {"bogus", "auto", "0", "-1", "2x", ""}) {
    try {
      parse_hierarchy_option(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const ConfigError& e) {
      EXPECT_EQ(
          std::string(e.what()),
          "--hierarchy: expected flat, node or a group size (a whole number >= 1), found \"" + std::string(bad) + "\"");
      EXPECT_EQ(e.exit_code(), 2);
    }
  }
  EXPECT_EQ(parse_hierarchy_option("node").kind, sched::HierarchyKind::Node);
  EXPECT_EQ(parse_hierarchy_option("8").group_size, 8);
  PredictOptions o = at(4);
  o.ranks_per_node = 0;
  EXPECT_THROW(predict(made_up_run(2, 0, 0), o), ConfigError);
}
