#include "core/runner.hpp"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <limits>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include <boost/mpi/collectives/all_reduce.hpp>
#include <boost/mpi/collectives/gather.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/mpi/status.hpp>
#include <boost/serialization/array.hpp>

#include "core/batch.hpp"
#include "sched/scheduler.hpp"

namespace fanout {
namespace {

std::atomic<int> g_stop_signals{0};
std::atomic<int> g_last_signal{0};

void on_stop_signal(int signo) {
  g_last_signal.store(signo);
  g_stop_signals.fetch_add(1);
}

}  // namespace

void install_stop_signals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int signo : {SIGTERM, SIGINT, SIGUSR1}) sigaction(signo, &action, nullptr);
}

int stop_signals_received() { return g_stop_signals.load(); }
int last_stop_signal() { return g_last_signal.load(); }

namespace {
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
}  // namespace

void quiet_barrier(const boost::mpi::communicator& comm) {
  MPI_Request request;
  MPI_Ibarrier(comm, &request);
  wait_quietly([&] {
    int done = 0;
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    return done != 0;
  });
}

void set_phase(PhaseRecord& phase, const std::string& name, double t_start, double t_end) {
  std::memset(phase.name, 0, sizeof phase.name);
  std::memcpy(phase.name, name.data(), std::min(name.size(), sizeof phase.name - 1));
  phase.t_start = t_start;
  phase.t_end = t_end;
}

namespace {

using sched::TaskRange;

enum Tag : int {
  TAG_REQUEST = 101,  // rank -> 0: finished tasks, and a request for more work (ahead or not)
  TAG_RESULTS = 102,  // rank -> 0: finished tasks only
  TAG_DONE = 103,     // rank -> 0: the last finished tasks; the rank is done
  TAG_WORK = 104,     // 0 -> rank: task ranges, "later", or no more work
  TAG_STOP = 105,     // rank -> 0: signals received and the last one (2 ints); 0 -> rank: stop level (int, 1 graceful, 2 at once)
};

constexpr std::size_t SEND_RECORDS = 32768;       // send finished tasks at least this often...
constexpr std::size_t SEND_BYTES = 1 << 26;       // ...or when their rows (array columns) reach 64 MiB...
constexpr double SEND_SECONDS = 0.5;               // ...or this often
constexpr std::size_t MAX_IN_FLIGHT = 2;           // messages of results on their way to rank 0, at most
// Workers pause when this many finished tasks wait for the coordinating
// thread, so a rank that computes faster than it can ship or write results
// keeps bounded memory.
constexpr std::size_t MAX_FINISHED = 1 << 18;
constexpr std::size_t MAX_FINISHED_BYTES = 1 << 28;  // of rows, for large array columns
// The coordinating thread sleeps between rounds; a worker event (tasks
// taken, tasks finished) wakes it at once, so timed wake-ups are only needed
// for MPI messages, which cannot wake a thread. Each timed wake-up costs the
// workers a context switch (about 20 us of CPU on a virtual machine), so the
// coordinator polls quickly only while a message is due: after MPI traffic
// it polls again within MIN_WAIT, doubling up to a cap. Rank 0 serving other
// ranks, and a rank waiting for the answer to a request made ahead of need,
// poll every eighth of the recent task time (ranks ask for work ahead, a
// task or two before they run dry; poll_cap, which also counts how long this
// rank's workers have gone without finishing a task: before the first task
// ends the recent time is 0, and polling every MIN_POLL through long tasks
// took 10-14% of the core that the rank's worker, or the python job's
// interpreter bound with it, computes on), between MIN_POLL and MAX_POLL; a
// rank whose worker waits for the answer caps at MIN_POLL; a rank expecting
// nothing (its work is in hand, or it is alone) wakes every IDLE_WAIT for
// signals and stops.
constexpr double MIN_WAIT = 10e-6;
constexpr double MIN_POLL = 0.25e-3;
constexpr double MAX_POLL = 5e-3;
constexpr double IDLE_WAIT = 20e-3;
double poll_cap(double recent_task) { return std::clamp(recent_task / 8, MIN_POLL, MAX_POLL); }

// A moving average of task times that follows the recent ones (under
// longest-first the first tasks are the longest).
class RecentMean {
 public:
  void add(double seconds, std::uint64_t count = 1) {
    if (count == 0) return;
    double x = seconds / static_cast<double>(count);
    value_ = seen_ ? value_ + WEIGHT * (x - value_) : x;
    seen_ = true;
  }
  double value() const { return value_; }

