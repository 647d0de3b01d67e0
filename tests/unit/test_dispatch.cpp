// Rank 0's side of a run without MPI: what the Dispatcher answers (retries,
// routes, tasks still out, a stop), and what the Collector books of the tasks
// that come back (attempts, retries, counts) and passes on to a sink.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "core/collector.hpp"
#include "core/dispatcher.hpp"
#include "core/sink.hpp"
#include "sched/scheduler.hpp"

using namespace fanout;
using protocol::Request;
using sched::Policy;

namespace {

std::unique_ptr<sched::Scheduler> dynamic(std::uint64_t tasks, int ranks, std::uint64_t chunk, unsigned threads = 1) {
  return sched::make_scheduler({Policy::Dynamic, tasks, ranks, threads, chunk, {}});
}

std::vector<std::uint64_t> ids_of(const sched::Work& work) {
  std::vector<std::uint64_t> ids;
  for (const auto& r : work.ranges)
    for (std::uint64_t id = r.begin; id < r.end; id += r.stride) ids.push_back(id);
  return ids;
}

std::uint64_t count_of(const sched::Work& work) {
  std::uint64_t n = 0;
  for (const auto& r : work.ranges) n += r.count();
  return n;
}

Request from(int rank, unsigned workers = 1) { return {false, workers, rank}; }

}  // namespace

// Flat dispatch over 3 ranks: a task that failed on rank 1 goes to any rank
// but 1.
TEST(Dispatcher, RetryGoesToAnotherRank) {
  auto scheduler = dynamic(100, 3, 1);
  Dispatcher dispatcher(*scheduler, {0, 1, 2}, 2);
  dispatcher.retry(42, 1);
  EXPECT_EQ(ids_of(dispatcher.next(1, from(1))), (std::vector<std::uint64_t>{0})) << "not back to rank 1";
  EXPECT_EQ(ids_of(dispatcher.next(2, from(2))), (std::vector<std::uint64_t>{42}));
  EXPECT_EQ(ids_of(dispatcher.next(1, from(1))), (std::vector<std::uint64_t>{1}));
}

// Under a hierarchy a retry avoids the failed rank's route (its leader), not
// only the rank: the leader's whole group is skipped.
TEST(Dispatcher, RetryGoesToAnotherRoute) {
  auto scheduler = dynamic(100, 4, 1);
  // Groups of 2: ranks 0 and 1 under rank 0, ranks 2 and 3 under leader 2.
  Dispatcher dispatcher(*scheduler, {0, 1, 2, 2}, 1);
  dispatcher.retry(50, 3);
  dispatcher.retry(60, 1);
  // Leader 2 asks for its group: not 50 (failed on its member 3); 60 is.
  EXPECT_EQ(ids_of(dispatcher.next(2, {false, 2, 2})), (std::vector<std::uint64_t>{60}));
  EXPECT_EQ(ids_of(dispatcher.next(2, {false, 2, 2})), (std::vector<std::uint64_t>{0, 1}));
  EXPECT_EQ(ids_of(dispatcher.next(0, from(0))), (std::vector<std::uint64_t>{50}));
}

// With one route only (a run of one rank) the retry goes back where it failed.
TEST(Dispatcher, RetryStaysWhenThereIsNoOtherRoute) {
  auto scheduler = dynamic(10, 1, 1);
  Dispatcher dispatcher(*scheduler, {0}, 1);
  dispatcher.retry(7, 0);
  EXPECT_EQ(ids_of(dispatcher.next(0, from(0))), (std::vector<std::uint64_t>{7}));
}

