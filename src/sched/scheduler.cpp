#include "sched/scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace fanout::sched {

std::vector<std::uint64_t> longest_first(const std::vector<double>& costs) {
  std::vector<std::uint64_t> ids(costs.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](std::uint64_t a, std::uint64_t b) { return costs[a] > costs[b]; });
  return ids;
}

std::uint64_t auto_chunk(double mean_task_seconds, std::uint64_t observed, std::uint64_t remaining,
                         std::uint64_t workers, std::uint64_t rounds) {
  if (observed == 0) return 1;  // nothing measured yet: probe with single tasks
  double for_overhead = std::ceil(TARGET_CHUNK_SECONDS / std::max(mean_task_seconds, 1e-9));
  std::uint64_t tail = remaining / (2 * workers);
  if (rounds > 1) tail += tail / 2;  // see auto_chunk's declaration
  auto chunk = static_cast<std::uint64_t>(
      std::min(for_overhead * static_cast<double>(std::max<std::uint64_t>(rounds, 1)), 1e12));
  return std::max<std::uint64_t>(1, std::min(chunk, tail));
}

bool ahead_refused(std::uint64_t remaining, std::uint64_t workers, double mean_task_seconds) {
  return remaining <= AHEAD_TAIL * workers || mean_task_seconds >= AHEAD_LONG_SECONDS;
}

std::uint64_t guided_chunk(std::uint64_t remaining, std::uint64_t workers, std::uint64_t floor) {
  return std::max<std::uint64_t>(std::max<std::uint64_t>(floor, 1), remaining / (2 * workers));
}

namespace {

// Positions p, p + stride, ... (count of them) as task ranges: themselves
// when there is no order, else the ids at those positions, consecutive ids merged.
std::vector<TaskRange> emit(const std::vector<std::uint64_t>& order, std::uint64_t p, std::uint64_t count,
                            std::uint64_t stride) {
  if (count == 0) return {};
  if (order.empty()) return {{p, p + (count - 1) * stride + 1, stride}};
  std::vector<TaskRange> out;
  for (std::uint64_t k = 0; k < count; ++k) {
    std::uint64_t id = order[p + k * stride];
    if (!out.empty() && out.back().stride == 1 && out.back().end == id) {
      ++out.back().end;
    } else {
      out.push_back({id, id + 1, 1});
    }
  }
  return out;
}

// Each rank's share is fixed in advance: a contiguous block of positions, or
// every ranks-th position. Without an order a share goes out in one piece;
// with one, in pieces, so messages stay small.
class StaticScheduler : public Scheduler {
 public:
  explicit StaticScheduler(SchedulerOptions o) : o_(std::move(o)), cursor_(static_cast<std::size_t>(o_.ranks)) {
    auto n = static_cast<std::uint64_t>(o_.ranks);
    for (std::uint64_t r = 0; r < n; ++r) cursor_[r] = o_.policy == Policy::StaticBlock ? block_begin(r) : r;
  }

  Work next(int rank, bool /*ahead*/, std::uint64_t /*workers*/, std::uint64_t /*rounds*/) override {
    if (rank < 0 || rank >= o_.ranks) throw std::out_of_range("scheduler: rank out of range");
    auto r = static_cast<std::uint64_t>(rank);
    bool block = o_.policy == Policy::StaticBlock;
    std::uint64_t stride = block ? 1 : static_cast<std::uint64_t>(o_.ranks);
    std::uint64_t end = block ? block_begin(r + 1) : o_.task_count;
    std::uint64_t& p = cursor_[r];
    if (p >= end) return {};
    std::uint64_t left = (end - p + stride - 1) / stride;
    std::uint64_t count = o_.order.empty() ? left : std::min<std::uint64_t>(left, PIECE);
    Work work{emit(o_.order, p, count, stride)};
    p += count * stride;
    return work;
  }

  std::string chunk_description() const override { return o_.policy == Policy::StaticBlock ? "block" : "1"; }

 private:
  static constexpr std::uint64_t PIECE = 4096;
  std::uint64_t block_begin(std::uint64_t r) const {
    __extension__ using Wide = unsigned __int128;  // tasks x ranks may exceed 64 bits
    return static_cast<std::uint64_t>(static_cast<Wide>(o_.task_count) * r / static_cast<std::uint64_t>(o_.ranks));
  }
  SchedulerOptions o_;
  std::vector<std::uint64_t> cursor_;  // next position of each rank
};

// Idle ranks ask for the next chunk of positions. dynamic: a fixed chunk or
// auto_chunk(); guided: guided_chunk(). A rank's request serves all its threads.
class SharedScheduler : public Scheduler {
 public:
  explicit SharedScheduler(SchedulerOptions o)
      : o_(std::move(o)), workers_(static_cast<std::uint64_t>(o_.ranks) * o_.threads_per_rank) {}

  Work next(int /*rank*/, bool ahead, std::uint64_t workers, std::uint64_t rounds) override {
    if (next_ >= o_.task_count) return {};
    std::uint64_t remaining = o_.task_count - next_;
    double mean = observed_ ? seconds_ / static_cast<double>(observed_) : 0;
    if (ahead && ahead_refused(remaining, workers_, mean)) return {{}, true};
    std::uint64_t per_worker;
    if (o_.policy == Policy::Guided) {
      per_worker = guided_chunk(remaining, workers_, o_.chunk.value_or(1));
    } else if (o_.chunk) {
      per_worker = *o_.chunk * std::max<std::uint64_t>(rounds, 1);
    } else {
      per_worker = auto_chunk(mean, observed_, remaining, workers_, rounds);
    }
    std::uint64_t size = std::min(remaining, per_worker * (workers ? workers : o_.threads_per_rank));
    Work work{emit(o_.order, next_, size, 1)};
    next_ += size;
    return work;
  }

  void observe(double seconds, std::uint64_t count) override {
    seconds_ += seconds;
    observed_ += count;
  }

  std::string chunk_description() const override { return o_.chunk ? std::to_string(*o_.chunk) : "auto"; }

 private:
  SchedulerOptions o_;
  std::uint64_t workers_;
  std::uint64_t next_ = 0;  // next position to hand out
  double seconds_ = 0;
  std::uint64_t observed_ = 0;
};

}  // namespace

std::unique_ptr<Scheduler> make_scheduler(SchedulerOptions options) {
  if (options.ranks < 1 || options.threads_per_rank < 1)
    throw std::invalid_argument("make_scheduler: ranks and threads must be >= 1");
  if (!options.order.empty() && options.order.size() != options.task_count)
    throw std::invalid_argument("make_scheduler: the order must list every task once");
  if (options.policy == Policy::Dynamic || options.policy == Policy::Guided)
    return std::make_unique<SharedScheduler>(std::move(options));
  return std::make_unique<StaticScheduler>(std::move(options));
}

}  // namespace fanout::sched
