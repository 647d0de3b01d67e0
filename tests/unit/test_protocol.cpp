// The runner's wire formats, without MPI: the request header packed into a
// batch's flags word, the WORK message (core/protocol.hpp), and the batch of
// finished tasks (core/batch.hpp), whole and cut short at every byte.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/batch.hpp"
#include "core/bundle.hpp"
#include "core/protocol.hpp"

using namespace fanout;
using protocol::Request;

namespace {

constexpr std::uint32_t MAX_WORKERS = (1u << 24) - 1;
constexpr std::int32_t MAX_RANK = std::numeric_limits<std::int32_t>::max() - 1;

}  // namespace

TEST(Protocol, RequestRoundTripsAtItsLimits) {
  for (bool ahead : {false, true})
    for (std::uint32_t workers : {1u, 2u, 48u, MAX_WORKERS})
      for (std::int32_t rank : {0, 1, 4095, MAX_RANK}) {
        Request r{ahead, workers, rank};
        EXPECT_EQ(protocol::unpack(protocol::pack(r)), r) << ahead << " " << workers << " " << rank;
      }
}

// Both ends run the same binary, but the layout is documented in
// protocol.hpp: bit 0 ahead, bits 8-31 workers, bits 32-63 rank + 1.
TEST(Protocol, RequestLayoutIsTheDocumentedOne) {
  EXPECT_EQ(protocol::pack({true, 3, 5}), 1u | (3u << 8) | (std::uint64_t{6} << 32));
  EXPECT_EQ(protocol::pack({false, 1, 0}), (1u << 8) | (std::uint64_t{1} << 32));
  EXPECT_EQ(protocol::pack({false, 1, 0, 2}), (1u << 1) | (1u << 8) | (std::uint64_t{1} << 32));
  EXPECT_EQ(protocol::unpack(protocol::pack({true, 4, 7, 8})), (protocol::Request{true, 4, 7, 8}));
  EXPECT_THROW(protocol::pack({false, 1, 0, 0}), std::invalid_argument);
  EXPECT_THROW(protocol::pack({false, 1, 0, 9}), std::invalid_argument);
}

TEST(Protocol, PackRefusesWhatTheWordCannotHold) {
  EXPECT_THROW(protocol::pack({false, 0, 0}), std::invalid_argument);
  EXPECT_THROW(protocol::pack({false, MAX_WORKERS + 1, 0}), std::invalid_argument);
  EXPECT_THROW(protocol::pack({false, 1, -1}), std::invalid_argument);
  EXPECT_THROW(protocol::pack({false, 1, MAX_RANK + 1}), std::invalid_argument);
}

TEST(Protocol, UnpackRefusesWordsNoPackMade) {
  const std::uint64_t valid = protocol::pack({false, 2, 3});
  EXPECT_THROW(protocol::unpack(0), std::runtime_error);  // the flags of a plain batch of results
  EXPECT_THROW(protocol::unpack(valid & ~(std::uint64_t{0xFFFFFF} << 8)), std::runtime_error);  // workers 0
  EXPECT_THROW(protocol::unpack(valid & 0xFFFFFFFFu), std::runtime_error);                      // no rank
  for (int bit = 4; bit < 8; ++bit)
    EXPECT_THROW(protocol::unpack(valid | (std::uint64_t{1} << bit)), std::runtime_error) << "bit " << bit;
  EXPECT_THROW(protocol::unpack(valid | (std::uint64_t{1} << 63)), std::runtime_error);
  EXPECT_NO_THROW(protocol::unpack(valid | 1));
}

