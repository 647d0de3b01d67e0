#pragma once
// `fanout report FILE --by NAME`: the tasks of a sweep grouped by the value
// of one parameter: which values are expensive, which fail.
#include <cstdint>
#include <string>
#include <vector>

#include "io/run_file.hpp"

namespace fanout::report {

struct ParamGroup {
  std::string value;  // as written in a config: 0.1, 20, true, text
  std::uint64_t tasks = 0, ok = 0, failed = 0, not_run = 0;
  double mean = 0, max = 0;  // s: task wall time of the tasks that ran
  double total = 0;          // s: their summed wall time
  double cpu_per_wall = 0;   // their CPU (user + sys) / their wall time
};

struct ByParam {
  std::string file, name, type;    // type: "integer", "float", "bool" or "text"
  std::vector<ParamGroup> groups;  // by value, ascending
};

// Throws ConfigError (exit 2) when the file has no sweep or no such parameter.
ByParam group_by_param(const io::RunFile& run, const std::string& name);
std::string format_text(const ByParam& by);
std::string format_json(const ByParam& by);
std::string format_csv(const ByParam& by);

}  // namespace fanout::report
