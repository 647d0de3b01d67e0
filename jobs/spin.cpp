// spin: synthetic tasks of a chosen duration, CPU-bound (mode = "cpu") or
// waiting (mode = "sleep", the I/O-bound case). Durations are drawn from
// (seed, task id) alone, so every rank count and policy runs the same tasks.
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <stdexcept>
#include <string>

#include "config/params.hpp"
#include "core/job.hpp"
#include "core/limits.hpp"

namespace fanout::jobs {
namespace {

// splitmix64: a well-mixed 64-bit hash of (seed, task, stream).
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A uniform double in (0, 1).
double uniform(std::uint64_t seed, std::uint64_t task, std::uint64_t stream) {
  std::uint64_t bits = mix(mix(mix(seed) ^ task) ^ stream);
  return (static_cast<double>(bits >> 11) + 0.5) * 0x1.0p-53;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

class Spin : public Job {
 public:
  Spin(std::uint64_t tasks, double duration, std::string distribution, double sigma, std::uint64_t seed,
       std::string mode, std::uint64_t fail_every, bool fail_on_rank0_only)
      : tasks_(tasks),
        duration_(duration),
        distribution_(std::move(distribution)),
        sigma_(sigma),
        seed_(seed),
        cpu_(mode == "cpu"),
        fail_every_(fail_every),
        fail_on_rank0_only_(fail_on_rank0_only) {}

  std::uint64_t task_count() const override { return tasks_; }
  bool has_costs() const override { return true; }
  double cost(std::uint64_t task) const override { return planned(task); }

  double planned(std::uint64_t task) const {
    if (duration_ == 0) return 0;
    if (distribution_ == "uniform") return 2 * duration_ * uniform(seed_, task, 0);
    if (distribution_ == "lognormal") {
      // Box-Muller; mu chosen so that the mean is `duration`.
      double z =
          std::sqrt(-2 * std::log(uniform(seed_, task, 0))) * std::cos(2 * std::numbers::pi * uniform(seed_, task, 1));
      return std::exp(std::log(duration_) - sigma_ * sigma_ / 2 + sigma_ * z);
    }
    return duration_;
  }

  void run(TaskContext& context, Row& row) const override {
    const std::uint64_t task = context.id();
    double seconds = planned(task);
    const bool failing_rank = fail_every_ != 0 && (!fail_on_rank0_only_ || context.rank() == 0);
    if (failing_rank && task % fail_every_ == fail_every_ - 1)
      throw std::runtime_error("spin: task " + std::to_string(task) +
                               " fails on purpose (job.fail_every = " + std::to_string(fail_every_) + ")");
    if (seconds > 0 && cpu_) {
      // Burn this thread's CPU time. Reading the thread CPU clock is a system
      // call (~0.75 us), so check it about every 20 us of work, or sooner
      // near the end; the rate of steps is measured per thread as we go.
      thread_local double steps_per_second = 1e8;
      double start = thread_cpu_seconds();
      double end = start + seconds;
      volatile std::uint64_t sink = task;
      for (double now = start; now < end;) {
        double slice = std::min(20e-6, (end - now) / 2);
        auto steps = static_cast<std::uint64_t>(std::max(64.0, slice * steps_per_second));
        std::uint64_t x = sink;
        for (std::uint64_t i = 0; i < steps; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        sink = x;
        double later = thread_cpu_seconds();
        if (later > now) steps_per_second = 0.5 * steps_per_second + 0.5 * static_cast<double>(steps) / (later - now);
        now = later;
      }
    } else if (seconds > 0) {
      timespec ts{static_cast<time_t>(seconds), static_cast<long>((seconds - std::floor(seconds)) * 1e9)};
      while (nanosleep(&ts, &ts) != 0) {
      }
    }
    row.set<double>(0, seconds);
  }

 private:
  std::uint64_t tasks_;
  double duration_;
  std::string distribution_;
  double sigma_;
  std::uint64_t seed_;
  bool cpu_;
  std::uint64_t fail_every_;
  bool fail_on_rank0_only_;
};

const RegisterJob registered{{
    "spin",
    "synthetic tasks that burn CPU (mode = \"cpu\") or sleep (mode = \"sleep\") for a drawn duration",
    {{"duration", ColumnType::F64, "s", "the task's planned duration, drawn from (seed, task id)"}},
    [](config::Section& params) -> std::unique_ptr<Job> {
      auto tasks = params.whole("tasks", 100, 1, MAX_TASKS, "number of tasks");
      auto duration = params.number("duration", 0.01, 0, 86400, "mean seconds per task; 0 gives empty tasks");
      auto distribution = params.choice("distribution", "constant", {"constant", "uniform", "lognormal"},
                                        "how durations vary: constant, uniform on [0, 2 x duration], lognormal");
      auto sigma = params.number("sigma", 1.0, 0, 10, "lognormal shape (standard deviation of the log)");
      auto seed = params.whole("seed", 1, 0, config::Section::NO_MAX, "seed of the durations; same seed, same tasks");
      auto mode = params.choice("mode", "cpu", {"cpu", "sleep"}, "cpu: burn CPU time; sleep: wait (I/O-bound)");
      auto fail_every = params.whole("fail_every", 0, 0, config::Section::NO_MAX,
                                     "for testing failure handling: every fail_every-th task (ids fail_every - 1, "
                                     "2 fail_every - 1, ...) throws instead of finishing; 0: none");
      auto fail_on = params.choice("fail_on", "any", {"any", "rank0"},
                                   "where those tasks fail: on any rank, or only on rank 0 (so a retry on another "
                                   "rank succeeds)");
      return std::make_unique<Spin>(tasks, duration, distribution, sigma, seed, mode, fail_every, fail_on == "rank0");
    },
}};

}  // namespace
}  // namespace fanout::jobs
