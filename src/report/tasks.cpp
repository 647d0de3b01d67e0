#include "report/tasks.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "io/run_file.hpp"
#include "report/report.hpp"

namespace fanout::report {
namespace {

using Kind = io::ColumnSpec::Kind;

const char* status_text(const TaskRecord& t) {
  if (t.attempt == 0) return "not_run";
  switch (t.status) {
    case TaskStatus::Ok:
      return "ok";
    case TaskStatus::Failed:
      return "failed";
    case TaskStatus::TimedOut:
      return "timed_out";
  }
  return "unknown";
}

// A double in the shortest form that reads back the same; JSON has no NaN or infinity.
std::string number(double x, bool json) {
  if (json && !std::isfinite(x)) return "null";
  return fmt::format("{}", x);
}

// Value k of a column's values for one task, as CSV (raw text) or JSON.
std::string value(const io::ColumnSpec& spec, const std::byte* at, bool json) {
  switch (spec.kind) {
    case Kind::Int: {
      std::int64_t v;
      std::memcpy(&v, at, 8);
      return std::to_string(v);
    }
    case Kind::UInt: {
      std::uint64_t v;
      std::memcpy(&v, at, 8);
      return std::to_string(v);
    }
    case Kind::Float: {
      double v;
      std::memcpy(&v, at, 8);
      return number(v, json);
    }
    case Kind::Bool:
      return *reinterpret_cast<const std::int8_t*>(at) != 0 ? "true" : "false";
    case Kind::Text: {
      std::string_view text(reinterpret_cast<const char*>(at), spec.value_bytes);
      text = text.substr(0, text.find_last_not_of('\0') + 1);
      return json ? json_string(std::string(text)) : std::string(text);
    }
  }
  return "";
}

// One task's cell of a column: a value, or for an array column all N of them
// (JSON: an array; CSV: joined by ';').
std::string cell(const io::ColumnSpec& spec, const std::vector<std::byte>& values, std::size_t row, bool json) {
  const std::size_t per_task = spec.values_per_task();
  const std::byte* at = values.data() + row * per_task * spec.value_bytes;
  if (spec.width == 0) {
    std::string v = value(spec, at, json);
    return json ? v : csv_field(v);
  }
  std::string out;
  for (std::size_t k = 0; k < per_task; ++k)
    out += (k ? (json ? ", " : ";") : "") + value(spec, at + k * spec.value_bytes, json);
  return json ? "[" + out + "]" : csv_field(out);
}

// The fixed columns, after the parameters and results.
const std::vector<std::string> TIMING = {"status",   "rank",    "thread",  "start",  "end",
                                         "cpu_user", "cpu_sys", "attempt", "session"};

}  // namespace

void export_tasks(const std::string& path, const std::string& format, std::ostream& out) {
  io::TaskRangeReader reader(path);
  const auto& params = reader.params();
  const auto& results = reader.results();
  const bool json = format == "json";
  // CSV headers are flat: a parameter or result named like a fixed column (or
  // a result named like a parameter) gets a prefix, param_ or result_.
  std::set<std::string> fixed(TIMING.begin(), TIMING.end());
  fixed.insert("id");
  std::set<std::string> param_names;
  for (const auto& p : params) param_names.insert(p.name);
  // Written with the first range, once it has read (and been checked): a damaged file prints nothing.
  std::string head;
  if (!json) {
    std::string header = "id";
    for (const auto& p : params) header += "," + csv_field(fixed.count(p.name) ? "param_" + p.name : p.name);
    for (const auto& r : results)
      header += "," + csv_field(fixed.count(r.name) || param_names.count(r.name) ? "result_" + r.name : r.name);
    for (const auto& t : TIMING) header += "," + t;
    head = header + "\n";
  } else {
    head = "[";
  }
  std::vector<TaskRecord> records;
  std::vector<std::vector<std::byte>> values;
  const std::uint64_t n = reader.task_count();
  std::string text;
  for (std::uint64_t first = 0; first < n; first += EXPORT_RANGE) {
    const std::uint64_t count = std::min(EXPORT_RANGE, n - first);
    reader.read(first, count, records, values);
    text.clear();
    if (first == 0) text = head;
    for (std::size_t i = 0; i < count; ++i) {
      const TaskRecord& t = records[i];
      const bool ran = t.attempt > 0;
      // A task that never ran has no results and no timings.
      auto timing = [&](const std::string& v) { return ran ? v : std::string(json ? "null" : ""); };
      if (json) {
        std::string p, r;
        for (std::size_t c = 0; c < params.size(); ++c)
          p += fmt::format("{}{}: {}", c ? ", " : "", json_string(params[c].name), cell(params[c], values[c], i, true));
        for (std::size_t c = 0; c < results.size(); ++c)
          r += fmt::format("{}{}: {}", c ? ", " : "", json_string(results[c].name),
                           ran ? cell(results[c], values[params.size() + c], i, true) : std::string("null"));
        text += fmt::format(
            "{}\n{{\"id\": {}, \"params\": {{{}}}, \"results\": {{{}}}, \"status\": \"{}\", \"rank\": {}, "
            "\"thread\": {}, \"start\": {}, \"end\": {}, \"cpu_user\": {}, \"cpu_sys\": {}, \"attempt\": {}, "
            "\"session\": {}}}",
            first + i == 0 ? "" : ",", first + i, p, r, status_text(t), timing(std::to_string(t.rank)),
            timing(std::to_string(t.thread)), timing(number(t.t_start, true)), timing(number(t.t_end, true)),
            timing(number(t.cpu_user, true)), timing(number(t.cpu_sys, true)), t.attempt,
            timing(std::to_string(t.session)));
      } else {
        text += std::to_string(first + i);
        for (std::size_t c = 0; c < params.size(); ++c) text += "," + cell(params[c], values[c], i, false);
        for (std::size_t c = 0; c < results.size(); ++c)
          text += "," + (ran ? cell(results[c], values[params.size() + c], i, false) : std::string());
        text += fmt::format(",{},{},{},{},{},{},{},{},{}\n", status_text(t), timing(std::to_string(t.rank)),
                            timing(std::to_string(t.thread)), timing(number(t.t_start, false)),
                            timing(number(t.t_end, false)), timing(number(t.cpu_user, false)),
                            timing(number(t.cpu_sys, false)), t.attempt, timing(std::to_string(t.session)));
      }
    }
    out << text;
  }
  if (n == 0) out << head;
  if (json) out << (n ? "\n]\n" : "]\n");
}

}  // namespace fanout::report
