#include "core/background_sink.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>

namespace fanout {
namespace {
// How much the bookkeeping thread yields to the workers (see setpriority(2):
// on Linux a thread's nice value is its own).
constexpr int BACKGROUND_NICE = 10;
// The inner sink's poll() (time-based journal writes and checkpoints) runs
// at least this often.
constexpr auto POLL_EVERY = std::chrono::milliseconds(100);
// ...and at once when this much waits.
constexpr std::size_t WAKE_BYTES = 1 << 20;
}  // namespace

BackgroundSink::BackgroundSink(TaskSink& inner, std::size_t max_bytes)
    : inner_(inner), max_bytes_(max_bytes), thread_([this] { run(); }) {}

BackgroundSink::~BackgroundSink() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

std::size_t BackgroundSink::bytes_of(const Batch& b) {
  return b.records.size() * sizeof(TaskRecord) + b.rows.size() + b.errors.size() * sizeof(TaskError);
}

void BackgroundSink::store(std::span<const TaskRecord> records, std::span<const std::byte> rows) {
  Batch b;
  b.records.assign(records.begin(), records.end());
  b.rows.assign(rows.begin(), rows.end());
  store(std::move(b));
}

void BackgroundSink::store_errors(std::span<const TaskError> errors) {
  Batch b;
  b.errors.assign(errors.begin(), errors.end());
  store(std::move(b));
}

void BackgroundSink::store(Batch&& batch) {
  if (batch.empty()) return;
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return queued_bytes_ < max_bytes_ || error_; });
  if (error_) std::rethrow_exception(error_);
  queued_bytes_ += bytes_of(batch);
  queue_.push_back(std::move(batch));
  // The thread looks every POLL_EVERY anyway: wake it early only for a
  // sizeable amount (each wake-up takes a core from a worker for a moment).
  if (queued_bytes_ >= WAKE_BYTES) changed_.notify_all();
}

void BackgroundSink::poll() {
  std::lock_guard lock(mutex_);
  if (error_) std::rethrow_exception(error_);
}

void BackgroundSink::drain() {
  std::unique_lock lock(mutex_);
  drain_ = true;
  changed_.notify_all();
  changed_.wait(lock, [this] { return (queue_.empty() && !busy_) || error_; });
  drain_ = false;
  if (error_) std::rethrow_exception(error_);
}

void BackgroundSink::exclusive(const std::function<void()>& f) {
  drain();
  std::unique_lock lock(mutex_);
  paused_ = true;
  changed_.wait(lock, [this] { return !busy_; });  // a poll started after drain() returned
  lock.unlock();
  struct Resume {
    BackgroundSink& sink;
    ~Resume() {
      std::lock_guard lock(sink.mutex_);
      sink.paused_ = false;
    }
  } resume{*this};
  f();
}

void BackgroundSink::run() {
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), BACKGROUND_NICE);
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait_for(lock, POLL_EVERY, [this] {
      return queued_bytes_ >= WAKE_BYTES || ((drain_ || closing_) && !queue_.empty()) || closing_;
    });
    if (queue_.empty() && closing_) return;
    // Everything queued, then the inner sink's poll (journal writes and
    // checkpoints on time), also when nothing came.
    do {
      Batch batch;
      bool have = !queue_.empty();
      if (have) {
        batch = std::move(queue_.front());
        queue_.pop_front();
      }
      if (!have && paused_) break;
      busy_ = true;
      lock.unlock();
      std::exception_ptr error;
      try {
        if (!error_) {
          if (!batch.records.empty()) inner_.store(batch.records, batch.rows);
          if (!batch.errors.empty()) inner_.store_errors(batch.errors);
          if (!have) inner_.poll();
        }
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      if (have) queued_bytes_ -= bytes_of(batch);
      busy_ = false;
      if (error && !error_) error_ = error;
      changed_.notify_all();
      if (!have) break;
    } while (true);
  }
}

}  // namespace fanout
