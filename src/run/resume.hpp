#pragma once
// Resuming interrupted runs: where a run's finished tasks are (the run file,
// its checkpoint journal), and whether they belong to the config at hand.
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/batch.hpp"

namespace fanout::io {
class JournalWriter;
class RunWriter;
}  // namespace fanout::io

namespace fanout::run {

// A digest of the [job] table (16 hex digits): what a resumed run must match.
std::string job_hash(const std::string& resolved_toml);

// What earlier sessions finished. Memory: one bit per task (and the errors
// of the finished tasks' earlier attempts), whatever the journal holds; the
// tasks themselves stay in the journal until carry_over() streams them.
struct ResumeState {
  std::vector<bool> finished;     // by task id: finished ok in an earlier session (empty: none)
  std::uint64_t carried = 0;      // how many did
  std::vector<TaskError> errors;  // the failed earlier attempts of those tasks
  std::int64_t sessions = 1;      // fanout runs that made the file, this one included
  bool nothing_left = false;      // the output is complete already
  std::string source;             // where the carried tasks came from ("" for a fresh run)
  // Where carry_over() reads them: the journal, or else the run file's
  // finished tasks (read whole: a file without a journal is a failed run's).
  std::string journal;
  std::uint64_t row_size = 0;
  bool duplicates = false;  // the journal holds a finished task more than once
  Batch from_file;
};

// Rank 0, before the run file is created: checks the output path and, with
// `resume`, finds what earlier sessions finished (reading the journal block
// by block). Without `resume`, a journal left by an interrupted run is never
// overwritten unless `force`. Throws ConfigError (exit 2) or IoError (exit 3).
ResumeState prepare_output(const config::LoadedConfig& loaded, const std::string& origin, bool resume, bool force);

// Rank 0: hands the tasks finished in earlier sessions to the new run file
// and the new journal (before JournalWriter::start), a journal block at a time.
void carry_over(const ResumeState& state, io::RunWriter& writer, io::JournalWriter& journal);

// The resolved config stored in a run file or journal (for `fanout resume FILE`).
std::string stored_config(const std::string& path);

}  // namespace fanout::run
