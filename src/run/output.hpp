#pragma once
// The output path of a run: whether it may be written, the default output
// directory, and the temporary files of other runs beside it.
#include <string>

namespace fanout::run {

// The output must be writable where it is and must not exist (unless
// `force`, and not be a directory). Throws ConfigError naming `origin`.
void check_output(const std::string& path, const std::string& origin, bool force);

// The output goes into results/ (the default directory, relative to the
// current one), which does not exist yet: fanout run creates it.
bool default_output_dir_missing(const std::string& output);
// Creates it when missing and says so on stderr (one directory, never parents).
void create_default_output_dir(const std::string& output);

// A .NAME.partial-PID file of a fanout run still writing `output` on this
// machine: its pid, or 0.
long live_writer(const std::string& output);

// Removes the .NAME.partial-PID files beside `output` whose process is gone
// (runs that were killed: never complete, never to be read).
void remove_dead_partial_files(const std::string& output);
// Removes the NAME.journal.new-PID files beside `output` whose process is gone
// (new journals of runs killed before they were complete).
void remove_dead_journal_temps(const std::string& output);

}  // namespace fanout::run
