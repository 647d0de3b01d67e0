#pragma once
// What a run computed, from its /results alone (and the job kind and config
// root attributes): the job's own answer for the jobs that have one (primes,
// monte_carlo_pi, prime_count) and, for any job, a summary of each result
// column. docs/report.md, "The answer and the results", defines them.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/run_file.hpp"

namespace fanout::report {

// One 1-D result column over the tasks that finished ok.
struct ColumnStats {
  std::string name;
  std::string type;                   // "integer", "float", "bool" or "text" (as io::ResultColumn)
  std::uint64_t count = 0;            // values summarised: the tasks that finished ok
  double min = 0, mean = 0, max = 0;  // integer and float columns (0 when count is 0)
  std::uint64_t true_count = 0;       // bool columns
  std::uint64_t distinct = 0;         // text columns: distinct values
};

struct JobAnswer {
  std::string text;                  // the answer in one line
  std::vector<std::string> details;  // further lines of text (the primes found)
  // The answer's JSON fields: name, value already in JSON.
  std::vector<std::pair<std::string, std::string>> fields;
};

struct ResultsSummary {
  std::uint64_t tasks = 0, ok = 0;   // the answer and the statistics are over the ok tasks
  std::optional<JobAnswer> answer;   // none for jobs without one, or when a column it needs is missing
  std::vector<ColumnStats> columns;  // the 1-D /results columns, by name
};

// Primes listed at most, in the text and in JSON (all of them: report --tasks).
inline constexpr std::size_t PRIMES_LISTED_TEXT = 20;
inline constexpr std::size_t PRIMES_LISTED_JSON = 1000;

ResultsSummary summarize_results(const io::RunFile& run);
// The text lines of the report (`answer:` and `results:`), each ending in a newline.
std::string format_results_text(const ResultsSummary& r);
// The JSON fields "answer" (object or null) and "results" (array), without braces.
std::string results_json_fields(const ResultsSummary& r);
// report --results: the summary alone.
std::string format_results_json(const io::RunFile& run, const ResultsSummary& r);
std::string format_results_csv(const ResultsSummary& r);

}  // namespace fanout::report
