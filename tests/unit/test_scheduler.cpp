// Scheduler partitioning: every task exactly once, for many task counts,
// rank counts, thread counts and policies.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "sched/scheduler.hpp"

using fanout::config::Policy;
using fanout::sched::make_scheduler;
using fanout::sched::TaskRange;

namespace {

// Drains the scheduler the way ranks do (round robin over ranks until every
// rank hears "no more") and returns, per task, the ranks that got it.
std::vector<std::vector<int>> drain(Policy policy, std::uint64_t tasks, int ranks, unsigned threads,
                                    std::optional<std::uint64_t> chunk, std::vector<std::uint64_t>* sizes = nullptr) {
  auto scheduler = make_scheduler(policy, tasks, ranks, threads, chunk);
  std::vector<std::vector<int>> owners(tasks);
  std::vector<bool> finished(static_cast<std::size_t>(ranks), false);
  int open = ranks;
  for (int guard = 0; open > 0 && guard < 10'000'000; ++guard) {
    int r = guard % ranks;
    if (finished[r]) continue;
    auto work = scheduler->next(r);
    if (work.empty()) {
      finished[r] = true;
      --open;
      continue;
    }
    for (const TaskRange& range : work) {
      if (sizes) sizes->push_back(range.count());
      for (std::uint64_t id = range.begin; id < range.end; id += range.stride) owners.at(id).push_back(r);
    }
  }
  EXPECT_EQ(open, 0) << "scheduler never finished";
  return owners;
}

const char* name(Policy p) {
  return p == Policy::StaticBlock ? "static-block" : p == Policy::StaticCyclic ? "static-cyclic" : "dynamic";
}

}  // namespace

TEST(Scheduler, EveryTaskExactlyOnce) {
  for (Policy policy : {Policy::StaticBlock, Policy::StaticCyclic, Policy::Dynamic})
    for (std::uint64_t tasks : {0ull, 1ull, 2ull, 3ull, 7ull, 20ull, 97ull, 1000ull, 12345ull})
      for (int ranks : {1, 2, 3, 4, 7, 16, 100})
        for (unsigned threads : {1u, 2u, 3u})
          for (std::optional<std::uint64_t> chunk : {std::optional<std::uint64_t>{}, std::optional<std::uint64_t>{1},
                                                     std::optional<std::uint64_t>{5}}) {
            auto owners = drain(policy, tasks, ranks, threads, chunk);
            for (std::uint64_t id = 0; id < tasks; ++id)
              ASSERT_EQ(owners[id].size(), 1u) << name(policy) << " tasks=" << tasks << " ranks=" << ranks
                                               << " threads=" << threads << " task " << id;
          }
}

TEST(Scheduler, StaticBlocksDifferByAtMostOne) {
  for (std::uint64_t tasks : {5ull, 20ull, 101ull})
    for (int ranks : {1, 2, 3, 4, 6}) {
      auto owners = drain(Policy::StaticBlock, tasks, ranks, 1, {});
      std::vector<std::uint64_t> count(ranks, 0);
      for (std::uint64_t id = 0; id < tasks; ++id) {
        ++count[owners[id][0]];
        if (id > 0) {
          EXPECT_LE(owners[id - 1][0], owners[id][0]) << "blocks are contiguous and ordered by rank";
        }
      }
      auto [lo, hi] = std::minmax_element(count.begin(), count.end());
      EXPECT_LE(*hi - *lo, 1u) << tasks << " tasks on " << ranks << " ranks";
    }
}

TEST(Scheduler, StaticCyclicIsRoundRobin) {
  auto owners = drain(Policy::StaticCyclic, 23, 4, 1, {});
  for (std::uint64_t id = 0; id < 23; ++id) EXPECT_EQ(owners[id][0], static_cast<int>(id % 4));
}

TEST(Scheduler, DynamicFixedChunkGivesChunkTimesThreads) {
  std::vector<std::uint64_t> sizes;
  drain(Policy::Dynamic, 100, 3, 2, 4, &sizes);
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) EXPECT_EQ(sizes[i], 8u);
  EXPECT_EQ(sizes.back(), 100u % 8u);
}

TEST(Scheduler, DynamicAutoChunksShrink) {
  std::vector<std::uint64_t> sizes;
  drain(Policy::Dynamic, 10000, 4, 1, {}, &sizes);
  ASSERT_GT(sizes.size(), 8u);
  EXPECT_EQ(sizes.front(), 10000u / 32u);
  EXPECT_EQ(sizes.back(), 1u);
  EXPECT_TRUE(std::is_sorted(sizes.rbegin(), sizes.rend())) << "auto chunks never grow";
}

TEST(Scheduler, StaticRanksWithNoShareGetNothing) {
  auto scheduler = make_scheduler(Policy::StaticBlock, 2, 4, 1, {});
  EXPECT_TRUE(scheduler->next(0).empty());  // block [0, 0)
  EXPECT_EQ(scheduler->next(1).at(0).count(), 1u);
  EXPECT_TRUE(scheduler->next(1).empty()) << "a static share is handed out once";
}

TEST(Scheduler, ChunkDescription) {
  EXPECT_EQ(make_scheduler(Policy::Dynamic, 10, 2, 1, {})->chunk_description(), "auto");
  EXPECT_EQ(make_scheduler(Policy::Dynamic, 10, 2, 1, 3)->chunk_description(), "3");
  EXPECT_EQ(make_scheduler(Policy::StaticBlock, 10, 2, 1, {})->chunk_description(), "block");
  EXPECT_EQ(make_scheduler(Policy::StaticCyclic, 10, 2, 1, {})->chunk_description(), "1");
}