 private:
  static constexpr double WEIGHT = 0.125;
  double value_ = 0;
  bool seen_ = false;
};
// A rank told "later" with nothing to do (failed tasks may still come back
// for a retry) asks again after this long.
constexpr double LATER_PAUSE = 0.002;
// After Job::cancel, how long running tasks get to return before they are left.
constexpr double CANCEL_WAIT = 1.0;

constexpr std::uint64_t FLAG_AHEAD = 1;

Batch decode(const std::vector<char>& message, std::size_t row_size, std::uint64_t& flags) {
  return fanout::decode(message.data(), message.size(), row_size, flags);
}

// WORK message: u64 status (0: no more work, 1: ranges follow, 2: ask again
// when a worker is idle), then begin, end, stride per range.
std::vector<std::uint64_t> encode_work(const sched::Work& work) {
  std::vector<std::uint64_t> out{work.done() ? 0u : work.later ? 2u : 1u};
  for (const auto& r : work.ranges) out.insert(out.end(), {r.begin, r.end, r.stride});
  return out;
}

sched::Work decode_work(const std::vector<std::uint64_t>& message) {
  sched::Work work;
  if (message.empty()) throw std::runtime_error("empty work message");
  work.later = message[0] == 2;
  for (std::size_t i = 1; i + 2 < message.size(); i += 3) work.ranges.push_back({message[i], message[i + 1], message[i + 2]});
  return work;
}

// The worker threads of one rank, fed from a local queue of task ranges.
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

