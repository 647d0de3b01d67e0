#pragma once
// Figures computed from a run file, and their text, JSON and CSV forms
// (docs/report.md defines every figure and field).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/run_file.hpp"
#include "report/answers.hpp"

namespace fanout::report {

// Rank 0's time serving its messages: `serve` (format 1.7), else `comm`
// (which also counts the polls that found nothing: an upper bound).
inline double rank0_message_time(const RankRecord& rank0) { return rank0.serve > 0 ? rank0.serve : rank0.comm; }

struct RankSummary {
  int rank = 0;
  std::string host;
  std::int64_t pid = 0;
  int threads = 0;
  std::uint64_t tasks = 0;
  double busy = 0, idle = 0, comm = 0, cpu_user = 0, cpu_sys = 0;
  double max_rss_mib = 0;
  double idle_tail = 0;  // s: over this rank's threads, compute end - the thread's last task end
};

struct HostSummary {
  std::string host;
  long ranks = 0;
};

struct PhaseSummary {
  std::string name;
  double t_start = 0, t_end = 0;  // s, run clock
};

// Core-seconds the workers did not spend in tasks: workers x wall - task time,
// split by where in the run it went. The five parts add up to total.
struct LostTime {
  double total = 0;
  double startup = 0;     // workers x (setup + distribute): before the first task
  double idle_tail = 0;   // sum over workers of compute end - its last task end
  double idle_other = 0;  // the rest of compute: waits for work between tasks and before a worker's first
  double collect = 0;     // workers x collect
  double write = 0;       // workers x write
  double earlier = 0;     // earlier sessions of a resumed file: their workers x wall - their task time
};

// One `fanout run` that wrote the file (a resumed file has several; /tasks
// `session` tells which ran each task, on that session's own clock).
struct SessionSummary {
  int session = 0;   // 0 for the first run, 1 for the first resume, ...
  double wall = 0;   // s: the last session's from /phases; an earlier one's up to its last kept task's end
  long workers = 0;  // the last: ranks x threads; an earlier: (highest rank + 1) x (highest thread + 1) of its tasks
  std::uint64_t tasks = 0;  // tasks in /tasks that this session ran
  double task_wall = 0;     // s: their summed durations
};

struct SlowTask {
  std::uint64_t id = 0;
  int rank = 0, thread = 0;
  double seconds = 0;  // t_end - t_start
  double cpu = 0;      // cpu_user + cpu_sys
};

// The load on the dispatcher, rank 0 (format 1.7: /ranks messages_in, the
// root attribute hierarchy). Files before 1.7, and runs whose rank 0 received
// no message (one rank), do not record it: `recorded` false.
struct DispatcherLoad {
  std::string hierarchy = "flat";  // the file's; flat before 1.7
  bool recorded = false;
  std::uint64_t messages = 0;      // rank 0's messages_in
  std::uint64_t tasks = 0;         // tasks that ran in the session /ranks measured (the last)
  double per_1000_tasks = 0;       // messages x 1000 / tasks
  double seconds_per_message = 0;  // rank 0's serve / messages: its time per message
};
DispatcherLoad dispatcher_load(const io::RunFile& run);

struct Summary {
  std::string job, status, policy, chunk, order;
  long ranks = 0, threads_per_rank = 0, workers = 0;
  std::uint64_t tasks = 0, ok = 0, failed = 0, not_run = 0;
  std::vector<HostSummary> hosts;    // in order of first rank
  double wall = 0;                   // s: the whole run, from start to file closed; of a resumed file, all its sessions
  double compute = 0;                // s: first task start to last task end
  double cpu_user = 0, cpu_sys = 0;  // s: all ranks, whole processes
  double cores_busy = 0;             // (cpu_user + cpu_sys) / wall
  double task_wall = 0;              // s: sum of task durations
  double task_cpu = 0;               // s: sum of task CPU (user + sys)
  double cpu_per_wall = 0;           // task_cpu / task_wall: ~1 CPU-bound, ~0 I/O-bound
  std::string kind;                  // "CPU-bound", "I/O-bound", "mixed" or "too short to classify"
  std::string advice;                // what the kind of work means for ranks and threads
  std::optional<long>
      suggested_threads_per_rank;  // I/O-bound and mixed work: about 1 / cpu_per_wall, when above the run's
  long cpus = 0;                // CPUs the workers could use: /ranks node_cpus summed over nodes; 0 before format 1.5
  bool oversubscribed = false;  // workers outnumbered the CPUs on a node, or a rank's threads its CPUs
  double crowding = 0;   // the most workers per CPU on a node (or threads per CPU in a rank); 0 when not recorded
  std::string cpu_note;  // when oversubscribed: where, and why the efficiency figures mislead; else ""
  double imbalance = 0;  // max / mean busy over ranks
  int busiest_rank = 0;
  double efficiency = 0;  // task_wall / (workers x wall)
  std::vector<PhaseSummary> phases;
  std::vector<SessionSummary> sessions;  // in order; one for a file that was never resumed
  double last_session_wall = 0;          // s: the wall time of the last session alone (the span of /phases, /ranks)
  LostTime lost;
  std::vector<SlowTask> slowest;  // up to SLOWEST, longest first
  std::vector<RankSummary> per_rank;
  ResultsSummary results;  // the job's answer and the result columns
  DispatcherLoad dispatcher;
};

inline constexpr std::size_t SLOWEST = 5;
inline constexpr std::size_t FAILURES_SHOWN = 10;

Summary summarize(const io::RunFile& run);
// The sessions of a run file, and their wall times (docs/report.md, "Resumed runs").
std::vector<SessionSummary> sessions_of(const io::RunFile& run);
// The run's wall time: the sum of its sessions' walls.
double run_wall(const io::RunFile& run);
std::string format_text(const io::RunFile& run, const Summary& s);
std::string format_json(const io::RunFile& run, const Summary& s);
std::string format_csv(const Summary& s);

// JSON helpers shared with compare: a quoted, escaped string; a number in
// shortest round-trip-safe form (%.6g), or null when not finite.
std::string json_string(const std::string& s);
std::string json_number(double x);
// Splits text into lines of at most `width` characters at spaces; every line
// after the first starts with `indent`.
std::string wrap(const std::string& text, std::size_t width, const std::string& indent);
// A CSV field: as it is, or quoted (with "" for ") when it holds , " or a line break.
std::string csv_field(const std::string& s);

}  // namespace fanout::report
