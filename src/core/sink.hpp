#pragma once
// Where rank 0 puts finished tasks as they arrive, in any order: the run
// file's writer streams them to disk; MemorySink keeps them (tests, small runs).
#include <cstddef>
#include <cstring>
#include <span>
#include <vector>

#include "core/batch.hpp"
#include "core/records.hpp"

namespace fanout {

class TaskSink {
 public:
  virtual ~TaskSink() = default;
  // records[i] comes with its packed row, rows[i * row size ...].
  virtual void store(std::span<const TaskRecord> records, std::span<const std::byte> rows) = 0;
  // Failed attempts, as they arrive (also those of tasks retried later).
  virtual void store_errors(std::span<const TaskError> /*errors*/) {}
  // A whole batch, handed over: what arrives in one message.
  virtual void store(Batch&& batch) {
    if (!batch.records.empty()) store(batch.records, batch.rows);
    if (!batch.errors.empty()) store_errors(batch.errors);
  }
  // Called often from rank 0's coordinating thread: time to checkpoint?
  virtual void poll() {}
};

// Keeps every record and row in memory, indexed by task id.
class MemorySink : public TaskSink {
 public:
  MemorySink(std::uint64_t task_count, std::size_t row_size)
      : tasks(task_count), rows(task_count * row_size), row_size_(row_size) {}
  void store(std::span<const TaskRecord> records, std::span<const std::byte> packed) override {
    for (std::size_t i = 0; i < records.size(); ++i) {
      tasks.at(records[i].id) = records[i];
      std::memcpy(rows.data() + records[i].id * row_size_, packed.data() + i * row_size_, row_size_);
    }
  }
  std::vector<TaskRecord> tasks;  // by task id; attempt 0: never stored
  std::vector<std::byte> rows;    // by task id

 private:
  std::size_t row_size_;
};

}  // namespace fanout
