#pragma once
// Finished tasks in transit: what ranks send to rank 0 and what rank 0
// appends to the checkpoint journal, in one byte format (same binary on both
// ends; the journal checks its own header).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/records.hpp"

namespace fanout {

struct Batch {
  std::vector<TaskRecord> records;
  std::vector<std::byte> rows;  // records.size() x row size
  std::vector<TaskError> errors;
  bool empty() const { return records.empty() && errors.empty(); }
};

// u64 flags, u64 n_records, u64 n_errors, records, rows, then per error
// u64 id, u32 attempt, i32 rank, u64 length, bytes.
inline constexpr std::size_t BATCH_HEAD_BYTES = 3 * sizeof(std::uint64_t);
inline constexpr std::size_t BATCH_ERROR_HEAD_BYTES =
    sizeof(std::uint64_t) + sizeof(std::uint32_t) + sizeof(std::int32_t) + sizeof(std::uint64_t);
static_assert(BATCH_HEAD_BYTES == 24 && BATCH_ERROR_HEAD_BYTES == 24, "the batch wire format (the journal's blocks)");
static_assert(sizeof(TaskRecord) % alignof(TaskRecord) == 0, "records follow each other in a batch unpadded");
std::vector<char> encode(const Batch& batch, std::uint64_t flags = 0);
// The same bytes, appended to `out` from the parts of a batch.
void encode_into(std::vector<char>& out, std::span<const TaskRecord> records, std::span<const std::byte> rows,
                 std::span<const TaskError> errors, std::uint64_t flags = 0);
// Throws std::runtime_error on a short or malformed message.
Batch decode(const char* data, std::size_t size, std::size_t row_size, std::uint64_t& flags);

// One encoded batch at the start of some bytes, checked but not copied.
struct BatchPart {
  std::uint64_t flags = 0;
  std::uint64_t records = 0;
  std::uint64_t errors = 0;
  const char* first_record = nullptr;  // `records` records here, then their rows (may be unaligned)
  std::size_t bytes = 0;               // the part's whole length
  // The summed run time (t_end - t_start) of its records.
  double seconds() const;
};
// Throws std::runtime_error on a short or malformed batch.
BatchPart read_part(const char* data, std::size_t size, std::size_t row_size);
// A message of several batches, one after another (a leader forwards its
// group's batches as they came): each part checked, the whole message
// used exactly, the parts merged into one batch; `flags` are the first part's.
Batch decode_parts(const char* data, std::size_t size, std::size_t row_size, std::uint64_t& flags);

}  // namespace fanout