TEST(Protocol, WorkRoundTrips) {
  const std::vector<sched::Work> cases{
      {},                     // no more work
      {{}, true},             // later
      {{{0, 10, 1}}, false},  // one range
      {{{3, 4, 1}, {7, 100, 3}, {std::uint64_t{1} << 40, (std::uint64_t{1} << 40) + 2, 1}}, false},
  };
  for (const auto& work : cases) {
    sched::Work back = protocol::decode_work(protocol::encode_work(work));
    EXPECT_EQ(back.later, work.later);
    EXPECT_EQ(back.done(), work.done());
    ASSERT_EQ(back.ranges.size(), work.ranges.size());
    for (std::size_t i = 0; i < work.ranges.size(); ++i) {
      EXPECT_EQ(back.ranges[i].begin, work.ranges[i].begin);
      EXPECT_EQ(back.ranges[i].end, work.ranges[i].end);
      EXPECT_EQ(back.ranges[i].stride, work.ranges[i].stride);
    }
  }
  EXPECT_EQ(protocol::encode_work({}), (std::vector<std::uint64_t>{0}));
  EXPECT_EQ(protocol::encode_work({{}, true}), (std::vector<std::uint64_t>{2}));
  EXPECT_EQ(protocol::encode_work({{{5, 9, 2}}, false}), (std::vector<std::uint64_t>{1, 5, 9, 2}));
}

TEST(Protocol, MalformedWorkIsRefused) {
  using Words = std::vector<std::uint64_t>;
  const std::vector<Words> bad{
      {},   // empty
      {3},  // no such status
      {~std::uint64_t{0}, 0, 1, 1},
      {1, 0, 5},  // length not 1 + a multiple of 3
      {1, 0, 5, 1, 7},
      {2, 0},
      {1, 0, 5, 0},  // stride 0
      {1, 0, 5, 1, 6, 9, 0},
      {0, 0, 5, 1},  // "no more work", with tasks
      {1},           // "ranges follow", and none do
  };
  for (const auto& words : bad) {
    std::string shown;
    for (auto w : words) shown += std::to_string(w) + " ";
    EXPECT_THROW(protocol::decode_work(words), std::runtime_error) << "{ " << shown << "}";
  }
}

namespace {

constexpr std::size_t ROW = 12;  // bytes per row: a u32 and a f64, packed

TaskRecord record(std::uint64_t id, TaskStatus status) {
  TaskRecord r;
  r.id = id;
  r.rank = static_cast<std::int32_t>(id % 5);
  r.thread = 2;
  r.t_start = 0.25 * static_cast<double>(id);
  r.t_end = r.t_start + 0.125;
  r.cpu_user = 0.1;
  r.cpu_sys = 0.01;
  r.attempt = 1;
  r.status = status;
  r.cpu_shared = 1;
  r.session = 3;
  return r;
}

Batch sample(std::size_t records, std::size_t errors) {
  Batch b;
  for (std::size_t i = 0; i < records; ++i) {
    b.records.push_back(record(100 + i, i % 3 == 1 ? TaskStatus::Failed : TaskStatus::Ok));
    for (std::size_t k = 0; k < ROW; ++k) b.rows.push_back(static_cast<std::byte>(i * 16 + k));
  }
  for (std::size_t i = 0; i < errors; ++i)
    b.errors.push_back({100 + i, static_cast<std::uint32_t>(i + 1), -1 + static_cast<std::int32_t>(i),
                        i == 0 ? std::string() : std::string("failed\0with a NUL", 17) + std::to_string(i)});
  return b;
}

void expect_same(const Batch& a, const Batch& b) {
  ASSERT_EQ(a.records.size(), b.records.size());
  for (std::size_t i = 0; i < a.records.size(); ++i)
    EXPECT_EQ(std::memcmp(&a.records[i], &b.records[i], sizeof(TaskRecord)), 0) << "record " << i;
  EXPECT_EQ(a.rows, b.rows);
  ASSERT_EQ(a.errors.size(), b.errors.size());
  for (std::size_t i = 0; i < a.errors.size(); ++i) {
    EXPECT_EQ(a.errors[i].id, b.errors[i].id);
    EXPECT_EQ(a.errors[i].attempt, b.errors[i].attempt);
    EXPECT_EQ(a.errors[i].rank, b.errors[i].rank);
    EXPECT_EQ(a.errors[i].message, b.errors[i].message);
  }
}

}  // namespace

