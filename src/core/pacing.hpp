#pragma once
// How the runner's coordinating threads pace themselves: how often results
// are sent, how long a thread sleeps between rounds, when a rank asks for
// more work, and how it winds down at a stop.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <thread>

#include "sched/scheduler.hpp"

namespace fanout {

class WorkerPool;

namespace pacing {

inline constexpr std::size_t SEND_RECORDS = 32768;  // send finished tasks at least this often...
inline constexpr std::size_t SEND_BYTES = 1 << 26;  // ...or when their rows (array columns) reach 64 MiB...
inline constexpr double SEND_SECONDS = 0.5;         // ...or this often
// A leader forwards its group's finished tasks to rank 0 in batches this
// large (or SEND_SECONDS after the first one waits): what cuts rank 0's messages.
inline constexpr std::size_t LEADER_SEND_RECORDS = 4 * SEND_RECORDS;
inline constexpr std::size_t LEADER_BUNDLE_BYTES = std::size_t{32} << 20;  // its buffer's first capacity, at most
// A leader whose sends to rank 0 are all still on their way (MAX_IN_FLIGHT)
// holds at most about this much before it stops taking its group's messages.
inline constexpr std::size_t LEADER_HOLD_RECORDS = 4 * LEADER_SEND_RECORDS;
inline constexpr std::size_t LEADER_HOLD_BYTES = 2 * SEND_BYTES;
inline constexpr std::size_t MAX_IN_FLIGHT = 2;  // messages of results on their way up, at most
// Workers pause when this many finished tasks wait for the coordinating
// thread, so a rank that computes faster than it can ship or write results
// keeps bounded memory.
inline constexpr std::size_t MAX_FINISHED = 1 << 18;
inline constexpr std::size_t MAX_FINISHED_BYTES = 1 << 28;  // of rows, for large array columns
// The coordinating thread sleeps between rounds; a worker event (tasks
// taken, tasks finished) wakes it at once, so timed wake-ups are only needed
// for MPI messages, which cannot wake a thread. Each timed wake-up costs the
// workers a context switch (about 20 us of CPU on a virtual machine), so the
// coordinator polls quickly only while a message is due: after MPI traffic
// it polls again within MIN_WAIT, doubling up to a cap. A rank serving
// others, and a rank waiting for the answer to a request made ahead of need,
// poll every eighth of the recent task time (ranks ask for work ahead, a
// task or two before they run dry; poll_cap, which also counts how long this
// rank's workers have gone without finishing a task: before the first task
// ends the recent time is 0, and polling every MIN_POLL through long tasks
// took 10-14% of the core that the rank's worker, or the python job's
// interpreter bound with it, computes on), between MIN_POLL and MAX_POLL; a
// rank whose worker waits for the answer caps at MIN_POLL; a rank expecting
// nothing (its work is in hand, or it is alone) wakes every IDLE_WAIT for
// signals and stops.
inline constexpr double MIN_WAIT = 10e-6;
inline constexpr double MIN_POLL = 0.25e-3;
inline constexpr double MAX_POLL = 5e-3;
inline constexpr double IDLE_WAIT = 20e-3;
inline double poll_cap(double recent_task) { return std::clamp(recent_task / 8, MIN_POLL, MAX_POLL); }
// A rank told "later" with nothing to do (failed tasks may still come back
// for a retry) asks again after this long.
inline constexpr double LATER_PAUSE = 0.002;
// After Job::cancel, how long running tasks get to return before they are left.
inline constexpr double CANCEL_WAIT = 1.0;

}  // namespace pacing

// Sleeps until done() (tested at once, then after 20 us, 40 us, ... up to
// 2 ms apart): how a thread waits for MPI without polling a core at full speed.
template <class Done>
void wait_quietly(Done done) {
  auto wait = std::chrono::microseconds(20);
  while (!done()) {
    std::this_thread::sleep_for(wait);
    wait = std::min<std::chrono::microseconds>(wait * 2, std::chrono::milliseconds(2));
  }
}

// A moving average of task times that follows the recent ones (under
// longest-first the first tasks are the longest).
class RecentMean {
 public:
  void add(double seconds, std::uint64_t count = 1);
  double value() const { return value_; }

 private:
  static constexpr double WEIGHT = 0.125;
  double value_ = 0;
  bool seen_ = false;
};

// Wall time spent in MPI calls by the coordinating thread.
class CommTimer {
 public:
  template <class F>
  auto operator()(F&& f);
  double total() const { return total_; }

 private:
  double total_ = 0;
};

// Adds the wall time from its construction to its end to `total` (s).
class ScopedTime {
 public:
  explicit ScopedTime(double& total);
  ScopedTime(const ScopedTime&) = delete;
  ScopedTime& operator=(const ScopedTime&) = delete;
  ~ScopedTime();

 private:
  double& total_;
  double start_;
};

// How long the coordinating thread sleeps next: MIN_WAIT after MPI
// traffic, then twice as long each quiet round, up to `cap`, and never past
// `until` (a steady_seconds() time something is due: a progress line, say).
class Backoff {
 public:
  std::chrono::microseconds next(bool traffic, double cap, double until);

 private:
  double wait_ = pacing::MIN_WAIT;
};

// When a rank asks for more: before its queue runs dry (ahead of need), so
// the next chunk arrives while its workers are busy; after the server said
// "later" (few tasks left), only once a worker is idle.
class Fetcher {
 public:
  // Should the rank ask now? Sets `ahead` to whether no worker is idle.
  bool should_ask(const WorkerPool& pool, bool& ahead) const;
  void answered(const sched::Work& work);
  // When a pause after "later" ends (steady_seconds(); infinity: no pause,
  // or it is over). A pause that is over must not stay a deadline: a rank
  // that holds a "later" and whose workers are all busy asks no more, and
  // its coordinator then woke every microsecond (15,000 times a second,
  // 10-14% of the core its worker computes on) for a deadline long past.
  double pause_end() const;

 private:
  bool deferred_ = false;
  double not_before_ = 0;
};

// How a rank winds down when a stop is requested: level 1 lets running tasks
// finish for `grace` seconds, level 2 (or the end of the grace) leaves them.
class Stopper {
 public:
  explicit Stopper(double grace) : grace_(grace) {}
  // Raises the level; returns true when it changed.
  // `grace`: the time running tasks get from now (default: run.grace).
  bool raise(int level, WorkerPool& pool, std::optional<double> grace = std::nullopt);
  int level() const { return level_; }
  // Are the running tasks given up on? When the time has come, the job is
  // first asked to cancel them (Job::cancel); tasks still running a second
  // later are left to their threads.
  bool give_up(WorkerPool& pool);
  bool abandoned() const { return abandoned_; }

 private:
  double grace_;
  int level_ = 0;
  double deadline_ = 0;
  double cancelled_at_ = -1;
  bool abandoned_ = false;
};

// The level a count of signals asks for: 1 graceful, 2 at once.
inline int level_for(int signals) { return std::min(signals, 2); }

}  // namespace fanout

#include "core/clock.hpp"

namespace fanout {
template <class F>
auto CommTimer::operator()(F&& f) {
  struct Add {
    double t0;
    double& total;
    ~Add() { total += steady_seconds() - t0; }
  } add{steady_seconds(), total_};
  return f();
}
}  // namespace fanout
