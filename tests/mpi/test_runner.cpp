// The runner at whatever rank count mpiexec gives: every task exactly once,
// results identical to a serial computation, for every policy and thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <vector>

#include <boost/mpi/collectives/all_reduce.hpp>
#include <boost/mpi/communicator.hpp>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/runner.hpp"

using namespace fanout;

namespace {

boost::mpi::communicator duplicate_world() {
  return boost::mpi::communicator(boost::mpi::communicator(), boost::mpi::comm_duplicate);
}

// Task i gives i * 3 + 1, and fails when i % fail_every == fail_every - 1.
class ArithmeticJob : public Job {
 public:
  ArithmeticJob(std::uint64_t tasks, std::uint64_t fail_every) : tasks_(tasks), fail_every_(fail_every) {}
  std::uint64_t task_count() const override { return tasks_; }
  void run(std::uint64_t task, Row& row) const override {
    if (fail_every_ && task % fail_every_ == fail_every_ - 1)
      throw std::runtime_error("task " + std::to_string(task) + " refused");
    row.set<std::uint64_t>(0, task * 3 + 1);
  }
  static std::vector<Column> columns() { return {{"value", ColumnType::U64, "", ""}}; }

 private:
  std::uint64_t tasks_;
  std::uint64_t fail_every_;
};

struct Case {
  config::Policy policy;
  std::optional<std::uint64_t> chunk;
  unsigned threads;
  bool reversed = false;  // hand tasks out last id first
  sched::Hierarchy hierarchy{sched::HierarchyKind::Flat, 0};
  unsigned retries = 0;
};

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (auto policy :
       {config::Policy::StaticBlock, config::Policy::StaticCyclic, config::Policy::Dynamic, config::Policy::Guided})
    for (unsigned threads : {1u, 2u, 3u}) {
      cases.push_back({policy, std::nullopt, threads, false});
      if (policy != config::Policy::StaticBlock) cases.push_back({policy, 3, threads, true});
    }
  return cases;
}

// The outcome, and on rank 0 every task's record and row by task id.
struct Result : RunOutcome {
  std::vector<TaskRecord> tasks;
  std::vector<std::byte> rows;
};

Result run_job(const boost::mpi::communicator& comm, const Job& job, const std::vector<Column>& columns,
               const Case& c) {
  RowLayout layout(columns);
  RunClock clock = synchronize_clock(comm, steady_seconds());
  MemorySink sink(job.task_count(), layout.size());
  RunSettings settings;
  settings.policy = c.policy;
  settings.chunk = c.chunk;
  settings.threads_per_rank = c.threads;
  settings.usage_at_start = process_usage();
  settings.hierarchy = c.hierarchy;
  settings.retries = c.retries;
  if (c.reversed && comm.rank() == 0) {
    for (std::uint64_t i = job.task_count(); i > 0; --i) settings.order.push_back(i - 1);
  }
  Result result;
  static_cast<RunOutcome&>(result) = execute(comm, job, layout, settings, clock, comm.rank() == 0 ? &sink : nullptr);
  if (comm.rank() == 0) {
    result.tasks = std::move(sink.tasks);
    result.rows = std::move(sink.rows);
  }
  return result;
}

}  // namespace

