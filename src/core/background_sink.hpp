#pragma once
// A TaskSink that hands finished tasks to another thread, which passes them
// on to the real sink (the run file and the journal): rank 0's coordinating
// thread goes back to answering requests at once, and the bookkeeping yields
// the CPU to the tasks (its thread runs at a lower priority, nice +BACKGROUND_NICE).
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "core/batch.hpp"
#include "core/sink.hpp"

namespace fanout {

class BackgroundSink : public TaskSink {
 public:
  // Batches waiting for the thread take at most max_bytes (then store()
  // waits), so memory stays bounded when the sink is slower than the tasks.
  BackgroundSink(TaskSink& inner, std::size_t max_bytes);
  BackgroundSink(const BackgroundSink&) = delete;
  BackgroundSink& operator=(const BackgroundSink&) = delete;
  // Stops the thread after the batches queued so far (without rethrowing).
  ~BackgroundSink() override;

  void store(std::span<const TaskRecord> records, std::span<const std::byte> rows) override;
  void store_errors(std::span<const TaskError> errors) override;
  void store(Batch&& batch) override;
  // Rethrows, on the caller's thread, an error of the inner sink.
  void poll() override;
  // Waits until the inner sink has every batch; rethrows its error.
  void drain();
  // Drains, then runs `f` on the caller's thread while the writing thread
  // leaves the inner sink alone (no poll): `f` may use the inner sink.
  void exclusive(const std::function<void()>& f);

 private:
  void run();
  static std::size_t bytes_of(const Batch& b);

  TaskSink& inner_;
  std::size_t max_bytes_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> queue_;
  std::size_t queued_bytes_ = 0;
  bool busy_ = false;
  bool closing_ = false;
  bool drain_ = false;   // drain() waits: take every batch at once
  bool paused_ = false;  // exclusive() runs: no poll of the inner sink
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace fanout
