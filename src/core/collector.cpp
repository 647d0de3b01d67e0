#include "core/collector.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace fanout {

void Collector::store(Batch&& batch) {
  if (batch.empty()) return;
  // Errors first: a failed attempt that will be retried is only an error row.
  for (auto& e : batch.errors) {
    auto it = attempts_.find(e.id);
    e.attempt = it == attempts_.end() ? 1 : it->second + 1;
  }
  double seconds = 0;
  std::size_t kept = 0;

  const std::size_t row_size = batch.records.empty() ? 0 : batch.rows.size() / batch.records.size();
  for (std::size_t i = 0; i < batch.records.size(); ++i) {
    TaskRecord r = batch.records[i];
    dispatcher_.returned();
    seconds += r.t_end - r.t_start;
    longest_ = std::max(longest_, r.t_end - r.t_start);
    recent_.add(r.t_end - r.t_start);
    task_cpu_ += r.cpu_user + r.cpu_sys;
    if (r.rank >= 0) {
      if (outcome_.task_cpu.size() <= static_cast<std::size_t>(r.rank)) outcome_.task_cpu.resize(r.rank + 1, 0.0);
      outcome_.task_cpu[r.rank] += r.cpu_user + r.cpu_sys;
      // What rank 0 knows of the ranks before they report (a file published at a stop).
      if (outcome_.ranks.size() <= static_cast<std::size_t>(r.rank)) outcome_.ranks.resize(r.rank + 1);
      outcome_.ranks[r.rank].rank = r.rank;
      outcome_.ranks[r.rank].tasks += 1;
      outcome_.ranks[r.rank].busy += r.t_end - r.t_start;
    }
    if (r.id >= seen_.size()) throw std::logic_error("a rank returned an unknown task id");
    if (seen_[r.id]) throw std::logic_error("task " + std::to_string(r.id) + " ran twice");
    auto it = attempts_.find(r.id);
    r.attempt = it == attempts_.end() ? 1 : it->second + 1;
    if (r.status != TaskStatus::Ok && r.attempt <= retries_ && !dispatcher_.stopping()) {
      attempts_[r.id] = r.attempt;
      dispatcher_.retry(r.id, r.rank);
      ++outcome_.retried;
      continue;
    }
    attempts_.erase(r.id);
    seen_[r.id] = true;
    if (outcome_.completed == 0) {
      outcome_.first_start = r.t_start;
      outcome_.last_end = r.t_end;
    }
    outcome_.first_start = std::min(outcome_.first_start, r.t_start);
    outcome_.last_end = std::max(outcome_.last_end, r.t_end);
    ++outcome_.completed;
    if (r.status != TaskStatus::Ok) ++outcome_.failed;
    // Compact the batch: kept records and rows move to the front.
    if (kept != i) std::memcpy(batch.rows.data() + kept * row_size, batch.rows.data() + i * row_size, row_size);
    batch.records[kept++] = r;
  }
  batch.records.resize(kept);
  batch.rows.resize(kept * row_size);
  scheduler_.observe(seconds, batch.records.size());

  for (const auto& e : batch.errors) outcome_.errors.push_back(e);
  sink_.store(std::move(batch));
}

}  // namespace fanout
