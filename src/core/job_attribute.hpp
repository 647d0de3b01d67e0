#pragma once
// A key of a run's [job] table as the run file's /job group stores it (format
// 1.5): config reads them from the resolved config (config::job_attributes),
// io writes them.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace fanout {

// A scalar, or an array whose elements are all of one kind (integers with
// floats: floats). Anything else (dates, nested or mixed arrays, arrays of
// tables) is kept as its TOML text.
using JobValue = std::variant<std::int64_t, double, bool, std::string, std::vector<std::int64_t>, std::vector<double>,
                              std::vector<bool>, std::vector<std::string>>;
struct JobAttribute {
  std::string key;  // nested tables flattened with dots: "results.energy"
  JobValue value;
  std::string description;  // the job's help text for the key (or for its table), "" when it has none
};

}  // namespace fanout
