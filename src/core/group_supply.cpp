#include "core/group_supply.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace fanout {

GroupSupply::GroupSupply(int leader, std::vector<int> members, unsigned threads, bool per_member)
    : leader_(leader), members_(std::move(members)), threads_(std::max(1u, threads)), per_member_(per_member) {
  if (per_member_)
    for (int m : members_) stocks_[m];
  else
    stocks_[leader_];
}

sched::Work GroupSupply::cut(Stock& stock, std::uint64_t n) {
  sched::Work work;
  while (n > 0 && !stock.ranges.empty()) {
    sched::TaskRange& front = stock.ranges.front();
    std::uint64_t take = std::min(n, front.count());
    work.ranges.push_back({front.begin, front.begin + (take - 1) * front.stride + 1, front.stride});
    front.begin += take * front.stride;
    if (front.count() == 0) stock.ranges.pop_front();
    stock.count -= take;
    n -= take;
  }
  return work;
}

std::optional<sched::Work> GroupSupply::serve(Stock& stock, bool ahead) {
  if (stock.count > 0) return cut(stock, per_member_ ? stock.count : stock.piece);
  if (stopped_ || stock.state == State::Done) return sched::Work{};
  // Rank 0 said "later" (few tasks left, or long ones): a member that is not
  // idle is told the same, as rank 0 would have told it.
  if (stock.state == State::Later && ahead) return sched::Work{{}, true};
  return std::nullopt;
}

std::optional<sched::Work> GroupSupply::take(int member, bool ahead) {
  // A shared stock is keyed by the leader: the member must be checked itself.
  auto it = stocks_.find(key_for(member));
  if (it == stocks_.end() || std::find(members_.begin(), members_.end(), member) == members_.end())
    throw std::out_of_range("GroupSupply: rank " + std::to_string(member) + " is not in the group");
  Stock& stock = it->second;
  if (stock.parked.empty())
    if (auto work = serve(stock, ahead)) return work;
  stock.parked.emplace_back(member, ahead);
  return std::nullopt;
}

std::vector<protocol::Request> GroupSupply::wanted() {
  std::vector<protocol::Request> out;
  if (stopped_) return out;
  for (auto& [key, stock] : stocks_) {
    if (stock.asked || stock.state == State::Done) continue;
    bool waiting = !stock.parked.empty();
    bool any_idle = std::any_of(stock.parked.begin(), stock.parked.end(), [](auto& p) { return !p.second; });
    // Shared stock: ask ahead once less than a round of pieces is left, so
    // the next chunk arrives while the group works (not after "later").
    bool low = !per_member_ && stock.state == State::Open &&
               stock.count < stock.piece * static_cast<std::uint64_t>(members_.size());
    if (!waiting && !low) continue;
    protocol::Request r;
    r.ahead = !any_idle;
    r.for_rank = key;
    r.workers = threads_ * (per_member_ ? 1 : static_cast<std::uint32_t>(members_.size()));
    r.rounds = per_member_ ? 1 : static_cast<std::uint8_t>(ROUNDS);
    out.push_back(r);
  }
  return out;
}

void GroupSupply::requested(int key) {
  stocks_.at(key).asked = true;
  ++outstanding_;
}

std::vector<std::pair<int, sched::Work>> GroupSupply::answered(int key, sched::Work work) {
  Stock& stock = stocks_.at(key);
  if (!stock.asked) throw std::logic_error("GroupSupply: an answer nobody asked for");
  stock.asked = false;
  --outstanding_;
  std::vector<std::pair<int, sched::Work>> out;
  if (stopped_) return out;
  std::uint64_t got = 0;
  for (const auto& r : work.ranges) {
    if (r.count() == 0) continue;
    stock.ranges.push_back(r);
    got += r.count();
  }
  stock.count += got;
  if (got > 0) {
    stock.state = State::Open;
    if (!per_member_) stock.piece = std::max<std::uint64_t>(1, got / (ROUNDS * members_.size()));
  } else {
    stock.state = work.later ? State::Later : State::Done;
  }
  while (!stock.parked.empty()) {
    auto [member, ahead] = stock.parked.front();
    auto answer = serve(stock, ahead);
    // "Later" with nothing in stock: an idle member waits and asks again.
    if (!answer && stock.state == State::Later) answer = sched::Work{{}, true};
    if (!answer) break;  // wait for the next answer from rank 0
    out.emplace_back(member, std::move(*answer));
    stock.parked.pop_front();
  }
  return out;
}

std::vector<std::pair<int, sched::Work>> GroupSupply::stop() {
  stopped_ = true;
  std::vector<std::pair<int, sched::Work>> out;
  for (auto& [key, stock] : stocks_) {
    stock.ranges.clear();
    stock.count = 0;
    stock.state = State::Done;
    for (auto& [member, ahead] : stock.parked) out.emplace_back(member, sched::Work{});
    stock.parked.clear();
  }
  return out;
}

std::uint64_t GroupSupply::stocked() const {
  std::uint64_t n = 0;
  for (const auto& [key, stock] : stocks_) n += stock.count;
  return n;
}

}  // namespace fanout
