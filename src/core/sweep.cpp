#include "core/sweep.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace fanout {

const char* param_type_name(ParamType type) {
  switch (type) {
    case ParamType::Bool:
      return "bool";
    case ParamType::Int:
      return "int64";
    case ParamType::Float:
      return "float64";
    case ParamType::Text:
      return "text";
  }
  return "?";
}

const char* param_source_name(ParamSource source) {
  switch (source) {
    case ParamSource::List:
      return "list";
    case ParamSource::Range:
      return "range";
    case ParamSource::Linear:
      return "linear";
    case ParamSource::Log:
      return "log";
    case ParamSource::File:
      return "file";
    case ParamSource::Repeat:
      return "repeat";
  }
  return "?";
}

std::string param_text(const ParamValue& value) {
  struct Text {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const { return fmt::format("{}", d); }  // shortest round-trip form
    std::string operator()(const std::string& s) const { return s; }
  };
  return std::visit(Text{}, value);
}

ParamValue SweepParam::value_at(std::uint64_t index) const {
  switch (source) {
    case ParamSource::List:
    case ParamSource::File:
      return values.at(index);
    case ParamSource::Range:
      // In unsigned arithmetic, which wraps: the value itself always fits in int64.
      return static_cast<std::int64_t>(static_cast<std::uint64_t>(start) +
                                       static_cast<std::uint64_t>(index) * static_cast<std::uint64_t>(step));
    case ParamSource::Repeat:
      return static_cast<std::int64_t>(index);
    case ParamSource::Linear:
    case ParamSource::Log:
      break;
  }
  if (size <= 1 || index == 0) return from;
  if (index + 1 == size) return to;  // exactly the end written, whatever the rounding
  double f = static_cast<double>(index) / static_cast<double>(size - 1);
  // Log: powers of ten, so that decades come out exact (1e-3 .. 1e3 gives 0.01, not 0.009999999999999995).
  if (source == ParamSource::Log) return std::pow(10.0, std::log10(from) * (1 - f) + std::log10(to) * f);
  return from * (1 - f) + to * f;  // never to - from, which overflows for -1e308 .. 1e308
}

std::size_t Sweep::add_axis(std::uint64_t size) {
  axis_sizes_.push_back(size);
  return axis_sizes_.size() - 1;
}

void Sweep::add_param(SweepParam param) {
  if (param.axis >= axis_sizes_.size()) throw std::logic_error("Sweep::add_param: no such axis");
  param.size = axis_sizes_[param.axis];
  params_.push_back(std::move(param));
}

std::optional<std::uint64_t> Sweep::seal(SweepMode mode, std::uint64_t repeat) {
  mode_ = mode;
  repeat_ = repeat;
  if (repeat > 1) {
    SweepParam copy;
    copy.name = "repeat";
    copy.type = ParamType::Int;
    copy.source = ParamSource::Repeat;
    copy.axis = add_axis(repeat);
    copy.definition = std::to_string(repeat);
    add_param(std::move(copy));
  }
  // Strides of the product over the axes other than repeat's (last fastest).
  const std::size_t combined = repeat > 1 ? axis_sizes_.size() - 1 : axis_sizes_.size();
  strides_.assign(axis_sizes_.size(), 1);
  std::uint64_t combinations = 1;
  if (mode == SweepMode::Zip) {
    combinations = combined ? axis_sizes_[0] : 1;
  } else {
    for (std::size_t a = combined; a-- > 0;) {
      strides_[a] = combinations;
      if (axis_sizes_[a] != 0 && combinations > MAX_TASKS / axis_sizes_[a]) return std::nullopt;
      combinations *= axis_sizes_[a];
    }
  }
  if (combinations != 0 && repeat > MAX_TASKS / combinations) return std::nullopt;
  size_ = combinations * repeat;
  if (size_ > MAX_TASKS) return std::nullopt;
  return size_;
}

std::optional<std::size_t> Sweep::find(std::string_view name) const {
  for (std::size_t p = 0; p < params_.size(); ++p)
    if (params_[p].name == name) return p;
  return std::nullopt;
}

std::uint64_t Sweep::axis_index(std::uint64_t task, std::size_t axis) const {
  if (repeat_ > 1 && axis + 1 == axis_sizes_.size()) return task % repeat_;
  std::uint64_t combination = task / repeat_;
  if (mode_ == SweepMode::Zip) return combination;
  return (combination / strides_[axis]) % axis_sizes_[axis];
}

ParamValue Sweep::value(std::uint64_t task, std::size_t param) const {
  const SweepParam& p = params_.at(param);
  return p.value_at(axis_index(task, p.axis));
}

std::string Sweep::describe() const {
  std::string out;
  const char* joint = mode_ == SweepMode::Zip ? " zip " : " x ";
  for (std::size_t a = 0; a < axis_sizes_.size(); ++a) {
    std::string names;
    for (const auto& p : params_)
      if (p.axis == a) names += (names.empty() ? "" : ", ") + p.name;
    bool table = names.find(',') != std::string::npos;
    const char* before = a == 0 ? "" : (repeat_ > 1 && a + 1 == axis_sizes_.size() ? " x " : joint);
    out += fmt::format("{}{}{}{} ({})", before, table ? "(" : "", names, table ? ")" : "", axis_sizes_[a]);
  }
  return fmt::format("{} = {} task{}", out, size_, size_ == 1 ? "" : "s");
}

}  // namespace fanout
