#pragma once
// Resuming interrupted runs, and `fanout status`: where a run's finished
// tasks are (the run file, its checkpoint journal), and whether they belong to
// the config at hand.
#include <cstdint>
#include <string>

#include "config/config.hpp"
#include "core/batch.hpp"

namespace fanout::cli {

// A digest of the [job] table (16 hex digits): what a resumed run must match.
std::string job_hash(const std::string& resolved_toml);

struct ResumeState {
  Batch carried;             // tasks finished ok in earlier sessions, with their rows
  std::int64_t sessions = 1; // fanout runs that made the file, this one included
  bool nothing_left = false; // the output is complete already
  std::string source;        // where the carried tasks came from ("" for a fresh run)
};

// Rank 0, before the run file is created: checks the output path and, with
// `resume`, gathers what earlier sessions finished. Without `resume`, a
// journal left by an interrupted run is never overwritten unless `force`.
// Throws ConfigError (exit 2) or IoError (exit 3).
ResumeState prepare_output(const config::LoadedConfig& loaded, const std::string& origin, bool resume, bool force);

// The resolved config stored in a run file or journal (for `fanout resume FILE`).
std::string stored_config(const std::string& path);

// `fanout status FILE`.
int print_status(const std::string& path);

// The output must be writable where it is and must not exist (unless
// `force`, and not be a directory). Throws ConfigError naming `origin`.
void check_output(const std::string& path, const std::string& origin, bool force);

// A .NAME.partial-PID file of a fanout run still writing `output` on this
// machine: its pid, or 0.
long live_writer(const std::string& output);

}  // namespace fanout::cli
