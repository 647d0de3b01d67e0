#pragma once
// `fanout status FILE`: how far a run got, from its file or its checkpoint journal.
#include <string>

namespace fanout::cli {

// Prints the state of the run whose output file (or .journal) is `path`.
int print_status(const std::string& path);

}  // namespace fanout::cli
