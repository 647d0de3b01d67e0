// libFuzzer target for the result-file parser (tests/fuzz/CMakeLists.txt
// builds it with clang). The input is the text a task's program writes to
// $FANOUT_RESULT; it is parsed against a fixed set of declared results, one
// of every type, arrays and text included. parse_result_file must return ""
// or a message; an exception, a crash or a sanitizer report is a bug. On ""
// every declared result must have been given, so the row must read back.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/job.hpp"
#include "core/result_file.hpp"

namespace {

fanout::Column declared(const char* name, const char* type) {
  std::string why;
  auto column = fanout::parse_result_type(type, why);
  if (!column) {
    std::fprintf(stderr, "fuzz_result_file: bad declaration %s: %s\n", type, why.c_str());
    std::abort();
  }
  column->name = name;
  return *column;
}

// The command job's own columns come first in a row; one stands in for them.
constexpr std::size_t FIRST = 1;

const std::vector<fanout::Column>& results() {
  static const std::vector<fanout::Column> columns{
      declared("b", "bool"),          declared("u8", "uint8"),     declared("i32", "int32"),
      declared("i64", "int64"),       declared("u32", "uint32"),   declared("u64", "uint64"),
      declared("f", "float64"),       declared("t", "text[8]"),    declared("farr", "float64[3]"),
      declared("iarr", "int32[2]"),   declared("barr", "bool[2]"), declared("u8arr", "uint8[4]"),
      declared("u64arr", "uint64[2]")};
  return columns;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<fanout::Column> row_columns = [] {
    std::vector<fanout::Column> columns{{"exit_code", fanout::ColumnType::I32}};
    columns.insert(columns.end(), results().begin(), results().end());
    return columns;
  }();
  static const fanout::RowLayout layout(row_columns);
  std::vector<std::byte> bytes(layout.size());
  fanout::Row row(layout, bytes);
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string why = fanout::parse_result_file(text, results(), row, FIRST);
  if (why.empty()) {
    // Read back what a complete parse promises: scalars of their types, text within its width.
    (void)row.get<bool>(FIRST + 0);
    (void)row.get<std::uint8_t>(FIRST + 1);
    (void)row.get<double>(FIRST + 6);
    if (row.text(FIRST + 7).size() > 8) std::abort();
  }
  return 0;
}
