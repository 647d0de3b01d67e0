#include "sched/scheduler.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace fanout::sched {
namespace {

using Policy = config::Policy;

// Hands each rank its precomputed share once, then nothing.
class StaticScheduler : public Scheduler {
 public:
  StaticScheduler(Policy policy, std::uint64_t tasks, int ranks) : policy_(policy), tasks_(tasks), ranks_(ranks),
      served_(static_cast<std::size_t>(ranks), false) {}

  std::vector<TaskRange> next(int rank) override {
    if (rank < 0 || rank >= ranks_) throw std::out_of_range("scheduler: rank out of range");
    if (served_[static_cast<std::size_t>(rank)]) return {};
    served_[static_cast<std::size_t>(rank)] = true;
    auto r = static_cast<std::uint64_t>(rank);
    auto n = static_cast<std::uint64_t>(ranks_);
    TaskRange range;
    if (policy_ == Policy::StaticBlock) {
      // Blocks differ in size by at most one task.
      range = {block_begin(r, n), block_begin(r + 1, n), 1};
    } else {
      range = {r, tasks_, n};
    }
    if (range.count() == 0) return {};
    return {range};
  }

  std::string chunk_description() const override {
    return policy_ == Policy::StaticBlock ? "block" : "1";
  }

 private:
  std::uint64_t block_begin(std::uint64_t r, std::uint64_t n) const {
    __extension__ using Wide = unsigned __int128;  // tasks x ranks may exceed 64 bits
    return static_cast<std::uint64_t>(static_cast<Wide>(tasks_) * r / n);
  }
  Policy policy_;
  std::uint64_t tasks_;
  int ranks_;
  std::vector<bool> served_;
};

// Idle ranks ask for the next chunk. A fixed chunk, or "auto": about eight
// chunks per worker, shrinking with the work that remains, never below one.
class DynamicScheduler : public Scheduler {
 public:
  DynamicScheduler(std::uint64_t tasks, int ranks, unsigned threads, std::optional<std::uint64_t> chunk)
      : tasks_(tasks), workers_(static_cast<std::uint64_t>(ranks) * threads), threads_(threads), chunk_(chunk) {}

  std::vector<TaskRange> next(int /*rank*/) override {
    if (next_ >= tasks_) return {};
    std::uint64_t remaining = tasks_ - next_;
    std::uint64_t size = chunk_ ? *chunk_ * threads_ : std::max<std::uint64_t>(threads_, remaining / (8 * workers_) * threads_);
    size = std::min(size, remaining);
    TaskRange range{next_, next_ + size, 1};
    next_ += size;
    return {range};
  }

  std::string chunk_description() const override { return chunk_ ? std::to_string(*chunk_) : "auto"; }

 private:
  std::uint64_t tasks_;
  std::uint64_t workers_;
  std::uint64_t threads_;
  std::optional<std::uint64_t> chunk_;
  std::uint64_t next_ = 0;
};

}  // namespace

std::unique_ptr<Scheduler> make_scheduler(config::Policy policy, std::uint64_t task_count, int ranks,
                                          unsigned threads_per_rank, std::optional<std::uint64_t> chunk) {
  if (ranks < 1 || threads_per_rank < 1) throw std::invalid_argument("make_scheduler: ranks and threads must be >= 1");
  if (policy == Policy::Dynamic) return std::make_unique<DynamicScheduler>(task_count, ranks, threads_per_rank, chunk);
  return std::make_unique<StaticScheduler>(policy, task_count, ranks);
}

}  // namespace fanout::sched
