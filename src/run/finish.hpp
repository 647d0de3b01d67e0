#pragma once
// Rank 0's writing of the run file: a partial file at a stop (while the
// running tasks get their grace), the last steps at the end, and giving the
// file up (a failed write, a second stop signal) with the journal kept.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/records.hpp"
#include "core/runner.hpp"

namespace fanout::io {
class JournalWriter;
class RunWriter;
}  // namespace fanout::io

namespace fanout::run {

// The time now, UTC, as the file records it: 2026-01-31T12:00:00Z.
std::string utc_now();

// The file's status: "partial" (tasks left), "failed" (some failed), "complete".
std::string status_of(const RunOutcome& outcome, std::uint64_t to_run);

// Failed attempts of earlier sessions and of this one, by task id and attempt.
std::vector<TaskError> all_errors(const std::vector<TaskError>& earlier, const std::vector<TaskError>& now);

// The phases up to `now` (run clock): setup, distribute, compute, collect.
std::vector<PhaseRecord> phases_until(const RunOutcome& outcome, double setup_end, double now);

// Thrown between the steps of writing the run file when a stop signal asks
// for it (WriteSignals).
struct WriteStopped {};

// Stop signals (SIGTERM, SIGINT, SIGUSR1) while rank 0 writes the run file.
// The write is the run's last step and leaves every finished task in the
// file, so the first signal lets it go on; a second one (counting one that
// stopped the tasks before) stops it at the next step: the file is given up,
// the journal kept. Signals before the write began do not count twice.
class WriteSignals {
 public:
  explicit WriteSignals(std::string output);
  // Between two steps of the write: throws WriteStopped when it must stop.
  void check();
  // The last stop signal's name: "SIGTERM", "SIGINT", "SIGUSR1".
  static std::string signal_name();

 private:
  std::string output_;
  int before_;
  bool noted_ = false;
};

// Rank 0, when the run file is not to be written after all (a write failed,
// or a signal stopped it): removes its temporary file, which frees its
// space, then writes out and syncs what the journal could not write before.
// Returns whether the journal now holds every task it was given.
bool give_up_file(std::unique_ptr<io::RunWriter>& writer, io::JournalWriter& journal);

// "the 20 finished tasks are kept in J", or what is left of that.
std::string kept_in_journal(bool journal_whole, std::uint64_t finished, const std::string& output);

// Rank 0, at a stop, while the running tasks get their grace: the tasks
// finished so far go to the output path as a partial file (without /ranks,
// which the ranks report at the end), and the writer goes on (RunWriter::publish).
void publish_partial(io::RunWriter& writer, const config::LoadedConfig& loaded, const RunOutcome& so_far,
                     const std::vector<TaskError>& earlier_errors, double setup_end, const RunClock& clock,
                     int n_ranks);

// Rank 0: the last datasets and, when every task succeeded, the job's own
// output (Job::finish); then the file goes into place. `between_steps` runs
// before each step (it may throw WriteStopped). Throws IoError when the file
// cannot be written. Returns EXIT_TASKS_FAILED, with the file not written,
// when Job::finish threw; else EXIT_OK.
int finish_file(io::RunWriter& writer, const config::LoadedConfig& loaded, const RunOutcome& outcome,
                const std::vector<TaskError>& errors, std::uint64_t to_run, std::vector<PhaseRecord> phases,
                const RunClock& clock, const std::function<void()>& between_steps);

}  // namespace fanout::run