TEST(Runner, EveryTaskOnceWithTheSerialResult) {
  auto comm = duplicate_world();
  for (std::uint64_t tasks : {1ull, 5ull, 97ull, 1000ull}) {
    ArithmeticJob job(tasks, 0);
    for (const Case& c : all_cases()) {
      Result out = run_job(comm, job, ArithmeticJob::columns(), c);
      SCOPED_TRACE("tasks=" + std::to_string(tasks) + " policy=" + std::to_string(static_cast<int>(c.policy)) +
                   " threads=" + std::to_string(c.threads) + " reversed=" + std::to_string(c.reversed));
      if (comm.rank() != 0) {
        EXPECT_TRUE(out.tasks.empty());
        continue;
      }
      // Never ASSERT on one rank's path: the others would wait in the next
      // run's collectives. A failed check skips to the next case on rank 0.
      EXPECT_EQ(out.tasks.size(), tasks);
      EXPECT_EQ(out.completed, tasks);
      EXPECT_EQ(out.failed, 0u);
      EXPECT_EQ(out.ranks.size(), static_cast<std::size_t>(comm.size()));
      if (out.tasks.size() != tasks || out.ranks.size() != static_cast<std::size_t>(comm.size())) continue;
      std::uint64_t counted = 0;
      for (int r = 0; r < comm.size(); ++r) {
        EXPECT_EQ(out.ranks[r].rank, r);
        EXPECT_EQ(out.ranks[r].threads, static_cast<int>(c.threads));
        counted += out.ranks[r].tasks;
      }
      EXPECT_EQ(counted, tasks);
      for (std::uint64_t i = 0; i < tasks; ++i) {
        const TaskRecord& t = out.tasks[i];
        EXPECT_EQ(t.id, i);
        EXPECT_EQ(t.attempt, 1u);
        EXPECT_GE(t.rank, 0);
        EXPECT_LT(t.rank, comm.size());
        EXPECT_GE(t.thread, 0);
        EXPECT_LT(t.thread, static_cast<int>(c.threads));
        EXPECT_LE(t.t_start, t.t_end);
        std::uint64_t value = 0;
        std::memcpy(&value, out.rows.data() + i * sizeof value, sizeof value);
        EXPECT_EQ(value, i * 3 + 1);
      }
    }
  }
}

TEST(Runner, StaticBlockGivesEachRankItsBlock) {
  auto comm = duplicate_world();
  const std::uint64_t tasks = 10 * static_cast<std::uint64_t>(comm.size()) + 3;
  ArithmeticJob job(tasks, 0);
  Result out = run_job(comm, job, ArithmeticJob::columns(), {config::Policy::StaticBlock, std::nullopt, 1});
  if (comm.rank() != 0) return;
  auto n = static_cast<std::uint64_t>(comm.size());
  for (std::uint64_t i = 0; i < tasks; ++i) {
    int expected = 0;
    while (static_cast<std::uint64_t>(expected + 1) < n && tasks * static_cast<std::uint64_t>(expected + 1) / n <= i)
      ++expected;
    EXPECT_EQ(out.tasks[i].rank, expected) << "task " << i;
  }
}

TEST(Runner, RankZeroComputesToo) {
  auto comm = duplicate_world();
  // 40 tasks of 2 ms each: a dispatch-only rank 0 would run none of them.
  class Sleepy : public Job {
   public:
    std::uint64_t task_count() const override { return 40; }
    void run(std::uint64_t task, Row& row) const override {
      double end = steady_seconds() + 0.002;
      while (steady_seconds() < end) {
      }
      row.set<std::uint64_t>(0, task);
    }
  } job;
  Result out = run_job(comm, job, ArithmeticJob::columns(), {config::Policy::Dynamic, 1, 1});
  if (comm.rank() == 0) {
    EXPECT_GT(out.ranks[0].tasks, 0u);
    EXPECT_GT(out.ranks[0].busy, 0.0);
  }
}

TEST(Runner, FailedTasksAreRecordedAndTheRunGoesOn) {
  auto comm = duplicate_world();
  ArithmeticJob job(50, 7);  // tasks 6, 13, 20, 27, 34, 41, 48 fail
  for (const Case& c : all_cases()) {
    Result out = run_job(comm, job, ArithmeticJob::columns(), c);
    if (comm.rank() != 0) continue;
    EXPECT_EQ(out.completed, 50u);
    EXPECT_EQ(out.failed, 7u);
    EXPECT_EQ(out.errors.size(), 7u);
    if (out.errors.size() != 7u || out.tasks.size() != 50u) continue;  // no ASSERT on rank 0 alone
    for (std::size_t k = 0; k < out.errors.size(); ++k) {
      std::uint64_t id = 7 * k + 6;
      EXPECT_EQ(out.errors[k].id, id);
      EXPECT_EQ(out.errors[k].message, "task " + std::to_string(id) + " refused");
      EXPECT_EQ(out.tasks[id].status, TaskStatus::Failed);
    }
    EXPECT_EQ(out.tasks[5].status, TaskStatus::Ok);
  }
}

