#pragma once
// [job.results]: the typed results a user's program reports, one column each
// in /results (core/result_file.hpp parses what the program writes).
#include <string>
#include <vector>

#include "config/params.hpp"
#include "core/job.hpp"

namespace fanout::config {

// Reads the table `results` of the [job] section: name = "type" pairs, sorted
// by name. Names must be identifiers and must not clash with the job's
// own columns (`own`). Empty when the table is absent.
// `how` says how the job's code reports them (for the help text).
std::vector<Column> read_result_columns(Section& job, const std::vector<Column>& own, std::string_view how);

}  // namespace fanout::config