TEST(BatchFormat, RoundTrips) {
  const std::uint64_t flags = protocol::pack({true, 7, 12});
  for (auto [records, errors] : {std::pair<std::size_t, std::size_t>{0, 0}, {3, 0}, {0, 2}, {4, 3}}) {
    const Batch batch = sample(records, errors);
    std::vector<char> bytes = encode(batch, flags);
    std::uint64_t back_flags = 0;
    Batch back = decode(bytes.data(), bytes.size(), ROW, back_flags);
    EXPECT_EQ(back_flags, flags);
    expect_same(back, batch);
  }
}

// The journal appends many batches to one buffer: each decodes from its own bytes.
TEST(BatchFormat, EncodeIntoAppendsTheSameBytes) {
  const Batch first = sample(2, 1), second = sample(1, 2);
  std::vector<char> buffer;
  encode_into(buffer, first.records, first.rows, first.errors, 5);
  const std::size_t split = buffer.size();
  encode_into(buffer, second.records, second.rows, second.errors, 6);
  EXPECT_EQ(std::vector<char>(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(split)), encode(first, 5));
  std::uint64_t flags = 0;
  expect_same(decode(buffer.data(), split, ROW, flags), first);
  EXPECT_EQ(flags, 5u);
  expect_same(decode(buffer.data() + split, buffer.size() - split, ROW, flags), second);
  EXPECT_EQ(flags, 6u);
}

// A message cut short anywhere (a torn journal block, a short receive) is
// refused; each prefix lies in a buffer of exactly its size, so that a read
// past it shows under AddressSanitizer.
TEST(BatchFormat, EveryTruncationThrows) {
  for (auto [records, errors] : {std::pair<std::size_t, std::size_t>{0, 0}, {3, 0}, {0, 2}, {4, 3}}) {
    const std::vector<char> bytes = encode(sample(records, errors), 9);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      std::vector<char> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      std::uint64_t flags = 0;
      EXPECT_THROW(decode(prefix.data(), prefix.size(), ROW, flags), std::runtime_error)
          << records << " records, " << errors << " errors, cut to " << n << " of " << bytes.size() << " bytes";
    }
  }
}

// A leader's message: its head part (the flags), then its group's batches as
// they came. Rank 0 merges them in order; a message cut anywhere, or with
// bytes after the last part, is refused.
TEST(BatchFormat, PartsMergeInOrderAndEveryTruncationThrows) {
  const Batch a = sample(2, 1), b = sample(0, 2), c = sample(3, 0);
  std::vector<char> bytes;
  encode_into(bytes, {}, {}, {}, 77);
  std::vector<std::size_t> boundaries{bytes.size()};
  for (const Batch* part : {&a, &b, &c}) {
    encode_into(bytes, part->records, part->rows, part->errors, 5);
    boundaries.push_back(bytes.size());
  }
  std::uint64_t flags = 0;
  Batch merged = decode_parts(bytes.data(), bytes.size(), ROW, flags);
  EXPECT_EQ(flags, 77u);
  Batch expected;
  for (const Batch* part : {&a, &b, &c}) {
    expected.records.insert(expected.records.end(), part->records.begin(), part->records.end());
    expected.rows.insert(expected.rows.end(), part->rows.begin(), part->rows.end());
    expected.errors.insert(expected.errors.end(), part->errors.begin(), part->errors.end());
  }
  expect_same(merged, expected);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    std::vector<char> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    // A cut on a part's boundary leaves whole parts, which decode (fewer tasks); any other cut throws.
    if (std::find(boundaries.begin(), boundaries.end(), n) != boundaries.end()) {
      Batch back = decode_parts(prefix.data(), prefix.size(), ROW, flags);
      EXPECT_LT(back.records.size() + back.errors.size(), merged.records.size() + merged.errors.size()) << n;
    } else {
      EXPECT_THROW(decode_parts(prefix.data(), prefix.size(), ROW, flags), std::runtime_error) << "cut to " << n;
    }
  }
  std::vector<char> longer = bytes;
  longer.push_back(0);
  EXPECT_THROW(decode_parts(longer.data(), longer.size(), ROW, flags), std::runtime_error);
}

