#pragma once
// Schedulers decide which task ids each rank runs. They live on rank 0 and
// answer one question, next(rank), whatever the policy. They hand out
// positions in a hand-out order (task ids in the given order, or sorted
// longest-first), so every policy can follow any order.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sched/policy.hpp"

namespace fanout::sched {

// Task ids begin, begin + stride, ... below end.
struct TaskRange {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  std::uint64_t stride = 1;
  std::uint64_t count() const { return end > begin ? (end - begin + stride - 1) / stride : 0; }
};

struct SchedulerOptions {
  Policy policy = Policy::Dynamic;
  std::uint64_t task_count = 0;
  int ranks = 1;
  unsigned threads_per_rank = 1;
  std::optional<std::uint64_t> chunk;  // dynamic: fixed chunk; guided: the floor; nullopt: auto
  std::vector<std::uint64_t> order;    // hand-out order of task ids; empty: 0, 1, 2, ...
};

// An answer to a rank: task ranges; none and not `later`: no more, ever.
struct Work {
  std::vector<TaskRange> ranges;
  bool later = false;  // ask again when a worker is idle
  bool done() const { return ranges.empty() && !later; }
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // The next work for `rank`. `ahead`: the rank asks before any of its
  // workers is idle. Such a request is told to come back later (see
  // ahead_refused) when a task fetched ahead could end up waiting in a
  // busy rank's queue while a worker elsewhere has nothing left to do.
  // `workers`: the worker threads the answer feeds (a leader asks for its
  // whole group); 0: one rank's, threads_per_rank. `rounds`: that many
  // chunks per worker at once (a leader's stock), never past the tail limit.
  virtual Work next(int rank, bool ahead = false, std::uint64_t workers = 0, std::uint64_t rounds = 1) = 0;
  // Finished tasks: `count` of them took `seconds` of wall time in all.
  virtual void observe(double /*seconds*/, std::uint64_t /*count*/) {}
  // The chunk setting as recorded in the file: a number, "auto", "block" or "1".
  virtual std::string chunk_description() const = 0;
};

std::unique_ptr<Scheduler> make_scheduler(SchedulerOptions options);

// Task ids sorted by cost, longest first (ties: smaller id first).
std::vector<std::uint64_t> longest_first(const std::vector<double>& costs);

// Dynamic "auto": tasks per worker per request, from the mean task time seen
// so far: enough for TARGET_CHUNK_SECONDS of work (dispatch then costs well
// under 1%), at most remaining / (2 x workers) so the tail stays short, at least 1.
// `rounds` > 1 (a leader asking for its group's stock, see GroupSupply):
// that many chunks for the overhead, and half as much again of the tail
// limit, so that a group asks rank 0 less often than its ranks would one by
// one, while still taking at most 3/4 of its share of what is left.
inline constexpr double TARGET_CHUNK_SECONDS = 0.005;
std::uint64_t auto_chunk(double mean_task_seconds, std::uint64_t observed, std::uint64_t remaining,
                         std::uint64_t workers, std::uint64_t rounds = 1);
// Should a request made ahead of need be told "later"? Yes in the tail, when
// at most AHEAD_TAIL x workers tasks are left (uneven tasks make the last
// ones of any size), and yes when the tasks are long (mean of those seen at
// least AHEAD_LONG_SECONDS): then asking only once a worker is idle costs a
// round trip of a few milliseconds per task, under 1%, while a long task
// fetched ahead can hold up the end of the run by its whole length (the
// primes demos: the largest prime fetched ahead by a busy rank while the
// other rank ran dry, 17% over the bound).
inline constexpr std::uint64_t AHEAD_TAIL = 2;
inline constexpr double AHEAD_LONG_SECONDS = 0.25;
bool ahead_refused(std::uint64_t remaining, std::uint64_t workers, double mean_task_seconds);
// Guided: remaining / (2 x workers), never below floor.
std::uint64_t guided_chunk(std::uint64_t remaining, std::uint64_t workers, std::uint64_t floor);

}  // namespace fanout::sched
