#include "report/report.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace fanout::report {

Summary summarize(const io::RunFile& run) {
  Summary s;
  s.job = run.job;
  s.status = run.status;
  s.policy = run.scheduler;
  s.chunk = run.chunk;
  s.ranks = run.n_ranks;
  s.threads_per_rank = run.threads_per_rank;
  s.workers = run.n_ranks * run.threads_per_rank;
  s.tasks = run.tasks.size();
  double first = 0, last = 0;
  bool any = false;
  for (const auto& t : run.tasks) {
    if (t.attempt == 0) {
      ++s.not_run;
      continue;
    }
    (t.status == TaskStatus::Ok ? s.ok : s.failed)++;
    s.task_wall += t.t_end - t.t_start;
    s.task_cpu += t.cpu_user + t.cpu_sys;
    first = any ? std::min(first, t.t_start) : t.t_start;
    last = any ? std::max(last, t.t_end) : t.t_end;
    any = true;
  }
  s.compute = last - first;
  for (const auto& p : run.phases) s.wall = std::max(s.wall, p.t_end);
  if (s.wall == 0) s.wall = last;
  double busy_sum = 0, busy_max = 0;
  for (const auto& r : run.ranks) {
    RankSummary rs;
    rs.rank = r.rank;
    rs.host = std::string(r.host, strnlen(r.host, sizeof r.host));
    rs.tasks = r.tasks;
    rs.busy = r.busy;
    rs.idle = r.idle;
    rs.comm = r.comm;
    rs.cpu_user = r.cpu_user;
    rs.cpu_sys = r.cpu_sys;
    rs.max_rss_mib = static_cast<double>(r.max_rss) / (1024.0 * 1024.0);
    s.per_rank.push_back(rs);
    s.cpu_user += r.cpu_user;
    s.cpu_sys += r.cpu_sys;
    busy_sum += r.busy;
    busy_max = std::max(busy_max, r.busy);
  }
  s.cores_busy = s.wall > 0 ? (s.cpu_user + s.cpu_sys) / s.wall : 0;
  s.cpu_per_wall = s.task_wall > 0 ? s.task_cpu / s.task_wall : 0;
  // Below ~20 us a task's CPU and wall readings are mostly clock cost: too short to tell.
  std::uint64_t ran = s.ok + s.failed;
  bool too_short = ran == 0 || s.task_wall / static_cast<double>(ran) < 20e-6;
  s.kind = too_short ? "too short to classify"
           : s.cpu_per_wall >= 0.8 ? "CPU-bound"
           : s.cpu_per_wall <= 0.3 ? "I/O-bound"
                                   : "mixed";
  double busy_mean = run.ranks.empty() ? 0 : busy_sum / static_cast<double>(run.ranks.size());
  s.imbalance = busy_mean > 0 ? busy_max / busy_mean : 1;
  s.efficiency = s.workers > 0 && s.wall > 0 ? s.task_wall / (static_cast<double>(s.workers) * s.wall) : 0;
  return s;
}

