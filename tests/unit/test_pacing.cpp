// How a rank paces itself (core/pacing.hpp), with a real WorkerPool and a
// job whose tasks wait for the test: when the Fetcher asks for more (refill
// below one task per thread, "ahead" when no worker is idle, a pause after
// "later"), the Stopper's levels and how it gives up on running tasks, and
// the Backoff's and RecentMean's arithmetic. No time bound is asserted: a
// wait ends when its condition holds, and only "not before" is checked.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <vector>

#include "core/clock.hpp"
#include "core/job.hpp"
#include "core/pacing.hpp"
#include "core/worker_pool.hpp"

using namespace fanout;

namespace {

// Each task waits until the test opens the gate (or the run cancels it).
class GatedJob : public Job {
 public:
  std::uint64_t task_count() const override { return 1000; }
  void run(std::uint64_t task, Row& row) const override {
    std::unique_lock lock(mutex_);
    ++started_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
    row.set<std::uint64_t>(0, task * 3 + 1);
  }
  void cancel() const override {
    cancelled_ = true;
    open();
  }
  void open() const {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  int started() const {
    std::lock_guard lock(mutex_);
    return started_;
  }
  bool cancelled() const { return cancelled_; }
  static std::vector<Column> columns() { return {{"value", ColumnType::U64, "", ""}}; }

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  mutable bool open_ = false;
  mutable int started_ = 0;
  mutable std::atomic<bool> cancelled_{false};
};

struct Rank {
  explicit Rank(unsigned threads) : layout(GatedJob::columns()), pool(job, layout, threads, 0, 0, clock, nullptr) {}
  ~Rank() { job.open(); }  // the pool's destructor joins its threads
  GatedJob job;
  RowLayout layout;
  RunClock clock;
  WorkerPool pool;
};

}  // namespace

TEST(Fetcher, AsksBelowOneTaskPerThreadAheadWhenNoWorkerIsIdle) {
  Rank rank(1);
  Fetcher fetcher;
  bool ahead = true;
  EXPECT_TRUE(fetcher.should_ask(rank.pool, ahead)) << "nothing queued";
  EXPECT_FALSE(ahead) << "an idle worker";
  fetcher.answered({{{0, 3, 1}}, false});
  rank.pool.add({{0, 3, 1}});
  // The worker takes one task (it knows no task time yet) and waits in it.
  wait_quietly([&] { return rank.job.started() == 1; });
  EXPECT_EQ(rank.pool.queued(), 2u);
  EXPECT_FALSE(fetcher.should_ask(rank.pool, ahead)) << "2 queued, refill below 1";
  rank.job.open();
  wait_quietly([&] { return rank.pool.queued() == 0; });
  // The worker may still be in a task, or idle: ahead says which.
  ASSERT_TRUE(fetcher.should_ask(rank.pool, ahead));
  wait_quietly([&] { return rank.pool.tasks_done() == 3; });
  ASSERT_TRUE(fetcher.should_ask(rank.pool, ahead));
  EXPECT_FALSE(ahead);
  EXPECT_EQ(fetcher.pause_end(), std::numeric_limits<double>::infinity());
}

// After "later" with tasks, a rank whose workers are all busy does not ask
// again; once one is idle it does (not ahead).
TEST(Fetcher, LaterWithTasksDefersAskingAhead) {
  Rank rank(2);
  Fetcher fetcher;
  rank.pool.add({{0, 2, 1}});
  wait_quietly([&] { return rank.job.started() == 2; });
  bool ahead = false;
  ASSERT_TRUE(fetcher.should_ask(rank.pool, ahead));
  EXPECT_TRUE(ahead) << "both workers in a task";
  fetcher.answered({{{2, 3, 1}}, true});
  EXPECT_EQ(fetcher.pause_end(), std::numeric_limits<double>::infinity()) << "tasks came: no pause";
  EXPECT_FALSE(fetcher.should_ask(rank.pool, ahead)) << "told later: no asking ahead";
  fetcher.answered({{{2, 3, 1}}, false});
  EXPECT_TRUE(fetcher.should_ask(rank.pool, ahead));
  EXPECT_TRUE(ahead);
  fetcher.answered({{{2, 3, 1}}, true});
  rank.job.open();
  wait_quietly([&] { return rank.pool.tasks_done() == 2; });
  ASSERT_TRUE(fetcher.should_ask(rank.pool, ahead)) << "a worker is idle";
  EXPECT_FALSE(ahead);
}

// "Later" and nothing to do: no asking before LATER_PAUSE has passed.
TEST(Fetcher, LaterWithNothingPausesAsking) {
  Rank rank(1);
  Fetcher fetcher;
  const double before = steady_seconds();
  fetcher.answered({{}, true});
  const double end = fetcher.pause_end();
  if (end != std::numeric_limits<double>::infinity()) {  // else the pause is over already (a loaded machine)
    EXPECT_GE(end, before + pacing::LATER_PAUSE);
  }
  bool ahead = true;
  wait_quietly([&] { return fetcher.should_ask(rank.pool, ahead); });
  EXPECT_GE(steady_seconds(), before + pacing::LATER_PAUSE);
  EXPECT_FALSE(ahead);
  EXPECT_EQ(fetcher.pause_end(), std::numeric_limits<double>::infinity()) << "a pause that is over is no deadline";
  fetcher.answered({{{0, 1, 1}}, false});
  EXPECT_TRUE(fetcher.should_ask(rank.pool, ahead));
}

TEST(Stopper, LevelsOnlyRise) {
  Rank rank(1);
  Stopper stopper(1000);
  EXPECT_EQ(stopper.level(), 0);
  EXPECT_FALSE(stopper.give_up(rank.pool)) << "no stop, nothing to give up";
  rank.pool.add({{0, 10, 1}});
  wait_quietly([&] { return rank.job.started() == 1; });
  EXPECT_TRUE(stopper.raise(1, rank.pool));
  EXPECT_EQ(stopper.level(), 1);
  EXPECT_EQ(rank.pool.queued(), 0u) << "queued tasks are forgotten at a stop";
  EXPECT_FALSE(stopper.raise(1, rank.pool));
  EXPECT_FALSE(stopper.give_up(rank.pool)) << "the grace has not passed";
  EXPECT_FALSE(rank.job.cancelled());
  EXPECT_TRUE(stopper.raise(2, rank.pool));
  EXPECT_FALSE(stopper.raise(1, rank.pool));
  EXPECT_FALSE(stopper.raise(2, rank.pool));
  EXPECT_EQ(stopper.level(), 2);
  // Level 2: the running task is cancelled (here it then ends), not abandoned.
  EXPECT_FALSE(stopper.give_up(rank.pool));
  EXPECT_TRUE(rank.job.cancelled());
  wait_quietly([&] { return rank.pool.all_done(); });
  EXPECT_FALSE(stopper.give_up(rank.pool));
  EXPECT_FALSE(stopper.abandoned());
  EXPECT_EQ(rank.pool.tasks_done(), 1u) << "only the task that was running";
}

// Level 1 with a grace of 0 (the end of the grace): the running tasks are cancelled.
TEST(Stopper, GraceOverCancelsRunningTasks) {
  Rank rank(1);
  Stopper stopper(1000);
  rank.pool.add({{0, 1, 1}});
  wait_quietly([&] { return rank.job.started() == 1; });
  EXPECT_TRUE(stopper.raise(1, rank.pool, 0.0));
  EXPECT_FALSE(stopper.give_up(rank.pool));
  EXPECT_TRUE(rank.job.cancelled());
  wait_quietly([&] { return rank.pool.all_done(); });
  EXPECT_FALSE(stopper.abandoned());
}

TEST(Stopper, LevelForSignals) {
  EXPECT_EQ(level_for(0), 0);
  EXPECT_EQ(level_for(1), 1);
  EXPECT_EQ(level_for(2), 2);
  EXPECT_EQ(level_for(7), 2);
}

TEST(Backoff, DoublesUpToTheCapAndStopsAtTraffic) {
  using std::chrono::microseconds;
  const double never = std::numeric_limits<double>::infinity();
  Backoff backoff;
  EXPECT_EQ(backoff.next(true, 1e-3, never), microseconds(11)) << "MIN_WAIT, rounded down, + 1 us";
  EXPECT_EQ(backoff.next(false, 1e-3, never), microseconds(21));
  EXPECT_EQ(backoff.next(false, 1e-3, never), microseconds(41));
  for (int i = 0; i < 10; ++i) backoff.next(false, 1e-3, never);
  EXPECT_EQ(backoff.next(false, 1e-3, never), microseconds(1001));
  EXPECT_EQ(backoff.next(false, 0.25e-3, never), microseconds(251)) << "a lower cap applies at once";
  EXPECT_EQ(backoff.next(false, 1e-3, steady_seconds() - 1), microseconds(1)) << "something is due";
  EXPECT_EQ(backoff.next(true, 1e-3, never), microseconds(11));
}

TEST(RecentMean, FollowsTheRecentTimes) {
  RecentMean mean;
  EXPECT_EQ(mean.value(), 0.0);
  mean.add(5.0, 0);
  EXPECT_EQ(mean.value(), 0.0) << "no tasks, no time";
  mean.add(1.0);
  EXPECT_EQ(mean.value(), 1.0) << "the first time as it is";
  mean.add(3.0);
  EXPECT_DOUBLE_EQ(mean.value(), 1.25);
  mean.add(8.0, 4);  // 4 tasks of 2 s
  EXPECT_DOUBLE_EQ(mean.value(), 1.25 + 0.125 * 0.75);
}
