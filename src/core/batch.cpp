#include "core/batch.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <stdexcept>

namespace fanout {
namespace {

template <class T>
void put(std::vector<char>& out, const T& value) {
  const auto* p = reinterpret_cast<const char*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

template <class T>
T take(const char*& p, const char* end) {
  if (static_cast<std::size_t>(end - p) < sizeof(T)) throw std::runtime_error("truncated batch of results");
  T value;
  std::memcpy(&value, p, sizeof(T));
  p += sizeof(T);
  return value;
}

}  // namespace

void encode_into(std::vector<char>& out, std::span<const TaskRecord> records, std::span<const std::byte> rows,
                 std::span<const TaskError> errors, std::uint64_t flags) {
  // Grow geometrically: callers append many batches to one buffer (the
  // journal), and an exact reserve would copy it whole on every append.
  std::size_t needed = out.size() + BATCH_HEAD_BYTES + records.size_bytes() + rows.size();
  if (needed > out.capacity()) out.reserve(std::max(needed, 2 * out.capacity()));
  put<std::uint64_t>(out, flags);
  put<std::uint64_t>(out, records.size());
  put<std::uint64_t>(out, errors.size());
  const auto* r = reinterpret_cast<const char*>(records.data());
  out.insert(out.end(), r, r + records.size_bytes());
  const auto* b = reinterpret_cast<const char*>(rows.data());
  out.insert(out.end(), b, b + rows.size());
  for (const auto& e : errors) {
    put<std::uint64_t>(out, e.id);
    put<std::uint32_t>(out, e.attempt);
    put<std::int32_t>(out, e.rank);
    put<std::uint64_t>(out, e.message.size());
    out.insert(out.end(), e.message.begin(), e.message.end());
  }
}

std::vector<char> encode(const Batch& batch, std::uint64_t flags) {
  std::vector<char> out;
  encode_into(out, batch.records, batch.rows, batch.errors, flags);
  return out;
}

namespace {
// Reads `count` error entries at p (into `out` unless null), checking each.
void read_errors(const char*& p, const char* end, std::uint64_t count, std::size_t size, std::vector<TaskError>* out) {
  if (count > size) throw std::runtime_error("truncated batch of results");
  for (std::uint64_t i = 0; i < count; ++i) {
    TaskError e;
    e.id = take<std::uint64_t>(p, end);
    e.attempt = take<std::uint32_t>(p, end);
    e.rank = take<std::int32_t>(p, end);
    auto length = take<std::uint64_t>(p, end);
    if (static_cast<std::uint64_t>(end - p) < length) throw std::runtime_error("truncated batch of results");
    if (out) {
      e.message.assign(p, length);
      out->push_back(std::move(e));
    }
    p += length;
  }
}

// The part at data, its errors appended to `errors` unless null.
BatchPart read_part(const char* data, std::size_t size, std::size_t row_size, std::vector<TaskError>* errors) {
  BatchPart part;
  const char* p = data;
  const char* end = p + size;
  part.flags = take<std::uint64_t>(p, end);
  part.records = take<std::uint64_t>(p, end);
  part.errors = take<std::uint64_t>(p, end);
  // Divided, not multiplied: a damaged row_size or count must not wrap around.
  if (part.records > size || (part.records > 0 && (row_size > size || static_cast<std::size_t>(end - p) / part.records <
                                                                          sizeof(TaskRecord) + row_size)))
    throw std::runtime_error("truncated batch of results");
  part.first_record = p;
  p += part.records * (sizeof(TaskRecord) + row_size);
  read_errors(p, end, part.errors, size, errors);
  part.bytes = static_cast<std::size_t>(p - data);
  return part;
}
}  // namespace

BatchPart read_part(const char* data, std::size_t size, std::size_t row_size) {
  return read_part(data, size, row_size, nullptr);
}

double BatchPart::seconds() const {
  double total = 0;
  for (std::uint64_t i = 0; i < records; ++i) {
    double t[2];
    std::memcpy(t, first_record + i * sizeof(TaskRecord) + offsetof(TaskRecord, t_start), sizeof t);
    total += t[1] - t[0];
  }
  return total;
}

namespace {
// Copies a part's records and rows into `batch` from record `at` on (sized by the caller).
void copy_records(const BatchPart& part, std::size_t row_size, Batch& batch, std::size_t at) {
  // memcpy to the null data() of an empty vector is undefined, even of 0 bytes (UBSan).
  if (part.records == 0) return;
  std::memcpy(batch.records.data() + at, part.first_record, part.records * sizeof(TaskRecord));
  if (row_size > 0)
    std::memcpy(batch.rows.data() + at * row_size, part.first_record + part.records * sizeof(TaskRecord),
                part.records * row_size);
}
}  // namespace

Batch decode_parts(const char* data, std::size_t size, std::size_t row_size, std::uint64_t& flags) {
  Batch batch;
  std::vector<BatchPart> parts;
  std::uint64_t records = 0;
  for (std::size_t at = 0; at < size || parts.empty();) {
    parts.push_back(read_part(data + at, size - at, row_size, &batch.errors));
    records += parts.back().records;
    at += parts.back().bytes;
  }
  flags = parts.front().flags;
  batch.records.resize(records);
  batch.rows.resize(records * row_size);
  std::size_t at = 0;
  for (const auto& part : parts) {
    copy_records(part, row_size, batch, at);
    at += part.records;
  }
  return batch;
}

Batch decode(const char* data, std::size_t size, std::size_t row_size, std::uint64_t& flags) {
  Batch batch;
  BatchPart part = read_part(data, size, row_size, &batch.errors);
  flags = part.flags;
  batch.records.resize(part.records);
  batch.rows.resize(part.records * row_size);
  copy_records(part, row_size, batch, 0);
  return batch;
}

}  // namespace fanout
