// Scheduler partitioning: every task exactly once, for many task counts,
// rank counts, thread counts, policies and orders; chunk sizes within bounds.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "sched/scheduler.hpp"

using fanout::sched::make_scheduler;
using fanout::sched::Policy;
using fanout::sched::SchedulerOptions;
using fanout::sched::TaskRange;

namespace {

struct Drained {
  std::vector<std::vector<int>> owners;  // per task: the ranks that got it
  std::vector<std::uint64_t> sizes;      // tasks per answer, in hand-out order
  std::vector<std::uint64_t> handed;     // task ids in hand-out order
};

// Drains the scheduler the way ranks do (round robin over ranks until every
// rank hears "no more"), optionally reporting each answer's tasks as finished
// with `seconds_per_task` each.
Drained drain(SchedulerOptions options, double seconds_per_task = -1) {
  const int ranks = options.ranks;
  const std::uint64_t tasks = options.task_count;
  auto scheduler = make_scheduler(options);
  Drained d;
  d.owners.resize(tasks);
  std::vector<bool> finished(static_cast<std::size_t>(ranks), false);
  int open = ranks;
  for (int guard = 0; open > 0 && guard < 10'000'000; ++guard) {
    int r = guard % ranks;
    if (finished[r]) continue;
    auto work = scheduler->next(r);
    if (work.done()) {
      finished[r] = true;
      --open;
      continue;
    }
    std::uint64_t size = 0;
    for (const TaskRange& range : work.ranges) {
      size += range.count();
      for (std::uint64_t id = range.begin; id < range.end; id += range.stride) {
        d.owners.at(id).push_back(r);
        d.handed.push_back(id);
      }
    }
    d.sizes.push_back(size);
    if (seconds_per_task >= 0) scheduler->observe(seconds_per_task * static_cast<double>(size), size);
  }
  EXPECT_EQ(open, 0) << "scheduler never finished";
  return d;
}

std::vector<std::uint64_t> reversed(std::uint64_t n) {
  std::vector<std::uint64_t> order(n);
  std::iota(order.rbegin(), order.rend(), 0);
  return order;
}

}  // namespace

TEST(Scheduler, EveryTaskExactlyOnce) {
  for (const auto& info : fanout::sched::POLICIES)
    for (std::uint64_t tasks : {0ull, 1ull, 2ull, 3ull, 7ull, 20ull, 97ull, 1000ull, 12345ull})
      for (int ranks : {1, 2, 3, 4, 7, 16, 100})
        for (unsigned threads : {1u, 2u, 3u})
          for (std::optional<std::uint64_t> chunk :
               {std::optional<std::uint64_t>{}, std::optional<std::uint64_t>{1}, std::optional<std::uint64_t>{5}})
            for (bool ordered : {false, true}) {
              SchedulerOptions o{info.policy, tasks, ranks,
                                 threads,     chunk, ordered ? reversed(tasks) : std::vector<std::uint64_t>{}};
              auto d = drain(o, 1e-4);
              for (std::uint64_t id = 0; id < tasks; ++id)
                ASSERT_EQ(d.owners[id].size(), 1u)
                    << info.name << " tasks=" << tasks << " ranks=" << ranks << " threads=" << threads
                    << " ordered=" << ordered << " task " << id;
            }
}

TEST(Scheduler, StaticBlocksDifferByAtMostOne) {
  for (std::uint64_t tasks : {5ull, 20ull, 101ull})
    for (int ranks : {1, 2, 3, 4, 6}) {
      auto d = drain({Policy::StaticBlock, tasks, ranks, 1, {}, {}});
      std::vector<std::uint64_t> count(ranks, 0);
      for (std::uint64_t id = 0; id < tasks; ++id) {
        ++count[d.owners[id][0]];
        if (id > 0) {
          EXPECT_LE(d.owners[id - 1][0], d.owners[id][0]) << "blocks are contiguous and ordered by rank";
        }
      }
      auto [lo, hi] = std::minmax_element(count.begin(), count.end());
      EXPECT_LE(*hi - *lo, 1u) << tasks << " tasks on " << ranks << " ranks";
    }
}

TEST(Scheduler, StaticCyclicIsRoundRobin) {
  auto d = drain({Policy::StaticCyclic, 23, 4, 1, {}, {}});
  for (std::uint64_t id = 0; id < 23; ++id) EXPECT_EQ(d.owners[id][0], static_cast<int>(id % 4));
}

TEST(Scheduler, StaticCyclicFollowsTheOrderInPieces) {
  // Round robin over the hand-out order: rank r gets positions r, r + 3, ...
  const std::uint64_t tasks = 10000;
  auto d = drain({Policy::StaticCyclic, tasks, 3, 1, {}, reversed(tasks)});
  for (std::uint64_t pos = 0; pos < tasks; ++pos) EXPECT_EQ(d.owners[tasks - 1 - pos][0], static_cast<int>(pos % 3));
  for (auto size : d.sizes) EXPECT_LE(size, 4096u) << "ordered static shares go out in pieces";
}

