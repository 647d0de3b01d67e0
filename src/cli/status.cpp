#include "cli/status.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>

#include <fmt/format.h>

#include "config/config.hpp"
#include "core/error.hpp"
#include "io/journal.hpp"
#include "io/run_file.hpp"
#include "report/compare.hpp"
#include "run/output.hpp"

namespace fanout::cli {
namespace fs = std::filesystem;

namespace {

// The task costs `fanout status` weighs the remaining work by, and where they
// came from; empty when none are known. A file's `costs` attribute names them
// (an earlier run, or "job"); a journal's config says whether the run went
// longest-first, and then the job's own estimates are taken when it makes them.
// Whether the run handed its tasks out longest-first: the file's `order`, or
// for a journal (order "") its config's schedule.order.
bool went_longest_first(const std::string& output, const std::string& config, const std::string& order) {
  if (!order.empty()) return order == "longest-first";
  for (const auto& [key, value] : report::flatten_toml(config, output))
    if (key == "schedule.order")
      return value == "longest-first" || value == "'longest-first'" || value == "\"longest-first\"";
  return false;
}

std::vector<double> status_costs(const std::string& output, const std::string& config, const std::string& order,
                                 const std::string& costs, std::uint64_t task_count, std::string& source) {
  std::error_code ec;
  if (!costs.empty() && costs != "job") {  // an earlier run, as typed: from where fanout ran, or beside the output
    fs::path path(costs);
    if (!fs::exists(path, ec) && path.is_relative()) path = fs::path(output).parent_path() / costs;
    try {
      io::RunFile earlier = io::read_run_file(path.string());
      source = "the task times of " + costs;
      return io::task_durations(earlier, task_count);
    } catch (const IoError&) {
      return {};
    }
  }
  // A journal's config may say "auto", which goes longest-first by the job's costs when it has them.
  bool may_have_job_costs = order.empty() && config.find("order = 'auto'") != std::string::npos;
  if (!went_longest_first(output, config, order) && costs != "job" && !may_have_job_costs) return {};
  try {
    config::LoadedConfig loaded = config::load_config(config, output, {}, /*checked_elsewhere=*/true);
    if (!loaded.job->has_costs() || loaded.job->task_count() != task_count) return {};
    std::vector<double> out(task_count);
    for (std::uint64_t i = 0; i < task_count; ++i) out[i] = loaded.job->cost(i);
    source = "the job's cost estimates";
    return out;
  } catch (const Error&) {
    return {};
  }
}

// status sizes its per-task state by a journal's task_count: the header must
// agree with the journal's own config (resume checks it against the config it
// runs). A config that no longer loads (a job.file moved away) leaves the
// header's count, which scan_journal caps at MAX_TASKS.
void check_journal_task_count(const std::string& journal, const io::JournalHeader& header) {
  std::uint64_t expected = 0;
  try {
    expected = config::load_config(header.config, journal + " (its stored config)", {}, /*checked_elsewhere=*/true)
                   .job->task_count();
  } catch (const Error&) {
    return;
  }
  if (header.task_count != expected)
    throw IoError(
        fmt::format("{}: the checkpoint journal's header says {} tasks, but its stored config makes {} (the "
                    "journal is damaged)",
                    journal, header.task_count, expected));
}

// The rate of the latest session (earlier ones ran on other clocks).
struct SessionRate {
  std::uint16_t session = 0;
  double first = 0, last = 0;
  std::uint64_t tasks = 0;
  void add(const TaskRecord& t) {
    if (tasks > 0 && t.session < session) return;
    if (tasks == 0 || t.session > session) {
      session = t.session;
      first = t.t_start;
      last = t.t_end;
      tasks = 0;
    }
    first = std::min(first, t.t_start);
    last = std::max(last, t.t_end);
    ++tasks;
  }
};

}  // namespace

int print_status(const std::string& path) {
  std::error_code ec;
  const bool given_journal = path.ends_with(".journal");
  const std::string output = given_journal ? path.substr(0, path.size() - 8) : path;
  const std::string journal = io::journal_path(output);
  const bool have_file = fs::exists(output, ec);
  const bool have_journal = fs::exists(journal, ec);
  if (!have_file && !have_journal)
    throw IoError(fmt::format("{}: no such run file, and no checkpoint journal {}", output, journal));

  std::uint64_t task_count = 0, done = 0, failed = 0;
  std::string job, status, config, order, costs;
  SessionRate rate;
  if (have_file && !(given_journal && have_journal)) {
    io::RunFile head = io::read_run_attributes(output);
    job = head.job;
    status = head.status;
    config = head.config;
    order = head.order.empty() ? "given" : head.order;
    costs = head.costs;
  }
  long writer = run::live_writer(output);
  std::string from = output;
  // Every task's last record, in one pass over the journal (block by block,
  // whatever it holds) or over the file's /tasks.
  const bool from_journal = have_journal && (status.empty() || status == "partial");
  std::optional<io::RunFile> file;
  std::vector<bool> seen;  // done, one bit per task
  std::string damage;      // what a scan of the journal found damaged
  auto for_each_record = [&](const std::function<void(const TaskRecord&)>& fn) {
    if (from_journal) {
      damage = io::describe_damage(journal, io::scan_journal(journal, [&](Batch& block) {
                                     for (const auto& t : block.records)
                                       if (t.id < task_count) fn(t);
                                   }));
    } else {
      for (const auto& t : file->tasks)
        if (t.attempt != 0 && t.id < task_count) fn(t);
    }
  };
  if (from_journal) {
    io::JournalHeader header = io::scan_journal(journal).header;
    check_journal_task_count(journal, header);
    job = header.job;
    task_count = header.task_count;
    config = header.config;
    if (status.empty()) {  // no file: the journal records no order, its config's decides
      order.clear();
      costs.clear();
    }
    if (status.empty()) status = writer ? "running" : "interrupted";
    struct stat st {};
    std::string age;
    if (stat(journal.c_str(), &st) == 0)
      age = fmt::format(", last written {:.0f} s ago", std::difftime(std::time(nullptr), st.st_mtime));
    from = journal + age;
  } else {
    file = io::read_run_file(output);
    task_count = file->tasks.size();
  }
  // Two bits per task (done, failed by its last record).
  seen.assign(task_count, false);
  std::vector<bool> failed_last(task_count, false);
  for_each_record([&](const TaskRecord& t) {
    seen[t.id] = true;
    failed_last[t.id] = t.status != TaskStatus::Ok;
    rate.add(t);
  });
  done = static_cast<std::uint64_t>(std::count(seen.begin(), seen.end(), true));
  failed = static_cast<std::uint64_t>(std::count(failed_last.begin(), failed_last.end(), true));

  std::uint64_t remaining = task_count - std::min(done, task_count);
  std::cout << fmt::format("{}: job {}, {}\n", output, job, status);
  std::cout << fmt::format("  tasks:     {} in all; {} done ({} failed), {} remaining ({:.1f}% done)\n", task_count,
                           done, failed, remaining,
                           task_count ? 100.0 * static_cast<double>(done) / static_cast<double>(task_count) : 100.0);
  std::cout << fmt::format("  from:      {}\n", from);
  if (!damage.empty()) std::cout << fmt::format("  damaged:   {}\n", damage);
  if (rate.tasks > 0 && rate.last > rate.first) {
    const double span = rate.last - rate.first;
    double per_second = static_cast<double>(rate.tasks) / span;
    std::cout << fmt::format("  rate:      {:.4g} tasks/s (session {}: {} tasks in {:.3g} s)\n", per_second,
                             rate.session + 1, rate.tasks, span);
    if (remaining > 0) {
      // Weighed by cost when the costs are known: under longest-first the
      // tasks left are the short ones, and a count would overstate them.
      std::string source;
      std::vector<double> cost = status_costs(output, config, order, costs, task_count, source);
      double done_cost = 0, remaining_cost = 0, all_done_cost = 0;  // done: in the latest session
      if (!cost.empty()) {
        for_each_record([&](const TaskRecord& t) {
          if (t.session == rate.session) done_cost += cost[t.id];
        });
        for (std::uint64_t id = 0; id < task_count; ++id) (seen[id] ? all_done_cost : remaining_cost) += cost[id];
      }
      if (done_cost > 0) {
        std::cout << fmt::format(
            "  ETA:       {:.3g} s of running at that pace per unit of cost ({:.1f}% of the "
            "cost is left, by {})\n",
            span * remaining_cost / done_cost, 100.0 * remaining_cost / (remaining_cost + all_done_cost), source);
      } else {
        bool longest_first = went_longest_first(output, config, order);
        std::cout << fmt::format("  ETA:       {:.3g} s of running at that rate{}\n",
                                 static_cast<double>(remaining) / per_second,
                                 longest_first ? " (at most: the run went longest-first, so the tasks left are the "
                                                 "shorter ones, and their costs are not at hand)"
                                               : "");
      }
    }
  }
  if (writer) std::cout << fmt::format("  running:   pid {} is writing it now\n", writer);
  if (!writer && remaining > 0 && (status == "partial" || status == "interrupted" || status == "failed"))
    std::cout << fmt::format("  resume:    fanout resume {}   (or fanout run CONFIG --resume)\n", output);
  return EXIT_OK;
}

}  // namespace fanout::cli
