#pragma once
// Figures computed from a run file, and their text and JSON forms.
#include <string>
#include <vector>

#include "io/run_file.hpp"

namespace fanout::report {

struct RankSummary {
  int rank = 0;
  std::string host;
  std::uint64_t tasks = 0;
  double busy = 0, idle = 0, comm = 0, cpu_user = 0, cpu_sys = 0;
  double max_rss_mib = 0;
};

struct Summary {
  std::string job, status, policy, chunk;
  long ranks = 0, threads_per_rank = 0, workers = 0;
  std::uint64_t tasks = 0, ok = 0, failed = 0, not_run = 0;
  double wall = 0;         // s: the whole run, from start to file closed
  double compute = 0;      // s: first task start to last task end
  double cpu_user = 0, cpu_sys = 0;  // s: all ranks, whole processes
  double cores_busy = 0;   // (cpu_user + cpu_sys) / wall
  double task_wall = 0;    // s: sum of task durations
  double task_cpu = 0;     // s: sum of task CPU (user + sys)
  double cpu_per_wall = 0; // task_cpu / task_wall: ~1 CPU-bound, ~0 I/O-bound
  std::string kind;        // "CPU-bound", "I/O-bound", "mixed" or "too short to classify"
  double imbalance = 0;    // max / mean busy over ranks
  double efficiency = 0;   // task_wall / (workers x wall)
  std::vector<RankSummary> per_rank;
};

Summary summarize(const io::RunFile& run);
std::string format_text(const io::RunFile& run, const Summary& s);
std::string format_json(const io::RunFile& run, const Summary& s);

}  // namespace fanout::report