TEST(Scheduler, DynamicFixedChunkGivesChunkTimesThreads) {
  auto d = drain({Policy::Dynamic, 100, 3, 2, 4, {}});
  for (std::size_t i = 0; i + 1 < d.sizes.size(); ++i) EXPECT_EQ(d.sizes[i], 8u);
  EXPECT_EQ(d.sizes.back(), 100u % 8u);
}

TEST(Scheduler, AutoChunkAimsAtFiveMillisecondsAndShrinksAtTheEnd) {
  using fanout::sched::auto_chunk;
  EXPECT_EQ(auto_chunk(0, 0, 1000000, 4), 1u) << "nothing measured: single tasks";
  EXPECT_EQ(auto_chunk(1e-6, 10, 1000000, 4), 5000u) << "1 us tasks: 5 ms per chunk";
  EXPECT_EQ(auto_chunk(1e-3, 10, 1000000, 4), 5u);
  EXPECT_EQ(auto_chunk(3600, 10, 1000000, 4), 1u) << "hour-long tasks: one at a time";
  EXPECT_EQ(auto_chunk(1e-6, 10, 4000, 4), 500u) << "the tail bound: remaining / (2 x workers)";
  EXPECT_EQ(auto_chunk(1e-6, 10, 3, 4), 1u);
}

// A leader's request for two rounds: two chunks for the overhead, and half as
// much again of the tail bound (3/4 of the group's share of what is left).
TEST(Scheduler, AutoChunkForRoundsTakesTwoChunksAndHalfAgainOfTheTail) {
  using fanout::sched::auto_chunk;
  EXPECT_EQ(auto_chunk(1e-6, 10, 1000000, 4, 2), 10000u) << "two 5 ms chunks";
  EXPECT_EQ(auto_chunk(1e-6, 10, 4000, 4, 2), 750u) << "the tail bound, 1.5 x 500";
  EXPECT_EQ(auto_chunk(1e-6, 10, 4000, 4, 1), 500u);
  EXPECT_EQ(auto_chunk(1e-6, 10, 3, 4, 2), 1u);
}

TEST(Scheduler, DynamicAutoUsesMeasuredTimes) {
  // 1 us tasks: after the first probe, chunks of 5000 per worker, shrinking at the end.
  auto d = drain({Policy::Dynamic, 1000000, 2, 1, {}, {}}, 1e-6);
  EXPECT_EQ(d.sizes.front(), 1u);
  EXPECT_EQ(d.sizes.at(1), 5000u);
  EXPECT_EQ(d.sizes.back(), 1u);
  EXPECT_LT(d.sizes.size(), 1000u) << "few requests for many tiny tasks";
  // 10 ms tasks: one task per request all along.
  auto slow = drain({Policy::Dynamic, 50, 2, 1, {}, {}}, 0.01);
  for (auto size : slow.sizes) EXPECT_EQ(size, 1u);
}

TEST(Scheduler, GuidedChunksShrinkToTheFloor) {
  auto d = drain({Policy::Guided, 10000, 4, 1, 3, {}});
  EXPECT_EQ(d.sizes.front(), 10000u / 8u);
  EXPECT_TRUE(std::is_sorted(d.sizes.rbegin(), d.sizes.rend())) << "guided chunks never grow";
  for (std::size_t i = 0; i + 1 < d.sizes.size(); ++i) EXPECT_GE(d.sizes[i], 3u) << "never below the floor";
  EXPECT_EQ(fanout::sched::guided_chunk(100, 4, 1), 12u);
  EXPECT_EQ(fanout::sched::guided_chunk(5, 4, 1), 1u);
  EXPECT_EQ(fanout::sched::guided_chunk(5, 4, 2), 2u);
}

TEST(Scheduler, LongestFirstHandsOutTheCostliestFirst) {
  std::vector<double> costs{0.5, 3.0, 0.1, 3.0, 2.0, 0.0};
  auto order = fanout::sched::longest_first(costs);
  EXPECT_EQ(order, (std::vector<std::uint64_t>{1, 3, 4, 0, 2, 5})) << "ties keep the smaller id first";
  auto d = drain({Policy::Dynamic, 6, 2, 1, 1, order});
  EXPECT_EQ(d.handed, order);
}

TEST(Scheduler, ConsecutiveIdsInAnOrderMergeIntoOneRange) {
  std::vector<std::uint64_t> order{4, 5, 6, 0, 1, 2, 3};
  auto scheduler = make_scheduler({Policy::Dynamic, 7, 1, 1, 7, order});
  auto work = scheduler->next(0).ranges;
  ASSERT_EQ(work.size(), 2u);
  EXPECT_EQ(work[0].begin, 4u);
  EXPECT_EQ(work[0].end, 7u);
  EXPECT_EQ(work[1].begin, 0u);
  EXPECT_EQ(work[1].end, 4u);
}

