#pragma once
// Schedulers decide which task ids each rank runs. They live on rank 0 and
// answer one question, next(rank), whatever the policy; static policies give
// a rank its whole share on the first call.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "config/config.hpp"

namespace fanout::sched {

// Task ids begin, begin + stride, ... below end.
struct TaskRange {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  std::uint64_t stride = 1;
  std::uint64_t count() const { return end > begin ? (end - begin + stride - 1) / stride : 0; }
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // The next work for `rank`; empty when that rank gets no more.
  virtual std::vector<TaskRange> next(int rank) = 0;
  // The chunk size in use, as recorded in the file ("auto" resolves to a number or "auto").
  virtual std::string chunk_description() const = 0;
};

std::unique_ptr<Scheduler> make_scheduler(config::Policy policy, std::uint64_t task_count, int ranks,
                                          unsigned threads_per_rank, std::optional<std::uint64_t> chunk);

}  // namespace fanout::sched
