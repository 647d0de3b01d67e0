#include "report/predict.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <deque>
#include <queue>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "report/report.hpp"

namespace fanout::report {

namespace {

struct Event {
  double time;
  std::uint64_t seq;  // ties in time: first scheduled, first served
  int rank;
  std::size_t work;   // index into the answers when a request's answer arrives; NONE for a finished task
  double duration;
  bool operator>(const Event& o) const { return time != o.time ? time > o.time : seq > o.seq; }
};
constexpr std::size_t NONE = static_cast<std::size_t>(-1);

// The policy the file's run used (its `scheduler` attribute), checked: it is replayed.
sched::Policy file_policy(const io::RunFile& run) {
  if (auto policy = sched::parse_policy(run.scheduler)) return *policy;
  throw IoError(fmt::format("{}: attribute scheduler: expected one of {}, found \"{}\" (the file is damaged; "
                            "--policy replays another policy)",
                            run.path, fmt::join(sched::policy_names(), ", "), run.scheduler));
}

struct RankState {
  std::deque<sched::TaskRange> queue;
  std::uint64_t queued = 0;
  unsigned idle = 0;
  bool outstanding = false;
  bool deferred = false;
  bool more = true;
};

}  // namespace

double simulate(const std::vector<double>& durations, const sched::SchedulerOptions& options, double latency) {
  auto scheduler = sched::make_scheduler(options);
  const unsigned threads = options.threads_per_rank;
  std::vector<RankState> ranks(static_cast<std::size_t>(options.ranks));
  for (auto& r : ranks) r.idle = threads;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  std::vector<sched::Work> answers;
  std::uint64_t seq = 0;
  double makespan = 0;

  auto start_workers = [&](int rank, double now) {
    RankState& r = ranks[static_cast<std::size_t>(rank)];
    while (r.idle > 0 && r.queued > 0) {
      sched::TaskRange& front = r.queue.front();
      std::uint64_t id = front.begin;
      front.begin += front.stride;
      if (front.count() == 0) r.queue.pop_front();
      --r.queued;
      --r.idle;
      double d = durations.at(id);
      events.push({now + d, seq++, rank, NONE, d});
    }
  };
  // The runner's Fetcher: ask ahead of need, unless told "later"; rank 0 asks itself.
  auto maybe_request = [&](int rank, double now) {
    RankState& r = ranks[static_cast<std::size_t>(rank)];
    if (r.outstanding || !r.more || r.queued >= threads) return;
    bool ahead = !(r.queued == 0 && r.idle > 0);
    if (ahead && r.deferred) return;
    r.outstanding = true;
    answers.push_back(scheduler->next(rank, ahead));
    events.push({now + (rank == 0 ? 0.0 : latency), seq++, rank, answers.size() - 1, 0});
  };

  for (int rank = 0; rank < options.ranks; ++rank) maybe_request(rank, 0);
  while (!events.empty()) {
    Event e = events.top();
    events.pop();
    RankState& r = ranks[static_cast<std::size_t>(e.rank)];
    if (e.work == NONE) {  // a task finished
      makespan = std::max(makespan, e.time);
      ++r.idle;
      scheduler->observe(e.duration, 1);
    } else {  // an answer arrived
      sched::Work& work = answers[e.work];
      r.outstanding = false;
      r.deferred = work.later;
      if (work.done()) r.more = false;
      for (const auto& range : work.ranges) {
        r.queue.push_back(range);
        r.queued += range.count();
      }
      work = {};
    }
    start_workers(e.rank, e.time);
    maybe_request(e.rank, e.time);
  }
  return makespan;
}

Prediction predict(const io::RunFile& run, const PredictOptions& options) {
  if (options.ranks < 1 || options.ranks > 10'000'000) throw ConfigError("--ranks: expected a whole number from 1 to 10000000");
  if (options.threads < 1) throw ConfigError("--threads: expected a whole number >= 1");
  Prediction p;
  p.ranks = options.ranks;
  p.threads = options.threads;
  const std::uint64_t n = run.tasks.size();
  std::vector<double> durations(n, 0.0);
  double known = 0;
  std::uint64_t count = 0;
  for (const auto& t : run.tasks) {
    if (t.attempt == 0 || t.id >= n) continue;
    durations[t.id] = t.t_end - t.t_start;
    known += durations[t.id];
    ++count;
  }
  if (count == 0) throw IoError(run.path + ": no task ran in this file; nothing to replay");
  double mean = known / static_cast<double>(count);
  for (const auto& t : run.tasks)
    if (t.attempt == 0 && t.id < n) durations[t.id] = mean;
  for (double d : durations) p.task_time += d;
  p.tasks = n;

  sched::SchedulerOptions o;
  o.policy = options.policy ? *options.policy : file_policy(run);
  o.task_count = n;
  o.ranks = options.ranks;
  o.threads_per_rank = options.threads;
  if (options.chunk) {
    o.chunk = options.chunk;
  } else if (!options.chunk_auto && !options.policy) {
    // The file's own chunk, when it was a number.
    std::uint64_t chunk = 0;
    const char* end = run.chunk.data() + run.chunk.size();
    if (!run.chunk.empty() && std::all_of(run.chunk.begin(), run.chunk.end(), ::isdigit) &&
        (o.policy == sched::Policy::Dynamic || o.policy == sched::Policy::Guided)) {
      auto [at, error] = std::from_chars(run.chunk.data(), end, chunk);
      if (error != std::errc() || at != end || chunk == 0)
        throw IoError(fmt::format("{}: attribute chunk: expected auto, block or a whole number >= 1, found \"{}\" "
                                  "(the file is damaged; --chunk replays another)",
                                  run.path, run.chunk));
      o.chunk = chunk;
    }
  }
  if (run.order == "longest-first") o.order = sched::longest_first(durations);
  p.policy = sched::policy_name(o.policy);
  p.chunk = o.policy == sched::Policy::StaticBlock    ? "block"
            : o.policy == sched::Policy::StaticCyclic ? "1"
            : o.chunk                                   ? std::to_string(*o.chunk)
                                                        : "auto";

  for (const auto& phase : run.phases)
    if (phase_of(phase) != Phase::Compute) p.fixed += phase.t_end - phase.t_start;
  p.recorded_wall = run_wall(run);
  p.compute = simulate(durations, o, options.latency);
  p.wall = p.fixed + p.compute;
  double workers = static_cast<double>(options.ranks) * options.threads;
  p.efficiency = p.wall > 0 ? p.task_time / (workers * p.wall) : 0;
  // One worker runs the tasks back to back whatever the policy: compute = their sum.
  p.one_worker_wall = p.fixed + p.task_time;
  p.speedup = p.wall > 0 ? p.one_worker_wall / p.wall : 0;
  p.speedup_vs_recorded = p.wall > 0 ? p.recorded_wall / p.wall : 0;
  return p;
}

std::string format_text(const Prediction& p) {
  return fmt::format(
      "predicted: {} tasks on {} rank{} x {} thread{}, policy {} (chunk {})\n"
      "wall:      {:.3f} s = {:.3f} s compute (simulated) + {:.3f} s setup, collect and write (as recorded)\n"
      "efficiency: {:.2f} ({:.2f} s of tasks / ({} workers x {:.3f} s))\n"
      "speedup:   {:.2f}x over one worker ({:.3f} s, the same replay); {:.2f}x over the recorded run ({:.3f} s)\n",
      p.tasks, p.ranks, p.ranks == 1 ? "" : "s", p.threads, p.threads == 1 ? "" : "s", p.policy, p.chunk, p.wall,
      p.compute, p.fixed, p.efficiency, p.task_time, static_cast<std::uint64_t>(p.ranks) * p.threads, p.wall,
      p.speedup, p.one_worker_wall, p.speedup_vs_recorded, p.recorded_wall);
}

std::string format_json(const Prediction& p) {
  return fmt::format(
      "{{\"ranks\": {}, \"threads\": {}, \"workers\": {}, \"policy\": \"{}\", \"chunk\": \"{}\", \"tasks\": {}, "
      "\"task_time\": {}, \"fixed\": {}, \"compute\": {}, \"wall\": {}, \"efficiency\": {}, \"one_worker_wall\": {}, "
      "\"speedup\": {}, \"recorded_wall\": {}, \"speedup_vs_recorded\": {}}}\n",
      p.ranks, p.threads, static_cast<std::uint64_t>(p.ranks) * p.threads, p.policy, p.chunk, p.tasks,
      json_number(p.task_time), json_number(p.fixed), json_number(p.compute), json_number(p.wall),
      json_number(p.efficiency), json_number(p.one_worker_wall), json_number(p.speedup), json_number(p.recorded_wall),
      json_number(p.speedup_vs_recorded));
}

std::string format_text(const std::vector<Prediction>& rows) {
  if (rows.size() == 1) return format_text(rows[0]);
  const Prediction& first = rows.front();
  std::string out = fmt::format(
      "predicted: {} tasks ({:.3f} s of task time, replayed), policy {} (chunk {}), {} thread{} per rank\n"
      "wall = simulated compute + {:.3f} s setup, collect and write (as recorded); speedup over one worker ({:.3f} "
      "s); efficiency = task time / (workers x wall)\n\n",
      first.tasks, first.task_time, first.policy, first.chunk, first.threads, first.threads == 1 ? "" : "s",
      first.fixed, first.one_worker_wall);
  out += fmt::format("{:>8} {:>8} {:>10} {:>10} {:>8} {:>10}\n", "ranks", "workers", "wall s", "compute s", "speedup",
                     "efficiency");
  for (const auto& p : rows)
    out += fmt::format("{:>8} {:>8} {:>10.3f} {:>10.3f} {:>8.2f} {:>10.2f}\n", p.ranks,
                       static_cast<std::uint64_t>(p.ranks) * p.threads, p.wall, p.compute, p.speedup, p.efficiency);
  out += fmt::format("\nrecorded run: {:.3f} s of wall\n", first.recorded_wall);
  return out;
}

std::string format_json(const std::vector<Prediction>& rows) {
  if (rows.size() == 1) return format_json(rows[0]);
  std::string out;
  for (const auto& p : rows) {
    std::string one = format_json(p);
    one.pop_back();  // its newline
    out += (out.empty() ? "" : ", ") + one;
  }
  return "{\"predictions\": [" + out + "]}\n";
}

}  // namespace fanout::report
