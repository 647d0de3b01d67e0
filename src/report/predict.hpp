#pragma once
// fanout predict: replays a run's task durations through the runner's own
// schedulers in a discrete-event simulation of N ranks x T threads.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/run_file.hpp"
#include "sched/policy.hpp"
#include "sched/scheduler.hpp"

namespace fanout::report {

struct PredictOptions {
  int ranks = 1;
  unsigned threads = 1;
  std::optional<sched::Policy> policy;  // default: the file's
  std::optional<std::uint64_t> chunk;    // default: the file's (for dynamic/guided)
  bool chunk_auto = false;               // --chunk auto
  double latency = 200e-6;               // s: a remote rank's request round trip
};

struct Prediction {
  int ranks = 0;
  unsigned threads = 0;
  std::string policy;
  std::string chunk;
  std::uint64_t tasks = 0;
  double task_time = 0;  // s: sum of the recorded task durations
  double fixed = 0;      // s: setup, distribute, collect and write, as recorded
  double compute = 0;    // s: simulated first task start to last task end
  double wall = 0;       // s: fixed + compute
  double efficiency = 0; // task_time / (workers x wall), as fanout report would give it
  double one_worker_wall = 0;  // s: the same replay on 1 rank x 1 thread: fixed + task_time
  double speedup = 0;    // one_worker_wall / wall: over one worker, as fanout compare defines speedup
  double recorded_wall = 0;    // s: the file's own wall (all its sessions)
  double speedup_vs_recorded = 0;  // recorded_wall / wall
};

// The simulation alone: durations by task id, on ranks x threads.
// Returns the makespan (s) of the compute phase.
double simulate(const std::vector<double>& durations, const sched::SchedulerOptions& options, double latency);

Prediction predict(const io::RunFile& run, const PredictOptions& options);
std::string format_text(const Prediction& p);
std::string format_json(const Prediction& p);
// predict --ranks N,N,...: one row per rank count.
std::string format_text(const std::vector<Prediction>& rows);
std::string format_json(const std::vector<Prediction>& rows);

}  // namespace fanout::report
