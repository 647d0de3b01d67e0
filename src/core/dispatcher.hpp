#pragma once
// Rank 0's answer to "what next?": the scheduler's, plus failed tasks coming
// back for another attempt, and nothing at all once the run is stopping.
#include <cstdint>
#include <deque>
#include <vector>

#include "core/protocol.hpp"
#include "sched/scheduler.hpp"

namespace fanout {

class Dispatcher {
 public:
  // `route[r]`: the child of rank 0 that rank r's tasks come through (r
  // itself with flat dispatch, its leader under a hierarchy): a retry goes
  // to another route when there is one.
  Dispatcher(sched::Scheduler& scheduler, std::vector<int> route, unsigned retries);

  // The answer to `requester` (rank 0 itself, a rank, or a leader for its group).
  sched::Work next(int requester, const protocol::Request& request);
  // A task came back (finished, failed, or failed and to be retried).
  void returned() { --in_flight_; }
  void retry(std::uint64_t id, int failed_on) { retry_.push_back({id, failed_on}); }
  void stop();
  bool stopping() const { return stopping_; }
  std::uint64_t in_flight() const { return in_flight_; }

 private:
  struct Retry {
    std::uint64_t id;
    int failed_on;
  };
  sched::Scheduler& scheduler_;
  std::vector<int> route_;
  bool several_routes_ = false;
  unsigned retries_;
  bool stopping_ = false;
  std::uint64_t in_flight_ = 0;
  std::deque<Retry> retry_;
};

}  // namespace fanout
