#include "core/job.hpp"

#include <algorithm>
#include <stdexcept>

namespace fanout {

std::size_t column_size(ColumnType type) {
  switch (type) {
    case ColumnType::U8:
    case ColumnType::Bool:
      return 1;
    case ColumnType::U32:
    case ColumnType::I32:
      return 4;
    case ColumnType::I64:
    case ColumnType::U64:
    case ColumnType::F64:
      return 8;
    case ColumnType::Text:
      break;
  }
  throw std::logic_error("column_size: a text column's size is its Column::length");
}

std::size_t column_bytes(const Column& column) {
  if (column.type != ColumnType::Text) return column_size(column.type) * column.length;
  if (column.length == 0) throw std::logic_error("text column " + column.name + " has no size (Column::length)");
  return column.length;
}

const char* column_type_name(ColumnType type) {
  switch (type) {
    case ColumnType::U8:
      return "uint8";
    case ColumnType::U32:
      return "uint32";
    case ColumnType::I32:
      return "int32";
    case ColumnType::I64:
      return "int64";
    case ColumnType::U64:
      return "uint64";
    case ColumnType::F64:
      return "float64";
    case ColumnType::Text:
      return "text";
    case ColumnType::Bool:
      return "bool";
  }
  return "?";
}

std::string column_type_text(const Column& column) {
  std::string name = column_type_name(column.type);
  if (column.type == ColumnType::Text) return name + "[" + std::to_string(column.length) + "]";
  if (column.length == 1) return name;
  return name + "[" + (column.length ? std::to_string(column.length) : "") + "]";
}

RowLayout::RowLayout(const std::vector<Column>& columns) {
  for (const auto& c : columns) {
    if (c.length == 0) throw std::logic_error("column " + c.name + " has length 0 (Job::columns must set it)");
    offsets_.push_back(size_);
    bytes_.push_back(column_bytes(c));
    types_.push_back(c.type);
    lengths_.push_back(c.type == ColumnType::Text ? 1 : c.length);
    size_ += bytes_.back();
  }
}

void Row::check(std::size_t column, ColumnType type, std::uint64_t length) const {
  if (column >= layout_->count() || layout_->type(column) != type)
    throw std::logic_error("Row::set/get: column index or type does not match the job's columns");
  if (layout_->length(column) != length)
    throw std::logic_error("Row::set/get: column " + std::to_string(column) + " holds " +
                           std::to_string(layout_->length(column)) + " values per task, not " + std::to_string(length));
}

void Row::set_text(std::size_t column, std::string_view text) {
  check(column, ColumnType::Text, 1);
  std::size_t size = layout_->bytes(column);
  std::size_t n = std::min(size, text.size());
  std::byte* out = bytes_.data() + layout_->offset(column);
  std::memcpy(out, text.data(), n);
  std::memset(out + n, 0, size - n);
}

std::string_view Row::text(std::size_t column) const {
  check(column, ColumnType::Text, 1);
  const auto* p = reinterpret_cast<const char*>(bytes_.data() + layout_->offset(column));
  std::size_t n = layout_->bytes(column);
  while (n > 0 && p[n - 1] == '\0') --n;
  return {p, n};
}

namespace {

// The sweep's parameter `name` of `task`, or std::logic_error naming it.
ParamValue lookup_param(const Sweep* sweep, std::uint64_t task, std::string_view name) {
  if (!sweep) throw std::logic_error("task parameter \"" + std::string(name) + "\": the run has no [params]");
  auto index = sweep->find(name);
  if (!index) throw std::logic_error("task parameter \"" + std::string(name) + "\": the sweep has no such parameter");
  return sweep->value(task, *index);
}

template <class T>
T typed_param(const Sweep* sweep, std::uint64_t task, std::string_view name, const char* expected) {
  ParamValue value = lookup_param(sweep, task, name);
  if (const T* v = std::get_if<T>(&value)) return *v;
  throw std::logic_error("task parameter \"" + std::string(name) + "\" is of type " +
                         param_type_name(static_cast<ParamType>(value.index())) + ", not " + expected);
}

}  // namespace

ParamValue TaskContext::param(std::string_view name) const { return lookup_param(sweep_, id_, name); }

double TaskContext::number(std::string_view name) const {
  ParamValue value = lookup_param(sweep_, id_, name);
  if (const auto* i = std::get_if<std::int64_t>(&value)) return static_cast<double>(*i);
  return typed_param<double>(sweep_, id_, name, "float64");
}

std::int64_t TaskContext::whole(std::string_view name) const {
  return typed_param<std::int64_t>(sweep_, id_, name, "int64");
}

bool TaskContext::flag(std::string_view name) const { return typed_param<bool>(sweep_, id_, name, "bool"); }

std::string TaskContext::text(std::string_view name) const {
  return typed_param<std::string>(sweep_, id_, name, "text");
}

JobRegistry& JobRegistry::instance() {
  static JobRegistry registry;
  return registry;
}

void JobRegistry::add(JobInfo info) {
  if (find(info.kind)) throw std::logic_error("job kind registered twice: " + info.kind);
  jobs_.push_back(std::make_unique<JobInfo>(std::move(info)));
}

const JobInfo* JobRegistry::find(const std::string& kind) const {
  for (const auto& j : jobs_)
    if (j->kind == kind) return j.get();
  return nullptr;
}

std::vector<const JobInfo*> JobRegistry::all() const {
  std::vector<const JobInfo*> out;
  for (const auto& j : jobs_) out.push_back(j.get());
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->kind < b->kind; });
  return out;
}

std::vector<std::string> JobRegistry::kinds() const {
  std::vector<std::string> out;
  for (const auto* j : all()) out.push_back(j->kind);
  return out;
}

}  // namespace fanout