  void add(const std::vector<TaskRange>& ranges) {
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
  std::uint64_t take_size(unsigned threads) const {
    std::uint64_t share = queued_ / (2 * threads) + 1;
    double mean = done_ ? busy_ / static_cast<double>(done_) : 1.0;
    auto for_time = static_cast<std::uint64_t>(std::clamp(200e-6 / std::max(mean, 1e-9), 1.0, 256.0));
    return std::min(share, for_time);
  }

  void work(std::int32_t thread) {
    const unsigned threads = thread_count_;
    std::vector<std::uint64_t> ids;
    Batch local;
    std::unique_lock lock(mutex_);
    for (;;) {
      work_ready_.wait(lock, [this] {
        return (queued_ > 0 && finished_.records.size() < MAX_FINISHED && finished_.rows.size() < MAX_FINISHED_BYTES) ||
               (closed_ && queued_ == 0);
      });
      if (queued_ == 0) return;
      ids.clear();
      for (std::uint64_t n = take_size(threads); n > 0 && queued_ > 0; --n) {
        TaskRange& front = queue_.front();
        ids.push_back(front.begin);
        front.begin += front.stride;
        if (front.count() == 0) queue_.pop_front();
        --queued_;
      }
      ++running_;
      if (queued_ < refill_below()) {  // the coordinator fetches more before we run dry
        ++events_;
        event_.notify_one();
      }
      lock.unlock();

      double busy = 0;
      if (job_.runs_batches())
        run_batch(ids, thread, local, busy);
      else
        busy = run_one_by_one(ids, thread, local);

      lock.lock();
      finished_.records.insert(finished_.records.end(), local.records.begin(), local.records.end());
      finished_.rows.insert(finished_.rows.end(), local.rows.begin(), local.rows.end());
      for (auto& e : local.errors) finished_.errors.push_back(std::move(e));
      busy_ += busy;
      last_finish_ = steady_seconds();
      done_ += local.records.size();
      recent_.add(busy, local.records.size());
      local.records.clear();
      local.rows.clear();
      local.errors.clear();
      --running_;
      // Wake the coordinator when this worker may go idle (it fetches more,
      // or notices the end) or when enough results wait to be sent; else it
      // collects them on its next round.
      if (queued_ == 0 || finished_.records.size() >= SEND_RECORDS || finished_.rows.size() >= SEND_BYTES) {
        ++events_;
        event_.notify_one();
      }
    }
  }

  // Runs the tasks `ids` one after another on this thread; returns their wall time.
  double run_one_by_one(const std::vector<std::uint64_t>& ids, std::int32_t thread, Batch& local) {
    const std::size_t row_size = layout_.size();
    // One wall-clock reading per task boundary (the end of a task is the
    // start of the next), and one CPU reading per span of at least
    // CPU_SPAN seconds (records.hpp): a task that long is measured alone,
    // shorter ones share a reading.
    double before = steady_seconds();
    double span_start = before;
    CpuTimes span_cpu = thread_cpu_times();
    std::size_t span_first = local.records.size();
    auto close_span = [&] {
      CpuTimes now = thread_cpu_times();
      share_cpu(std::span(local.records).subspan(span_first), now.user - span_cpu.user, now.sys - span_cpu.sys);
      span_cpu = now;
      span_start = before;
      span_first = local.records.size();
    };
    double busy = 0;
    for (std::uint64_t id : ids) {
      if (stopping_.load(std::memory_order_relaxed)) break;  // ids taken but not started stay undone
      TaskRecord record;
      record.id = id;
      record.rank = rank_;
      record.thread = thread;
      record.attempt = 1;
      record.session = session_;
      // The row stays whatever run() filled in, even when it throws: a
      // failed task keeps its partial results (a command's exit code, say).
      std::size_t offset = local.rows.size();
      local.rows.resize(offset + row_size, std::byte{0});
      TaskContext task(id, rank_, thread, sweep_);
      try {
        Row row(layout_, std::span(local.rows).subspan(offset, row_size));
        job_.run(task, row);
      } catch (const TaskTimedOut& e) {
        local.errors.push_back({id, 1, rank_, e.what()});
        record.status = TaskStatus::TimedOut;
      } catch (const std::exception& e) {
        local.errors.push_back({id, 1, rank_, e.what()});
        record.status = TaskStatus::Failed;
      } catch (...) {
        local.errors.push_back({id, 1, rank_, "unknown exception"});
        record.status = TaskStatus::Failed;
      }
      double after = steady_seconds();
      record.t_start = clock_.at(before);
      record.t_end = clock_.at(after);
      busy += after - before;
      if (const auto& cpu = task.reported_cpu()) {
        // The work ran in child processes: the tasks before it share the
        // thread's reading, this one records its children's CPU alone.
        if (local.records.size() > span_first) close_span();
        record.cpu_user = cpu->first;
        record.cpu_sys = cpu->second;
        local.records.push_back(record);
        span_cpu = thread_cpu_times();
        span_start = after;
        span_first = local.records.size();
        before = after;
        continue;
      }
      local.records.push_back(record);
      before = after;
      if (after - span_start >= CPU_SPAN) close_span();
    }
    if (local.records.size() > span_first) close_span();
    return busy;
  }

  // A batch job's tasks (Job::run_batch): their wall times, CPU and failures
  // as the job reports them. Adds their wall time to `busy`.
  void run_batch(const std::vector<std::uint64_t>& ids, std::int32_t thread, Batch& local, double& busy) {
    const std::size_t row_size = layout_.size();
    if (stopping_.load(std::memory_order_relaxed)) return;  // ids taken but not started stay undone
    std::vector<TaskContext> tasks;
    tasks.reserve(ids.size());
    for (std::uint64_t id : ids) tasks.emplace_back(id, rank_, thread, sweep_);
    const std::size_t first_row = local.rows.size();
    local.rows.resize(first_row + ids.size() * row_size, std::byte{0});
    std::vector<Row> rows;
    rows.reserve(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i)
      rows.emplace_back(layout_, std::span(local.rows).subspan(first_row + i * row_size, row_size));
    const double start = steady_seconds();
    const CpuTimes cpu_start = thread_cpu_times();
    std::string batch_failure;
    try {
      job_.run_batch(tasks, rows);
    } catch (const std::exception& e) {
      batch_failure = e.what();
    } catch (...) {
      batch_failure = "unknown exception";
    }
    const double end = steady_seconds();
    const CpuTimes cpu_end = thread_cpu_times();
    const std::size_t first_record = local.records.size();
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      const TaskContext& task = tasks[i];
      TaskRecord record;
      record.id = task.id();
      record.rank = rank_;
      record.thread = thread;
      record.attempt = 1;
      record.session = session_;
      // Without the job's own times, the tasks share the batch's wall time evenly.
      const double step = (end - start) / static_cast<double>(tasks.size());
      auto [t0, t1] = task.reported_wall().value_or(
          std::pair{start + step * static_cast<double>(i), start + step * static_cast<double>(i + 1)});
      record.t_start = clock_.at(t0);
      record.t_end = clock_.at(t1);
      busy += t1 - t0;
      if (const auto& cpu = task.reported_cpu()) {
        record.cpu_user = cpu->first;
        record.cpu_sys = cpu->second;
      }
      std::string failure = batch_failure.empty() ? task.failure() : batch_failure;
      if (!batch_failure.empty() || task.outcome() != TaskContext::Outcome::Ok) {
        record.status = task.outcome() == TaskContext::Outcome::TimedOut && batch_failure.empty() ? TaskStatus::TimedOut
                                                                                                   : TaskStatus::Failed;
        local.errors.push_back({record.id, 1, rank_, failure});
      }
      local.records.push_back(record);
    }
    // Tasks whose CPU the job did not report share this thread's reading.
    bool any_reported = false;
    for (const auto& task : tasks) any_reported = any_reported || task.reported_cpu().has_value();
    if (!any_reported)
      share_cpu(std::span(local.records).subspan(first_record), cpu_end.user - cpu_start.user,
                cpu_end.sys - cpu_start.sys);
  }

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
  std::deque<TaskRange> queue_;
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

// Wall time spent in MPI calls by the coordinating thread.
class CommTimer {
 public:
  template <class F>
  auto operator()(F&& f) {
    double t0 = steady_seconds();
    struct Add {
      double t0;
      double& total;
      ~Add() { total += steady_seconds() - t0; }
    } add{t0, total_};
    return f();
  }
  double total() const { return total_; }