// Fills its row, then fails (task % 3 == 1) or times out (task % 3 == 2).
class FillThenThrowJob : public Job {
 public:
  std::uint64_t task_count() const override { return 30; }
  void run(std::uint64_t task, Row& row) const override {
    row.set<std::uint64_t>(0, task + 100);
    if (task % 3 == 1) throw std::runtime_error("exit code " + std::to_string(task));
    if (task % 3 == 2) throw TaskTimedOut("timed out " + std::to_string(task));
  }
};

TEST(Runner, ThrowingTasksKeepTheirRowsAndTimeoutsAreTheirOwnStatus) {
  auto comm = duplicate_world();
  FillThenThrowJob job;
  for (const Case& c : all_cases()) {
    Result out = run_job(comm, job, ArithmeticJob::columns(), c);
    if (comm.rank() != 0) continue;
    EXPECT_EQ(out.failed, 20u) << "timed-out tasks count as failed";
    EXPECT_EQ(out.errors.size(), 20u);
    if (out.errors.size() != 20u || out.tasks.size() != 30u) continue;  // no ASSERT on rank 0 alone
    for (std::uint64_t i = 0; i < 30; ++i) {
      std::uint64_t value = 0;
      std::memcpy(&value, out.rows.data() + i * sizeof value, sizeof value);
      EXPECT_EQ(value, i + 100) << "task " << i << ": the row it filled before throwing";
      TaskStatus expected = i % 3 == 0 ? TaskStatus::Ok : i % 3 == 1 ? TaskStatus::Failed : TaskStatus::TimedOut;
      EXPECT_EQ(out.tasks[i].status, expected) << i;
    }
    EXPECT_EQ(out.errors[0].id, 1u);
    EXPECT_EQ(out.errors[0].message, "exit code 1");
    EXPECT_EQ(out.errors[1].message, "timed out 2");
  }
}

TEST(Runner, PrimesJobFromAConfig) {
  auto comm = duplicate_world();
  auto loaded = config::load_config("[job]\nkind = \"primes\"\nnumbers = [2, 3, 4, 97, 99, 7919, 7917]\n", "test.toml");
  Result out = run_job(comm, *loaded.job, loaded.info->columns, {config::Policy::Dynamic, std::nullopt, 1});
  if (comm.rank() != 0) return;
  RowLayout layout(loaded.info->columns);
  std::vector<int> is_prime;
  for (std::size_t i = 0; i < 7; ++i)
    is_prime.push_back(static_cast<int>(out.rows[i * layout.size() + layout.offset(1)]));
  EXPECT_EQ(is_prime, (std::vector<int>{1, 1, 0, 1, 0, 1, 0}));
}

namespace {

// Task i burns `burn` seconds of its thread's CPU time when i % every == 0,
// and returns at once otherwise.
class BurnJob : public Job {
 public:
  BurnJob(std::uint64_t tasks, std::uint64_t every, double burn) : tasks_(tasks), every_(every), burn_(burn) {}
  std::uint64_t task_count() const override { return tasks_; }
  bool burns(std::uint64_t task) const { return task % every_ == 0; }
  void run(std::uint64_t task, Row& row) const override {
    if (burns(task)) {
      double end = thread_cpu_seconds() + burn_;
      volatile std::uint64_t x = task;
      while (thread_cpu_seconds() < end)
        for (int i = 0; i < 1000; ++i) x = x * 6364136223846793005ULL + 1;
    }
    row.set<std::uint64_t>(0, task);
  }
  static double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }

 private:
  std::uint64_t tasks_;
  std::uint64_t every_;
  double burn_;
};

}  // namespace

// A task's CPU reading against its wall time. getrusage's thread time is as
// of the scheduler's last update of the thread, so a reading can run ahead of
// the wall clock: tens of microseconds on a busy machine, 0.34 ms on a 2 ms
// task under AddressSanitizer (a fresh machine). The bound still catches a
// whole span's reading given to each of its tasks (twice too much, or more).
static bool cpu_fits_wall(double cpu, double wall) { return cpu <= 1.5 * wall + 100e-6; }

// Tasks of at least CPU_SPAN are measured alone when the task before them
// was too; short ones share a reading by wall time, and say so.
TEST(Runner, CpuTimesOfLongTasksAreTheirOwnAndShortTasksShareByWallTime) {
  auto comm = duplicate_world();
  const double burn = 2e-3;  // 20 x CPU_SPAN
  for (unsigned threads : {1u, 2u}) {
    SCOPED_TRACE("threads=" + std::to_string(threads));
    // Every task long: each one measured alone, with at least the CPU it burnt.
    BurnJob all_long(40, 1, burn);
    Result out = run_job(comm, all_long, ArithmeticJob::columns(), {config::Policy::Dynamic, std::nullopt, threads});
    if (comm.rank() == 0) {
      EXPECT_EQ(out.tasks.size(), 40u);
      for (const auto& t : out.tasks) {
        EXPECT_EQ(t.cpu_shared, 0) << "task " << t.id;
        EXPECT_GE(t.cpu_user + t.cpu_sys, burn - 2e-6) << "task " << t.id;  // readings have 1 us resolution
        EXPECT_TRUE(cpu_fits_wall(t.cpu_user + t.cpu_sys, t.t_end - t.t_start)) << "task " << t.id;
      }
    }
    // Empty tasks: they share readings, and no task gets more CPU than wall.
    BurnJob all_short(20000, 20001, 0);
    out = run_job(comm, all_short, ArithmeticJob::columns(), {config::Policy::Dynamic, std::nullopt, threads});
    if (comm.rank() == 0) {
      std::size_t shared = 0;
      double cpu = 0, wall = 0;
      for (const auto& t : out.tasks) {
        shared += t.cpu_shared;
        cpu += t.cpu_user + t.cpu_sys;
        wall += t.t_end - t.t_start;
        EXPECT_LE(t.cpu_shared, 1);
      }
      EXPECT_GT(shared, out.tasks.size() * 9 / 10);
      EXPECT_LE(cpu, wall + 2e-6 * static_cast<double>(out.tasks.size() - shared + 1000));
    }
    // Mixed: a long task keeps (nearly) all of a reading it shares with empty
    // ones, because shares go by wall time.
    BurnJob mixed(200, 4, burn);
    out = run_job(comm, mixed, ArithmeticJob::columns(), {config::Policy::Dynamic, std::nullopt, threads});
    if (comm.rank() == 0) {
      EXPECT_EQ(out.tasks.size(), 200u);
      std::vector<double> empty_cpu;
      for (const auto& t : out.tasks) {
        double cpu = t.cpu_user + t.cpu_sys;
        if (mixed.burns(t.id)) {
          EXPECT_GE(cpu, 0.95 * burn) << "task " << t.id;
        } else {
          // An empty task's wall is not always tiny: with two threads on one
          // CPU (CI's machine) one preempted by a burning task lasted 0.69 ms,
          // and under AddressSanitizer the CPU spent between a span's tasks
          // (in its reading, not in their walls) raised an empty task's share
          // past 1.5 x its wall. So no bound per empty task; the typical one
          // is a sliver.
          empty_cpu.push_back(cpu);
        }
      }
      EXPECT_FALSE(empty_cpu.empty());
      if (!empty_cpu.empty()) {
        std::nth_element(empty_cpu.begin(), empty_cpu.begin() + empty_cpu.size() / 2, empty_cpu.end());
        EXPECT_LT(empty_cpu[empty_cpu.size() / 2], burn / 10) << "median CPU of an empty task";
      }
    }
  }
}