// The leader's bundle: received parts adopted in place, its own batches
// encoded in, the head's flags set when it goes; what it takes is what rank 0 reads.
TEST(Bundle, CarriesPartsAndItsOwnBatchesToRankZero) {
  const Batch member = sample(3, 1), own = sample(2, 0);
  Bundle bundle(ROW);
  EXPECT_TRUE(bundle.empty());
  const std::vector<char> received = encode(member, protocol::pack({false, 1, 3}));
  const std::size_t from = bundle.bytes().size();
  bundle.bytes().insert(bundle.bytes().end(), received.begin(), received.end());
  std::uint64_t records = 0;
  double seconds = bundle.adopt(from, records);
  EXPECT_EQ(records, 3u);
  double expected_seconds = 0;
  for (const auto& r : member.records) expected_seconds += r.t_end - r.t_start;
  EXPECT_DOUBLE_EQ(seconds, expected_seconds);
  bundle.add(own);
  EXPECT_EQ(bundle.records(), 5u);
  EXPECT_EQ(bundle.row_bytes(), 5 * ROW);
  // A damaged part is refused and leaves the bundle as it was.
  const std::size_t before = bundle.bytes().size();
  bundle.bytes().insert(bundle.bytes().end(), received.begin(), received.end() - 1);
  EXPECT_THROW(bundle.adopt(before, records), std::runtime_error);
  EXPECT_EQ(bundle.bytes().size(), before);
  EXPECT_EQ(bundle.records(), 5u);

  const std::uint64_t flags = protocol::pack({true, 8, 4});
  std::vector<char> message = bundle.take(flags);
  EXPECT_TRUE(bundle.empty());
  std::uint64_t back_flags = 0;
  Batch back = decode_parts(message.data(), message.size(), ROW, back_flags);
  EXPECT_EQ(back_flags, flags);
  Batch expected = member;
  expected.records.insert(expected.records.end(), own.records.begin(), own.records.end());
  expected.rows.insert(expected.rows.end(), own.rows.begin(), own.rows.end());
  expect_same(back, expected);
  // Taken empty: just the head.
  std::vector<char> head = bundle.take(0);
  EXPECT_EQ(head.size(), BATCH_HEAD_BYTES);
}

// Damaged counts and lengths are refused before they size memory.
TEST(BatchFormat, DamagedCountsAreRefused) {
  const std::vector<char> valid = encode(sample(2, 1), 0);
  auto with_u64 = [&](std::size_t offset, std::uint64_t value) {
    std::vector<char> bytes = valid;
    std::memcpy(bytes.data() + offset, &value, sizeof value);
    return bytes;
  };
  const std::size_t error_length_at = 24 + 2 * (sizeof(TaskRecord) + ROW) + 16;
  for (std::uint64_t huge :
       {std::uint64_t{3}, std::uint64_t{1} << 61, ~std::uint64_t{0}, ~std::uint64_t{0} / sizeof(TaskRecord) + 1}) {
    std::uint64_t flags = 0;
    auto records = with_u64(8, huge);
    EXPECT_THROW(decode(records.data(), records.size(), ROW, flags), std::runtime_error) << huge;
    auto errors = with_u64(16, huge == 3 ? 2 : huge);
    EXPECT_THROW(decode(errors.data(), errors.size(), ROW, flags), std::runtime_error) << huge;
    auto length = with_u64(error_length_at, huge == 3 ? 1000 : huge);
    EXPECT_THROW(decode(length.data(), length.size(), ROW, flags), std::runtime_error) << huge;
  }
  std::uint64_t flags = 0;
  EXPECT_THROW(decode(valid.data(), valid.size(), std::numeric_limits<std::size_t>::max(), flags), std::runtime_error);
  EXPECT_THROW(decode(valid.data(), valid.size(), ROW + 100, flags), std::runtime_error);
}
