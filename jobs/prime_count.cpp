// prime_count: how many primes lie in [start, stop)? Task i counts those of
// block i, [start + i*block, min(start + (i+1)*block, stop)), with
// libprimesieve (https://github.com/kimwalisch/primesieve), one thread per
// task: fanout's ranks and worker threads are the parallelism. Any range of
// [0, 2^64 - 1] works (2^64 - 1 itself is composite, so [0, 2^64 - 1) holds
// every prime below 2^64).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include <primesieve.hpp>

#include "config/params.hpp"
#include "core/job.hpp"
#include "core/run_output.hpp"

namespace fanout::jobs {
namespace {

constexpr std::uint64_t MAX_STOP = std::numeric_limits<std::uint64_t>::max();  // 2^64 - 1

// floor(sqrt(n)) for any 64-bit n.
std::uint64_t isqrt(std::uint64_t n) {
  auto r = static_cast<std::uint64_t>(std::sqrt(static_cast<double>(n)));
  r = std::min<std::uint64_t>(r, 0xFFFFFFFFULL);  // the double may round up to 2^32
  while (r * r > n) --r;
  while (r < 0xFFFFFFFFULL && (r + 1) * (r + 1) <= n) ++r;
  return r;
}

// Every block first makes the sieving primes up to sqrt(its end): about
// 4 CPU-seconds just below 2^64. The default block is 64 x sqrt(stop)
// numbers (at least 10^9), so that this fixed cost stays near 1% of a task.
std::uint64_t default_block(std::uint64_t stop) { return std::max<std::uint64_t>(1'000'000'000, 64 * isqrt(stop)); }

class PrimeCount : public Job {
 public:
  PrimeCount(std::uint64_t start, std::uint64_t stop, std::uint64_t block) : start_(start), stop_(stop), block_(block) {
    // One thread per call: a task is one thread's work.
    primesieve::set_num_threads(1);
  }

  // ceil((stop - start) / block), written so that nothing overflows near 2^64.
  std::uint64_t task_count() const override { return stop_ == start_ ? 0 : (stop_ - start_ - 1) / block_ + 1; }

  // A block costs about its length (the sieve's work per number changes
  // little along the range); only the last block can be shorter.
  bool has_costs() const override { return true; }
  // The count of the whole range, as the root attribute `total`.
  void finish(RunOutput& output) const override {
    output.set_attribute("total", output.sum<std::uint64_t>("count"),
                         "primes in [start, stop): the sum of /results/count");
  }
  double cost(std::uint64_t task) const override { return static_cast<double>(block_end(task) - block_begin(task)); }

  void run(std::uint64_t task, Row& row) const override {
    // primesieve counts a closed interval: [lo, hi) is [lo, hi - 1] (hi > lo).
    row.set<std::uint64_t>(0, primesieve::count_primes(block_begin(task), block_end(task) - 1));
  }

 private:
  // task < task_count(), so task * block < stop - start: no overflow.
  std::uint64_t block_begin(std::uint64_t task) const { return start_ + task * block_; }
  std::uint64_t block_end(std::uint64_t task) const {
    return stop_ - block_begin(task) > block_ ? block_begin(task) + block_ : stop_;
  }

  std::uint64_t start_, stop_, block_;
};

const RegisterJob registered{{
    "prime_count",
    "count the primes in [start, stop), any range below 2^64, one block of the range per task (libprimesieve)",
    {{"count", ColumnType::U64, "", "the number of primes in the task's block"}},
    [](config::Section& params) -> std::unique_ptr<Job> {
      auto start = params.big_whole("start", 0, 0, MAX_STOP,
                                    "first number of the range (inclusive); above 2^63 - 1 as a string of digits");
      auto stop = params.big_whole("stop", std::nullopt, 0, MAX_STOP,
                                   "end of the range (exclusive), at least start; at most 2^64 - 1 = "
                                   "\"18446744073709551615\" (a string of digits above 2^63 - 1)");
      if (stop < start)
        params.fail("stop", "expected a whole number at least start = " + std::to_string(start) + ", found " +
                                std::to_string(stop));
      auto block = params.whole("block", default_block(stop), 1, config::Section::NO_MAX,
                                "numbers per task: task i counts [start + i*block, start + (i+1)*block); the "
                                "default, 10^9, is 64 x floor(sqrt(stop)) from stop = 2.44 x 10^14 on");
      return std::make_unique<PrimeCount>(start, stop, block);
    },
}};

}  // namespace
}  // namespace fanout::jobs