// Every hierarchy gives the flat run's results: each task once, its row,
// its failures and retries; /ranks names each rank's leader, and every
// message a rank sent was received by another (the counts add up).
TEST(Runner, EveryHierarchyGivesTheFlatResults) {
  auto comm = duplicate_world();
  using sched::HierarchyKind;
  const std::vector<sched::Hierarchy> hierarchies{
      {HierarchyKind::Groups, 1}, {HierarchyKind::Groups, 2}, {HierarchyKind::Groups, 3}, {HierarchyKind::Node, 0}};
  ArithmeticJob job(500, 50);  // tasks 49, 99, ... fail at every attempt
  for (const auto& hierarchy : hierarchies)
    for (auto policy :
         {config::Policy::StaticBlock, config::Policy::StaticCyclic, config::Policy::Dynamic, config::Policy::Guided})
      for (unsigned threads : {1u, 2u}) {
        Case c{policy, std::nullopt, threads, policy != config::Policy::StaticBlock, hierarchy, threads - 1};
        Result out = run_job(comm, job, ArithmeticJob::columns(), c);
        SCOPED_TRACE("hierarchy=" + hierarchy.name() + " policy=" + std::to_string(static_cast<int>(policy)) +
                     " threads=" + std::to_string(threads));
        EXPECT_EQ(out.hierarchy, hierarchy);
        if (comm.rank() != 0) continue;
        EXPECT_EQ(out.completed, 500u);
        EXPECT_EQ(out.failed, 10u);
        EXPECT_EQ(out.retried, 10u * c.retries);
        EXPECT_EQ(out.errors.size(), 10u * (c.retries + 1));
        EXPECT_EQ(out.tasks.size(), 500u);
        EXPECT_EQ(out.ranks.size(), static_cast<std::size_t>(comm.size()));
        if (out.tasks.size() != 500u || out.ranks.size() != static_cast<std::size_t>(comm.size())) continue;
        for (std::uint64_t i = 0; i < 500; ++i) {
          std::uint64_t value = 0;
          std::memcpy(&value, out.rows.data() + i * sizeof value, sizeof value);
          bool fails = i % 50 == 49;
          EXPECT_EQ(out.tasks[i].id, i);
          EXPECT_EQ(out.tasks[i].status, fails ? TaskStatus::Failed : TaskStatus::Ok) << i;
          EXPECT_EQ(out.tasks[i].attempt, fails ? c.retries + 1 : 1u) << i;
          if (!fails) {
            EXPECT_EQ(value, i * 3 + 1) << i;
          }
        }
        std::uint64_t in = 0, out_messages = 0, bytes_in = 0, bytes_out = 0, tasks = 0;
        for (int r = 0; r < comm.size(); ++r) {
          const RankRecord& rank = out.ranks[static_cast<std::size_t>(r)];
          int group = hierarchy.kind == HierarchyKind::Groups ? hierarchy.group_size : comm.size();  // one node here
          int leader = r / group * group;
          if (leader == 0 && r > 0) leader = 1;  // rank 0 serves leaders only: rank 1 leads the rest of its group
          EXPECT_EQ(rank.leader, r == 0 ? 0 : leader == r ? 0 : leader) << "rank " << r;
          if (r > 0) {
            EXPECT_GT(rank.messages_out, 0u) << "rank " << r;
          }
          in += rank.messages_in;
          out_messages += rank.messages_out;
          bytes_in += rank.bytes_in;
          bytes_out += rank.bytes_out;
          tasks += rank.tasks;
        }
        EXPECT_EQ(in, out_messages);
        EXPECT_EQ(bytes_in, bytes_out);
        EXPECT_EQ(tasks, 500u + 10u * c.retries);
      }
}
