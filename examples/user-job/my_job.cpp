// perfect: how many perfect and abundant numbers are there below `limit`?
// A user's own fanout job: one file, compiled against the installed fanout
// (see CMakeLists.txt) into a runner that also has the built-in jobs.
// One task per block of `block` numbers: [1 + task x block, 1 + (task + 1) x block).
#include <cmath>
#include <cstdint>
#include <memory>

#include "config/params.hpp"
#include "core/job.hpp"
#include "core/run_output.hpp"

namespace {

// The sum of the proper divisors of n (those below n), by trial division up to sqrt(n).
std::uint64_t proper_divisor_sum(std::uint64_t n) {
  if (n == 1) return 0;
  std::uint64_t sum = 1;
  for (std::uint64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) sum += d == n / d ? d : d + n / d;
  }
  return sum;
}

class Perfect : public fanout::Job {
 public:
  Perfect(std::uint64_t limit, std::uint64_t block) : limit_(limit), block_(block) {}

  std::uint64_t task_count() const override { return (limit_ - 1 + block_ - 1) / block_; }

  // Called from many threads at once: no shared mutable state.
  void run(std::uint64_t task, fanout::Row& row) const override {
    std::uint64_t perfect = 0, abundant = 0;
    for (std::uint64_t n = first(task); n < last(task); ++n) {
      std::uint64_t sum = proper_divisor_sum(n);
      perfect += sum == n;
      abundant += sum > n;
    }
    row.set<std::uint64_t>(0, perfect);   // column 0: "perfect", declared U64
    row.set<std::uint64_t>(1, abundant);  // column 1: "abundant", declared U64
  }

  // Cost hint: a number costs about sqrt(n) divisions, so later blocks cost
  // more. With schedule.order = "longest-first" fanout hands them out first.
  bool has_costs() const override { return true; }
  double cost(std::uint64_t task) const override {
    return static_cast<double>(last(task) - first(task)) * std::sqrt(static_cast<double>(last(task)));
  }

  // Once every task has succeeded: the totals as root attributes of the file.
  void finish(fanout::RunOutput& output) const override {
    output.set_attribute("perfect_total", output.sum<std::uint64_t>("perfect"));
    output.set_attribute("abundant_total", output.sum<std::uint64_t>("abundant"));
  }

 private:
  std::uint64_t first(std::uint64_t task) const { return 1 + task * block_; }
  std::uint64_t last(std::uint64_t task) const { return std::min(limit_, first(task) + block_); }
  std::uint64_t limit_, block_;
};

const fanout::RegisterJob registered{{
    "perfect",
    "count the perfect and the abundant numbers below a limit, one task per block of numbers",
    {{"perfect", fanout::ColumnType::U64, "",
      "perfect numbers in the block (equal to the sum of their proper divisors)"},
     {"abundant", fanout::ColumnType::U64, "", "abundant numbers in the block (less than that sum)"}},
    [](fanout::config::Section& params) -> std::unique_ptr<fanout::Job> {
      auto limit = params.whole("limit", 100'000, 2, 1'000'000'000'000ULL, "count the numbers 1 to limit - 1");
      auto block = params.whole("block", 1000, 1, 1'000'000'000, "numbers per task");
      return std::make_unique<Perfect>(limit, block);
    },
}};

}  // namespace
