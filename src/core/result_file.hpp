#pragma once
// The results a task's program reports ([job.results]): their declaration
// ("float64", "text[32]", "int64[16]") and the file the program writes to
// $FANOUT_RESULT, one JSON object or name=value lines (docs/jobs.md,
// "Results from your program"). No bytes in that file can crash the parser
// (tests/fuzz/fuzz_result_file.cpp).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/job.hpp"

namespace fanout {

// A declared type: "float64" -> F64 x 1, "text[32]" -> Text of 32 bytes,
// "int64[16]" -> I64 x 16. nullopt when the text is not a type; `why` says why.
std::optional<Column> parse_result_type(std::string_view text, std::string& why);

// The largest result file a task may write, and the longest text or array.
inline constexpr std::size_t MAX_RESULT_FILE_BYTES = std::size_t{16} << 20;
inline constexpr std::uint64_t MAX_RESULT_LENGTH = 65536;

// Parses `text` (a result file) against `columns` (the declared results) and
// sets row columns first, first + 1, ... (the results' place in the job's
// row). Returns "" when every declared result was there and fit its type;
// else a message naming the result and what was found (the task fails), with
// every result that did parse set in the row (the others stay 0).
std::string parse_result_file(std::string_view text, const std::vector<Column>& columns, Row& row, std::size_t first);

}  // namespace fanout
