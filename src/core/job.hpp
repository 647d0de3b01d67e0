#pragma once
// The Job interface and the registry that jobs in jobs/ add themselves to.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fanout {
namespace config {
class Section;
}

// Text: a fixed-size byte string (Column::bytes), null-padded.
enum class ColumnType : std::uint8_t { U8, I32, I64, U64, F64, Text };

std::size_t column_size(ColumnType type);  // numeric types; Text has no fixed size
const char* column_type_name(ColumnType type);

// One result column: one value per task, stored as /results/<name>.
struct Column {
  std::string name;
  ColumnType type;
  std::string units;  // "" when dimensionless
  std::string description;
  std::size_t bytes = 0;  // Text: the size of each value; numeric types: unused
};

// The bytes one value of the column takes in a row.
std::size_t column_bytes(const Column& column);
// "uint64", ..., "text[4096]".
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
  std::size_t count() const { return types_.size(); }

 private:
  std::vector<std::size_t> offsets_;
  std::vector<std::size_t> bytes_;
  std::vector<ColumnType> types_;
  std::size_t size_ = 0;
};

template <class T>
constexpr ColumnType column_type_of();
template <> constexpr ColumnType column_type_of<std::uint8_t>() { return ColumnType::U8; }
template <> constexpr ColumnType column_type_of<std::int32_t>() { return ColumnType::I32; }
template <> constexpr ColumnType column_type_of<std::int64_t>() { return ColumnType::I64; }
template <> constexpr ColumnType column_type_of<std::uint64_t>() { return ColumnType::U64; }
template <> constexpr ColumnType column_type_of<double>() { return ColumnType::F64; }

// A task's result row: a view of row-layout bytes that a job fills in.
class Row {
 public:
  Row(const RowLayout& layout, std::span<std::byte> bytes) : layout_(&layout), bytes_(bytes) {}
  // Throws std::logic_error if T is not the column's declared type.
  template <class T>
  void set(std::size_t column, T value) {
    check(column, column_type_of<T>());
    std::memcpy(bytes_.data() + layout_->offset(column), &value, sizeof(T));
  }
  template <class T>
  T get(std::size_t column) const {
    check(column, column_type_of<T>());
    T value;
    std::memcpy(&value, bytes_.data() + layout_->offset(column), sizeof(T));
    return value;
  }
  // A Text column: the first Column::bytes bytes of `text`, null-padded.
  void set_text(std::size_t column, std::string_view text);
  // A Text column's value without its padding.
  std::string_view text(std::size_t column) const;

 private:
  void check(std::size_t column, ColumnType type) const;
  const RowLayout* layout_;
  std::span<std::byte> bytes_;
};

// A job: a fixed set of tasks, numbered 0..task_count()-1, each producing one
// row. run() is called from many threads at once and must give the same row
// for the same task whatever rank or thread runs it.
class Job {
 public:
  virtual ~Job() = default;
  virtual std::uint64_t task_count() const = 0;
  virtual void run(std::uint64_t task, Row& row) const = 0;
  // A job that can estimate its tasks' relative costs says so; schedule.order
  // = "longest-first" then hands out the costliest tasks first.
  virtual bool has_costs() const { return false; }
  virtual double cost(std::uint64_t /*task*/) const { return 0; }
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
