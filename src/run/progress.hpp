#pragma once
// Progress of a run on rank 0's stderr: one updating line on a terminal, a
// plain line every run.progress_interval seconds otherwise (Slurm logs).
// Nothing for runs shorter than 2 s.
#include <cstdint>
#include <cstdio>
#include <string>

namespace fanout::run {

class Progress {
 public:
  enum class Mode { Live, Lines, Off };
  // `mode` from --progress (auto|always|never) and whether stderr reaches a
  // terminal (directly, or through the mpirun that started this rank).
  static Mode choose(const std::string& flag, bool terminal, double interval);

  Progress(Mode mode, std::uint64_t total, double interval, std::FILE* out = stderr)
      : mode_(mode), total_(total), interval_(interval), out_(out) {}
  // How often the runner should call update() (s); 0: never.
  double tick() const { return mode_ == Mode::Live ? 0.5 : mode_ == Mode::Lines ? interval_ : 0; }
  void update(double elapsed, std::uint64_t done, std::uint64_t failed, double task_cpu);
  // Ends a live line, so that what follows starts on a line of its own.
  void finish();
  // The text of one progress report (without line control). The ETA is the
  // one the rate gave when a task last finished, counted down since; once
  // that time has passed with tasks left (a rank stopped, say, or a long
  // last task), "ETA unknown" and how long no task has finished.
  std::string line(double elapsed, std::uint64_t done, std::uint64_t failed, double task_cpu) const;

  static constexpr double QUIET_SECONDS = 2;

  // Is stderr a terminal, here or, for a rank that mpirun started on this
  // machine (its stderr is a pipe to mpirun), at mpirun itself?
  static bool stderr_reaches_terminal();

 private:
  Mode mode_;
  std::uint64_t total_;
  double interval_;
  std::FILE* out_;
  bool drawn_ = false;
  std::uint64_t last_done_ = 0;  // tasks done at the last update()...
  double last_change_ = 0;       // ...and the elapsed time when that count was first seen
};

}  // namespace fanout::run