 private:
  double total_ = 0;
};

// How long the coordinating thread sleeps next (s): MIN_WAIT after MPI
// traffic, then twice as long each quiet round, up to `cap`, and never past
// `until` (a steady_seconds() time something is due: a progress line, say).
class Backoff {
 public:
  std::chrono::microseconds next(bool traffic, double cap, double until) {
    wait_ = traffic ? MIN_WAIT : std::min(cap, wait_ * 2);
    double wait = std::clamp(std::min(wait_, until - steady_seconds()), 0.0, cap);
    return std::chrono::microseconds(static_cast<std::int64_t>(wait * 1e6) + 1);
  }

 private:
  double wait_ = MIN_WAIT;
};

// Rank 0's answer to "what next?": the scheduler's, plus failed tasks coming
// back for another attempt, and nothing at all once the run is stopping.
class Dispatcher {
 public:
  Dispatcher(sched::Scheduler& scheduler, int ranks, unsigned retries)
      : scheduler_(scheduler), ranks_(ranks), retries_(retries) {}

  sched::Work next(int rank, bool ahead) {
    if (stopping_) return {};
    for (auto it = retry_.begin(); it != retry_.end(); ++it) {
      if (it->failed_on == rank && ranks_ > 1) continue;  // another rank, when there is one
      sched::Work work{{{it->id, it->id + 1, 1}}};
      retry_.erase(it);
      ++in_flight_;
      return work;
    }
    sched::Work work = scheduler_.next(rank, ahead);
    for (const auto& r : work.ranges) in_flight_ += r.count();
    // Tasks still out may fail and come back: keep the ranks until they are in.
    if (work.done() && retries_ > 0 && (in_flight_ > 0 || !retry_.empty())) work.later = true;
    return work;
  }
  // A task came back (finished, failed, or failed and to be retried).
  void returned() { --in_flight_; }
  void retry(std::uint64_t id, int failed_on) { retry_.push_back({id, failed_on}); }
  void stop() {
    stopping_ = true;
    retry_.clear();
  }
  bool stopping() const { return stopping_; }

