#include "report/by_param.hpp"

#include <algorithm>
#include <map>
#include <variant>

#include <fmt/format.h>

#include "core/error.hpp"
#include "report/report.hpp"

namespace fanout::report {
namespace {

// Groups keyed by number or by text, so that 2 sorts before 10.
using Key = std::variant<double, std::string>;

std::string value_text(const io::ResultColumn& column, std::size_t i) {
  if (column.type == "text") return column.texts[i];
  double v = column.values[i];
  if (column.type == "bool") return v != 0 ? "true" : "false";
  if (column.type == "integer") return fmt::format("{}", static_cast<std::int64_t>(v));
  return fmt::format("{}", v);
}

}  // namespace

ByParam group_by_param(const io::RunFile& run, const std::string& name) {
  if (run.params.empty())
    throw ConfigError(
        fmt::format("--by {}: {} has no parameter sweep (/params); --by groups the tasks of a run with "
                    "[params] by one parameter",
                    name, run.path));
  const io::ResultColumn* column = nullptr;
  std::string names;
  for (const auto& p : run.params) {
    names += (names.empty() ? "" : ", ") + p.name;
    if (p.name == name) column = &p;
  }
  if (!column)
    throw ConfigError(
        fmt::format("--by {}: {} has no parameter \"{}\"; its parameters are {}", name, run.path, name, names));
  const std::size_t n = column->type == "text" ? column->texts.size() : column->values.size();
  if (n != run.tasks.size())
    throw IoError(fmt::format("{}: /params/{} has {} values for {} tasks", run.path, name, n, run.tasks.size()));
  struct Sums {
    ParamGroup group;
    double cpu = 0;
  };
  std::map<Key, Sums> groups;
  for (std::size_t i = 0; i < n; ++i) {
    Key key = column->type == "text" ? Key(column->texts[i]) : Key(column->values[i]);
    Sums& g = groups[key];
    if (g.group.tasks == 0) g.group.value = value_text(*column, i);
    ++g.group.tasks;
    const TaskRecord& t = run.tasks[i];
    if (t.attempt == 0) {
      ++g.group.not_run;
      continue;
    }
    (t.status == TaskStatus::Ok ? g.group.ok : g.group.failed)++;
    double seconds = t.t_end - t.t_start;
    g.group.total += seconds;
    g.group.max = std::max(g.group.max, seconds);
    g.cpu += t.cpu_user + t.cpu_sys;
  }
  ByParam by{run.path, name, column->type, {}};
  for (auto& [key, g] : groups) {
    std::uint64_t ran = g.group.ok + g.group.failed;
    g.group.mean = ran ? g.group.total / static_cast<double>(ran) : 0;
    g.group.cpu_per_wall = g.group.total > 0 ? g.cpu / g.group.total : 0;
    by.groups.push_back(g.group);
  }
  return by;
}

std::string format_text(const ByParam& by) {
  std::size_t width = by.name.size();
  for (const auto& g : by.groups) width = std::max(width, std::min<std::size_t>(g.value.size(), 40));
  std::string out = fmt::format("tasks of {} by parameter {} ({} value{}):\n", by.file, by.name, by.groups.size(),
                                by.groups.size() == 1 ? "" : "s");
  out += fmt::format("{:<{}} {:>8} {:>8} {:>8} {:>11} {:>11} {:>8}\n", by.name, width, "tasks", "failed", "not run",
                     "mean s", "max s", "CPU/wall");
  for (const auto& g : by.groups)
    out += fmt::format("{:<{}} {:>8} {:>8} {:>8} {:>11.4f} {:>11.4f} {:>8.2f}\n", g.value.substr(0, 40), width, g.tasks,
                       g.failed, g.not_run, g.mean, g.max, g.cpu_per_wall);
  return out;
}

std::string format_json(const ByParam& by) {
  std::string groups;
  for (const auto& g : by.groups) {
    std::string value = by.type == "text" ? json_string(g.value) : g.value;
    groups += fmt::format(
        "{}{{\"value\": {}, \"tasks\": {}, \"ok\": {}, \"failed\": {}, \"not_run\": {}, \"mean\": {}, \"max\": {}, "
        "\"total\": {}, \"cpu_per_wall\": {}}}",
        groups.empty() ? "" : ", ", value, g.tasks, g.ok, g.failed, g.not_run, json_number(g.mean), json_number(g.max),
        json_number(g.total), json_number(g.cpu_per_wall));
  }
  return fmt::format("{{\"file\": {}, \"by\": {}, \"type\": {}, \"groups\": [{}]}}\n", json_string(by.file),
                     json_string(by.name), json_string(by.type), groups);
}

std::string format_csv(const ByParam& by) {
  std::string out = csv_field(by.name) + ",tasks,ok,failed,not_run,mean,max,total,cpu_per_wall\n";
  for (const auto& g : by.groups)
    out += fmt::format("{},{},{},{},{},{:.6f},{:.6f},{:.6f},{:.4f}\n", csv_field(g.value), g.tasks, g.ok, g.failed,
                       g.not_run, g.mean, g.max, g.total, g.cpu_per_wall);
  return out;
}

}  // namespace fanout::report
