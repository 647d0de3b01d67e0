#include "core/batch.hpp"

#include <algorithm>
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

Batch decode(const char* data, std::size_t size, std::size_t row_size, std::uint64_t& flags) {
  Batch batch;
  const char* p = data;
  const char* end = p + size;
  flags = take<std::uint64_t>(p, end);
  auto n_records = take<std::uint64_t>(p, end);
  auto n_errors = take<std::uint64_t>(p, end);
  // Divided, not multiplied: a damaged row_size or count must not wrap around.
  if (n_records > size || (n_records > 0 && (row_size > size || static_cast<std::size_t>(end - p) / n_records <
                                                                    sizeof(TaskRecord) + row_size)))
    throw std::runtime_error("truncated batch of results");
  batch.records.resize(n_records);
  batch.rows.resize(n_records * row_size);
  // memcpy to the null data() of an empty vector is undefined, even of 0 bytes (UBSan).
  if (!batch.records.empty()) std::memcpy(batch.records.data(), p, n_records * sizeof(TaskRecord));
  p += n_records * sizeof(TaskRecord);
  if (!batch.rows.empty()) std::memcpy(batch.rows.data(), p, batch.rows.size());
  p += batch.rows.size();
  if (n_errors > size) throw std::runtime_error("truncated batch of results");
  for (std::uint64_t i = 0; i < n_errors; ++i) {
    TaskError e;
    e.id = take<std::uint64_t>(p, end);
    e.attempt = take<std::uint32_t>(p, end);
    e.rank = take<std::int32_t>(p, end);
    auto length = take<std::uint64_t>(p, end);
    if (static_cast<std::uint64_t>(end - p) < length) throw std::runtime_error("truncated batch of results");
    e.message.assign(p, length);
    p += length;
    batch.errors.push_back(std::move(e));
  }
  return batch;
}

}  // namespace fanout
