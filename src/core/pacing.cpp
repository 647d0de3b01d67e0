#include "core/pacing.hpp"

#include <limits>

#include "core/clock.hpp"
#include "core/worker_pool.hpp"

namespace fanout {

using namespace pacing;

void RecentMean::add(double seconds, std::uint64_t count) {
  if (count == 0) return;
  double x = seconds / static_cast<double>(count);
  value_ = seen_ ? value_ + WEIGHT * (x - value_) : x;
  seen_ = true;
}

ScopedTime::ScopedTime(double& total) : total_(total), start_(steady_seconds()) {}
ScopedTime::~ScopedTime() { total_ += steady_seconds() - start_; }

std::chrono::microseconds Backoff::next(bool traffic, double cap, double until) {
  wait_ = traffic ? MIN_WAIT : std::min(cap, wait_ * 2);
  double wait = std::clamp(std::min(wait_, until - steady_seconds()), 0.0, cap);
  return std::chrono::microseconds(static_cast<std::int64_t>(wait * 1e6) + 1);
}

bool Fetcher::should_ask(const WorkerPool& pool, bool& ahead) const {
  if (pool.queued() >= pool.refill_below()) return false;
  if (not_before_ > 0 && steady_seconds() < not_before_) return false;
  ahead = pool.idle_workers() == 0;
  return !(ahead && deferred_);
}

void Fetcher::answered(const sched::Work& work) {
  deferred_ = work.later;
  // "Later" and nothing to do: pause before asking again.
  not_before_ = work.later && work.ranges.empty() ? steady_seconds() + LATER_PAUSE : 0;
}

double Fetcher::pause_end() const {
  return not_before_ > steady_seconds() ? not_before_ : std::numeric_limits<double>::infinity();
}

bool Stopper::raise(int level, WorkerPool& pool, std::optional<double> grace) {
  if (level <= level_) return false;
  if (level_ == 0) deadline_ = steady_seconds() + grace.value_or(grace_);
  level_ = level;
  pool.stop();
  return true;
}

bool Stopper::give_up(WorkerPool& pool) {
  if (abandoned_ || level_ == 0) return abandoned_;
  double now = steady_seconds();
  if ((level_ >= 2 || now >= deadline_) && pool.running() > 0) {
    if (cancelled_at_ < 0) {
      pool.cancel_tasks();
      cancelled_at_ = now;
    } else if (now - cancelled_at_ >= CANCEL_WAIT) {
      pool.abandon();
      abandoned_ = true;
    }
  }
  return abandoned_;
}

}  // namespace fanout
