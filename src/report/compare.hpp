#pragma once
// fanout compare: runs of one job at different rank counts (strong scaling)
// or policies side by side, with speedup, efficiency, the Karp-Flatt serial
// fraction and an Amdahl fit (docs/report.md derives them).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/run_file.hpp"
#include "report/predict.hpp"

namespace fanout::report {

struct ComparedRun {
  std::size_t index = 0;  // into the files given
  std::string file, policy, chunk, order, status;
  long ranks = 0, threads_per_rank = 0, workers = 0;
  std::uint64_t tasks = 0;
  double wall = 0;                   // s: the whole run, as fanout report gives it
  double task_wall = 0;              // s: sum of the task durations
  double speedup = 0;                // baseline wall x baseline workers / wall
  double efficiency = 0;             // speedup / workers
  std::optional<double> karp_flatt;  // workers > 1 only
  long cpus = 0;                     // CPUs its workers could use; 0 before format 1.5
  bool oversubscribed = false;       // more workers than CPUs (see report::Summary)
  std::string crowded_where;         // where, when oversubscribed
};

// Amdahl's law, T(p) = T1 (f + (1 - f) / p), fitted as 1/S = a + b/p.
struct AmdahlFit {
  std::size_t points = 0;
  double intercept = 0;              // a
  double slope = 0;                  // b
  double serial_fraction = 0;        // f = a / (a + b), clamped to [0, 1]
  bool clamped = false;              // the fit gave f outside [0, 1]
  std::optional<long> best_workers;  // largest p with predicted efficiency >= 0.5; none when f = 0
};

struct Comparison {
  std::string job;
  std::vector<ComparedRun> runs;    // by workers, then ranks, then as given
  std::size_t baseline = 0;         // index into runs: the fastest of those with the fewest workers
  std::vector<std::string> varied;  // what differs between the runs: "ranks", config keys
  std::optional<AmdahlFit> fit;     // needs runs at two or more worker counts
  std::optional<long> best_ranks;   // best_workers / threads_per_rank when every run has the same threads
  std::string fit_note;             // why there is no fit, or a caveat about it
  // fanout predict's replay of the baseline's task times at the predicted
  // best worker count (else at the most workers measured): the other model
  // of the same question, and how far the fit is from it.
  std::optional<Prediction> replay;
  double fit_speedup_at_replay = 0;  // the fit's speedup at the replay's worker count
  std::string cpu_note;              // runs with more workers than CPUs, and a predicted best beyond the CPUs; or ""
};

// Amdahl's predicted speedup at p workers: 1 / (f + (1 - f) / p).
double amdahl_speedup(double serial_fraction, double workers);

// The caveat about CPUs of a comparison (Comparison::cpu_note), or "".
std::string crowding_note(const Comparison& c);

// The config keys a scaling or policy study may vary: schedule.*, checkpoint.*, run.threads_per_rank,
// run.progress_interval, run.grace, output.path.
bool study_key(const std::string& key);
// Every key of a TOML document as dotted name -> value in TOML form (tables flattened, arrays whole).
std::vector<std::pair<std::string, std::string>> flatten_toml(const std::string& text, const std::string& origin);
// Keys whose values differ between two configs (or that only one has), sorted.
std::vector<std::string> differing_keys(const std::vector<std::pair<std::string, std::string>>& a,
                                        const std::vector<std::pair<std::string, std::string>>& b);

// Karp-Flatt experimentally determined serial fraction: (1/S - 1/p) / (1 - 1/p), p > 1.
double karp_flatt(double speedup, double workers);
// Least squares of y = 1/S on x = 1/p over (workers, speedup) points; nullopt when
// fewer than two distinct worker counts.
std::optional<AmdahlFit> amdahl_fit(const std::vector<std::pair<double, double>>& workers_speedup);
// The largest p whose Amdahl efficiency 1 / (f p + 1 - f) is >= 0.5: floor(1 + 1/f); 1 for f = 1
// (nothing to gain); nullopt for f = 0 (no limit).
std::optional<long> best_workers(double serial_fraction);

// Throws ConfigError (exit 2) for files of different jobs or of configs that
// differ beyond the study keys, naming the keys; IoError (exit 3) for a config
// attribute that is not TOML.
Comparison compare(const std::vector<io::RunFile>& runs);
std::string format_text(const Comparison& c);
std::string format_json(const Comparison& c);

}  // namespace fanout::report
