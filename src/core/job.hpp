#pragma once
// The Job interface and the registry that jobs in jobs/ add themselves to.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/sweep.hpp"

namespace fanout {
namespace config {
class Section;
}
class RunOutput;  // core/run_output.hpp: what Job::finish sees of the run file

// Text: a fixed-size byte string (Column::length bytes), null-padded.
// Bool: one byte, 0 or 1, stored as HDF5's enum {FALSE, TRUE} (numpy's bool in h5py).
enum class ColumnType : std::uint8_t { U8, U32, I32, I64, U64, F64, Text, Bool };

std::size_t column_size(ColumnType type);  // numeric types; Text has no fixed size
const char* column_type_name(ColumnType type);

// One result column, stored as /results/<name>: one value per task, or, for
// an array column (length > 1), `length` values per task in a 2-D dataset
// (tasks x length).
struct Column {
  std::string name;
  ColumnType type;
  std::string units;  // "" when dimensionless
  std::string description;
  // Numeric types: values per task (an array column when > 1). Text: the
  // bytes of its one value per task. 0 in a registration: set by the job
  // from its parameters (Job::columns); every column of a built job has
  // length >= 1.
  std::uint64_t length = 1;
};

// The bytes the column takes in a row: its size x length, or a text's bytes.
std::size_t column_bytes(const Column& column);
// "uint32", "uint32[640]" for an array column ("uint32[]": length set by the
// job), "text[4096]".
std::string column_type_text(const Column& column);

// Thrown by a job's run() when the task ran out of time: the runner records
// the task as timed_out (not failed), with the message in /errors.
class TaskTimedOut : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Byte layout of a packed row: the columns one after another, unaligned.
class RowLayout {
 public:
  explicit RowLayout(const std::vector<Column>& columns);
  std::size_t size() const { return size_; }
  std::size_t offset(std::size_t column) const { return offsets_[column]; }
  std::size_t bytes(std::size_t column) const { return bytes_[column]; }
  ColumnType type(std::size_t column) const { return types_[column]; }
  std::uint64_t length(std::size_t column) const { return lengths_[column]; }
  std::size_t count() const { return types_.size(); }

 private:
  std::vector<std::size_t> offsets_;
  std::vector<std::size_t> bytes_;
  std::vector<ColumnType> types_;
  std::vector<std::uint64_t> lengths_;
  std::size_t size_ = 0;
};

template <class T>
constexpr ColumnType column_type_of();
template <>
constexpr ColumnType column_type_of<std::uint8_t>() {
  return ColumnType::U8;
}
template <>
constexpr ColumnType column_type_of<std::uint32_t>() {
  return ColumnType::U32;
}
template <>
constexpr ColumnType column_type_of<std::int32_t>() {
  return ColumnType::I32;
}
template <>
constexpr ColumnType column_type_of<std::int64_t>() {
  return ColumnType::I64;
}
template <>
constexpr ColumnType column_type_of<std::uint64_t>() {
  return ColumnType::U64;
}
template <>
constexpr ColumnType column_type_of<double>() {
  return ColumnType::F64;
}
template <>
constexpr ColumnType column_type_of<bool>() {
  return ColumnType::Bool;
}

// A task's result row: a view of row-layout bytes that a job fills in.
class Row {
 public:
  Row(const RowLayout& layout, std::span<std::byte> bytes) : layout_(&layout), bytes_(bytes) {}
  // Throws std::logic_error if T is not the column's declared type.
  template <class T>
  void set(std::size_t column, T value) {
    check(column, column_type_of<T>(), 1);
    std::memcpy(bytes_.data() + layout_->offset(column), &value, sizeof(T));
  }
  // An array column: exactly its length of values.
  template <class T>
  void set(std::size_t column, std::span<const T> values) {
    check(column, column_type_of<T>(), values.size());
    std::memcpy(bytes_.data() + layout_->offset(column), values.data(), values.size_bytes());
  }
  template <class T>
  T get(std::size_t column) const {
    check(column, column_type_of<T>(), 1);
    T value;
    std::memcpy(&value, bytes_.data() + layout_->offset(column), sizeof(T));
    return value;
  }
  // A Text column: the first Column::length bytes of `text`, null-padded.
  void set_text(std::size_t column, std::string_view text);
  // A Text column's value without its padding.
  std::string_view text(std::size_t column) const;

