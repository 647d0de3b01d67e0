#include "report/predict.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
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
  std::size_t work;  // index into the answers when a request's answer arrives; NONE for a finished task
  double duration;
  bool operator>(const Event& o) const { return time != o.time ? time > o.time : seq > o.seq; }
};
constexpr std::size_t NONE = static_cast<std::size_t>(-1);

// The policy the file's run used (its `scheduler` attribute), checked: it is replayed.
sched::Policy file_policy(const io::RunFile& run) {
  if (auto policy = sched::parse_policy(run.scheduler)) return *policy;
  throw IoError(
      fmt::format("{}: attribute scheduler: expected one of {}, found \"{}\" (the file is damaged; "
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

double simulate(const std::vector<double>& durations, const sched::SchedulerOptions& options, double latency,
                SimulationCounts* counts) {
  SimulationCounts counted;
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
      if (rank != 0) ++counted.remote_tasks;
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
    if (rank != 0) ++counted.remote_requests;
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
      if (e.rank != 0 && !work.ranges.empty()) ++counted.remote_work;
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
  if (counts) *counts = counted;
  return makespan;
}

DispatchTree dispatch_tree(long ranks, int group) {
  DispatchTree t;
  if (group <= 0 || group >= ranks) {  // flat, or one group holding every rank: rank 0 answers them all
    t.direct = std::max(0L, ranks - 1);
    return t;
  }
  const long groups = (ranks + group - 1) / group;
  t.leaders = groups - 1;
  t.direct = (group - 1) + t.leaders;
  t.per_leader = std::min<long>(group, ranks - group) - 1;
  return t;
}

std::optional<long> saturation_ranks(int group, double load) {
  if (!(load > 0)) return std::nullopt;
  // Rank 0 answers dispatch_tree(N, group).direct ranks, each `load`: it is
  // busy all the time once that count reaches k = ceil(1 / load).
  const double k = std::max(1.0, std::ceil(1.0 / load - 1e-9));  // 1e-9: a load of 1/20 read as 0.0499999...
  double ranks = 0;
  if (group <= 0 || k <= group - 1) {
    ranks = k + 1;
  } else {  // group - 1 members and ceil(N / group) - 1 leaders: ceil(N / group) >= k - group + 2
    ranks = static_cast<double>(group) * (k - group + 1) + 1;
  }
  if (ranks > 10'000'000) return std::nullopt;
  return static_cast<long>(ranks);
}

sched::Hierarchy parse_hierarchy_option(const std::string& text) {
  auto h = sched::parse_hierarchy(text);
  if (!h || h->kind == sched::HierarchyKind::Auto)
    throw ConfigError("--hierarchy: expected flat, node or a group size (a whole number >= 1), found \"" + text + "\"");
  return *h;
}

namespace {

// The most ranks the file's run had on one node (`node`, else `host`); 1 without /ranks.
int file_ranks_per_node(const io::RunFile& run) {
  std::map<std::string, int> per_node;
  int most = 1;
  for (const auto& r : run.ranks) {
    std::string node(r.node, strnlen(r.node, sizeof r.node));
    if (node.empty()) node.assign(r.host, strnlen(r.host, sizeof r.host));
    most = std::max(most, ++per_node[node]);
  }
  return most;
}

// The dispatch model (README, fanout predict): rank 0 and the leaders answer
// requests one at a time, seconds_per_message each; the compute phase lasts
// at least as long as the busiest of them needs.
void model_dispatch(Prediction& p, const io::RunFile& run, const PredictOptions& options,
                    const std::vector<double>& durations, const sched::SchedulerOptions& o,
                    const SimulationCounts& counts) {
  sched::Hierarchy h{sched::HierarchyKind::Flat, 0};
  if (options.hierarchy)
    h = *options.hierarchy;
  else if (auto file = sched::parse_hierarchy(run.hierarchy); file && file->kind != sched::HierarchyKind::Auto)
    h = *file;
  p.hierarchy = h.name();
  p.ranks_per_node = options.ranks_per_node ? *options.ranks_per_node : file_ranks_per_node(run);
  p.group = h.kind == sched::HierarchyKind::Node     ? p.ranks_per_node
            : h.kind == sched::HierarchyKind::Groups ? h.group_size
                                                     : 0;
  if (!run.ranks.empty() && run.ranks[0].messages_in > 0 && rank0_message_time(run.ranks[0]) > 0) {
    p.seconds_per_message = rank0_message_time(run.ranks[0]) / static_cast<double>(run.ranks[0].messages_in);
    p.measured = true;
  } else {
    p.seconds_per_message = DEFAULT_SECONDS_PER_MESSAGE;
  }
  SimulationCounts c = counts;
  if (c.remote_tasks == 0) {  // one rank: the chunking two ranks would see
    sched::SchedulerOptions two = o;
    two.ranks = 2;
    simulate(durations, two, options.latency, &c);
  }
  p.messages_per_task =
      c.remote_tasks > 0 ? static_cast<double>(c.remote_work) / static_cast<double>(c.remote_tasks) : 0;
  p.task_seconds = p.tasks > 0 ? p.task_time / static_cast<double>(p.tasks) : 0;
  p.tree = dispatch_tree(p.ranks, p.group);
  const double per_rank =
      p.ranks > 1 ? static_cast<double>(counts.remote_requests) / static_cast<double>(p.ranks - 1) : 0;
  p.rank0_messages = static_cast<double>(p.tree.direct) * per_rank;
  p.leader_messages = p.tree.leaders > 0 ? static_cast<double>(p.tree.per_leader + 1) * per_rank : 0;
  p.simulated_compute = p.compute;
  p.compute =
      std::max({p.compute, p.rank0_messages * p.seconds_per_message, p.leader_messages * p.seconds_per_message});
  p.rank0_busy = p.compute > 0 ? p.rank0_messages * p.seconds_per_message / p.compute : 0;
  p.leader_busy = p.compute > 0 ? p.leader_messages * p.seconds_per_message / p.compute : 0;
  // One rank computing without pause sends threads x messages_per_task / task_seconds messages a second.
  const double load = p.task_seconds > 0 ? p.threads * p.messages_per_task / p.task_seconds * p.seconds_per_message
                                         : (p.messages_per_task > 0 ? std::numeric_limits<double>::infinity() : 0);
  p.flat_saturation = saturation_ranks(0, load);
  p.saturation = saturation_ranks(p.group, load);
  p.leader_saturated = p.group > 0 && static_cast<double>(p.group) * load >= 1;
}

}  // namespace

Prediction predict(const io::RunFile& run, const PredictOptions& options) {
  if (options.ranks < 1 || options.ranks > 10'000'000)
    throw ConfigError("--ranks: expected a whole number from 1 to 10000000");
  if (options.threads < 1) throw ConfigError("--threads: expected a whole number >= 1");
  if (options.ranks_per_node && (*options.ranks_per_node < 1 || *options.ranks_per_node > 10'000'000))
    throw ConfigError("--ranks-per-node: expected a whole number from 1 to 10000000");
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
        throw IoError(
            fmt::format("{}: attribute chunk: expected auto, block or a whole number >= 1, found \"{}\" "
                        "(the file is damaged; --chunk replays another)",
                        run.path, run.chunk));
      o.chunk = chunk;
    }
  }
  if (run.order == "longest-first") o.order = sched::longest_first(durations);
  p.policy = sched::policy_name(o.policy);
  p.chunk = o.policy == sched::Policy::StaticBlock    ? "block"
            : o.policy == sched::Policy::StaticCyclic ? "1"
            : o.chunk                                 ? std::to_string(*o.chunk)
                                                      : "auto";

  for (const auto& phase : run.phases)
    if (phase_of(phase) != Phase::Compute) p.fixed += phase.t_end - phase.t_start;
  p.recorded_wall = run_wall(run);
  SimulationCounts counts;
  p.compute = simulate(durations, o, options.latency, &counts);
  model_dispatch(p, run, options, durations, o, counts);
  p.wall = p.fixed + p.compute;
  double workers = static_cast<double>(options.ranks) * options.threads;
  p.efficiency = p.wall > 0 ? p.task_time / (workers * p.wall) : 0;
  // One worker runs the tasks back to back whatever the policy: compute = their sum.
  p.one_worker_wall = p.fixed + p.task_time;
  p.speedup = p.wall > 0 ? p.one_worker_wall / p.wall : 0;
  p.speedup_vs_recorded = p.wall > 0 ? p.recorded_wall / p.wall : 0;
  return p;
}

namespace {

std::string plural(long n, const char* word) { return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s"); }

// "hierarchy flat", "hierarchy node (4 ranks per node)", "hierarchy 8 (a leader per 8 ranks)".
std::string hierarchy_words(const Prediction& p) {
  if (p.hierarchy == "flat") return "hierarchy flat";
  if (p.hierarchy == "node") return fmt::format("hierarchy node ({} per node)", plural(p.ranks_per_node, "rank"));
  return fmt::format("hierarchy {} (a leader per {})", p.hierarchy, plural(p.group, "rank"));
}

std::string message_source(const Prediction& p) {
  return p.measured ? "from the file: rank 0's serve / messages_in"
                    : "the default: the file does not record rank 0's messages";
}

std::string percent(double fraction) { return fmt::format("{:.1f}%", 100 * fraction); }

// Where rank 0 is busy all the time: flat, and under this hierarchy's leaders.
std::string saturation_text(const Prediction& p) {
  auto at = [](const std::optional<long>& n) {
    return n ? fmt::format("from {} ranks on", *n) : std::string("at no count up to 10000000 ranks");
  };
  std::string out = "flat dispatch keeps rank 0 busy all the time " + at(p.flat_saturation);
  if (p.group > 0) out += fmt::format("; with a leader per {}, {}", plural(p.group, "rank"), at(p.saturation));
  const double chunk = p.messages_per_task > 0 ? 1 / p.messages_per_task : 0;
  out += fmt::format(" ({:.4g} s per task, {:.3g} task{} per message, {} per rank)", p.task_seconds, chunk,
                     chunk == 1 ? "" : "s", plural(p.threads, "thread"));
  if (p.leader_saturated)
    out += fmt::format("; a leader of {} is itself busy all the time: give each fewer ranks", plural(p.group, "rank"));
  return out;
}

}  // namespace

std::string format_text(const Prediction& p) {
  const bool bound = p.compute > p.simulated_compute;
  std::string dispatch =
      fmt::format("dispatch:  {}: rank 0 answers {}", hierarchy_words(p), plural(p.tree.direct, "rank"));
  if (p.tree.leaders > 0)
    dispatch = fmt::format("dispatch:  {}: rank 0 answers {} of its {} and {}", hierarchy_words(p),
                           plural(p.tree.direct - p.tree.leaders, "rank"), p.hierarchy == "node" ? "node" : "group",
                           plural(p.tree.leaders, "leader"));
  dispatch += fmt::format(": {:.0f} messages, busy {} of the compute phase\n", p.rank0_messages, percent(p.rank0_busy));
  if (p.tree.leaders > 0)
    dispatch += fmt::format("leaders:   each answers {}: {:.0f} messages, busy {}\n", plural(p.tree.per_leader, "rank"),
                            p.leader_messages, percent(p.leader_busy));
  dispatch +=
      fmt::format("message:   {:.1f} us of rank 0's time each ({})\n", 1e6 * p.seconds_per_message, message_source(p));
  return fmt::format(
      "predicted: {} tasks on {} rank{} x {} thread{}, policy {} (chunk {})\n"
      "wall:      {:.3f} s = {:.3f} s compute ({}) + {:.3f} s setup, collect and write (as recorded)\n"
      "efficiency: {:.2f} ({:.2f} s of tasks / ({} workers x {:.3f} s))\n"
      "speedup:   {:.2f}x over one worker ({:.3f} s, the same replay); {:.2f}x over the recorded run ({:.3f} s)\n"
      "{}saturates: {}\n",
      p.tasks, p.ranks, p.ranks == 1 ? "" : "s", p.threads, p.threads == 1 ? "" : "s", p.policy, p.chunk, p.wall,
      p.compute,
      bound ? fmt::format("rank 0's or a leader's messages; the simulation alone: {:.3f} s", p.simulated_compute)
            : std::string("simulated"),
      p.fixed, p.efficiency, p.task_time, static_cast<std::uint64_t>(p.ranks) * p.threads, p.wall, p.speedup,
      p.one_worker_wall, p.speedup_vs_recorded, p.recorded_wall, dispatch, saturation_text(p));
}

std::string format_json(const Prediction& p) {
  auto count = [](const std::optional<long>& n) { return n ? std::to_string(*n) : std::string("null"); };
  return fmt::format(
      "{{\"ranks\": {}, \"threads\": {}, \"workers\": {}, \"policy\": \"{}\", \"chunk\": \"{}\", \"tasks\": {}, "
      "\"task_time\": {}, \"fixed\": {}, \"compute\": {}, \"wall\": {}, \"efficiency\": {}, \"one_worker_wall\": {}, "
      "\"speedup\": {}, \"recorded_wall\": {}, \"speedup_vs_recorded\": {}, \"hierarchy\": \"{}\", "
      "\"ranks_per_node\": {}, \"group_size\": {}, \"rank0_answers\": {}, \"leaders\": {}, \"leader_answers\": {}, "
      "\"seconds_per_message\": {}, \"seconds_per_message_measured\": {}, \"messages_per_task\": {}, "
      "\"task_seconds\": {}, \"rank0_messages\": {}, \"leader_messages\": {}, \"simulated_compute\": {}, "
      "\"rank0_busy\": {}, \"leader_busy\": {}, \"flat_saturation_ranks\": {}, \"saturation_ranks\": {}, "
      "\"leader_saturated\": {}}}\n",
      p.ranks, p.threads, static_cast<std::uint64_t>(p.ranks) * p.threads, p.policy, p.chunk, p.tasks,
      json_number(p.task_time), json_number(p.fixed), json_number(p.compute), json_number(p.wall),
      json_number(p.efficiency), json_number(p.one_worker_wall), json_number(p.speedup), json_number(p.recorded_wall),
      json_number(p.speedup_vs_recorded), p.hierarchy, p.ranks_per_node, p.group, p.tree.direct, p.tree.leaders,
      p.tree.per_leader, json_number(p.seconds_per_message), p.measured ? "true" : "false",
      json_number(p.messages_per_task), json_number(p.task_seconds), json_number(p.rank0_messages),
      json_number(p.leader_messages), json_number(p.simulated_compute), json_number(p.rank0_busy),
      json_number(p.leader_busy), count(p.flat_saturation), count(p.saturation), p.leader_saturated ? "true" : "false");
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
  out.insert(out.size() - 1,
             fmt::format("dispatch: {}, {:.1f} us of rank 0's time per message ({}); rank 0 busy: its messages' time "
                         "/ compute\n",
                         hierarchy_words(first), 1e6 * first.seconds_per_message, message_source(first)));
  out += fmt::format("{:>8} {:>8} {:>10} {:>10} {:>8} {:>10} {:>11}\n", "ranks", "workers", "wall s", "compute s",
                     "speedup", "efficiency", "rank 0 busy");
  for (const auto& p : rows)
    out += fmt::format("{:>8} {:>8} {:>10.3f} {:>10.3f} {:>8.2f} {:>10.2f} {:>11}\n", p.ranks,
                       static_cast<std::uint64_t>(p.ranks) * p.threads, p.wall, p.compute, p.speedup, p.efficiency,
                       percent(p.rank0_busy));
  out += fmt::format("\nrecorded run: {:.3f} s of wall\n", first.recorded_wall);
  // The chunking (messages per task) of the largest count: closest to where rank 0 saturates.
  const Prediction& most = *std::max_element(
      rows.begin(), rows.end(), [](const Prediction& a, const Prediction& b) { return a.ranks < b.ranks; });
  out += "saturates: " + saturation_text(most) + "\n";
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