TEST(Scheduler, StaticRanksWithNoShareGetNothing) {
  auto scheduler = make_scheduler({Policy::StaticBlock, 2, 4, 1, {}, {}});
  EXPECT_TRUE(scheduler->next(0).done());  // block [0, 0)
  EXPECT_EQ(scheduler->next(1).ranges.at(0).count(), 1u);
  EXPECT_TRUE(scheduler->next(1).done()) << "a static share is handed out once";
}

TEST(Scheduler, ChunkDescription) {
  EXPECT_EQ(make_scheduler({Policy::Dynamic, 10, 2, 1, {}, {}})->chunk_description(), "auto");
  EXPECT_EQ(make_scheduler({Policy::Dynamic, 10, 2, 1, 3, {}})->chunk_description(), "3");
  EXPECT_EQ(make_scheduler({Policy::Guided, 10, 2, 1, {}, {}})->chunk_description(), "auto");
  EXPECT_EQ(make_scheduler({Policy::StaticBlock, 10, 2, 1, {}, {}})->chunk_description(), "block");
  EXPECT_EQ(make_scheduler({Policy::StaticCyclic, 10, 2, 1, {}, {}})->chunk_description(), "1");
}

TEST(Scheduler, RefusesAnIncompleteOrder) {
  EXPECT_THROW(make_scheduler({Policy::Dynamic, 3, 1, 1, {}, {0, 1}}), std::invalid_argument);
}

TEST(Scheduler, NoRankFetchesAheadTheLastTasks) {
  // 2 tasks, 2 ranks: rank 0 takes one, then asks ahead for the second; it
  // is told "later", so rank 1, idle, gets it.
  for (Policy policy : {Policy::Dynamic, Policy::Guided}) {
    auto scheduler = make_scheduler({policy, 2, 2, 1, {}, {}});
    EXPECT_EQ(scheduler->next(0, false).ranges.at(0).begin, 0u);
    auto ahead = scheduler->next(0, true);
    EXPECT_TRUE(ahead.later);
    EXPECT_TRUE(ahead.ranges.empty());
    EXPECT_FALSE(ahead.done());
    EXPECT_EQ(scheduler->next(1, false).ranges.at(0).begin, 1u);
    EXPECT_TRUE(scheduler->next(0, false).done());
  }
  // With plenty left, asking ahead is answered at once.
  auto scheduler = make_scheduler({Policy::Dynamic, 100, 2, 1, 1, {}});
  EXPECT_EQ(scheduler->next(0, true).ranges.at(0).count(), 1u);
}

TEST(Scheduler, TheTailIsTwiceTheWorkers) {
  // 7 tasks, 2 ranks x 1 thread: ahead requests are answered while more than
  // 4 are left, and told "later" from 4 on (the primes demo: 3 left, one of
  // them the largest, fetched ahead by a busy rank).
  auto scheduler = make_scheduler({Policy::Dynamic, 7, 2, 1, 1, {}});
  EXPECT_FALSE(scheduler->next(0, true).later);  // 7 left
  EXPECT_FALSE(scheduler->next(1, true).later);  // 6
  EXPECT_FALSE(scheduler->next(0, true).later);  // 5
  EXPECT_TRUE(scheduler->next(1, true).later);   // 4
  EXPECT_EQ(scheduler->next(1, false).ranges.at(0).begin, 3u);
}

TEST(Scheduler, LongTasksAreNeverFetchedAhead) {
  auto scheduler = make_scheduler({Policy::Dynamic, 1000, 2, 1, 1, {}});
  EXPECT_FALSE(scheduler->next(0, true).later);  // nothing measured yet
  scheduler->observe(0.1, 1);
  EXPECT_FALSE(scheduler->next(0, true).later);  // short
  scheduler->observe(0.9, 1);                    // mean 0.5 s
  auto ahead = scheduler->next(0, true);
  EXPECT_TRUE(ahead.later);
  EXPECT_TRUE(ahead.ranges.empty());
  EXPECT_FALSE(scheduler->next(1, false).later);  // an idle worker is served
  EXPECT_FALSE(fanout::sched::ahead_refused(1000, 2, fanout::sched::AHEAD_LONG_SECONDS / 2));
  EXPECT_TRUE(fanout::sched::ahead_refused(1000, 2, fanout::sched::AHEAD_LONG_SECONDS));
  EXPECT_TRUE(fanout::sched::ahead_refused(4, 2, 0));
  EXPECT_FALSE(fanout::sched::ahead_refused(5, 2, 0));
}

TEST(Policies, OneTableNamesEveryPolicyOnce) {
  for (const auto& info : fanout::sched::POLICIES) {
    EXPECT_EQ(fanout::sched::policy_name(info.policy), info.name);
    EXPECT_EQ(fanout::sched::parse_policy(info.name), info.policy);
  }
  EXPECT_EQ(fanout::sched::policy_names(),
            (std::vector<std::string>{"static-block", "static-cyclic", "dynamic", "guided"}));
  EXPECT_EQ(fanout::sched::parse_policy("Dynamic"), std::nullopt);
  EXPECT_EQ(fanout::sched::parse_policy(""), std::nullopt);
}
