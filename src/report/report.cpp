#include "report/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "report/cpu_use.hpp"

namespace fanout::report {

namespace {

std::string phase_name(const PhaseRecord& p) { return std::string(p.name, strnlen(p.name, sizeof p.name)); }

const PhaseSummary* find_phase(const std::vector<PhaseSummary>& phases, Phase phase) {
  for (const auto& p : phases)
    if (p.name == fanout::phase_name(phase)) return &p;
  return nullptr;
}

// What the kind of work means for the choice between ranks and threads (the
// course texts' lesson): CPU-bound work wants a core per worker, waiting work
// is served by threads.
void advise(Summary& s) {
  std::string workers =
      fmt::format("this run had {} worker{} ({} rank{} x {} thread{}){}", s.workers, s.workers == 1 ? "" : "s", s.ranks,
                  s.ranks == 1 ? "" : "s", s.threads_per_rank, s.threads_per_rank == 1 ? "" : "s",
                  s.cpus > 0 ? fmt::format(" on {} CPU{}", s.cpus, s.cpus == 1 ? "" : "s") : "");
  // Workers that outnumber their CPUs wait for one, and CPU/wall falls by as
  // much: computing work then reads as mixed or I/O-bound.
  if (s.crowding > 1 && s.kind != "CPU-bound" && s.kind != "too short to classify" &&
      s.cpu_per_wall * s.crowding >= 0.5) {
    s.advice = fmt::format(
        "the workers outnumbered their CPUs ({:.1f} to 1) and CPU/wall {:.2f} is what computing "
        "work shows when it takes turns on the CPUs: the work may be CPU-bound; run again with "
        "at most one worker per CPU before choosing threads; {}",
        s.crowding, s.cpu_per_wall, workers);
    return;
  }
  if (s.kind == "CPU-bound") {
    s.advice =
        "CPU-bound work keeps a core busy per worker: run one worker per core in all (ranks x threads per "
        "rank = cores), as ranks (mpirun -n) or as threads (run.threads_per_rank); more workers than cores "
        "only take turns on them; " +
        workers;
    return;
  }
  if (s.kind == "too short to classify") {
    s.advice =
        "the tasks are too short to measure (under 20 us each on average): the cost of handing them out "
        "dominates; give each task more work before choosing ranks or threads; " +
        workers;
    return;
  }
  // About 1 / (CPU/wall) waiting workers keep one core busy; suggested up to 64, past which what
  // the tasks wait on, not the cores, sets the limit.
  double per_core = s.cpu_per_wall > 0 ? 1.0 / s.cpu_per_wall : 1e9;
  long threads = std::clamp(static_cast<long>(std::min(std::floor(per_core), 1e9)), 2L, 64L);
  std::string how_many;
  if (s.threads_per_rank >= threads) {
    // The run had that many already: never suggest what it did.
    how_many = per_core >= 65 ? fmt::format(
                                    "at CPU/wall {:.2f} one core could serve more than 64 such workers, and this run "
                                    "had {} threads per rank already: past that, what the tasks wait on (a disk, a "
                                    "network, a service) sets the limit, not the cores; raise run.threads_per_rank "
                                    "further only if it can serve more at once",
                                    s.cpu_per_wall, s.threads_per_rank)
                              : fmt::format(
                                    "at CPU/wall {:.2f} about {} such workers keep one core busy, and this run had {} "
                                    "threads per rank already: more threads would take turns on the cores; add ranks "
                                    "instead, up to one per core (mpirun -n)",
                                    s.cpu_per_wall, threads, s.threads_per_rank);
  } else {
    s.suggested_threads_per_rank = threads;
    how_many = per_core >= 65 ? fmt::format(
                                    "at CPU/wall {:.2f} one core could serve more than 64 such workers: try "
                                    "--set run.threads_per_rank={} (beyond that, what the tasks wait on sets "
                                    "the limit, not the cores)",
                                    s.cpu_per_wall, threads)
                              : fmt::format(
                                    "at CPU/wall {:.2f} about {} such workers keep one core busy: try --set "
                                    "run.threads_per_rank={}",
                                    s.cpu_per_wall, threads, threads);
  }
  if (s.kind == "I/O-bound")
    s.advice =
        "I/O-bound work waits more than it computes, and threads serve waiting work as well as processes: "
        "raise run.threads_per_rank rather than adding ranks; " +
        how_many + "; " + workers;
  else
    s.advice =
        "mixed work computes part of the time and waits the rest: one rank per core with a few threads each "
        "hides the waits; " +
        how_many + "; " + workers;
}

}  // namespace

static double phases_end(const io::RunFile& run) {
  double end = 0;
  for (const auto& p : run.phases) end = std::max(end, p.t_end);
  return end;
}

std::vector<SessionSummary> sessions_of(const io::RunFile& run) {
  int last = static_cast<int>(std::max<std::int64_t>(1, run.sessions)) - 1;
  for (const auto& t : run.tasks)
    if (t.attempt > 0) last = std::max(last, static_cast<int>(t.session));
  std::vector<SessionSummary> out(static_cast<std::size_t>(last) + 1);
  std::vector<int> top_rank(out.size(), -1), top_thread(out.size(), -1);
  for (std::size_t k = 0; k < out.size(); ++k) out[k].session = static_cast<int>(k);
  for (const auto& t : run.tasks) {
    if (t.attempt == 0) continue;
    SessionSummary& s = out[t.session];
    ++s.tasks;
    s.task_wall += t.t_end - t.t_start;
    s.wall = std::max(s.wall, t.t_end);  // the run clock starts at 0 with each session
    top_rank[t.session] = std::max(top_rank[t.session], t.rank);
    top_thread[t.session] = std::max(top_thread[t.session], t.thread);
  }
  for (std::size_t k = 0; k + 1 < out.size(); ++k)
    out[k].workers = static_cast<long>(top_rank[k] + 1) * (top_thread[k] + 1);
  SessionSummary& now = out.back();
  if (!run.phases.empty()) now.wall = phases_end(run);
  now.workers = static_cast<long>(run.n_ranks * run.threads_per_rank);
  return out;
}

double run_wall(const io::RunFile& run) {
  double wall = 0;
  for (const auto& s : sessions_of(run)) wall += s.wall;
  return wall;
}

DispatcherLoad dispatcher_load(const io::RunFile& run) {
  DispatcherLoad d;
  if (!run.hierarchy.empty()) d.hierarchy = run.hierarchy;
  if (run.ranks.empty() || run.ranks[0].messages_in == 0) return d;
  const int last = sessions_of(run).back().session;
  for (const auto& t : run.tasks)
    if (t.attempt > 0 && t.session == last) ++d.tasks;
  d.recorded = true;
  d.messages = run.ranks[0].messages_in;
  d.per_1000_tasks = d.tasks > 0 ? 1000.0 * static_cast<double>(d.messages) / static_cast<double>(d.tasks) : 0;
  d.seconds_per_message = rank0_message_time(run.ranks[0]) / static_cast<double>(d.messages);
  return d;
}

Summary summarize(const io::RunFile& run) {
  Summary s;
  s.job = run.job;
  s.status = run.status;
  s.policy = run.scheduler;
  s.chunk = run.chunk;
  s.order = run.order;
  s.ranks = run.n_ranks;
  s.threads_per_rank = run.threads_per_rank;
  s.workers = run.n_ranks * run.threads_per_rank;
  s.tasks = run.tasks.size();
  s.sessions = sessions_of(run);
  const int last_session = s.sessions.back().session;
  // first, last, last_end: of the last session, whose phases /phases records.
  double first = 0, last = 0;
  bool any = false;
  std::map<std::pair<int, int>, double> last_end;  // (rank, thread) -> its last task's end
  std::vector<SlowTask> ran;
  for (const auto& t : run.tasks) {
    if (t.attempt == 0) {
      ++s.not_run;
      continue;
    }
    (t.status == TaskStatus::Ok ? s.ok : s.failed)++;
    double seconds = t.t_end - t.t_start;
    s.task_wall += seconds;
    s.task_cpu += t.cpu_user + t.cpu_sys;
    ran.push_back({t.id, t.rank, t.thread, seconds, t.cpu_user + t.cpu_sys});
    if (t.session != last_session) continue;
    first = any ? std::min(first, t.t_start) : t.t_start;
    last = any ? std::max(last, t.t_end) : t.t_end;
    any = true;
    auto [it, inserted] = last_end.try_emplace({t.rank, t.thread}, t.t_end);
    if (!inserted) it->second = std::max(it->second, t.t_end);
  }
  s.compute = last - first;
  for (const auto& p : run.phases) s.phases.push_back({phase_name(p), p.t_start, p.t_end});
  s.last_session_wall = s.sessions.back().wall;
  double offered = 0;  // core-seconds: workers x wall, summed over the sessions
  for (const auto& session : s.sessions) {
    s.wall += session.wall;
    offered += static_cast<double>(session.workers) * session.wall;
    if (session.session != last_session)
      s.lost.earlier += static_cast<double>(session.workers) * session.wall - session.task_wall;
  }

  // Slowest tasks: longest first, ties by id.
  std::size_t top = std::min(SLOWEST, ran.size());
  std::partial_sort(ran.begin(), ran.begin() + static_cast<std::ptrdiff_t>(top), ran.end(),
                    [](const SlowTask& a, const SlowTask& b) {
                      return a.seconds != b.seconds ? a.seconds > b.seconds : a.id < b.id;
                    });
  s.slowest.assign(ran.begin(), ran.begin() + static_cast<std::ptrdiff_t>(top));

  // Where the lost core-seconds went; phase boundaries from /phases, else from the tasks.
  const PhaseSummary* compute = find_phase(s.phases, Phase::Compute);
  const PhaseSummary* collect = find_phase(s.phases, Phase::Collect);
  double compute_start = compute ? compute->t_start : first;
  double compute_end = compute ? compute->t_end : last;
  double collect_end = collect ? collect->t_end : compute_end;
  const double workers = static_cast<double>(s.workers);
  std::map<int, double> tail_of_rank;
  double tail = 0;
  for (const auto& [worker, end] : last_end) {
    double t = std::max(0.0, compute_end - end);
    tail += t;
    tail_of_rank[worker.first] += t;
  }
  // A worker that ran no task idled through the whole compute phase: all tail.
  double span = std::max(0.0, compute_end - compute_start);
  for (long r = 0; r < s.ranks; ++r) {
    long seen = 0;
    for (long th = 0; th < s.threads_per_rank; ++th)
      seen += last_end.count({static_cast<int>(r), static_cast<int>(th)}) ? 1 : 0;
    double t = static_cast<double>(s.threads_per_rank - seen) * span;
    tail += t;
    tail_of_rank[static_cast<int>(r)] += t;
  }
  s.lost.startup = workers * compute_start;
  s.lost.idle_tail = tail;
  s.lost.idle_other = workers * span - s.sessions.back().task_wall - tail;
  s.lost.collect = workers * (collect_end - compute_end);
  s.lost.write = workers * (s.last_session_wall - collect_end);
  s.lost.total = offered - s.task_wall;

  double busy_sum = 0, busy_max = 0;
  for (const auto& r : run.ranks) {
    RankSummary rs;
    rs.rank = r.rank;
    rs.host = std::string(r.host, strnlen(r.host, sizeof r.host));
    rs.pid = r.pid;
    rs.threads = r.threads;
    rs.tasks = r.tasks;
    rs.busy = r.busy;
    rs.idle = r.idle;
    rs.comm = r.comm;
    rs.cpu_user = r.cpu_user;
    rs.cpu_sys = r.cpu_sys;
    rs.max_rss_mib = static_cast<double>(r.max_rss) / (1024.0 * 1024.0);
    rs.idle_tail = tail_of_rank.count(r.rank) ? tail_of_rank[r.rank] : 0;
    auto host = std::find_if(s.hosts.begin(), s.hosts.end(), [&](const HostSummary& h) { return h.host == rs.host; });
    if (host == s.hosts.end())
      s.hosts.push_back({rs.host, 1});
    else
      ++host->ranks;
    s.per_rank.push_back(rs);
    s.cpu_user += r.cpu_user;
    s.cpu_sys += r.cpu_sys;
    busy_sum += r.busy;
    if (r.busy > busy_max) s.busiest_rank = r.rank;
    busy_max = std::max(busy_max, r.busy);
  }
  // /ranks measured the last session only.
  s.cores_busy = s.last_session_wall > 0 ? (s.cpu_user + s.cpu_sys) / s.last_session_wall : 0;
  s.cpu_per_wall = s.task_wall > 0 ? s.task_cpu / s.task_wall : 0;
  // Below ~20 us a task's CPU and wall readings are mostly clock cost: too short to tell.
  std::uint64_t ran_count = s.ok + s.failed;
  bool too_short = ran_count == 0 || s.task_wall / static_cast<double>(ran_count) < 20e-6;
  s.kind = too_short               ? "too short to classify"
           : s.cpu_per_wall >= 0.8 ? "CPU-bound"
           : s.cpu_per_wall <= 0.3 ? "I/O-bound"
                                   : "mixed";
  std::vector<NodeCpus> nodes = cpus_by_node(run.ranks);
  s.cpus = total_cpus(nodes);
  s.cpu_note = oversubscription_note(nodes);
  s.oversubscribed = !s.cpu_note.empty();
  s.crowding = crowding(nodes);
  advise(s);
  s.results = summarize_results(run);
  s.dispatcher = dispatcher_load(run);
  double busy_mean = run.ranks.empty() ? 0 : busy_sum / static_cast<double>(run.ranks.size());
  s.imbalance = busy_mean > 0 ? busy_max / busy_mean : 1;
  s.efficiency = offered > 0 ? s.task_wall / offered : 0;
  return s;
}

namespace {

std::string percent(double part, double whole) {
  return whole > 0 ? fmt::format("{:5.1f}%", 100.0 * part / whole) : std::string("     -");
}

}  // namespace

std::string format_text(const io::RunFile& run, const Summary& s) {
  std::string out;
  auto line = [&out](const std::string& text) { out += text + "\n"; };
  line(fmt::format("run:       {} ({}), {} tasks on {} rank{} x {} thread{}, policy {} (chunk {})", s.job, run.path,
                   s.tasks, s.ranks, s.ranks == 1 ? "" : "s", s.threads_per_rank, s.threads_per_rank == 1 ? "" : "s",
                   s.policy, s.chunk));
  std::string hosts;
  for (const auto& h : s.hosts)
    hosts += fmt::format("{}{} ({} rank{})", hosts.empty() ? "" : ", ", h.host, h.ranks, h.ranks == 1 ? "" : "s");
  line(fmt::format("hosts:     {}", hosts.empty() ? "none recorded" : hosts));
  if (!run.sweep.empty()) line(fmt::format("sweep:     {} (report --by NAME: per value)", run.sweep));
  line(fmt::format("status:    {}: {} ok, {} failed, {} not run", s.status, s.ok, s.failed, s.not_run));
  out += format_results_text(s.results);
  const bool resumed = s.sessions.size() > 1;
  if (resumed) {
    std::string walls;
    for (const auto& session : s.sessions) walls += fmt::format("{}{:.2f} s", walls.empty() ? "" : " + ", session.wall);
    line(wrap(fmt::format("sessions:  {} (the file was resumed): wall {} = {:.2f} s in all (an earlier session's up "
                          "to its last kept task's end); the CPU times and the rank table are of the last session",
                          s.sessions.size(), walls, s.wall),
              100, std::string(11, ' ')));
  }
  line(fmt::format("CPU times: user {:.2f} s, sys {:.2f} s, total {:.2f} s / Wall time {:.2f} s ({:.2f} cores busy)",
                   s.cpu_user, s.cpu_sys, s.cpu_user + s.cpu_sys, s.last_session_wall, s.cores_busy));
  line(fmt::format("tasks:     {:.2f} s of task time, {:.2f} s of it on CPU: {} (CPU/wall {:.2f})", s.task_wall,
                   s.task_cpu, s.kind, s.cpu_per_wall));
  line(wrap("advice:    " + s.advice, 100, std::string(11, ' ')));
  if (!s.cpu_note.empty()) line(wrap("note:      " + s.cpu_note, 100, std::string(11, ' ')));
  line("");
  line(fmt::format("{:>5} {:<16} {:>8} {:>9} {:>9} {:>9} {:>10} {:>9} {:>8}", "rank", "host", "tasks", "busy s",
                   "idle s", "comm s", "cpu user s", "cpu sys s", "RSS MiB"));
  for (const auto& r : s.per_rank)
    line(fmt::format("{:>5} {:<16} {:>8} {:>9.3f} {:>9.3f} {:>9.3f} {:>10.3f} {:>9.3f} {:>8.1f}", r.rank,
                     r.host.substr(0, 16), r.tasks, r.busy, r.idle, r.comm, r.cpu_user, r.cpu_sys, r.max_rss_mib));
  line("");
  line(fmt::format("load imbalance (max/mean busy): {:.2f}{}", s.imbalance,
                   s.per_rank.size() > 1 ? fmt::format(" (rank {} busiest)", s.busiest_rank) : std::string()));
  if (s.dispatcher.recorded) {
    const DispatcherLoad& d = s.dispatcher;
    line(
        fmt::format("dispatcher load: rank 0 received {:.1f} messages per 1,000 tasks ({} for {} tasks, {:.1f} us of "
                    "serving time each), hierarchy {}",
                    d.per_1000_tasks, d.messages, d.tasks, 1e6 * d.seconds_per_message, d.hierarchy));
  }
  const LostTime& l = s.lost;
  std::string offered =
      resumed ? fmt::format("{:.3f} core-seconds of {} sessions", l.total + s.task_wall, s.sessions.size())
              : fmt::format("{} worker{} x {:.3f} s wall", s.workers, s.workers == 1 ? "" : "s", s.wall);
  line(fmt::format("parallel efficiency: {:.2f} ({:.2f} s of tasks / ({}))", s.efficiency, s.task_wall, offered));
  line(fmt::format("lost core-seconds: {:.3f} s ({} - {:.3f} s of tasks), spent in:", l.total, offered, s.task_wall));
  auto part = [&](const char* what, double seconds) {
    line(fmt::format("  {:<42} {:>9.3f} s {}", what, seconds, percent(seconds, l.total)));
  };
  if (resumed) part("earlier sessions (workers x wall - tasks)", l.earlier);
  part("startup (setup + distribute)", l.startup);
  part("idle tail (last task end to compute end)", l.idle_tail);
  part("other idle during compute (dispatch waits)", l.idle_other);
  part("collect", l.collect);
  part("writing", l.write);
  if (!s.slowest.empty()) {
    line("");
    line(fmt::format("slowest tasks ({} of {}):", s.slowest.size(), s.ok + s.failed));
    line(fmt::format("{:>12} {:>5} {:>6} {:>10} {:>10}", "id", "rank", "thread", "seconds", "cpu s"));
    for (const auto& t : s.slowest)
      line(fmt::format("{:>12} {:>5} {:>6} {:>10.4f} {:>10.4f}", t.id, t.rank, t.thread, t.seconds, t.cpu));
  }
  if (!run.errors.empty()) {
    line("");
    line(fmt::format("failed tasks ({}):", run.errors.size()));
    for (std::size_t i = 0; i < std::min(run.errors.size(), FAILURES_SHOWN); ++i)
      line(fmt::format("  task {}: {}", run.errors[i].id, run.errors[i].message));
    if (run.errors.size() > FAILURES_SHOWN)
      line(fmt::format("  ... and {} more (see /errors)", run.errors.size() - FAILURES_SHOWN));
  }
  return out;
}

std::string wrap(const std::string& text, std::size_t width, const std::string& indent) {
  std::string out, line;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t space = text.find(' ', pos);
    std::string word = text.substr(pos, space == std::string::npos ? std::string::npos : space - pos);
    pos = space == std::string::npos ? text.size() : space + 1;
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line = indent;
    }
    line += (line.empty() || line == indent ? "" : " ") + word;
  }
  return out + line;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        else
          out += c;
    }
  }
  return out + "\"";
}

