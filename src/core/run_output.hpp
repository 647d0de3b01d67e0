#pragma once
// What a job's finish step (Job::finish) sees of the run file before it is
// committed: its result columns, read back range by range, the root
// attributes and the /output group. src/io/run_file.cpp implements it.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/job.hpp"

namespace fanout {

// A root attribute or a dataset attribute written by Job::finish.
using AttributeValue = std::variant<std::string, double, std::int64_t, std::uint64_t>;

// A 2-D dataset /output/<name> that Job::finish creates and fills row by row.
class OutputDataset {
 public:
  virtual ~OutputDataset() = default;
  // Writes rows [first, first + count): count x columns values, row after row.
  template <class T>
  void write_rows(std::uint64_t first, std::uint64_t count, const T* values) {
    write(column_type_of<T>(), first, count, values);
  }
  virtual void set_attribute(const std::string& name, const AttributeValue& value) = 0;

 protected:
  virtual void write(ColumnType type, std::uint64_t first, std::uint64_t count, const void* values) = 0;
};

// What Job::finish sees of the run file before it is committed: the result
// columns (read from the file, range by range, so any number of tasks fits in
// memory), the root attributes and the /output group.
class RunOutput {
 public:
  virtual ~RunOutput() = default;
  virtual std::uint64_t task_count() const = 0;
  // Values per task of result column `column` (1, or an array column's length).
  virtual std::uint64_t column_length(const std::string& column) const = 0;
  // Reads tasks [first, first + count) of `column` into values (count x length).
  template <class T>
  void read(const std::string& column, std::uint64_t first, std::uint64_t count, T* values) {
    read_column(column, column_type_of<T>(), first, count, values);
  }
  // Calls visit(first_task, std::span<const T> values) for consecutive ranges
  // of tasks, in order, about a million values at a time.
  template <class T, class Visit>
  void for_each_range(const std::string& column, Visit&& visit) {
    const std::uint64_t length = column_length(column);
    const std::uint64_t step = std::max<std::uint64_t>(1, RANGE_VALUES / length);
    std::vector<T> values;
    for (std::uint64_t first = 0; first < task_count(); first += step) {
      std::uint64_t count = std::min(step, task_count() - first);
      values.resize(count * length);
      read(column, first, count, values.data());
      visit(first, std::span<const T>(values));
    }
  }
  // The sum of a column's values over all tasks (T: the column's type).
  template <class T>
  T sum(const std::string& column) {
    T total = 0;
    for_each_range<T>(column, [&](std::uint64_t, std::span<const T> values) {
      for (T v : values) total += v;
    });
    return total;
  }
  // Sets (or replaces) a root attribute: a string or a number, with what it
  // means (the file's attribute_descriptions lists it, since format 1.5).
  virtual void set_attribute(const std::string& name, const AttributeValue& value, const std::string& description) = 0;
  // The same without a description (jobs written for format 1.4 and
  // earlier): the file's attribute_descriptions says the job gave none.
  void set_attribute(const std::string& name, const AttributeValue& value) {
    set_attribute(name, value, "set by the job (it gave no description)");
  }
  // Creates /output/<name>, rows x columns of `type`, chunked and compressed.
  virtual std::unique_ptr<OutputDataset> create_dataset(const std::string& name, ColumnType type, std::uint64_t rows,
                                                        std::uint64_t columns) = 0;
  static constexpr std::uint64_t RANGE_VALUES = 1 << 20;

 protected:
  virtual void read_column(const std::string& column, ColumnType type, std::uint64_t first, std::uint64_t count,
                           void* values) = 0;
};

}  // namespace fanout
