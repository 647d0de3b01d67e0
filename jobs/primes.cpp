// primes: the course texts' demo. Is each number in a list prime? Trial
// division by 2 and the odd numbers up to isqrt(n), deliberately plain, so
// that the cost of a task grows with the square root of its number.
#include <cmath>
#include <cstdint>

#include "config/params.hpp"
#include "core/job.hpp"

namespace fanout::jobs {
namespace {

std::uint64_t isqrt(std::uint64_t n) {
  auto r = static_cast<std::uint64_t>(std::sqrt(static_cast<double>(n)));
  while (r * r > n) --r;
  while ((r + 1) * (r + 1) <= n) ++r;
  return r;
}

class Primes : public Job {
 public:
  explicit Primes(std::vector<std::uint64_t> numbers) : numbers_(std::move(numbers)) {}
  std::uint64_t task_count() const override { return numbers_.size(); }
  void run(std::uint64_t task, Row& row) const override {
    std::uint64_t n = numbers_.at(task);
    row.set<std::uint64_t>(0, n);
    row.set<std::uint8_t>(1, is_prime(n) ? 1 : 0);
  }
  static bool is_prime(std::uint64_t n) {
    if (n < 2) return false;
    if (n == 2) return true;
    if (n % 2 == 0) return false;
    std::uint64_t root = isqrt(n);
    for (std::uint64_t d = 3; d <= root; d += 2)
      if (n % d == 0) return false;
    return true;
  }

 private:
  std::vector<std::uint64_t> numbers_;
};

const RegisterJob registered{{
    "primes",
    "is each number prime? trial division by odd divisors up to its square root (the course demo)",
    {{"number", ColumnType::U64, "", "the number tested"},
     {"is_prime", ColumnType::U8, "", "1 if the number is prime, else 0"}},
    [](config::Section& params) -> std::unique_ptr<Job> {
      auto numbers = params.whole_list("numbers", 0, "the numbers to test; one task per number");
      return std::make_unique<Primes>(std::move(numbers));
    },
}};

}  // namespace
}  // namespace fanout::jobs
