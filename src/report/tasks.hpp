#pragma once
// fanout report FILE --tasks: one row per task (its parameters, results and
// timings) as CSV or JSON, streamed a range of tasks at a time.
#include <ostream>
#include <string>

namespace fanout::report {

// Tasks read and written at a time: memory stays bounded for any task count.
inline constexpr std::uint64_t EXPORT_RANGE = 1 << 14;

// Writes the tasks of the run file at `path` to `out` as "csv" or "json"
// (docs/report.md, "Every task: --tasks"). Throws IoError for a bad file.
void export_tasks(const std::string& path, const std::string& format, std::ostream& out);

}  // namespace fanout::report