 private:
  void check(std::size_t column, ColumnType type, std::uint64_t length) const;
  const RowLayout* layout_;
  std::span<std::byte> bytes_;
};

// What run() is given about its task besides the row to fill in: the task's
// id, the rank and thread running it, its parameters when the run has a
// sweep ([params], core/sweep.hpp), and a way to say that the task's work ran
// in child processes, whose CPU time /tasks then records.
class TaskContext {
 public:
  TaskContext(std::uint64_t id, int rank, int thread, const Sweep* sweep)
      : id_(id), rank_(rank), thread_(thread), sweep_(sweep) {}
  std::uint64_t id() const { return id_; }
  int rank() const { return rank_; }
  int thread() const { return thread_; }
  // Null when the run has no sweep.
  const Sweep* sweep() const { return sweep_; }
  bool has_param(std::string_view name) const { return sweep_ && sweep_->find(name).has_value(); }
  // The task's value of parameter `name`. Throws std::logic_error when the
  // sweep has no such parameter (or, for the typed getters, when the
  // parameter is of another type; number() takes whole numbers too).
  ParamValue param(std::string_view name) const;
  double number(std::string_view name) const;
  std::int64_t whole(std::string_view name) const;
  bool flag(std::string_view name) const;
  std::string text(std::string_view name) const;
  // The task ran its work in child processes: their user and system CPU
  // seconds, recorded in /tasks instead of this thread's (which only waited).
  void report_cpu(double user, double sys) { reported_cpu_ = {user, sys}; }
  const std::optional<std::pair<double, double>>& reported_cpu() const { return reported_cpu_; }
  // For Job::run_batch: when the task started and ended (steady_seconds(),
  // CLOCK_MONOTONIC, as a child process reads it too), and how it failed.
  void report_wall(double start, double end) { reported_wall_ = {start, end}; }
  const std::optional<std::pair<double, double>>& reported_wall() const { return reported_wall_; }
  enum class Outcome : std::uint8_t { Ok, Failed, TimedOut };
  void fail(std::string message, Outcome outcome = Outcome::Failed) {
    failure_ = std::move(message);
    outcome_ = outcome;
  }
  Outcome outcome() const { return outcome_; }
  const std::string& failure() const { return failure_; }

 private:
  std::uint64_t id_;
  int rank_;
  int thread_;
  const Sweep* sweep_;
  std::optional<std::pair<double, double>> reported_cpu_;
  std::optional<std::pair<double, double>> reported_wall_;
  Outcome outcome_ = Outcome::Ok;
  std::string failure_;
};

// A job: a fixed set of tasks, numbered 0..task_count()-1, each producing one
// row. run() is called from many threads at once and must give the same row
// for the same task whatever rank or thread runs it.
class Job {
 public:
  virtual ~Job() = default;
  virtual std::uint64_t task_count() const = 0;
  // Runs one task: fills in its row, or throws to fail it (TaskTimedOut for
  // timed_out). A job overrides this one...
  virtual void run(TaskContext& task, Row& row) const { run(task.id(), row); }
  // ...or, as jobs written before task contexts do, this one.
  virtual void run(std::uint64_t /*task*/, Row& /*row*/) const {
    throw std::logic_error("the job overrides neither run(TaskContext&, Row&) nor run(std::uint64_t, Row&)");
  }
  // A job whose tasks run elsewhere in batches (the python job sends several
  // to its worker process at once) says so, and the runner then calls
  // run_batch with the tasks a worker thread took at once (one, or a few
  // hundred short ones). run_batch fills rows[i] for tasks[i] and reports
  // each task's wall time (TaskContext::report_wall), its CPU and, for a
  // failed task, TaskContext::fail; it throws only when the whole batch
  // failed (every task then fails with its message).
  virtual bool runs_batches() const { return false; }
  // Called on every rank before its first task, in the run's setup phase,
  // with the rank's worker thread count: a job that starts helpers (the
  // python job's interpreters) starts them here. Must not throw.
  virtual void prepare(unsigned /*threads*/) const {}
  // Called on every rank after its last task, before its CPU time is read
  // for /ranks: a job that started helpers stops and reaps them here, so
  // that their CPU time counts (RUSAGE_CHILDREN). Must not throw.
  virtual void release() const {}
  virtual void run_batch(std::span<TaskContext> tasks, std::span<Row> rows) const {
    for (std::size_t i = 0; i < tasks.size(); ++i) run(tasks[i], rows[i]);
  }
  // A job that can estimate its tasks' relative costs says so; schedule.order
  // = "longest-first" then hands out the costliest tasks first.
  virtual bool has_costs() const { return false; }
  virtual double cost(std::uint64_t /*task*/) const { return 0; }
  // Called from a rank's coordinating thread when the run gives up on the
  // tasks still running (run.grace after a stop signal has passed, or a
  // second signal came). A job whose tasks run outside fanout's threads, such
  // as child processes, stops them here so that run() returns soon. Must be
  // thread-safe; the default does nothing (fanout then leaves the threads).
  virtual void cancel() const {}
  // The result columns of the job as built: the registered ones, with the
  // length of each array column registered with length 0 filled in from
  // the parameters.
  virtual std::vector<Column> columns(std::vector<Column> registered) const { return registered; }
  // Called once on rank 0 after the last task, before the file is committed,
  // and only when every task succeeded: reads the result columns, writes
  // root attributes and /output datasets (include core/run_output.hpp).
  // Throwing stops the run (no file).
  virtual void finish(RunOutput& /*output*/) const {}
};

// What a job file registers: its name, its columns, and a factory that reads
// (and declares) its parameters from the [job] section.
struct JobInfo {
  std::string kind;
  std::string summary;
  std::vector<Column> columns;
  std::function<std::unique_ptr<Job>(config::Section& params)> make;
};

class JobRegistry {
 public:
  static JobRegistry& instance();
  void add(JobInfo info);  // throws std::logic_error on a duplicate kind
  const JobInfo* find(const std::string& kind) const;
  std::vector<const JobInfo*> all() const;  // sorted by kind
  std::vector<std::string> kinds() const;

 private:
  std::vector<std::unique_ptr<JobInfo>> jobs_;
};

// Put `static const fanout::RegisterJob registered{{...}};` in a job's file.
struct RegisterJob {
  explicit RegisterJob(JobInfo info) { JobRegistry::instance().add(std::move(info)); }
};

}  // namespace fanout
