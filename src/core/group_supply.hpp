#pragma once
// A leader's stock of work for its group: what rank 0 handed it, shared out
// to the group's ranks (and the leader's own workers) in pieces, and which
// requests to rank 0 that calls for. No MPI: the leader's coordinator moves
// the messages.
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "core/protocol.hpp"
#include "sched/scheduler.hpp"

namespace fanout {

class GroupSupply {
 public:
  // A shared stock asks rank 0 for this many rounds of its group's work at
  // once (a round: one piece per member): half as many requests reach rank
  // 0 as from one rank asking for itself. Near the end the scheduler's tail
  // limit decides: at most 3/4 of the group's share of what is left (see
  // sched::auto_chunk), so that no group holds the last of the work while
  // the others wait.
  static constexpr std::uint32_t ROUNDS = 2;
  // `members`: the ranks served (the leader included), each with
  // `threads` workers. `per_member`: static policies, where each rank has a
  // share of its own (asked for by its rank); else one stock for all, asked
  // for with the leader's rank and the group's worker count.
  GroupSupply(int leader, std::vector<int> members, unsigned threads, bool per_member);

  // A member asks (`ahead`: none of its workers is idle): the answer now, or
  // nullopt when it must wait for rank 0 (the request is parked).
  std::optional<sched::Work> take(int member, bool ahead);
  // The requests to send rank 0 now (one per stock at most at a time).
  std::vector<protocol::Request> wanted();
  // A request of wanted() went out.
  void requested(int key);
  // Rank 0 answered the oldest request for `key`: the parked members that
  // can be answered now, with their answers.
  std::vector<std::pair<int, sched::Work>> answered(int key, sched::Work work);
  // The run stops: no more work; the parked members, each answered "no more work".
  std::vector<std::pair<int, sched::Work>> stop();
  // Requests to rank 0 still unanswered.
  int outstanding() const { return outstanding_; }
  // Tasks in stock, not yet given to a member.
  std::uint64_t stocked() const;

 private:
  enum class State { Open, Later, Done };
  struct Stock {
    std::deque<sched::TaskRange> ranges;
    std::uint64_t count = 0;
    std::uint64_t piece = 1;  // tasks per answer to one member
    State state = State::Open;
    bool asked = false;                       // a request to rank 0 is on its way
    std::deque<std::pair<int, bool>> parked;  // members waiting, and whether they asked ahead
  };
  int key_for(int member) const { return per_member_ ? member : leader_; }
  // Up to one piece from the stock (nullopt: empty and not done).
  std::optional<sched::Work> serve(Stock& stock, bool ahead);
  sched::Work cut(Stock& stock, std::uint64_t n);

  int leader_;
  std::vector<int> members_;
  unsigned threads_;
  bool per_member_;
  bool stopped_ = false;
  int outstanding_ = 0;
  std::map<int, Stock> stocks_;
};

}  // namespace fanout