 private:
  struct Retry {
    std::uint64_t id;
    int failed_on;
  };
  sched::Scheduler& scheduler_;
  int ranks_;
  unsigned retries_;
  bool stopping_ = false;
  std::uint64_t in_flight_ = 0;
  std::deque<Retry> retry_;
};

// Rank 0's bookkeeping of everything that came back; the tasks go to the sink.
class Collector {
 public:
  Collector(RunOutcome& outcome, TaskSink& sink, sched::Scheduler& scheduler, Dispatcher& dispatcher,
            const RunSettings& settings, std::uint64_t task_count)
      : outcome_(outcome),
        sink_(sink),
        scheduler_(scheduler),
        dispatcher_(dispatcher),
        retries_(settings.retries),
        seen_(task_count, false) {}
  void store(Batch&& batch) {
    if (batch.empty()) return;
    // Errors first: a failed attempt that will be retried is only an error row.
    for (auto& e : batch.errors) {
      auto it = attempts_.find(e.id);
      e.attempt = it == attempts_.end() ? 1 : it->second + 1;
    }
    double seconds = 0;
    std::size_t kept = 0;

    const std::size_t row_size = batch.records.empty() ? 0 : batch.rows.size() / batch.records.size();
    for (std::size_t i = 0; i < batch.records.size(); ++i) {
      TaskRecord r = batch.records[i];
      dispatcher_.returned();
      seconds += r.t_end - r.t_start;
      longest_ = std::max(longest_, r.t_end - r.t_start);
      recent_.add(r.t_end - r.t_start);
      task_cpu_ += r.cpu_user + r.cpu_sys;
      if (r.rank >= 0) {
        if (outcome_.task_cpu.size() <= static_cast<std::size_t>(r.rank)) outcome_.task_cpu.resize(r.rank + 1, 0.0);
        outcome_.task_cpu[r.rank] += r.cpu_user + r.cpu_sys;
        // What rank 0 knows of the ranks before they report (a file published at a stop).
        if (outcome_.ranks.size() <= static_cast<std::size_t>(r.rank)) outcome_.ranks.resize(r.rank + 1);
        outcome_.ranks[r.rank].rank = r.rank;
        outcome_.ranks[r.rank].tasks += 1;
        outcome_.ranks[r.rank].busy += r.t_end - r.t_start;
      }
      if (r.id >= seen_.size()) throw std::logic_error("a rank returned an unknown task id");
      if (seen_[r.id]) throw std::logic_error("task " + std::to_string(r.id) + " ran twice");
      auto it = attempts_.find(r.id);
      r.attempt = it == attempts_.end() ? 1 : it->second + 1;
      if (r.status != TaskStatus::Ok && r.attempt <= retries_ && !dispatcher_.stopping()) {
        attempts_[r.id] = r.attempt;
        dispatcher_.retry(r.id, r.rank);
        ++outcome_.retried;
        continue;
      }
      attempts_.erase(r.id);
      seen_[r.id] = true;
      if (outcome_.completed == 0) {
        outcome_.first_start = r.t_start;
        outcome_.last_end = r.t_end;
      }
      outcome_.first_start = std::min(outcome_.first_start, r.t_start);
      outcome_.last_end = std::max(outcome_.last_end, r.t_end);
      ++outcome_.completed;
      if (r.status != TaskStatus::Ok) ++outcome_.failed;
      // Compact the batch: kept records and rows move to the front.
      if (kept != i) std::memcpy(batch.rows.data() + kept * row_size, batch.rows.data() + i * row_size, row_size);
      batch.records[kept++] = r;
    }
    batch.records.resize(kept);
    batch.rows.resize(kept * row_size);
    scheduler_.observe(seconds, batch.records.size());

    for (const auto& e : batch.errors) outcome_.errors.push_back(e);
    sink_.store(std::move(batch));
  }
  std::uint64_t completed() const { return outcome_.completed; }
  std::uint64_t failed() const { return outcome_.failed; }
  double task_cpu() const { return task_cpu_; }
  double longest() const { return longest_; }
  // Recent wall time per task returned (attempts included; 0 before any).
  double recent_task() const { return recent_.value(); }

