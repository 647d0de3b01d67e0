#include "core/worker_pool.hpp"

#include <algorithm>
#include <span>

namespace fanout {

using namespace pacing;
using sched::TaskRange;

std::uint64_t WorkerPool::take_size(unsigned threads) const {
  std::uint64_t share = queued_ / (2 * threads) + 1;
  double mean = done_ ? busy_ / static_cast<double>(done_) : 1.0;
  auto for_time = static_cast<std::uint64_t>(std::clamp(200e-6 / std::max(mean, 1e-9), 1.0, 256.0));
  return std::min(share, for_time);
}

void WorkerPool::work(std::int32_t thread) {
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

double WorkerPool::run_one_by_one(const std::vector<std::uint64_t>& ids, std::int32_t thread, Batch& local) {
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

void WorkerPool::run_batch(const std::vector<std::uint64_t>& ids, std::int32_t thread, Batch& local, double& busy) {
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

}  // namespace fanout
