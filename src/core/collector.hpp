#pragma once
// Rank 0's bookkeeping of the tasks that came back: attempts and retries,
// the run's counts and times, and the final tasks on to the sink.
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "core/batch.hpp"
#include "core/dispatcher.hpp"
#include "core/pacing.hpp"
#include "core/runner.hpp"
#include "core/sink.hpp"

namespace fanout {

class Collector {
 public:
  Collector(RunOutcome& outcome, TaskSink& sink, sched::Scheduler& scheduler, Dispatcher& dispatcher,
            const RunSettings& settings, std::uint64_t task_count)
      : outcome_(outcome),
        sink_(sink),
        scheduler_(scheduler),
        dispatcher_(dispatcher),
        retries_(settings.retries),
        seen_(task_count, false) {}
  // Books a batch that came back and passes its final tasks to the sink.
  void store(Batch&& batch);
  std::uint64_t completed() const { return outcome_.completed; }
  std::uint64_t failed() const { return outcome_.failed; }
  double task_cpu() const { return task_cpu_; }
  double longest() const { return longest_; }
  // Recent wall time per task returned (attempts included; 0 before any).
  double recent_task() const { return recent_.value(); }

 private:
  RunOutcome& outcome_;
  TaskSink& sink_;
  sched::Scheduler& scheduler_;
  Dispatcher& dispatcher_;
  unsigned retries_;
  double task_cpu_ = 0;
  double longest_ = 0;
  RecentMean recent_;
  std::vector<bool> seen_;                                     // one bit per task: memory stays small for many tasks
  std::unordered_map<std::uint64_t, std::uint32_t> attempts_;  // failed tasks waiting for a retry
};

}  // namespace fanout
