#pragma once
// The runner's messages between a rank and the rank that serves it (rank 0,
// or a node or group leader): tags, the request header and the work format.
// Finished tasks travel in the batch format of core/batch.hpp, whose u64
// flags word carries the request header.
#include <cstdint>
#include <vector>

#include "sched/scheduler.hpp"

namespace fanout::protocol {

enum Tag : int {
  TAG_REQUEST = 101,  // child -> parent: finished tasks, and a request for more work
  TAG_RESULTS = 102,  // child -> parent: finished tasks only
  TAG_DONE = 103,     // child -> parent: the last finished tasks; the child and all below it are done
  TAG_WORK = 104,     // parent -> child: task ranges, "later", or no more work
  TAG_STOP = 105,     // child -> parent: SignalReport; parent -> child: stop level (int, 1 graceful, 2 at once)
};

// What a request asks for, packed into the batch's u64 flags word: bit 0
// "ahead" (no worker of the requester is idle), bits 1-3 the rounds minus
// one (a leader asks for GroupSupply::ROUNDS chunks per worker of its
// group; see sched::auto_chunk), bits 8-31 the worker threads
// the answer is to feed (a leader asks for its whole group), bits 32-63 the
// rank whose share is asked for plus one (static policies give each rank its
// own share; a leader asks for its members' shares by their ranks).
// Version 1 of this layout: fanout 0.1 with hierarchies (format 1.7).
struct Request {
  bool ahead = false;
  std::uint32_t workers = 1;  // 1 .. 2^24 - 1
  std::int32_t for_rank = 0;  // 0 .. 2^31 - 2
  std::uint8_t rounds = 1;    // 1 .. 8
  bool operator==(const Request&) const = default;
};
std::uint64_t pack(const Request& request);
// Throws std::runtime_error for a word no pack() made (workers 0, say).
Request unpack(std::uint64_t flags);

// A signal a rank received, on its way to rank 0 (which decides): how many
// it received so far, the last one's number, and the rank that got them.
struct SignalReport {
  std::int32_t signals = 0;
  std::int32_t signo = 0;
  std::int32_t origin = 0;
};
static_assert(sizeof(SignalReport) == 12, "TAG_STOP upward: three int32");

// WORK message: u64 status (0: no more work, 1: ranges follow, 2: ask again
// when a worker is idle), then begin, end, stride per range.
enum class WorkStatus : std::uint64_t { Done = 0, Ranges = 1, Later = 2 };
std::vector<std::uint64_t> encode_work(const sched::Work& work);
// Throws std::runtime_error for an empty or malformed message.
sched::Work decode_work(const std::vector<std::uint64_t>& message);

}  // namespace fanout::protocol