// While tasks are out and may fail, a rank asking past the end is told
// "later", not "no more work"; once all are back it hears "no more".
TEST(Dispatcher, LaterWhileTasksAreOut) {
  auto scheduler = dynamic(4, 2, 2);
  Dispatcher dispatcher(*scheduler, {0, 1}, 1);
  EXPECT_EQ(count_of(dispatcher.next(0, from(0))), 2u);
  EXPECT_EQ(count_of(dispatcher.next(1, from(1))), 2u);
  EXPECT_EQ(dispatcher.in_flight(), 4u);
  sched::Work work = dispatcher.next(0, from(0));
  EXPECT_TRUE(work.later);
  EXPECT_TRUE(work.ranges.empty());
  for (int i = 0; i < 3; ++i) dispatcher.returned();
  EXPECT_TRUE(dispatcher.next(1, from(1)).later);
  // The last one failed and comes back for a retry: out of flight, in the
  // retries. Rank 1 (where it failed) waits; rank 0 gets it.
  dispatcher.returned();
  dispatcher.retry(3, 1);
  EXPECT_EQ(dispatcher.in_flight(), 0u);
  EXPECT_TRUE(dispatcher.next(1, from(1)).later);
  EXPECT_EQ(ids_of(dispatcher.next(0, from(0))), (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(dispatcher.in_flight(), 1u);
  EXPECT_TRUE(dispatcher.next(1, from(1)).later);
  dispatcher.returned();
  EXPECT_TRUE(dispatcher.next(1, from(1)).done());
  EXPECT_TRUE(dispatcher.next(0, from(0)).done());
}

// Without retries nothing can come back: "no more work" at once.
TEST(Dispatcher, NoRetriesNoLater) {
  auto scheduler = dynamic(2, 2, 1);
  Dispatcher dispatcher(*scheduler, {0, 1}, 0);
  EXPECT_EQ(count_of(dispatcher.next(0, from(0))), 1u);
  EXPECT_EQ(count_of(dispatcher.next(1, from(1))), 1u);
  EXPECT_TRUE(dispatcher.next(0, from(0)).done());
  EXPECT_EQ(dispatcher.in_flight(), 2u);
}

TEST(Dispatcher, StopClearsRetriesAndAnswersDone) {
  auto scheduler = dynamic(100, 2, 1);
  Dispatcher dispatcher(*scheduler, {0, 1}, 3);
  EXPECT_EQ(count_of(dispatcher.next(1, from(1))), 1u);
  dispatcher.retry(0, 1);
  EXPECT_FALSE(dispatcher.stopping());
  dispatcher.stop();
  EXPECT_TRUE(dispatcher.stopping());
  EXPECT_TRUE(dispatcher.next(0, from(0)).done()) << "not the retry, not later, not new tasks";
  EXPECT_TRUE(dispatcher.next(1, from(1)).done());
  EXPECT_EQ(dispatcher.in_flight(), 1u);
}

// A leader asks for its group's workers: a dynamic scheduler's chunk per worker, times them.
TEST(Dispatcher, LeaderGetsGroupSizedChunks) {
  auto scheduler = dynamic(1000, 8, 3, 2);
  Dispatcher dispatcher(*scheduler, {0, 1, 2, 3, 4, 4, 4, 4}, 0);
  EXPECT_EQ(count_of(dispatcher.next(4, {false, 8, 4})), 24u) << "4 ranks x 2 threads x chunk 3";
  EXPECT_EQ(count_of(dispatcher.next(1, {false, 2, 1})), 6u);
  EXPECT_EQ(count_of(dispatcher.next(4, {true, 8, 4})), 24u);
  EXPECT_EQ(dispatcher.in_flight(), 54u);
}

namespace {

// The consumer end of the Collector: keeps every batch it is handed.
class KeptBatches : public TaskSink {
 public:
  void store(std::span<const TaskRecord> records, std::span<const std::byte> rows) override {
    Batch b;
    b.records.assign(records.begin(), records.end());
    b.rows.assign(rows.begin(), rows.end());
    batches.push_back(std::move(b));
  }
  void store(Batch&& batch) override { batches.push_back(std::move(batch)); }
  std::vector<TaskRecord> records() const {
    std::vector<TaskRecord> out;
    for (const auto& b : batches) out.insert(out.end(), b.records.begin(), b.records.end());
    return out;
  }
  std::vector<TaskError> errors() const {
    std::vector<TaskError> out;
    for (const auto& b : batches) out.insert(out.end(), b.errors.begin(), b.errors.end());
    return out;
  }
  std::vector<Batch> batches;
};

constexpr std::size_t ROW = 8;

// What a worker sends back: attempt 1 and its rank, whatever the attempt
// really was (rank 0 numbers the attempts); its row holds the id.
struct Returned {
  Batch batch;
  void add(std::uint64_t id, int rank, bool ok, double seconds = 0.5) {
    TaskRecord r;
    r.id = id;
    r.rank = rank;
    r.thread = 0;
    r.t_start = 10.0 + static_cast<double>(id);
    r.t_end = r.t_start + seconds;
    r.cpu_user = 0.25;
    r.attempt = 1;
    r.status = ok ? TaskStatus::Ok : TaskStatus::Failed;
    batch.records.push_back(r);
    batch.rows.resize(batch.rows.size() + ROW);
    std::memcpy(batch.rows.data() + batch.rows.size() - ROW, &id, ROW);
    if (!ok) batch.errors.push_back({id, 1, rank, "task " + std::to_string(id) + " failed"});
  }
};

struct RootSide {
  RootSide(std::uint64_t tasks, int ranks, unsigned retries) : scheduler(dynamic(tasks, ranks, 1)) {
    std::vector<int> route(static_cast<std::size_t>(ranks));
    for (int r = 0; r < ranks; ++r) route[static_cast<std::size_t>(r)] = r;
    dispatcher = std::make_unique<Dispatcher>(*scheduler, route, retries);
    settings.retries = retries;
    collector = std::make_unique<Collector>(outcome, sink, *scheduler, *dispatcher, settings, tasks);
  }
  // What `rank` gets when it asks (so that what comes back was out).
  std::vector<std::uint64_t> hand_out(int rank) { return ids_of(dispatcher->next(rank, from(rank))); }
  std::unique_ptr<sched::Scheduler> scheduler;
  std::unique_ptr<Dispatcher> dispatcher;
  RunSettings settings;
  RunOutcome outcome;
  KeptBatches sink;
  std::unique_ptr<Collector> collector;
};

}  // namespace

// A task failing on every attempt: retried `retries` times (each time on the
// other rank), then final; every attempt's error is kept, numbered.
TEST(Collector, RetriesUntilTheRetriesAreUsedUp) {
  RootSide root(3, 2, 2);
  ASSERT_EQ(root.hand_out(1), (std::vector<std::uint64_t>{0}));
  int rank = 1;
  for (std::uint32_t attempt = 1; attempt <= 3; ++attempt) {
    Returned back;
    back.add(0, rank, false);
    root.collector->store(std::move(back.batch));
    EXPECT_EQ(root.outcome.retried, std::min(attempt, 2u));
    if (attempt < 3) {
      EXPECT_EQ(root.collector->completed(), attempt - 1) << "task 0 not yet";
      // The retry goes to the other rank.
      EXPECT_EQ(root.hand_out(rank), (std::vector<std::uint64_t>{attempt})) << "a new task, not the retry";
      rank = 1 - rank;
      EXPECT_EQ(root.hand_out(rank), (std::vector<std::uint64_t>{0}));
      Returned other;
      other.add(attempt, 1 - rank, true);
      root.collector->store(std::move(other.batch));
    }
  }
  EXPECT_EQ(root.collector->completed(), 3u);
  EXPECT_EQ(root.collector->failed(), 1u);
  EXPECT_EQ(root.outcome.retried, 2u);
  EXPECT_EQ(root.dispatcher->in_flight(), 0u);
  EXPECT_TRUE(root.dispatcher->next(0, from(0)).done());

  const std::vector<TaskRecord> records = root.sink.records();
  ASSERT_EQ(records.size(), 3u) << "failed attempts that are retried are no records";
  EXPECT_EQ(records.back().id, 0u);
  EXPECT_EQ(records.back().attempt, 3u);
  EXPECT_EQ(records.back().status, TaskStatus::Failed);
  const std::vector<TaskError> errors = root.sink.errors();
  ASSERT_EQ(errors.size(), 3u);
  for (std::uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(errors[i].id, 0u);
    EXPECT_EQ(errors[i].attempt, i + 1);
  }
  EXPECT_EQ(errors[0].rank, 1);
  EXPECT_EQ(errors[1].rank, 0);
  EXPECT_EQ(root.outcome.errors.size(), 3u);
}

// A retry that succeeds: a record of attempt 2, not failed. In one batch
// with other tasks, the rows of the tasks kept stay with their records.
TEST(Collector, RetryThatSucceedsAndRowsStayWithTheirRecords) {
  RootSide root(5, 2, 1);
  for (int i = 0; i < 4; ++i) root.hand_out(1);
  Returned back;
  back.add(0, 1, true, 1.0);
  back.add(1, 1, false, 2.0);
  back.add(2, 1, true, 0.5);
  back.add(3, 1, true, 0.25);
  root.collector->store(std::move(back.batch));
  ASSERT_EQ(root.sink.batches.size(), 1u);
  const Batch& first = root.sink.batches[0];
  ASSERT_EQ(first.records.size(), 3u);
  ASSERT_EQ(first.rows.size(), 3 * ROW);
  for (std::size_t i = 0; i < 3; ++i) {
    std::uint64_t in_row = 0;
    std::memcpy(&in_row, first.rows.data() + i * ROW, ROW);
    EXPECT_EQ(in_row, first.records[i].id) << "row " << i;
  }
  EXPECT_EQ(first.records[0].id, 0u);
  EXPECT_EQ(first.records[1].id, 2u);
  EXPECT_EQ(first.records[2].id, 3u);
  ASSERT_EQ(first.errors.size(), 1u);
  EXPECT_EQ(first.errors[0].attempt, 1u);
  EXPECT_EQ(root.collector->longest(), 2.0) << "failed attempts count";

  EXPECT_EQ(root.hand_out(0), (std::vector<std::uint64_t>{1}));
  Returned again;
  again.add(1, 0, true);
  root.collector->store(std::move(again.batch));
  const std::vector<TaskRecord> records = root.sink.records();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records.back().id, 1u);
  EXPECT_EQ(records.back().attempt, 2u);
  EXPECT_EQ(records.back().status, TaskStatus::Ok);
  EXPECT_EQ(root.collector->failed(), 0u);
  EXPECT_EQ(root.collector->completed(), 4u);
  EXPECT_EQ(root.outcome.retried, 1u);
}

// Once the run stops, a failed task is final at once (no retry can run).
TEST(Collector, NoRetryOnceStopping) {
  RootSide root(2, 2, 5);
  root.hand_out(1);
  root.dispatcher->stop();
  Returned back;
  back.add(0, 1, false);
  root.collector->store(std::move(back.batch));
  EXPECT_EQ(root.outcome.retried, 0u);
  EXPECT_EQ(root.collector->completed(), 1u);
  EXPECT_EQ(root.collector->failed(), 1u);
  EXPECT_TRUE(root.dispatcher->next(0, from(0)).done());
}

TEST(Collector, TaskReturnedTwiceIsALogicError) {
  RootSide root(3, 2, 0);
  root.hand_out(0);
  Returned back;
  back.add(0, 0, true);
  Batch copy = back.batch;
  root.collector->store(std::move(back.batch));
  EXPECT_THROW(root.collector->store(std::move(copy)), std::logic_error);
}

TEST(Collector, UnknownTaskIdIsALogicError) {
  RootSide root(3, 2, 0);
  Returned back;
  back.add(3, 0, true);
  EXPECT_THROW(root.collector->store(std::move(back.batch)), std::logic_error);
}

// The counts rank 0 keeps while the run goes on: by rank, the run's first
// start and last end, CPU; an empty batch changes nothing.
TEST(Collector, Counts) {
  RootSide root(6, 3, 0);
  for (int i = 0; i < 6; ++i) root.hand_out(i % 3);
  root.collector->store(Batch{});
  EXPECT_TRUE(root.sink.batches.empty());
  Returned a, b;
  a.add(4, 2, true, 1.0);
  a.add(5, 2, false, 3.0);
  b.add(1, 0, true, 0.5);
  root.collector->store(std::move(a.batch));
  root.collector->store(std::move(b.batch));
  EXPECT_EQ(root.collector->completed(), 3u);
  EXPECT_EQ(root.collector->failed(), 1u);
  EXPECT_EQ(root.outcome.first_start, 11.0);
  EXPECT_EQ(root.outcome.last_end, 18.0);
  EXPECT_EQ(root.collector->longest(), 3.0);
  EXPECT_DOUBLE_EQ(root.collector->task_cpu(), 0.75);
  EXPECT_GT(root.collector->recent_task(), 0.0);
  ASSERT_EQ(root.outcome.ranks.size(), 3u);
  EXPECT_EQ(root.outcome.ranks[0].tasks, 1u);
  EXPECT_EQ(root.outcome.ranks[1].tasks, 0u);
  EXPECT_EQ(root.outcome.ranks[2].tasks, 2u);
  EXPECT_EQ(root.outcome.ranks[2].rank, 2);
  EXPECT_DOUBLE_EQ(root.outcome.ranks[2].busy, 4.0);
  ASSERT_EQ(root.outcome.task_cpu.size(), 3u);
  EXPECT_DOUBLE_EQ(root.outcome.task_cpu[2], 0.5);
  EXPECT_EQ(root.dispatcher->in_flight(), 3u);
  ASSERT_EQ(root.outcome.errors.size(), 1u);
  EXPECT_EQ(root.outcome.errors[0].id, 5u);
  EXPECT_EQ(root.outcome.errors[0].attempt, 1u);
}
