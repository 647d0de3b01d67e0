#include "report/predict.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <queue>
#include <stdexcept>

#include <fmt/format.h>

#include "core/error.hpp"

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
  o.policy = options.policy.value_or(config::policy_from_name(run.scheduler));
  o.task_count = n;
  o.ranks = options.ranks;
  o.threads_per_rank = options.threads;
  if (options.chunk) {
    o.chunk = options.chunk;
  } else if (!options.chunk_auto && !options.policy) {
    // The file's own chunk, when it was a number.
    if (!run.chunk.empty() && std::all_of(run.chunk.begin(), run.chunk.end(), ::isdigit) &&
        (o.policy == config::Policy::Dynamic || o.policy == config::Policy::Guided))
      o.chunk = std::stoull(run.chunk);
  }
  if (run.order == "longest-first") o.order = sched::longest_first(durations);
  p.policy = config::policy_names().at(static_cast<std::size_t>(o.policy));
  p.chunk = o.policy == config::Policy::StaticBlock    ? "block"
            : o.policy == config::Policy::StaticCyclic ? "1"
            : o.chunk                                   ? std::to_string(*o.chunk)
                                                        : "auto";

  for (const auto& phase : run.phases) {
    std::string name(phase.name, strnlen(phase.name, sizeof phase.name));
    if (name != "compute") p.fixed += phase.t_end - phase.t_start;
    p.recorded_wall = std::max(p.recorded_wall, phase.t_end);
  }
  p.compute = simulate(durations, o, options.latency);
  p.wall = p.fixed + p.compute;
  double workers = static_cast<double>(options.ranks) * options.threads;
  p.efficiency = p.wall > 0 ? p.task_time / (workers * p.wall) : 0;
  p.speedup = p.wall > 0 ? p.recorded_wall / p.wall : 0;
  return p;
}

std::string format_text(const Prediction& p) {
  return fmt::format(
      "predicted: {} tasks on {} rank{} x {} thread{}, policy {} (chunk {})\n"
      "wall:      {:.3f} s = {:.3f} s compute (simulated) + {:.3f} s setup, collect and write (as recorded)\n"
      "efficiency: {:.2f} ({:.2f} s of tasks / ({} workers x {:.3f} s))\n"
      "speedup over the recorded run ({:.3f} s): {:.2f}x\n",
      p.tasks, p.ranks, p.ranks == 1 ? "" : "s", p.threads, p.threads == 1 ? "" : "s", p.policy, p.chunk, p.wall,
      p.compute, p.fixed, p.efficiency, p.task_time, static_cast<std::uint64_t>(p.ranks) * p.threads, p.wall,
      p.recorded_wall, p.speedup);
}

std::string format_json(const Prediction& p) {
  return fmt::format(
      "{{\"ranks\": {}, \"threads\": {}, \"policy\": \"{}\", \"chunk\": \"{}\", \"tasks\": {}, \"task_time\": {:.6g}, "
      "\"fixed\": {:.6g}, \"compute\": {:.6g}, \"wall\": {:.6g}, \"efficiency\": {:.6g}, \"speedup\": {:.6g}, "
      "\"recorded_wall\": {:.6g}}}\n",
      p.ranks, p.threads, p.policy, p.chunk, p.tasks, p.task_time, p.fixed, p.compute, p.wall, p.efficiency, p.speedup,
      p.recorded_wall);
}

}  // namespace fanout::report
