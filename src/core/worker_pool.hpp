#pragma once
// The worker threads of one rank: they take task ids from a local queue of
// ranges, run them (Job::run or Job::run_batch), time them, and leave the
// finished tasks for the coordinating thread.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "core/batch.hpp"
#include "core/clock.hpp"
#include "core/job.hpp"
#include "core/pacing.hpp"
#include "core/sweep.hpp"
#include "sched/scheduler.hpp"

namespace fanout {

class WorkerPool {
 public:
  WorkerPool(const Job& job, const RowLayout& layout, unsigned threads, int rank, std::uint16_t session,
             const RunClock& clock, const Sweep* sweep)
      : job_(job),
        layout_(layout),
        sweep_(sweep),
        rank_(rank),
        session_(session),
        clock_(clock),
        thread_count_(threads) {
    for (unsigned t = 0; t < threads; ++t) threads_.emplace_back([this, t] { work(static_cast<std::int32_t>(t)); });
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  ~WorkerPool() {
    close();
    for (auto& t : threads_) t.join();
  }

  void add(const std::vector<sched::TaskRange>& ranges) {
    std::lock_guard lock(mutex_);
    for (const auto& r : ranges) {
      if (r.count() == 0) continue;
      queue_.push_back(r);
      queued_ += r.count();
    }
    work_ready_.notify_all();
  }
  // No more work will come: workers leave when the queue is empty.
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    work_ready_.notify_all();
  }
  // A stop: forget the queued tasks; workers finish the task they are running
  // and start no other.
  void stop() {
    std::lock_guard lock(mutex_);
    stopping_.store(true, std::memory_order_relaxed);
    queue_.clear();
    queued_ = 0;
    closed_ = true;
    work_ready_.notify_all();
  }
  // After the grace period: leave the threads running their tasks. The pool
  // must then never be destroyed (the process ends with _exit).
  void abandon() {
    stop();
    for (auto& t : threads_) t.detach();
    threads_.clear();
  }
  // Asks the job to end its running tasks (Job::cancel).
  void cancel_tasks() { job_.cancel(); }
  std::uint64_t queued() const {
    std::lock_guard lock(mutex_);
    return queued_;
  }
  // The rank asks for more work once fewer tasks than this wait in the
  // queue (one per thread): the answer comes while the workers run their
  // current tasks, as both sides poll at an eighth of the recent task time.
  // (Keeping more in reserve left long tasks queued on one rank at the end
  // while another had nothing to do.)
  std::uint64_t refill_below() const { return thread_count_; }
  // Workers with nothing to do right now.
  unsigned idle_workers() const {
    std::lock_guard lock(mutex_);
    return queued_ == 0 ? thread_count_ - running_ : 0;
  }
  unsigned running() const {
    std::lock_guard lock(mutex_);
    return running_;
  }
  bool all_done() const {
    std::lock_guard lock(mutex_);
    return closed_ && queued_ == 0 && running_ == 0;
  }
  // Sleeps until a worker takes or finishes a task, or the timeout passes.
  bool wait(std::chrono::microseconds timeout) {
    std::unique_lock lock(mutex_);
    bool woke = event_.wait_for(lock, timeout, [this] { return events_ > 0; });
    events_ = 0;
    return woke;
  }
  std::size_t pending() const {
    std::lock_guard lock(mutex_);
    return finished_.records.size() + finished_.errors.size();
  }
  std::size_t pending_bytes() const {
    std::lock_guard lock(mutex_);
    return finished_.rows.size();
  }
  Batch take_results() {
    std::lock_guard lock(mutex_);
    Batch out = std::move(finished_);
    finished_ = Batch{};
    work_ready_.notify_all();  // workers paused for a full buffer may go on
    return out;
  }
  double busy() const {
    std::lock_guard lock(mutex_);
    return busy_;
  }
  std::uint64_t tasks_done() const {
    std::lock_guard lock(mutex_);
    return done_;
  }
  // Recent wall time per task on this rank (0 before any finished).
  double recent_task() const {
    std::lock_guard lock(mutex_);
    return recent_.value();
  }
  // Every worker thread is at a task.
  bool all_busy() const {
    std::lock_guard lock(mutex_);
    return running_ >= thread_count_;
  }
  // How long the workers have been at tasks without finishing any (0 when
  // none is running): the tasks running now take at least that long, which
  // the recent mean may not know yet (no task finished, or short ones did).
  double busy_without_finishing() const {
    std::lock_guard lock(mutex_);
    return running_ > 0 ? steady_seconds() - last_finish_ : 0;
  }

 private:
  // How many ids a thread takes at once: enough tasks for ~200 us of work,
  // never more than its share of the queue, so locking costs little for tiny
  // tasks and long tasks are still shared out one by one.
  std::uint64_t take_size(unsigned threads) const;

  void work(std::int32_t thread);

  // Runs the tasks `ids` one after another on this thread; returns their wall time.
  double run_one_by_one(const std::vector<std::uint64_t>& ids, std::int32_t thread, Batch& local);

  // A batch job's tasks (Job::run_batch): their wall times, CPU and failures
  // as the job reports them. Adds their wall time to `busy`.
  void run_batch(const std::vector<std::uint64_t>& ids, std::int32_t thread, Batch& local, double& busy);

  const Job& job_;
  const RowLayout& layout_;
  const Sweep* sweep_;
  int rank_;
  std::uint16_t session_;
  const RunClock& clock_;
  unsigned thread_count_;
  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable event_;
  std::deque<sched::TaskRange> queue_;
  std::uint64_t queued_ = 0;
  unsigned running_ = 0;
  unsigned events_ = 0;
  bool closed_ = false;
  std::atomic<bool> stopping_{false};
  Batch finished_;
  double busy_ = 0;
  double last_finish_ = steady_seconds();  // when a worker last handed in tasks (or the pool started)
  std::uint64_t done_ = 0;
  RecentMean recent_;
  std::vector<std::thread> threads_;
};

}  // namespace fanout
