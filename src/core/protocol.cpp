#include "core/protocol.hpp"

#include <stdexcept>
#include <string>

namespace fanout::protocol {

namespace {
constexpr std::uint64_t AHEAD_BIT = 1;
constexpr int ROUNDS_SHIFT = 1;
constexpr std::uint64_t ROUNDS_MASK = 7;
constexpr int WORKERS_SHIFT = 8;
constexpr std::uint64_t WORKERS_MASK = (std::uint64_t{1} << 24) - 1;
constexpr int RANK_SHIFT = 32;
constexpr std::uint64_t RANK_MASK = (std::uint64_t{1} << 31) - 1;
}  // namespace

std::uint64_t pack(const Request& request) {
  if (request.workers == 0 || request.workers > WORKERS_MASK)
    throw std::invalid_argument("request: workers out of range: " + std::to_string(request.workers));
  if (request.rounds < 1 || request.rounds > ROUNDS_MASK + 1)
    throw std::invalid_argument("request: rounds out of range: " + std::to_string(request.rounds));
  if (request.for_rank < 0 || static_cast<std::uint64_t>(request.for_rank) + 1 > RANK_MASK)
    throw std::invalid_argument("request: rank out of range: " + std::to_string(request.for_rank));
  return (request.ahead ? AHEAD_BIT : 0) | (std::uint64_t{request.rounds - 1u} << ROUNDS_SHIFT) |
         (std::uint64_t{request.workers} << WORKERS_SHIFT) |
         ((static_cast<std::uint64_t>(request.for_rank) + 1) << RANK_SHIFT);
}

Request unpack(std::uint64_t flags) {
  Request r;
  r.ahead = (flags & AHEAD_BIT) != 0;
  r.workers = static_cast<std::uint32_t>((flags >> WORKERS_SHIFT) & WORKERS_MASK);
  std::uint64_t rank_plus_one = (flags >> RANK_SHIFT) & RANK_MASK;
  r.rounds = static_cast<std::uint8_t>(((flags >> ROUNDS_SHIFT) & ROUNDS_MASK) + 1);
  if (r.workers == 0 || rank_plus_one == 0 || (flags & 0xF0) != 0 || (flags >> 63) != 0)
    throw std::runtime_error("malformed work request (flags " + std::to_string(flags) + ")");
  r.for_rank = static_cast<std::int32_t>(rank_plus_one - 1);
  return r;
}

std::vector<std::uint64_t> encode_work(const sched::Work& work) {
  auto status = work.done() ? WorkStatus::Done : work.later ? WorkStatus::Later : WorkStatus::Ranges;
  std::vector<std::uint64_t> out{static_cast<std::uint64_t>(status)};
  out.reserve(1 + 3 * work.ranges.size());
  for (const auto& r : work.ranges) out.insert(out.end(), {r.begin, r.end, r.stride});
  return out;
}

sched::Work decode_work(const std::vector<std::uint64_t>& message) {
  if (message.empty()) throw std::runtime_error("empty work message");
  if (message[0] > static_cast<std::uint64_t>(WorkStatus::Later) || (message.size() - 1) % 3 != 0)
    throw std::runtime_error("malformed work message");
  // encode_work never sends "no more work" with ranges, nor "ranges" without any.
  const bool has_ranges = message.size() > 1;
  if ((message[0] == static_cast<std::uint64_t>(WorkStatus::Done) && has_ranges) ||
      (message[0] == static_cast<std::uint64_t>(WorkStatus::Ranges) && !has_ranges))
    throw std::runtime_error("malformed work message (status " + std::to_string(message[0]) + " with " +
                             std::to_string((message.size() - 1) / 3) + " ranges)");
  sched::Work work;
  work.later = message[0] == static_cast<std::uint64_t>(WorkStatus::Later);
  for (std::size_t i = 1; i + 2 < message.size(); i += 3) {
    if (message[i + 2] == 0) throw std::runtime_error("malformed work message (stride 0)");
    work.ranges.push_back({message[i], message[i + 1], message[i + 2]});
  }
  return work;
}

}  // namespace fanout::protocol
