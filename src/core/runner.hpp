#pragma once
// The runner: fans a job's tasks out to ranks x threads and fans the results
// back in to rank 0.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/job.hpp"
#include "core/records.hpp"
#include "core/sink.hpp"
#include "sched/hierarchy.hpp"
#include "sched/policy.hpp"

namespace boost::mpi {
class communicator;
}

namespace fanout {

struct RunOutcome;

struct RunSettings {
  sched::Policy policy = sched::Policy::Dynamic;
  std::optional<std::uint64_t> chunk;
  unsigned threads_per_rank = 1;
  // Called on rank 0 every progress_interval seconds (0: never) with the
  // tasks finished so far, how many of them failed, and their CPU time.
  double progress_interval = 0;
  std::function<void(std::uint64_t done, std::uint64_t failed, double task_cpu)> progress;
  // This process's CPU use when the run started: /ranks counts CPU from there.
  ProcessUsage usage_at_start;
  // Rank 0 only: the order to hand tasks out in (task ids; empty: as given).
  // With already_done > 0 (a resumed run), it lists exactly the tasks to run.
  std::vector<std::uint64_t> order;
  std::uint64_t already_done = 0;
  std::uint16_t session = 0;       // stored in every TaskRecord
  const Sweep* sweep = nullptr;    // the run's [params], given to every task's TaskContext
  unsigned retries = 0;            // extra attempts of a failed task
  std::uint64_t max_failures = 0;  // stop handing out tasks after this many final failures (0: never)
  double grace = 10;               // s running tasks get once a stop is requested
  // Rank 0, called about once a second with the longest task time seen so
  // far (s, 0 before any task finished): a reason to stop handing out tasks
  // (the allocation's time is running out, say), or "" to go on.
  std::function<std::string(double longest_task)> stop_check;
  // Rank 0, on its coordinating thread: called once a stop is requested
  // (before the running tasks get their grace) and again whenever tasks or
  // errors came back since, with what the run holds so far: puts the tasks
  // finished so far at the output path (a launcher such as mpirun may kill
  // the ranks before the grace ends). Never called more than half the time.
  std::function<void(const RunOutcome& so_far)> publish;
  // Rank 0, called at every turn of its loop: a reason to stop at once
  // (the finished tasks can no longer be stored: a full disk), or "".
  std::function<std::string()> fail_check;
  // Who serves whom ([schedule] hierarchy). Auto is resolved by the runner
  // from the rank count (the run records the resolved one in RunOutcome).
  sched::Hierarchy hierarchy{sched::HierarchyKind::Flat, 0};
  // This rank's node for hierarchy "node" (the Slurm node name, say); empty:
  // the host name. Ranks with the same name form one group.
  std::string node_name;
};

// Why a run stopped before handing out every task.
enum class StopCause { None, Signal, MaxFailures, Check, Storage };

// What a run produced besides the tasks (which went to the sink). Filled on
// rank 0 only (other ranks get their own RankRecord in `ranks` and nothing else).
struct RunOutcome {
  // Indexed by rank. During the run (settings.publish): rank, tasks and busy
  // of the tasks rank 0 has received, by the rank that ran them.
  std::vector<RankRecord> ranks;
  std::vector<PhaseRecord> phases;
  std::vector<TaskError> errors;  // sorted by task id
  std::vector<double> task_cpu;   // s: CPU time (user + sys) of the tasks each rank ran, by rank
  std::string chunk;              // the chunk size the scheduler used
  sched::Hierarchy hierarchy;     // the hierarchy the run used (never Auto)
  std::uint64_t failed = 0;
  std::uint64_t completed = 0;  // tasks that ran for the last time, failed or not
  std::uint64_t retried = 0;    // failed attempts that were run again
  double first_start = 0;       // run clock: the earliest task start...
  double last_end = 0;          // ...and the latest task end (0 when no task ran)
  StopCause stop = StopCause::None;
  std::string stop_reason;  // for messages: "SIGTERM", "run.max_failures = 3 reached", ...
  // Some rank gave up on tasks still running after the grace period: their
  // threads are still busy, so the process must leave with _exit.
  bool abandoned = false;
};

// Installs handlers for SIGTERM, SIGINT and SIGUSR1 that ask the runner to
// stop (the first: gracefully; the second: at once). Safe to call twice.
void install_stop_signals();
// Signals received so far (for tests and messages), and the last one's number.
int stop_signals_received();
int last_stop_signal();
// "SIGTERM", "SIGINT", "SIGUSR1" or "signal N".
std::string signal_name(int signo);

// Collective. Runs every task of `job` once (every task not already done,
// with retries of failed ones, unless a stop is requested) on comm's ranks, each with
// settings.threads_per_rank worker threads plus a coordinating thread (the
// caller's) that does all MPI calls, so MPI_THREAD_FUNNELED is enough. Rank 0
// hands out work, computes too, and passes finished tasks to `sink` as they
// arrive (sink is used on rank 0 only; other ranks may pass null).
RunOutcome execute(const boost::mpi::communicator& comm, const Job& job, const RowLayout& layout,
                   const RunSettings& settings, const RunClock& clock, TaskSink* sink);

// Collective. A barrier that sleeps instead of spinning, so that ranks that
// finished early leave their cores to those still working (Open MPI's
// blocking collectives poll at full speed).
void quiet_barrier(const boost::mpi::communicator& comm);

void set_phase(PhaseRecord& phase, const std::string& name, double t_start, double t_end);

}  // namespace fanout
