// monte_carlo_pi: estimate pi from points drawn uniformly in the unit square,
// counting those inside the quarter circle. Each task draws `samples` points
// from its own stream, seeded from (seed, task id) alone, so the counts, and
// the estimate made from their sum, are bit-identical for any rank count,
// thread count and policy.
#include <cmath>
#include <cstdint>

#include "config/params.hpp"
#include "core/job.hpp"
#include "core/run_output.hpp"

namespace fanout::jobs {
namespace {

// splitmix64's output function: a bijective 64-bit mix.
std::uint64_t mix(std::uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

constexpr std::uint64_t GOLDEN = 0x9e3779b97f4a7c15ULL;

// splitmix64 (Steele, Lea and Flood 2014): the state advances by a constant,
// each output is the mixed state. A task's stream starts at a state mixed
// from (seed, task id), so the streams of different tasks are unrelated.
class SplitMix64 {
 public:
  SplitMix64(std::uint64_t seed, std::uint64_t task) : state_(mix(mix(seed + GOLDEN) ^ (task * GOLDEN + 1))) {}
  std::uint64_t next() { return mix(state_ += GOLDEN); }
  // A uniform double in [0, 1): the top 53 bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t state_;
};

class MonteCarloPi : public Job {
 public:
  MonteCarloPi(std::uint64_t tasks, std::uint64_t samples, std::uint64_t seed)
      : tasks_(tasks), samples_(samples), seed_(seed) {}

  std::uint64_t task_count() const override { return tasks_; }

  void run(std::uint64_t task, Row& row) const override {
    SplitMix64 rng(seed_, task);
    std::uint64_t inside = 0;
    for (std::uint64_t i = 0; i < samples_; ++i) {
      double x = rng.uniform();
      double y = rng.uniform();
      inside += x * x + y * y < 1.0;
    }
    row.set<std::uint64_t>(0, inside);
  }

  // pi ~ 4 p, p = inside / samples; its standard error is 4 sqrt(p (1 - p) / n).
  void finish(RunOutput& output) const override {
    const std::uint64_t inside = output.sum<std::uint64_t>("inside");
    const std::uint64_t n = tasks_ * samples_;
    const double p = static_cast<double>(inside) / static_cast<double>(n);
    output.set_attribute("samples", n, "random points drawn in all tasks (tasks x samples)");
    output.set_attribute("inside", inside, "points that fell inside the quarter circle (the sum of /results/inside)");
    output.set_attribute("pi", 4.0 * static_cast<double>(inside) / static_cast<double>(n),
                         "the estimate of pi: 4 x inside / samples");
    output.set_attribute("pi_stderr", 4.0 * std::sqrt(p * (1.0 - p) / static_cast<double>(n)),
                         "the standard error of pi: 4 sqrt(p (1 - p) / samples), p = inside / samples");
  }

 private:
  std::uint64_t tasks_, samples_, seed_;
};

const RegisterJob registered{{
    "monte_carlo_pi",
    "estimate pi from random points in the unit square; the estimate and its standard error are root attributes",
    {{"inside", ColumnType::U64, "", "points of the task that fell inside the quarter circle x^2 + y^2 < 1"}},
    [](config::Section& params) -> std::unique_ptr<Job> {
      auto tasks = params.whole("tasks", 100, 1, 1'000'000'000, "number of tasks");
      auto samples = params.whole("samples", 1'000'000, 1, 1'000'000'000'000ULL, "points drawn by each task");
      auto seed = params.whole("seed", 1, 0, config::Section::NO_MAX, "seed of the points; same seed, same estimate");
      if (!params.describing() && tasks > UINT64_MAX / samples)
        params.fail("samples", "tasks x samples must be below 2^64");
      return std::make_unique<MonteCarloPi>(tasks, samples, seed);
    },
}};

}  // namespace
}  // namespace fanout::jobs
