#pragma once
// fanout predict: replays a run's task durations through the runner's own
// schedulers in a discrete-event simulation of N ranks x T threads.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/run_file.hpp"
#include "sched/hierarchy.hpp"
#include "sched/policy.hpp"
#include "sched/scheduler.hpp"

namespace fanout::report {

struct PredictOptions {
  int ranks = 1;
  unsigned threads = 1;
  std::optional<sched::Policy> policy;        // default: the file's
  std::optional<std::uint64_t> chunk;         // default: the file's (for dynamic/guided)
  bool chunk_auto = false;                    // --chunk auto
  double latency = 200e-6;                    // s: a remote rank's request round trip
  std::optional<sched::Hierarchy> hierarchy;  // flat, node or groups of N; default: the file's
  std::optional<int> ranks_per_node;          // default: the most ranks on one node of the file's /ranks
};

// Rank 0's time per message when the file does not record its messages
// (before format 1.7, or a run of one rank): an Open MPI probe, receive and
// send of a small message on one node take a few microseconds each.
inline constexpr double DEFAULT_SECONDS_PER_MESSAGE = 10e-6;

// Who answers whom under a hierarchy of groups of `group` consecutive ranks
// (0: flat, no leaders). Rank 0 leads group 0: it answers the other ranks
// of its group and the leader of every other group (`direct` ranks in all);
// each of the `leaders` other leaders answers the rest of its group (up to
// group - 1 ranks) and asks rank 0 for their work in batches, one message
// per `group` requests.
struct DispatchTree {
  long direct = 0;
  long leaders = 0;
  long per_leader = 0;  // ranks a full group's leader answers
};
DispatchTree dispatch_tree(long ranks, int group);
// The smallest rank count at which rank 0 is busy all the time when each
// rank sends it `load` = (messages per second) x (seconds per message), every
// leader's batches counting as one rank's; nullopt when it never is (load <=
// 0) or only beyond 10^7 ranks.
std::optional<long> saturation_ranks(int group, double load);
// --hierarchy: flat, node or a group size; throws ConfigError naming the option.
sched::Hierarchy parse_hierarchy_option(const std::string& text);

struct Prediction {
  int ranks = 0;
  unsigned threads = 0;
  std::string policy;
  std::string chunk;
  std::uint64_t tasks = 0;
  double task_time = 0;            // s: sum of the recorded task durations
  double fixed = 0;                // s: setup, distribute, collect and write, as recorded
  double compute = 0;              // s: simulated first task start to last task end
  double wall = 0;                 // s: fixed + compute
  double efficiency = 0;           // task_time / (workers x wall), as fanout report would give it
  double one_worker_wall = 0;      // s: the same replay on 1 rank x 1 thread: fixed + task_time
  double speedup = 0;              // one_worker_wall / wall: over one worker, as fanout compare defines speedup
  double recorded_wall = 0;        // s: the file's own wall (all its sessions)
  double speedup_vs_recorded = 0;  // recorded_wall / wall
  // Dispatch (docs: README, fanout predict): who answers whom and how busy it keeps them.
  std::string hierarchy;  // flat, node or the group size
  int ranks_per_node = 1;
  int group = 0;  // ranks per leader: 0 flat, ranks_per_node for node
  DispatchTree tree;
  double seconds_per_message = 0;  // rank 0's, from the file (serve / messages_in) or the default
  bool measured = false;           // seconds_per_message came from the file
  double messages_per_task = 0;    // answers with tasks the simulation's ranks > 0 got per task they ran: the chunking
  double task_seconds = 0;         // s: mean task duration (task_time / tasks)
  double rank0_messages = 0;       // predicted messages rank 0 receives in the compute phase
  double leader_messages = 0;      // ...that a full group's leader receives
  double simulated_compute = 0;    // s: the simulation alone; compute = max(it, rank 0's and a leader's message time)
  double rank0_busy = 0;           // rank 0's message time / compute
  double leader_busy = 0;          // a full group's leader's message time / compute
  std::optional<long> flat_saturation;  // ranks at which flat dispatch keeps rank 0 busy all the time
  std::optional<long> saturation;       // the same under this hierarchy
  bool leader_saturated = false;        // a leader alone has more than it can answer
};

// What the simulation counts besides time: the requests ranks > 0 made and
// the tasks they ran (rank 0 asks itself, with no message).
struct SimulationCounts {
  std::uint64_t remote_requests = 0;
  std::uint64_t remote_work = 0;  // ...of them answered with tasks (not "later", not "no more")
  std::uint64_t remote_tasks = 0;
};
// The simulation alone: durations by task id, on ranks x threads.
// Returns the makespan (s) of the compute phase.
double simulate(const std::vector<double>& durations, const sched::SchedulerOptions& options, double latency,
                SimulationCounts* counts = nullptr);

Prediction predict(const io::RunFile& run, const PredictOptions& options);
std::string format_text(const Prediction& p);
std::string format_json(const Prediction& p);
// predict --ranks N,N,...: one row per rank count.
std::string format_text(const std::vector<Prediction>& rows);
std::string format_json(const std::vector<Prediction>& rows);

}  // namespace fanout::report