 private:
  RunOutcome& outcome_;
  TaskSink& sink_;
  sched::Scheduler& scheduler_;
  Dispatcher& dispatcher_;
  unsigned retries_;
  double task_cpu_ = 0;
  double longest_ = 0;
  RecentMean recent_;
  std::vector<bool> seen_;  // one bit per task: memory stays small for many tasks
  std::unordered_map<std::uint64_t, std::uint32_t> attempts_;  // failed tasks waiting for a retry
};

std::vector<char> receive_bytes(const boost::mpi::communicator& comm, const boost::mpi::status& status) {
  auto count = status.count<char>();
  std::vector<char> message(count ? static_cast<std::size_t>(*count) : 0);
  comm.recv(status.source(), status.tag(), message.data(), static_cast<int>(message.size()));
  return message;
}

// A rank's messages to rank 0 go out with MPI_Isend: a blocking send of a
// large message waits, polling at full speed, until rank 0 takes it, and on
// a machine with as many busy threads as cores that polling is CPU the
// workers and rank 0 lack. Messages from one rank arrive in the order sent.
class Sender {
 public:
  explicit Sender(const boost::mpi::communicator& comm) : comm_(comm) {}
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;
  ~Sender() { wait_all(); }
  void send(int dest, int tag, std::vector<char>&& message) {
    out_.push_back({MPI_REQUEST_NULL, std::move(message)});
    auto& m = out_.back();
    MPI_Isend(m.data.data(), static_cast<int>(m.data.size()), MPI_CHAR, dest, tag, comm_, &m.request);
  }
  // Messages not yet taken by their receiver (frees those that were).
  std::size_t in_flight() {
    while (!out_.empty()) {
      int done = 0;
      MPI_Test(&out_.front().request, &done, MPI_STATUS_IGNORE);
      if (!done) break;
      out_.pop_front();
    }
    return out_.size();
  }
  void wait_all() {
    wait_quietly([this] { return in_flight() == 0; });
  }

 private:
  struct Message {
    MPI_Request request;
    std::vector<char> data;
  };
  const boost::mpi::communicator& comm_;
  std::deque<Message> out_;  // a deque: the buffers never move while in flight
};

// When a rank asks for more: before its queue runs dry (ahead of need), so
// the next chunk arrives while its workers are busy; after the scheduler said
// "later" (few tasks left), only once a worker is idle.
class Fetcher {
 public:
  // Should the rank ask now? Sets `ahead` to whether no worker is idle.
  bool should_ask(const WorkerPool& pool, bool& ahead) const {
    if (pool.queued() >= pool.refill_below()) return false;
    if (not_before_ > 0 && steady_seconds() < not_before_) return false;
    ahead = pool.idle_workers() == 0;
    return !(ahead && deferred_);
  }
  void answered(const sched::Work& work) {
    deferred_ = work.later;
    // "Later" and nothing to do: pause before asking again.
    not_before_ = work.later && work.ranges.empty() ? steady_seconds() + LATER_PAUSE : 0;
  }
  // When a pause after "later" ends (steady_seconds(); infinity: no pause,
  // or it is over). A pause that is over must not stay a deadline: a rank
  // that holds a "later" and whose workers are all busy asks no more, and
  // its coordinator then woke every microsecond (15,000 times a second,
  // 10-14% of the core its worker computes on) for a deadline long past.
  double pause_end() const {
    return not_before_ > steady_seconds() ? not_before_ : std::numeric_limits<double>::infinity();
  }

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
  bool raise(int level, WorkerPool& pool, std::optional<double> grace = std::nullopt) {
    if (level <= level_) return false;
    if (level_ == 0) deadline_ = steady_seconds() + grace.value_or(grace_);
    level_ = level;
    pool.stop();
    return true;
  }
  int level() const { return level_; }
  // Are the running tasks given up on? When the time has come, the job is
  // first asked to cancel them (Job::cancel); tasks still running a second
  // later are left to their threads.
  bool give_up(WorkerPool& pool) {
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
  bool abandoned() const { return abandoned_; }

 private:
  double grace_;
  int level_ = 0;
  double deadline_ = 0;
  double cancelled_at_ = -1;
  bool abandoned_ = false;
};

// The level a count of signals asks for: 1 graceful, 2 at once.
int level_for(int signals) { return std::min(signals, 2); }

std::string signal_name(int signo) {
  switch (signo) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGUSR1: return "SIGUSR1";
    default: return "signal " + std::to_string(signo);
  }
}

// Rank 0: serve requests, run local tasks, collect everything.
void coordinate_root(const boost::mpi::communicator& comm, WorkerPool& pool, Dispatcher& dispatcher,
                     Collector& collector, TaskSink& sink, const RunSettings& settings, std::size_t row_size,
                     CommTimer& timer, RunOutcome& outcome) {
  int active = comm.size() - 1;
  std::vector<bool> rank_done(comm.size(), false);
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
    for (int r = 1; r < comm.size(); ++r)
      if (!rank_done[r]) timer([&] { comm.send(r, TAG_STOP, level); });
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
      auto work = dispatcher.next(0, ahead);
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
      auto status = timer([&] { return comm.iprobe(boost::mpi::any_source, boost::mpi::any_tag); });
      if (!status) break;
      if (status->tag() == TAG_STOP) {
        int received[2] = {0, 0};  // signals, the last one's number
        timer([&] { comm.recv(status->source(), TAG_STOP, received, 2); });
        request_stop(level_for(received[0]), StopCause::Signal,
                     fmt::format("{} on rank {}", signal_name(received[1]), status->source()));
        continue;
      }
      auto message = timer([&] { return receive_bytes(comm, *status); });
      std::uint64_t flags = 0;
      collector.store(decode(message, row_size, flags));
      if (status->tag() == TAG_REQUEST) {
        auto reply = encode_work(dispatcher.next(status->source(), (flags & FLAG_AHEAD) != 0));
        timer([&] { comm.send(status->source(), TAG_WORK, reply.data(), static_cast<int>(reply.size())); });
      } else if (status->tag() == TAG_DONE) {
        --active;
        rank_done[status->source()] = true;
      }
    }
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
                 : active > 0 ? poll_cap(std::max(collector.recent_task(), pool.busy_without_finishing()))
                                      : IDLE_WAIT;
    double until = fetcher.pause_end();
    if (settings.progress_interval > 0 && settings.progress) until = std::min(until, next_progress);
    if (settings.stop_check) until = std::min(until, next_check);
    pool.wait(backoff.next(false, cap, until));
  }
}

