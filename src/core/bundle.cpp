#include "core/bundle.hpp"

#include <cstring>
#include <utility>

#include "core/clock.hpp"

namespace fanout {

Bundle::Bundle(std::size_t row_size, std::vector<char> buffer, std::size_t reserve)
    : row_size_(row_size), reserve_(reserve) {
  reset(std::move(buffer));
}

void Bundle::reset(std::vector<char> buffer) {
  bytes_ = std::move(buffer);
  bytes_.clear();
  bytes_.reserve(reserve_);
  encode_into(bytes_, {}, {}, {});  // the head: no tasks, the flags set by take()
  records_ = 0;
  errors_ = 0;
  since_ = 0;
}

void Bundle::added(std::uint64_t records, std::uint64_t errors) {
  if (records + errors == 0) return;
  if (empty()) since_ = steady_seconds();
  records_ += records;
  errors_ += errors;
}

double Bundle::adopt(std::size_t from, std::uint64_t& records) {
  double seconds = 0;
  std::uint64_t n = 0;
  std::uint64_t errors = 0;
  try {
    for (std::size_t at = from; at < bytes_.size();) {
      BatchPart part = read_part(bytes_.data() + at, bytes_.size() - at, row_size_);
      seconds += part.seconds();
      n += part.records;
      errors += part.errors;
      at += part.bytes;
    }
  } catch (...) {
    bytes_.resize(from);
    throw;
  }
  added(n, errors);
  records = n;
  return seconds;
}

void Bundle::add(const Batch& batch) {
  if (batch.empty()) return;
  encode_into(bytes_, batch.records, batch.rows, batch.errors);
  added(batch.records.size(), batch.errors.size());
}

std::vector<char> Bundle::take(std::uint64_t flags, std::vector<char> buffer) {
  std::memcpy(bytes_.data(), &flags, sizeof flags);
  std::vector<char> out = std::move(bytes_);
  reset(std::move(buffer));
  return out;
}

}  // namespace fanout
