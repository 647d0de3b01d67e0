#include "core/runner.hpp"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <boost/mpi/collectives/gather.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/mpi/status.hpp>
#include <boost/serialization/array.hpp>

#include "sched/scheduler.hpp"

namespace fanout {

void quiet_barrier(const boost::mpi::communicator& comm) {
  MPI_Request request;
  MPI_Ibarrier(comm, &request);
  int done = 0;
  auto wait = std::chrono::microseconds(20);
  for (;;) {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return;
    std::this_thread::sleep_for(wait);
    wait = std::min<std::chrono::microseconds>(wait * 2, std::chrono::milliseconds(2));
  }
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
};

constexpr std::size_t SEND_RECORDS = 32768;       // send finished tasks at least this often...
constexpr std::size_t SEND_BYTES = 1 << 26;       // ...or when their rows (array columns) reach 64 MiB...
constexpr double SEND_SECONDS = 0.5;               // ...or this often
// Workers pause when this many finished tasks wait for the coordinating
// thread, so a rank that computes faster than it can ship or write results
// keeps bounded memory.
constexpr std::size_t MAX_FINISHED = 1 << 18;
constexpr std::size_t MAX_FINISHED_BYTES = 1 << 28;  // of rows, for large array columns
constexpr auto MIN_WAIT = std::chrono::microseconds(10);
constexpr auto MAX_WAIT = std::chrono::microseconds(1000);

// Finished tasks on their way to rank 0.
struct Batch {
  std::vector<TaskRecord> records;
  std::vector<std::byte> rows;  // records.size() x row size
  std::vector<TaskError> errors;
  bool empty() const { return records.empty(); }
};

// Wire format: u64 flags (1: a request made ahead of need), u64 n_records,
// u64 n_errors, records, rows, then per error u64 id, u64 length, bytes.
// Sender and receiver are the same binary.
template <class T>
void put(std::vector<char>& out, const T& value) {
  const auto* p = reinterpret_cast<const char*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

template <class T>
T take(const char*& p, const char* end) {
  if (static_cast<std::size_t>(end - p) < sizeof(T)) throw std::runtime_error("truncated result message");
  T value;
  std::memcpy(&value, p, sizeof(T));
  p += sizeof(T);
  return value;
}

constexpr std::uint64_t FLAG_AHEAD = 1;

std::vector<char> encode(const Batch& batch, std::uint64_t flags = 0) {
  std::vector<char> out;
  put<std::uint64_t>(out, flags);
  put<std::uint64_t>(out, batch.records.size());
  put<std::uint64_t>(out, batch.errors.size());
  const auto* r = reinterpret_cast<const char*>(batch.records.data());
  out.insert(out.end(), r, r + batch.records.size() * sizeof(TaskRecord));
  const auto* b = reinterpret_cast<const char*>(batch.rows.data());
  out.insert(out.end(), b, b + batch.rows.size());
  for (const auto& e : batch.errors) {
    put<std::uint64_t>(out, e.id);
    put<std::uint64_t>(out, e.message.size());
    out.insert(out.end(), e.message.begin(), e.message.end());
  }
  return out;
}

Batch decode(const std::vector<char>& message, std::size_t row_size, std::uint64_t& flags) {
  Batch batch;
  const char* p = message.data();
  const char* end = p + message.size();
  flags = take<std::uint64_t>(p, end);
  auto n_records = take<std::uint64_t>(p, end);
  auto n_errors = take<std::uint64_t>(p, end);
  if (static_cast<std::size_t>(end - p) < n_records * (sizeof(TaskRecord) + row_size))
    throw std::runtime_error("truncated result message");
  batch.records.resize(n_records);
  std::memcpy(batch.records.data(), p, n_records * sizeof(TaskRecord));
  p += n_records * sizeof(TaskRecord);
  batch.rows.resize(n_records * row_size);
  std::memcpy(batch.rows.data(), p, batch.rows.size());
  p += batch.rows.size();
  for (std::uint64_t i = 0; i < n_errors; ++i) {
    TaskError e;
    e.id = take<std::uint64_t>(p, end);
    auto length = take<std::uint64_t>(p, end);
    if (static_cast<std::uint64_t>(end - p) < length) throw std::runtime_error("truncated result message");
    e.message.assign(p, length);
    p += length;
    batch.errors.push_back(std::move(e));
  }
  return batch;
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
  WorkerPool(const Job& job, const RowLayout& layout, unsigned threads, int rank, const RunClock& clock)
      : job_(job), layout_(layout), rank_(rank), clock_(clock), thread_count_(threads) {
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
  std::uint64_t queued() const {
    std::lock_guard lock(mutex_);
    return queued_;
  }
  // Workers with nothing to do right now.
  unsigned idle_workers() const {
    std::lock_guard lock(mutex_);
    return queued_ == 0 ? thread_count_ - running_ : 0;
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
    return finished_.records.size();
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
    const std::size_t row_size = layout_.size();
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
      if (queued_ < threads) {  // the coordinator fetches more before we run dry
        ++events_;
        event_.notify_one();
      }
      lock.unlock();

      // One clock reading per task boundary: the end of a task is the start of the next.
      CpuTimes cpu_before = thread_cpu_times();
      double before = steady_seconds();
      double busy = 0;
      for (std::uint64_t id : ids) {
        TaskRecord record;
        record.id = id;
        record.rank = rank_;
        record.thread = thread;
        record.attempt = 1;
        std::size_t offset = local.rows.size();
        local.rows.resize(offset + row_size, std::byte{0});
        try {
          Row row(layout_, std::span(local.rows).subspan(offset, row_size));
          job_.run(id, row);
        } catch (const std::exception& e) {
          local.errors.push_back({id, e.what()});
          record.status = TaskStatus::Failed;
        } catch (...) {
          local.errors.push_back({id, "unknown exception"});
          record.status = TaskStatus::Failed;
        }
        CpuTimes cpu_after = thread_cpu_times();
        double after = steady_seconds();
        record.t_start = clock_.at(before);
        record.t_end = clock_.at(after);
        record.cpu_user = cpu_after.user - cpu_before.user;
        record.cpu_sys = cpu_after.sys - cpu_before.sys;
        busy += after - before;
        local.records.push_back(record);
        cpu_before = cpu_after;
        before = after;
      }

      lock.lock();
      finished_.records.insert(finished_.records.end(), local.records.begin(), local.records.end());
      finished_.rows.insert(finished_.rows.end(), local.rows.begin(), local.rows.end());
      for (auto& e : local.errors) finished_.errors.push_back(std::move(e));
      local.records.clear();
      local.rows.clear();
      local.errors.clear();
      busy_ += busy;
      done_ += ids.size();
      --running_;
      ++events_;
      event_.notify_one();
    }
  }

  const Job& job_;
  const RowLayout& layout_;
  int rank_;
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
  Batch finished_;
  double busy_ = 0;
  std::uint64_t done_ = 0;
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

class Backoff {
 public:
  std::chrono::microseconds next(bool activity) {
    wait_ = activity ? MIN_WAIT : std::min(MAX_WAIT, wait_ * 2);
    return wait_;
  }

 private:
  std::chrono::microseconds wait_ = MIN_WAIT;
};

// Rank 0's bookkeeping of everything that came back; the tasks go to the sink.
class Collector {
 public:
  Collector(RunOutcome& outcome, TaskSink& sink, sched::Scheduler& scheduler, std::uint64_t task_count)
      : outcome_(outcome), sink_(sink), scheduler_(scheduler), seen_(task_count, false) {}
  void store(Batch&& batch) {
    if (batch.records.empty()) return;
    double seconds = 0;
    for (const TaskRecord& r : batch.records) {
      seconds += r.t_end - r.t_start;
      task_cpu_ += r.cpu_user + r.cpu_sys;
      if (r.id >= seen_.size()) throw std::logic_error("a rank returned an unknown task id");
      if (seen_[r.id]) throw std::logic_error("task " + std::to_string(r.id) + " ran twice");
      seen_[r.id] = true;
      if (outcome_.completed == 0) {
        outcome_.first_start = r.t_start;
        outcome_.last_end = r.t_end;
      }
      outcome_.first_start = std::min(outcome_.first_start, r.t_start);
      outcome_.last_end = std::max(outcome_.last_end, r.t_end);
      ++outcome_.completed;
      if (r.status != TaskStatus::Ok) ++outcome_.failed;
    }
    scheduler_.observe(seconds, batch.records.size());

    sink_.store(batch.records, batch.rows);
    for (auto& e : batch.errors) outcome_.errors.push_back(std::move(e));
  }
  std::uint64_t completed() const { return outcome_.completed; }
  std::uint64_t failed() const { return outcome_.failed; }
  double task_cpu() const { return task_cpu_; }

 private:
  RunOutcome& outcome_;
  TaskSink& sink_;
  sched::Scheduler& scheduler_;
  double task_cpu_ = 0;
  std::vector<bool> seen_;  // one bit per task: memory stays small for many tasks
};

std::vector<char> receive_bytes(const boost::mpi::communicator& comm, const boost::mpi::status& status) {
  auto count = status.count<char>();
  std::vector<char> message(count ? static_cast<std::size_t>(*count) : 0);
  comm.recv(status.source(), status.tag(), message.data(), static_cast<int>(message.size()));
  return message;
}

void send_bytes(const boost::mpi::communicator& comm, int dest, int tag, const std::vector<char>& message) {
  comm.send(dest, tag, message.data(), static_cast<int>(message.size()));
}

// When a rank asks for more: before its queue runs dry (ahead of need), so
// the next chunk arrives while its workers are busy; after the scheduler said
// "later" (few tasks left), only once a worker is idle.
class Fetcher {
 public:
  // Should the rank ask now? Sets `ahead` to whether no worker is idle.
  bool should_ask(const WorkerPool& pool, unsigned threads, bool& ahead) const {
    if (pool.queued() >= threads) return false;
    ahead = pool.idle_workers() == 0;
    return !(ahead && deferred_);
  }
  void answered(const sched::Work& work) { deferred_ = work.later; }

 private:
  bool deferred_ = false;
};

// Rank 0: serve requests, run local tasks, collect everything.
void coordinate_root(const boost::mpi::communicator& comm, WorkerPool& pool, sched::Scheduler& scheduler,
                     Collector& collector, const RunSettings& settings, std::size_t row_size, CommTimer& timer) {
  const unsigned threads = settings.threads_per_rank;
  int active = comm.size() - 1;
  bool local_more = true;
  Fetcher fetcher;
  Backoff backoff;
  double next_progress = steady_seconds() + settings.progress_interval;
  for (;;) {
    bool activity = false;
    if (settings.progress_interval > 0 && settings.progress && steady_seconds() >= next_progress) {
      settings.progress(collector.completed(), collector.failed(), collector.task_cpu());
      next_progress += settings.progress_interval;
    }
    bool ahead = false;
    if (local_more && fetcher.should_ask(pool, threads, ahead)) {
      auto work = scheduler.next(0, ahead);
      fetcher.answered(work);
      if (work.done()) {
        local_more = false;
        pool.close();
      } else {
        pool.add(work.ranges);
      }
      activity = true;
    }
    if (pool.pending() > 0) collector.store(pool.take_results());
    while (active > 0) {
      auto status = timer([&] { return comm.iprobe(boost::mpi::any_source, boost::mpi::any_tag); });
      if (!status) break;
      activity = true;
      auto message = timer([&] { return receive_bytes(comm, *status); });
      std::uint64_t flags = 0;
      collector.store(decode(message, row_size, flags));
      if (status->tag() == TAG_REQUEST) {
        auto reply = encode_work(scheduler.next(status->source(), (flags & FLAG_AHEAD) != 0));
        timer([&] { comm.send(status->source(), TAG_WORK, reply.data(), static_cast<int>(reply.size())); });
      } else if (status->tag() == TAG_DONE) {
        --active;
      }
    }
    if (!local_more && active == 0 && pool.all_done()) {
      collector.store(pool.take_results());
      return;
    }
    pool.wait(backoff.next(activity));
  }
}

// Ranks > 0: ask rank 0 for work before the local queue runs dry, stream results back.
void coordinate_worker(const boost::mpi::communicator& comm, WorkerPool& pool, unsigned threads, CommTimer& timer) {
  bool requested = false;
  bool more = true;
  double last_flush = steady_seconds();
  Fetcher fetcher;
  Backoff backoff;
  for (;;) {
    bool activity = false;
    bool ahead = false;
    if (more && !requested && fetcher.should_ask(pool, threads, ahead)) {
      auto message = encode(pool.take_results(), ahead ? FLAG_AHEAD : 0);
      timer([&] { send_bytes(comm, 0, TAG_REQUEST, message); });
      last_flush = steady_seconds();
      requested = true;
      activity = true;
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
        } else {
          pool.add(work.ranges);
        }
        requested = false;
        activity = true;
      }
    }
    if (!more && pool.all_done()) {
      auto message = encode(pool.take_results());
      timer([&] { send_bytes(comm, 0, TAG_DONE, message); });
      return;
    }
    std::size_t pending = pool.pending();
    if (pending >= SEND_RECORDS || pool.pending_bytes() >= SEND_BYTES ||
        (pending > 0 && steady_seconds() - last_flush > SEND_SECONDS)) {
      auto message = encode(pool.take_results());
      timer([&] { send_bytes(comm, 0, TAG_RESULTS, message); });
      last_flush = steady_seconds();
      activity = true;
    }
    pool.wait(backoff.next(activity));
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
  double compute_start = steady_seconds();
  CommTimer timer;
  RankRecord mine;
  {
    // The runner's own traffic goes on a duplicate, so that probing for any
    // tag can never take a message of the caller's (a collective's, say).
    boost::mpi::communicator traffic(comm, boost::mpi::comm_duplicate);
    WorkerPool pool(job, layout, threads, comm.rank(), clock);
    if (comm.rank() == 0) {
      auto scheduler = sched::make_scheduler(
          {settings.policy, task_count, comm.size(), threads, settings.chunk, settings.order});
      outcome.chunk = scheduler->chunk_description();
      Collector collector(outcome, *sink, *scheduler, task_count);
      coordinate_root(traffic, pool, *scheduler, collector, settings, layout.size(), timer);
    } else {
      coordinate_worker(traffic, pool, threads, timer);
    }
    pool.close();
    // Idle time runs until every rank is done, so wait for them first.
    quiet_barrier(comm);
    mine = describe_rank(comm.rank(), threads, steady_seconds() - compute_start, pool, timer, settings.usage_at_start);
  }
  if (comm.rank() == 0) {
    boost::mpi::gather(comm, mine, outcome.ranks, 0);
    if (outcome.completed != task_count)
      throw std::logic_error("the run ended with " + std::to_string(task_count - outcome.completed) + " tasks not run");
    std::sort(outcome.errors.begin(), outcome.errors.end(), [](auto& a, auto& b) { return a.id < b.id; });
  } else {
    boost::mpi::gather(comm, mine, 0);
    outcome.ranks.push_back(mine);
  }
  return outcome;
}

}  // namespace fanout