// Ranks > 0: ask rank 0 for work before the local queue runs dry, stream results back.
void coordinate_worker(const boost::mpi::communicator& comm, WorkerPool& pool, const RunSettings& settings,
                       CommTimer& timer, RunOutcome& outcome) {
  Sender sender(comm);
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
      int sent[2] = {signals, last_stop_signal()};
      timer([&] { comm.send(0, TAG_STOP, sent, 2); });
    }
    if (auto status = timer([&] { return comm.iprobe(0, TAG_STOP); })) {
      int level = 0;
      timer([&] { comm.recv(0, TAG_STOP, level); });
      if (stopper.raise(level, pool)) more = false;
    }
    if (more && !requested && fetcher.should_ask(pool, ahead)) {
      timer([&] { sender.send(0, TAG_REQUEST, encode(pool.take_results(), ahead ? FLAG_AHEAD : 0)); });
      last_flush = steady_seconds();
      requested = true;
      ahead_request = ahead;
      traffic = !ahead;  // a worker waits for the answer

    }
    if (requested) {
      auto status = timer([&] { return comm.iprobe(0, TAG_WORK); });
      if (status) {
        auto count = status->count<std::uint64_t>();
        std::vector<std::uint64_t> reply(count ? static_cast<std::size_t>(*count) : 0);
        timer([&] { comm.recv(0, TAG_WORK, reply.data(), static_cast<int>(reply.size())); });
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
        sender.send(0, TAG_DONE, encode(pool.take_results()));
        sender.wait_all();
      });
      outcome.abandoned = stopper.abandoned();
      return;
    }
    // Results wait in the pool (whose workers pause when it is full) while
    // MAX_IN_FLIGHT messages are still on their way: memory stays bounded.
    std::size_t pending = pool.pending();
    std::size_t in_flight = timer([&] { return sender.in_flight(); });
    if (in_flight < MAX_IN_FLIGHT &&
        (pending >= SEND_RECORDS || pool.pending_bytes() >= SEND_BYTES ||
         (pending > 0 && steady_seconds() - last_flush > SEND_SECONDS))) {
      timer([&] { sender.send(0, TAG_RESULTS, encode(pool.take_results())); });
      last_flush = steady_seconds();
      ++in_flight;
    }
    // An answer to a request made ahead of need is polled for as often as
    // rank 0 polls for requests.
    double cap = stopper.level() > 0 || in_flight > 0 ? MIN_POLL
                 : requested
                     // Urgent only while a worker is idle for want of the answer.
                     ? (ahead_request || pool.all_busy()
                            ? poll_cap(std::max(pool.recent_task(), pool.busy_without_finishing()))
                            : MIN_POLL)
                                     : IDLE_WAIT;
    double until = fetcher.pause_end();
    if (pending > 0) until = std::min(until, last_flush + SEND_SECONDS);
    if (!again) pool.wait(backoff.next(traffic, cap, until));
  }
}

