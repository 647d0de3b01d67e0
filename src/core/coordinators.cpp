#include "core/coordinators.hpp"

#include <csignal>
#include <cstring>
#include <deque>
#include <iostream>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "core/bundle.hpp"
#include "core/group_supply.hpp"
#include "core/protocol.hpp"

namespace fanout {

using namespace pacing;
using protocol::decode_work;
using protocol::encode_work;
using protocol::TAG_DONE;
using protocol::TAG_REQUEST;
using protocol::TAG_RESULTS;
using protocol::TAG_STOP;
using protocol::TAG_WORK;

// Rank 0: serve requests, run local tasks, collect everything.
void coordinate_root(const RankContext& context, Dispatcher& dispatcher, Collector& collector, TaskSink& sink) {
  Link& link = context.link;
  WorkerPool& pool = context.pool;
  const RunSettings& settings = context.settings;
  CommTimer& timer = context.timer;
  RunOutcome& outcome = context.outcome;
  const std::vector<int>& children = context.topology.children;
  const protocol::Request own_request{false, settings.threads_per_rank, 0};
  int active = static_cast<int>(children.size());
  std::vector<bool> rank_done(static_cast<std::size_t>(link.size()), false);
  bool local_more = true;
  Fetcher fetcher;
  Backoff backoff;
  Stopper stopper(settings.grace);
  int signals_seen = 0;
  double next_progress = steady_seconds() + settings.progress_interval;
  double next_check = steady_seconds() + 1;
  // What settings.publish last put at the output path, and when it may next.
  bool published = false;
  std::uint64_t published_tasks = 0;
  std::size_t published_errors = 0;
  double next_publish = 0;
  std::vector<Batch> finished_batches;  // received this round, stored after the answers
  std::vector<char> message;
  auto publish = [&] {
    if (!settings.publish) return;
    double t0 = steady_seconds();
    published = true;
    published_tasks = outcome.completed;
    published_errors = outcome.errors.size();
    settings.publish(outcome);
    double t1 = steady_seconds();
    next_publish = t1 + (t1 - t0);  // publishing takes at most half the time
  };
  auto finished_since_published = [&] {
    return outcome.completed != published_tasks || outcome.errors.size() != published_errors;
  };

  // A time-limit stop gives the running tasks as long as the longest task
  // took (the check left that much time); a signal, run.grace.
  auto request_stop = [&](int level, StopCause cause, const std::string& reason) {
    if (outcome.stop == StopCause::None) {
      outcome.stop = cause;
      outcome.stop_reason = reason;
    }
    std::optional<double> grace;
    if (cause == StopCause::Check) grace = std::max(settings.grace, collector.longest());
    if (!stopper.raise(level, pool, grace)) return;
    dispatcher.stop();
    if (local_more) {
      local_more = false;
      pool.close();
    }
    for (int r : children)
      if (!rank_done[static_cast<std::size_t>(r)]) timer([&] { link.send_small(r, TAG_STOP, &level, sizeof level); });
    std::uint64_t running = pool.running();
    if (level == 1)
      std::cerr << fmt::format(
          "fanout: {}: stopping: no new tasks; tasks still running get up to {:.3g} s to finish{}{}\n", reason,
          grace.value_or(settings.grace), grace ? "" : " (run.grace)",
          outcome.stop == StopCause::Signal ? "; a second signal stops at once" : "");
    else
      std::cerr << fmt::format("fanout: {}: stopping at once{}\n", reason,
                               running ? ", leaving the running tasks unfinished" : "");
    sink.poll();
    // What has finished goes to the output path at once: a launcher may kill
    // the ranks before the grace ends (mpirun does within 2 s).
    if (!published || finished_since_published()) publish();
  };

  for (;;) {
    double now = steady_seconds();
    if (settings.progress_interval > 0 && settings.progress && now >= next_progress) {
      settings.progress(collector.completed(), collector.failed(), collector.task_cpu());
      next_progress += settings.progress_interval;
    }
    if (int signals = stop_signals_received(); signals > signals_seen) {
      signals_seen = signals;
      request_stop(level_for(signals), StopCause::Signal, signal_name(last_stop_signal()) + " on rank 0");
    }
    if (settings.stop_check && now >= next_check) {
      next_check = now + 1;
      if (std::string why = settings.stop_check(collector.longest()); !why.empty())
        request_stop(1, StopCause::Check, why);
    }
    if (settings.fail_check)
      if (std::string why = settings.fail_check(); !why.empty()) request_stop(2, StopCause::Storage, why);
    if (settings.max_failures > 0 && collector.failed() >= settings.max_failures)
      request_stop(1, StopCause::MaxFailures, fmt::format("run.max_failures = {} reached", settings.max_failures));
    bool ahead = false;
    if (local_more && fetcher.should_ask(pool, ahead)) {
      protocol::Request request = own_request;
      request.ahead = ahead;
      auto work = dispatcher.next(0, request);
      fetcher.answered(work);
      if (work.done()) {
        local_more = false;
        pool.close();
      } else {
        pool.add(work.ranges);
      }
    }
    if (pool.pending() > 0) collector.store(pool.take_results());
    while (active > 0) {
      auto status = timer([&] { return link.probe(MPI_ANY_SOURCE, MPI_ANY_TAG); });
      if (!status) break;
      ScopedTime serving(context.serve);
      const int source = status->MPI_SOURCE;
      if (status->MPI_TAG == TAG_STOP) {
        protocol::SignalReport report;
        timer([&] { link.receive_small(source, TAG_STOP, &report, sizeof report); });
        request_stop(level_for(report.signals), StopCause::Signal,
                     fmt::format("{} on rank {}", signal_name(report.signo), report.origin));
        continue;
      }
      message.clear();  // one buffer for every message: its pages are touched once
      timer([&] { link.receive_append(*status, message); });
      std::uint64_t flags = 0;
      Batch finished = decode_parts(message.data(), message.size(), context.row_size, flags);
      if (status->MPI_TAG == TAG_REQUEST) {
        auto reply = encode_work(dispatcher.next(source, protocol::unpack(flags)));
        timer([&] { link.send(source, TAG_WORK, std::move(reply)); });
      } else if (status->MPI_TAG == TAG_DONE) {
        --active;
        rank_done[static_cast<std::size_t>(source)] = true;
      }
      finished_batches.push_back(std::move(finished));
    }
    // Stored once every waiting message is answered: a request never waits
    // behind the storing of a large batch that came before it.
    for (auto& batch : finished_batches) collector.store(std::move(batch));
    finished_batches.clear();
    timer([&] { link.in_flight(); });  // frees the answers taken
    sink.poll();
    bool local_done = !local_more && (pool.all_done() || stopper.give_up(pool));
    // During the grace: the file at the output path follows the tasks that finish.
    if (stopper.level() > 0 && !(local_done && active == 0) && steady_seconds() >= next_publish &&
        finished_since_published())
      publish();
    if (local_done && active == 0) {
      collector.store(pool.take_results());
      outcome.abandoned = stopper.abandoned();
      return;
    }
    double cap = stopper.level() > 0 ? MIN_POLL
                 : active > 0        ? poll_cap(std::max(collector.recent_task(), pool.busy_without_finishing()))
                                     : IDLE_WAIT;
    double until = fetcher.pause_end();
    if (settings.progress_interval > 0 && settings.progress) until = std::min(until, next_progress);
    if (settings.stop_check) until = std::min(until, next_check);
    pool.wait(backoff.next(false, cap, until));
  }
}

void coordinate_member(const RankContext& context) {
  Link& link = context.link;
  WorkerPool& pool = context.pool;
  const RunSettings& settings = context.settings;
  CommTimer& timer = context.timer;
  const int parent = context.topology.parent;
  const protocol::Request own_request{false, settings.threads_per_rank, context.topology.rank};
  bool requested = false;
  bool ahead_request = false;
  bool more = true;
  double last_flush = steady_seconds();
  Fetcher fetcher;
  Backoff backoff;
  Stopper stopper(settings.grace);
  int signals_sent = 0;
  for (;;) {
    bool traffic = false;  // a request went out that a worker waits for
    bool again = false;    // go round again without waiting
    bool ahead = false;
    if (int signals = stop_signals_received(); signals > signals_sent) {  // rank 0 decides; tell it
      signals_sent = signals;
      protocol::SignalReport report{signals, last_stop_signal(), context.topology.rank};
      timer([&] { link.send_small(parent, TAG_STOP, &report, sizeof report); });
    }
    if (auto status = timer([&] { return link.probe(parent, TAG_STOP); })) {
      int level = 0;
      timer([&] { link.receive_small(parent, TAG_STOP, &level, sizeof level); });
      if (stopper.raise(level, pool)) more = false;
    }
    if (more && !requested && fetcher.should_ask(pool, ahead)) {
      protocol::Request request = own_request;
      request.ahead = ahead;
      timer([&] { link.send(parent, TAG_REQUEST, encode(pool.take_results(), protocol::pack(request))); });
      last_flush = steady_seconds();
      requested = true;
      ahead_request = ahead;
      traffic = !ahead;  // a worker waits for the answer
    }
    if (requested) {
      auto status = timer([&] { return link.probe(parent, TAG_WORK); });
      if (status) {
        auto reply = timer([&] { return link.receive_words(*status); });
        auto work = decode_work(reply);
        fetcher.answered(work);
        if (work.done()) {
          more = false;
          pool.close();
        } else if (more) {
          pool.add(work.ranges);
        }
        requested = false;
        again = true;  // ask again at once if the queue is still short
      }
    }
    // Done: no more work and every task finished (or given up on), and no
    // reply to a request still on its way.
    if (!more && !requested && (pool.all_done() || stopper.give_up(pool))) {
      timer([&] {
        link.send(parent, TAG_DONE, encode(pool.take_results()));
        link.wait_all();
      });
      context.outcome.abandoned = stopper.abandoned();
      return;
    }
    // Results wait in the pool (whose workers pause when it is full) while
    // MAX_IN_FLIGHT messages are still on their way: memory stays bounded.
    std::size_t pending = pool.pending();
    std::size_t in_flight = timer([&] { return link.in_flight(); });
    if (in_flight < MAX_IN_FLIGHT && (pending >= SEND_RECORDS || pool.pending_bytes() >= SEND_BYTES ||
                                      (pending > 0 && steady_seconds() - last_flush > SEND_SECONDS))) {
      timer([&] { link.send(parent, TAG_RESULTS, encode(pool.take_results())); });
      last_flush = steady_seconds();
      ++in_flight;
    }
    // An answer to a request made ahead of need is polled for as often as
    // rank 0 polls for requests.
    double cap =
        stopper.level() > 0 || in_flight > 0 ? MIN_POLL
        : requested
            // Urgent only while a worker is idle for want of the answer.
            ? (ahead_request || pool.all_busy() ? poll_cap(std::max(pool.recent_task(), pool.busy_without_finishing()))
                                                : MIN_POLL)
            : IDLE_WAIT;
    double until = fetcher.pause_end();
    if (pending > 0) until = std::min(until, last_flush + SEND_SECONDS);
    if (!again) pool.wait(backoff.next(traffic, cap, until));
  }
}

void coordinate_leader(const RankContext& context) {
  Link& link = context.link;
  WorkerPool& pool = context.pool;
  const RunSettings& settings = context.settings;
  CommTimer& timer = context.timer;
  const int me = context.topology.rank;
  const int parent = context.topology.parent;
  const std::vector<int>& children = context.topology.children;
  std::vector<int> members{me};
  members.insert(members.end(), children.begin(), children.end());
  const bool per_member =
      settings.policy == sched::Policy::StaticBlock || settings.policy == sched::Policy::StaticCyclic;
  GroupSupply supply(me, members, settings.threads_per_rank, per_member);
  std::deque<int> asked;  // the stock each request to rank 0 was for, oldest first
  // The group's finished tasks, on their way to rank 0, in a buffer that
  // holds what is usually sent at once.
  Bundle up(context.row_size, link.spare(),
            std::min(LEADER_BUNDLE_BYTES, LEADER_SEND_RECORDS * (sizeof(TaskRecord) + context.row_size)));
  RecentMean recent;  // of the group's task times
  int active = static_cast<int>(children.size());
  std::vector<bool> child_done(static_cast<std::size_t>(link.size()), false);
  bool local_more = true;     // the own workers may get more work
  bool local_parked = false;  // they wait for the supply
  Fetcher fetcher;
  Backoff backoff;
  Stopper stopper(settings.grace);
  int signals_sent = 0;

  auto gather = [&](Batch&& batch) {
    double seconds = 0;
    for (const auto& r : batch.records) seconds += r.t_end - r.t_start;
    recent.add(seconds, batch.records.size());  // one step per batch, as the worker pool does
    up.add(batch);
  };
  auto take_up = [&](std::uint64_t flags = 0) {
    link.in_flight();  // a send that completed leaves its buffer for the next bundle
    return up.take(flags, link.spare());
  };
  auto reply = [&](int member, const sched::Work& work) {
    if (member == me) {
      local_parked = false;
      fetcher.answered(work);
      if (work.done()) {
        local_more = false;
        pool.close();
      } else if (local_more) {
        pool.add(work.ranges);
      }
      return;
    }
    timer([&] { link.send(member, TAG_WORK, encode_work(work)); });
  };
  auto on_stop = [&](int level) {
    if (stopper.raise(level, pool)) local_more = false;
    for (auto& [member, work] : supply.stop()) reply(member, work);
    for (int r : children)
      if (!child_done[static_cast<std::size_t>(r)]) timer([&] { link.send_small(r, TAG_STOP, &level, sizeof level); });
  };

  for (;;) {
    bool traffic = false;
    if (int signals = stop_signals_received(); signals > signals_sent) {  // rank 0 decides; tell it
      signals_sent = signals;
      protocol::SignalReport report{signals, last_stop_signal(), me};
      timer([&] { link.send_small(parent, TAG_STOP, &report, sizeof report); });
    }
    // Messages from rank 0 (stops, answers) and from the group. While rank 0
    // has not taken what it was sent and the bundle is full, the group's
    // messages wait in MPI: their senders then wait too, and memory stays bounded.
    for (;;) {
      const bool full = up.records() >= LEADER_HOLD_RECORDS || up.row_bytes() >= LEADER_HOLD_BYTES;
      auto status = timer([&] { return link.probe(full ? parent : MPI_ANY_SOURCE, MPI_ANY_TAG); });
      if (!status) break;
      ScopedTime serving(context.serve);
      traffic = true;
      const int source = status->MPI_SOURCE;
      const int tag = status->MPI_TAG;
      if (source == parent && tag == TAG_STOP) {
        int level = 0;
        timer([&] { link.receive_small(parent, TAG_STOP, &level, sizeof level); });
        on_stop(level);
      } else if (source == parent && tag == TAG_WORK) {
        auto work = decode_work(timer([&] { return link.receive_words(*status); }));
        if (asked.empty()) throw std::logic_error("rank 0 sent work nobody asked for");
        int key = asked.front();
        asked.pop_front();
        for (auto& [member, answer] : supply.answered(key, std::move(work))) reply(member, answer);
      } else if (source == parent) {
        throw std::logic_error("leader: unexpected message from rank 0 (tag " + std::to_string(tag) + ")");
      } else if (tag == TAG_STOP) {  // a signal on a rank of the group: rank 0 decides
        protocol::SignalReport report;
        timer([&] { link.receive_small(source, TAG_STOP, &report, sizeof report); });
        timer([&] { link.send_small(parent, TAG_STOP, &report, sizeof report); });
      } else {
        // A member's batch goes on as it came: received into the bundle, checked, not decoded.
        const std::size_t from = up.bytes().size();
        timer([&] { link.receive_append(*status, up.bytes()); });
        std::uint64_t records = 0;
        const double seconds = up.adopt(from, records);
        std::uint64_t flags = 0;
        std::memcpy(&flags, up.bytes().data() + from, sizeof flags);
        if (tag == TAG_REQUEST) {
          if (auto work = supply.take(source, protocol::unpack(flags).ahead)) reply(source, *work);
        } else if (tag == TAG_DONE) {
          --active;
          child_done[static_cast<std::size_t>(source)] = true;
        }
        recent.add(seconds, records);
      }
    }
    bool ahead = false;
    if (local_more && !local_parked && fetcher.should_ask(pool, ahead)) {
      if (auto work = supply.take(me, ahead))
        reply(me, *work);
      else
        local_parked = true;
    }
    if (pool.pending() > 0) gather(pool.take_results());
    // Ask rank 0 for what the group needs; the finished tasks go along.
    for (const auto& request : supply.wanted()) {
      timer([&] { link.send(parent, TAG_REQUEST, take_up(protocol::pack(request))); });
      supply.requested(request.for_rank);
      asked.push_back(request.for_rank);
    }
    std::size_t in_flight = timer([&] { return link.in_flight(); });
    if (!up.empty() && in_flight < MAX_IN_FLIGHT &&
        (stopper.level() > 0 || up.records() >= LEADER_SEND_RECORDS || up.row_bytes() >= SEND_BYTES ||
         steady_seconds() - up.since() >= SEND_SECONDS)) {
      timer([&] { link.send(parent, TAG_RESULTS, take_up()); });
      ++in_flight;
    }
    bool local_done = !local_more && !local_parked && (pool.all_done() || stopper.give_up(pool));
    if (local_done && active == 0 && supply.outstanding() == 0) {
      gather(pool.take_results());
      timer([&] {
        link.send(parent, TAG_DONE, take_up());
        link.wait_all();
      });
      context.outcome.abandoned = stopper.abandoned();
      return;
    }
    double cap = stopper.level() > 0 || in_flight > 0 || supply.outstanding() > 0
                     ? MIN_POLL
                     : poll_cap(std::max({recent.value(), pool.recent_task(), pool.busy_without_finishing()}));
    double until = fetcher.pause_end();
    if (!up.empty()) until = std::min(until, up.since() + SEND_SECONDS);
    pool.wait(backoff.next(traffic, cap, until));
  }
}

}  // namespace fanout
