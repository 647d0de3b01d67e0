#include "core/dispatcher.hpp"

#include <set>
#include <stdexcept>

namespace fanout {

Dispatcher::Dispatcher(sched::Scheduler& scheduler, std::vector<int> route, unsigned retries)
    : scheduler_(scheduler), route_(std::move(route)), retries_(retries) {
  several_routes_ = std::set<int>(route_.begin(), route_.end()).size() > 1;
}

sched::Work Dispatcher::next(int requester, const protocol::Request& request) {
  if (stopping_) return {};
  for (auto it = retry_.begin(); it != retry_.end(); ++it) {
    auto failed_on = static_cast<std::size_t>(it->failed_on);
    int route = failed_on < route_.size() ? route_[failed_on] : it->failed_on;
    if (route == requester && several_routes_) continue;  // another rank, when there is one
    sched::Work work{{{it->id, it->id + 1, 1}}};
    retry_.erase(it);
    ++in_flight_;
    return work;
  }
  sched::Work work = scheduler_.next(request.for_rank, request.ahead, request.workers, request.rounds);
  for (const auto& r : work.ranges) in_flight_ += r.count();
  // Tasks still out may fail and come back: keep the ranks until they are in.
  if (work.done() && retries_ > 0 && (in_flight_ > 0 || !retry_.empty())) work.later = true;
  return work;
}

void Dispatcher::stop() {
  stopping_ = true;
  retry_.clear();
}

}  // namespace fanout