RankRecord describe_rank(int rank, unsigned threads, double compute_wall, const WorkerPool& pool,
                         const CommTimer& timer, const ProcessUsage& at_start) {
  RankRecord r;
  r.rank = rank;
  r.threads = static_cast<std::int32_t>(threads);
  gethostname(r.host, sizeof r.host - 1);
  r.pid = getpid();
  r.busy = pool.busy();
  r.idle = std::max(0.0, threads * compute_wall - r.busy);
  r.comm = timer.total();
  ProcessUsage usage = process_usage();
  r.cpu_user = usage.user - at_start.user;
  r.cpu_sys = usage.sys - at_start.sys;
  r.max_rss = usage.max_rss_bytes;
  r.tasks = pool.tasks_done();
  return r;
}

}  // namespace

RunOutcome execute(const boost::mpi::communicator& comm, const Job& job, const RowLayout& layout,
                   const RunSettings& settings, const RunClock& clock, TaskSink* sink) {
  if (comm.rank() == 0 && !sink) throw std::invalid_argument("execute: rank 0 needs a sink for the results");
  RunOutcome outcome;
  const unsigned threads = settings.threads_per_rank;
  const std::uint64_t task_count = job.task_count();
  const std::uint64_t to_run = task_count - settings.already_done;
  if (settings.already_done > 0 && comm.rank() == 0 && settings.order.size() != to_run)
    throw std::invalid_argument("execute: a resumed run must list the tasks left to run");
  double compute_start = steady_seconds();
  CommTimer timer;
  RankRecord mine;
  {
    // The runner's own traffic goes on a duplicate, so that probing for any
    // tag can never take a message of the caller's (a collective's, say).
    boost::mpi::communicator traffic(comm, boost::mpi::comm_duplicate);
    // Abandoned worker threads still use the pool: it then lives until _exit.
    auto pool = std::make_unique<WorkerPool>(job, layout, threads, comm.rank(), settings.session, clock,
                                             settings.sweep);
    if (comm.rank() == 0) {
      auto scheduler = sched::make_scheduler(
          {settings.policy, to_run, comm.size(), threads, settings.chunk, settings.order});
      outcome.chunk = scheduler->chunk_description();
      Dispatcher dispatcher(*scheduler, comm.size(), settings.retries);
      Collector collector(outcome, *sink, *scheduler, dispatcher, settings, task_count);
      coordinate_root(traffic, *pool, dispatcher, collector, *sink, settings, layout.size(), timer, outcome);
    } else {
      coordinate_worker(traffic, *pool, settings, timer, outcome);
    }
    if (!outcome.abandoned) pool->close();
    // Idle time runs until every rank is done, so wait for them first.
    quiet_barrier(comm);
    job.release();  // the job's helper processes end here, so their CPU counts in this rank's
    mine = describe_rank(comm.rank(), threads, steady_seconds() - compute_start, *pool, timer, settings.usage_at_start);
    if (outcome.abandoned) (void)pool.release();
  }
  int abandoned = outcome.abandoned ? 1 : 0;
  int any_abandoned = 0;
  boost::mpi::all_reduce(comm, abandoned, any_abandoned, std::logical_or<int>());
  if (comm.rank() == 0) {
    boost::mpi::gather(comm, mine, outcome.ranks, 0);
    if (outcome.stop == StopCause::None && outcome.completed != to_run)
      throw std::logic_error("the run ended with " + std::to_string(to_run - outcome.completed) + " tasks not run");
    std::sort(outcome.errors.begin(), outcome.errors.end(),
              [](auto& a, auto& b) { return a.id != b.id ? a.id < b.id : a.attempt < b.attempt; });
  } else {
    boost::mpi::gather(comm, mine, 0);
    outcome.ranks.push_back(mine);
  }
  outcome.abandoned = any_abandoned != 0;
  return outcome;
}

}  // namespace fanout
