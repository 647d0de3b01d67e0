#pragma once
// A leader's finished tasks on their way to rank 0: its group's batches as
// they came (received straight into the buffer, checked, never decoded) and
// its own, one after another behind a head part that carries the message's
// flags. Rank 0 reads the message with decode_parts. No MPI.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/batch.hpp"

namespace fanout {

class Bundle {
 public:
  // `row_size`: the bytes of one task's results row; `buffer`: storage to
  // reuse (its contents are dropped); `reserve`: the capacity a new buffer
  // starts with (so that it does not grow by copying).
  Bundle(std::size_t row_size, std::vector<char> buffer = {}, std::size_t reserve = 0);

  // Where a received message is to be appended; then adopt() it.
  std::vector<char>& bytes() { return bytes_; }
  // Checks the parts appended from `from` on (throws std::runtime_error on a
  // malformed one; the bundle is then unchanged). Returns the records' summed
  // run time and sets `records` to their count.
  double adopt(std::size_t from, std::uint64_t& records);
  void add(const Batch& batch);

  bool empty() const { return records_ == 0 && errors_ == 0; }
  std::uint64_t records() const { return records_; }
  std::size_t row_bytes() const { return records_ * row_size_; }
  // steady_seconds() when the oldest part came in.
  double since() const { return since_; }
  // The message, the head carrying `flags`; the bundle starts again in `buffer`.
  std::vector<char> take(std::uint64_t flags, std::vector<char> buffer = {});

 private:
  void reset(std::vector<char> buffer);
  void added(std::uint64_t records, std::uint64_t errors);
  std::size_t row_size_;
  std::size_t reserve_;
  std::vector<char> bytes_;
  std::uint64_t records_ = 0;
  std::uint64_t errors_ = 0;
  double since_ = 0;
};

}  // namespace fanout
