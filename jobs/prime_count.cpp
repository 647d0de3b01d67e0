// prime_count: how many primes lie in [start, stop)? Task i counts those of
// block i, [start + i*block, min(start + (i+1)*block, stop)), with the
// segmented wheel sieve of prime_sieve.hpp. Each rank computes the sieving
// primes up to sqrt(stop) once, when the job is made; all its tasks and
// threads then only read them.
#include <cstdint>
#include <string>

#include "config/params.hpp"
#include "core/job.hpp"
#include "core/run_output.hpp"
#include "prime_sieve.hpp"

namespace fanout::jobs {
namespace {

class PrimeCount : public Job {
 public:
  PrimeCount(std::uint64_t start, std::uint64_t stop, std::uint64_t block)
      : start_(start), stop_(stop), block_(block), primes_(stop) {}

  std::uint64_t task_count() const override { return (stop_ - start_ + block_ - 1) / block_; }

  // A block costs about its length (the sieve's work per number changes
  // little along the range); only the last block can be shorter.
  bool has_costs() const override { return true; }
  // The count of the whole range, as the root attribute `total`.
  void finish(RunOutput& output) const override { 
    output.set_attribute("total", output.sum<std::uint64_t>("count"), "primes in [start, stop): the sum of /results/count");
  }
  double cost(std::uint64_t task) const override {
    return static_cast<double>(block_end(task) - block_begin(task));
  }

  void run(std::uint64_t task, Row& row) const override {
    row.set<std::uint64_t>(0, sieve::count_primes(block_begin(task), block_end(task), primes_));
  }

 private:
  std::uint64_t block_begin(std::uint64_t task) const { return start_ + task * block_; }
  std::uint64_t block_end(std::uint64_t task) const {
    return stop_ - block_begin(task) > block_ ? block_begin(task) + block_ : stop_;
  }

  std::uint64_t start_, stop_, block_;
  sieve::SievingPrimes primes_;
};

const RegisterJob registered{{
    "prime_count",
    "count the primes in [start, stop), one block of the range per task (segmented sieve of Eratosthenes)",
    {{"count", ColumnType::U64, "", "the number of primes in the task's block"}},
    [](config::Section& params) -> std::unique_ptr<Job> {
      auto start = params.whole("start", 0, 0, sieve::MAX_STOP - 1, "first number of the range (inclusive)");
      auto stop = params.whole("stop", std::nullopt, 1, sieve::MAX_STOP,
                               "end of the range (exclusive), at most 10^13 = 10000000000000");
      auto block = params.whole("block", 100'000'000, 1, sieve::MAX_STOP,
                                "numbers per task: task i counts [start + i*block, start + (i+1)*block)");
      if (stop <= start)
        params.fail("stop", "expected a whole number greater than start = " + std::to_string(start) +
                                ", found " + std::to_string(stop));
      return std::make_unique<PrimeCount>(start, stop, block);
    },
}};

}  // namespace
}  // namespace fanout::jobs