std::string format_text(const io::RunFile& run, const Summary& s) {
  std::string out;
  auto line = [&out](const std::string& text) { out += text + "\n"; };
  line(fmt::format("run:       {} ({}), {} tasks on {} rank{} x {} thread{}, policy {} (chunk {})", s.job, run.path,
                   s.tasks, s.ranks, s.ranks == 1 ? "" : "s", s.threads_per_rank, s.threads_per_rank == 1 ? "" : "s",
                   s.policy, s.chunk));
  line(fmt::format("status:    {}: {} ok, {} failed, {} not run", s.status, s.ok, s.failed, s.not_run));
  line(fmt::format("CPU times: user {:.2f} s, sys {:.2f} s, total {:.2f} s / Wall time {:.2f} s ({:.2f} cores busy)",
                   s.cpu_user, s.cpu_sys, s.cpu_user + s.cpu_sys, s.wall, s.cores_busy));
  line(fmt::format("tasks:     {:.2f} s of task time, {:.2f} s of it on CPU: {} (CPU/wall {:.2f})", s.task_wall,
                   s.task_cpu, s.kind, s.cpu_per_wall));
  line("");
  line(fmt::format("{:>5} {:<16} {:>8} {:>9} {:>9} {:>9} {:>10} {:>9} {:>8}", "rank", "host", "tasks", "busy s",
                   "idle s", "comm s", "cpu user s", "cpu sys s", "RSS MiB"));
  for (const auto& r : s.per_rank)
    line(fmt::format("{:>5} {:<16} {:>8} {:>9.3f} {:>9.3f} {:>9.3f} {:>10.3f} {:>9.3f} {:>8.1f}", r.rank,
                     r.host.substr(0, 16), r.tasks, r.busy, r.idle, r.comm, r.cpu_user, r.cpu_sys, r.max_rss_mib));
  line("");
  line(fmt::format("load imbalance (max/mean busy): {:.2f}", s.imbalance));
  line(fmt::format("parallel efficiency: {:.2f} ({:.2f} s of tasks / ({} workers x {:.2f} s wall))", s.efficiency,
                   s.task_wall, s.workers, s.wall));
  if (!run.errors.empty()) {
    line("");
    line(fmt::format("failed tasks ({}):", run.errors.size()));
    for (std::size_t i = 0; i < std::min<std::size_t>(run.errors.size(), 10); ++i)
      line(fmt::format("  task {}: {}", run.errors[i].id, run.errors[i].message));
    if (run.errors.size() > 10) line(fmt::format("  ... and {} more (see /errors)", run.errors.size() - 10));
  }
  return out;
}

namespace {
std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<int>(c));
        else out += c;
    }
  }
  return out + "\"";
}
std::string num(double x) { return fmt::format("{:.6g}", x); }
}  // namespace

std::string format_json(const io::RunFile& run, const Summary& s) {
  std::string per_rank;
  for (const auto& r : s.per_rank) {
    per_rank += fmt::format(
        "{}{{\"rank\": {}, \"host\": {}, \"tasks\": {}, \"busy\": {}, \"idle\": {}, \"comm\": {}, "
        "\"cpu_user\": {}, \"cpu_sys\": {}, \"max_rss_mib\": {}}}",
        per_rank.empty() ? "" : ", ", r.rank, json_string(r.host), r.tasks, num(r.busy), num(r.idle), num(r.comm),
        num(r.cpu_user), num(r.cpu_sys), num(r.max_rss_mib));
  }
  return fmt::format(
      "{{\"file\": {}, \"job\": {}, \"status\": {}, \"ranks\": {}, \"threads_per_rank\": {}, \"policy\": {}, "
      "\"chunk\": {}, \"tasks\": {}, \"ok\": {}, \"failed\": {}, \"not_run\": {}, \"wall\": {}, \"compute\": {}, "
      "\"cpu_user\": {}, \"cpu_sys\": {}, \"cpu_total\": {}, \"cores_busy\": {}, \"task_wall\": {}, "
      "\"task_cpu\": {}, \"cpu_per_wall\": {}, \"kind\": {}, \"imbalance\": {}, \"efficiency\": {}, "
      "\"per_rank\": [{}]}}\n",
      json_string(run.path), json_string(s.job), json_string(s.status), s.ranks, s.threads_per_rank,
      json_string(s.policy), json_string(s.chunk), s.tasks, s.ok, s.failed, s.not_run, num(s.wall), num(s.compute),
      num(s.cpu_user), num(s.cpu_sys), num(s.cpu_user + s.cpu_sys), num(s.cores_busy), num(s.task_wall),
      num(s.task_cpu), num(s.cpu_per_wall), json_string(s.kind), num(s.imbalance), num(s.efficiency), per_rank);
}

}  // namespace fanout::report