std::string json_number(double x) { return std::isfinite(x) ? fmt::format("{:.6g}", x) : std::string("null"); }

std::string format_json(const io::RunFile& run, const Summary& s) {
  const auto& num = json_number;
  std::string per_rank;
  for (const auto& r : s.per_rank) {
    per_rank += fmt::format(
        "{}{{\"rank\": {}, \"host\": {}, \"pid\": {}, \"threads\": {}, \"tasks\": {}, \"busy\": {}, \"idle\": {}, "
        "\"comm\": {}, \"cpu_user\": {}, \"cpu_sys\": {}, \"max_rss_mib\": {}, \"idle_tail\": {}}}",
        per_rank.empty() ? "" : ", ", r.rank, json_string(r.host), r.pid, r.threads, r.tasks, num(r.busy), num(r.idle),
        num(r.comm), num(r.cpu_user), num(r.cpu_sys), num(r.max_rss_mib), num(r.idle_tail));
  }
  std::string hosts;
  for (const auto& h : s.hosts)
    hosts += fmt::format("{}{{\"host\": {}, \"ranks\": {}}}", hosts.empty() ? "" : ", ", json_string(h.host), h.ranks);
  std::string phases;
  for (const auto& p : s.phases)
    phases += fmt::format("{}{{\"name\": {}, \"t_start\": {}, \"t_end\": {}}}", phases.empty() ? "" : ", ",
                          json_string(p.name), num(p.t_start), num(p.t_end));
  std::string slowest;
  for (const auto& t : s.slowest)
    slowest += fmt::format("{}{{\"id\": {}, \"rank\": {}, \"thread\": {}, \"seconds\": {}, \"cpu\": {}}}",
                           slowest.empty() ? "" : ", ", t.id, t.rank, t.thread, num(t.seconds), num(t.cpu));
  std::string failures;
  for (std::size_t i = 0; i < std::min(run.errors.size(), FAILURES_SHOWN); ++i)
    failures += fmt::format("{}{{\"id\": {}, \"message\": {}}}", failures.empty() ? "" : ", ", run.errors[i].id,
                            json_string(run.errors[i].message));
  const LostTime& l = s.lost;
  std::string lost = fmt::format(
      "{{\"total\": {}, \"startup\": {}, \"idle_tail\": {}, \"idle_other\": {}, \"collect\": {}, \"write\": {}, "
      "\"earlier_sessions\": {}}}",
      num(l.total), num(l.startup), num(l.idle_tail), num(l.idle_other), num(l.collect), num(l.write), num(l.earlier));
  std::string sessions;
  for (const auto& x : s.sessions)
    sessions += fmt::format("{}{{\"session\": {}, \"wall\": {}, \"workers\": {}, \"tasks\": {}, \"task_wall\": {}}}",
                            sessions.empty() ? "" : ", ", x.session, num(x.wall), x.workers, x.tasks, num(x.task_wall));
  return fmt::format(
      "{{\"file\": {}, \"job\": {}, \"status\": {}, \"sweep\": {}, \"ranks\": {}, \"threads_per_rank\": {}, "
      "\"workers\": {}, "
      "\"policy\": {}, \"chunk\": {}, \"order\": {}, \"hosts\": [{}], "
      "\"tasks\": {}, \"ok\": {}, \"failed\": {}, \"not_run\": {}, \"wall\": {}, \"compute\": {}, "
      "\"cpu_user\": {}, \"cpu_sys\": {}, \"cpu_total\": {}, \"cores_busy\": {}, \"task_wall\": {}, "
      "\"task_cpu\": {}, \"cpu_per_wall\": {}, \"kind\": {}, \"advice\": {}, \"suggested_threads_per_rank\": {}, "
      "\"cpus\": {}, \"oversubscribed\": {}, \"cpu_note\": {}, "
      "\"imbalance\": {}, \"busiest_rank\": {}, \"efficiency\": {}, \"phases\": [{}], \"lost\": {}, "
      "\"slowest\": [{}], \"failures\": [{}], \"per_rank\": [{}], \"sessions\": [{}], \"last_session_wall\": {}, "
      "\"hierarchy\": {}, \"dispatcher_messages\": {}, \"dispatcher_messages_per_1000_tasks\": {}, "
      "\"dispatcher_seconds_per_message\": {}, {}}}\n",
      json_string(run.path), json_string(s.job), json_string(s.status),
      run.sweep.empty() ? std::string("null") : json_string(run.sweep), s.ranks, s.threads_per_rank, s.workers,
      json_string(s.policy), json_string(s.chunk), json_string(s.order), hosts, s.tasks, s.ok, s.failed, s.not_run,
      num(s.wall), num(s.compute), num(s.cpu_user), num(s.cpu_sys), num(s.cpu_user + s.cpu_sys), num(s.cores_busy),
      num(s.task_wall), num(s.task_cpu), num(s.cpu_per_wall), json_string(s.kind), json_string(s.advice),
      s.suggested_threads_per_rank ? std::to_string(*s.suggested_threads_per_rank) : std::string("null"),
      s.cpus > 0 ? std::to_string(s.cpus) : std::string("null"),
      s.cpus > 0 ? (s.oversubscribed ? "true" : "false") : "null", json_string(s.cpu_note), num(s.imbalance),
      s.busiest_rank, num(s.efficiency), phases, lost, slowest, failures, per_rank, sessions, num(s.last_session_wall),
      json_string(s.dispatcher.hierarchy),
      s.dispatcher.recorded ? std::to_string(s.dispatcher.messages) : std::string("null"),
      s.dispatcher.recorded ? num(s.dispatcher.per_1000_tasks) : std::string("null"),
      s.dispatcher.recorded ? num(s.dispatcher.seconds_per_message) : std::string("null"),
      results_json_fields(s.results));
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string format_csv(const Summary& s) {
  std::string out = "rank,host,pid,threads,tasks,busy,idle,comm,cpu_user,cpu_sys,max_rss_mib,idle_tail\n";
  for (const auto& r : s.per_rank)
    out += fmt::format("{},{},{},{},{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.3f},{:.6f}\n", r.rank, csv_field(r.host),
                       r.pid, r.threads, r.tasks, r.busy, r.idle, r.comm, r.cpu_user, r.cpu_sys, r.max_rss_mib,
                       r.idle_tail);
  return out;
}

}  // namespace fanout::report
