#pragma once
// A parameter sweep ([params] and [sweep] in a config): named parameters on
// axes, one task per combination. Any rank computes a task's parameters from
// its id in O(axes); no per-task table is held anywhere.
//
// Task order (docs/jobs.md, "Sweeps"): the table of [sweep] file first (its
// rows), then the [params] axes in the order written, the last varying
// fastest, as nested loops; with repeat > 1 the copies of one combination are
// adjacent (`repeat` varies fastest of all). In zip mode every axis has the
// same length and task i takes value i / repeat of each.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/limits.hpp"

namespace fanout {

enum class ParamType : std::uint8_t { Bool, Int, Float, Text };
const char* param_type_name(ParamType type);  // "bool", "int64", "float64", "text"

// One value: bool, int64, float64 or text (the order of ParamType).
using ParamValue = std::variant<bool, std::int64_t, double, std::string>;

// A value as a person writes it and as a shell command receives it: 0.1, 20,
// true, or the text itself. Floats in their shortest exact form.
std::string param_text(const ParamValue& value);

// Where a parameter's values come from.
enum class ParamSource : std::uint8_t {
  List,    // x = [0.1, 0.2]
  Range,   // n = { start, stop, step }: whole numbers, stop excluded
  Linear,  // t = { from, to, num }: evenly spaced, both ends included
  Log,     // ... scale = "log"
  File,    // a column of [sweep] file
  Repeat,  // the copy number 0..repeat-1
};
const char* param_source_name(ParamSource source);  // "list", "range", "linear", "log", "file", "repeat"

struct SweepParam {
  std::string name;
  ParamType type = ParamType::Int;
  ParamSource source = ParamSource::List;
  std::size_t axis = 0;                        // index into Sweep::axes()
  std::uint64_t size = 0;                      // values along its axis
  std::vector<ParamValue> values;              // List, File
  std::int64_t start = 0, step = 1, stop = 0;  // Range
  double from = 0, to = 0;                     // Linear, Log
  std::string definition;                      // as written: "[0.1, 0.2]", "{ start = 10, stop = 100, step = 10 }"
  // The longest text value in bytes (Text only): the width of /params/<name>.
  std::size_t text_bytes = 0;

  ParamValue value_at(std::uint64_t index) const;
};

enum class SweepMode : std::uint8_t { Product, Zip };

class Sweep {
 public:
  // The largest number of tasks a sweep may have.
  static constexpr std::uint64_t MAX_TASKS = fanout::MAX_TASKS;

  // Adds a parameter on an axis of its own (for the table of a file, call
  // add_axis once and add_param for each column with that axis).
  std::size_t add_axis(std::uint64_t size);
  void add_param(SweepParam param);  // param.axis must exist; param.size is set from it
  // Finishes the sweep: mode, repeat (>= 1; > 1 adds the parameter `repeat`
  // on an innermost axis). Returns the task count, or nullopt when it would
  // exceed MAX_TASKS. In Zip mode all axes must be of one length (checked by
  // the caller, which names the keys).
  std::optional<std::uint64_t> seal(SweepMode mode, std::uint64_t repeat);

  std::uint64_t size() const { return size_; }
  SweepMode mode() const { return mode_; }
  std::uint64_t repeat() const { return repeat_; }
  const std::vector<std::uint64_t>& axes() const { return axis_sizes_; }
  const std::vector<SweepParam>& params() const { return params_; }
  // The index of parameter `name`, or nullopt.
  std::optional<std::size_t> find(std::string_view name) const;
  // Task `task`'s value of parameter `param` (an index into params()).
  ParamValue value(std::uint64_t task, std::size_t param) const;
  // Its position along the parameter's axis.
  std::uint64_t axis_index(std::uint64_t task, std::size_t axis) const;
  // "x (3) x n (9) = 27 tasks": the axes and their sizes, for reports and messages.
  std::string describe() const;
  std::string file;  // the [sweep] file, "" when none (for the file's attributes)

 private:
  std::vector<std::uint64_t> axis_sizes_;
  std::vector<std::uint64_t> strides_;
  std::vector<SweepParam> params_;
  SweepMode mode_ = SweepMode::Product;
  std::uint64_t repeat_ = 1;
  std::uint64_t size_ = 0;
};

}  // namespace fanout
