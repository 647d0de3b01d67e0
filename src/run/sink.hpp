#pragma once
// Rank 0's sink during a run: every finished task goes to the run file and
// to the checkpoint journal beside it. A failed write (a full disk) stops
// the storing, not the program: the run is told to stop, and says why.
#include <atomic>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "core/error.hpp"
#include "core/sink.hpp"

namespace fanout::io {
class JournalWriter;
class RunWriter;
}  // namespace fanout::io

namespace fanout::run {

// What went wrong writing `file`, for messages: "no space left on device
// while writing FILE" (the system's error), else "cannot write FILE: ...".
std::string write_failure(const IoError& e, const std::string& file);

// When to try again after a write failed: "once there is space" or "once that is fixed".
std::string retry_when(const IoError& e);

// Rank 0's sink: the run file, and the checkpoint journal beside it. A
// failed write (a full disk) is kept, not thrown: from then on nothing more
// is stored, and failure() tells the runner to stop (RunSettings::fail_check).
class CheckpointingSink : public TaskSink {
 public:
  CheckpointingSink(io::RunWriter& writer, io::JournalWriter& journal, std::string output)
      : writer_(writer), journal_(journal), output_(std::move(output)) {}
  void store(std::span<const TaskRecord> records, std::span<const std::byte> rows) override;
  void store_errors(std::span<const TaskError> errors) override;
  void poll() override;
  bool failed() const { return failed_.load(); }
  // "no space left on device while writing FILE", or "" (any thread).
  std::string failure() const;
  // After the run (the writing thread has stopped): the first error.
  const IoError& error() const { return *error_; }

 private:
  template <class Write>
  void guarded(const std::string& file, Write&& write) {
    if (failed_.load()) return;
    try {
      write();
    } catch (const IoError& e) {
      std::lock_guard lock(mutex_);
      error_ = e;
      file_ = file;
      failed_.store(true);
    }
  }

  io::RunWriter& writer_;
  io::JournalWriter& journal_;
  std::string output_;
  std::atomic<bool> failed_{false};
  mutable std::mutex mutex_;
  std::optional<IoError> error_;
  std::string file_;
};

}  // namespace fanout::run
