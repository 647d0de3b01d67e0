// logistic: a user's own job driven by a parameter sweep ([params]). Each
// task iterates the logistic map x -> r x (1 - x) for its parameters r and
// steps, from x = 0.2, and reports where it ended and the orbit's Lyapunov
// exponent (negative: it settles; positive: chaos). The task's parameters,
// rank and thread come from the TaskContext that run() is given.
#include <cmath>
#include <cstdint>
#include <memory>

#include "config/params.hpp"
#include "core/job.hpp"

namespace {

class Logistic : public fanout::Job {
 public:
  explicit Logistic(const fanout::Sweep& sweep) : sweep_(sweep) {}

  std::uint64_t task_count() const override { return sweep_.size(); }

  void run(fanout::TaskContext& task, fanout::Row& row) const override {
    const double r = task.number("r");
    const std::int64_t steps = task.whole("steps");
    double x = 0.2, lyapunov = 0;
    for (std::int64_t i = 0; i < steps; ++i) {
      lyapunov += std::log(std::fabs(r * (1 - 2 * x)));
      x = r * x * (1 - x);
    }
    row.set<double>(0, x);                                          // "x_final"
    row.set<double>(1, lyapunov / static_cast<double>(steps));      // "lyapunov"
    row.set<std::int32_t>(2, static_cast<std::int32_t>(task.rank()));  // "rank": who ran it
  }

 private:
  const fanout::Sweep& sweep_;
};

const fanout::RegisterJob registered{{
    "logistic",
    "the logistic map x -> r x (1 - x) over a sweep of r and steps ([params] r, steps)",
    {{"x_final", fanout::ColumnType::F64, "", "x after `steps` iterations from 0.2"},
     {"lyapunov", fanout::ColumnType::F64, "", "the mean of log |r (1 - 2x)| along the orbit"},
     {"rank", fanout::ColumnType::I32, "", "the rank that ran the task"}},
    [](fanout::config::Section& params) -> std::unique_ptr<fanout::Job> {
      const fanout::Sweep* sweep = params.sweep();  // asking says: this job takes its tasks from [params]
      if (params.describing()) return nullptr;
      if (!sweep || !sweep->find("r") || !sweep->find("steps"))
        params.fail("kind", "job logistic needs [params] r (numbers) and steps (whole numbers)");
      return std::make_unique<Logistic>(*sweep);
    },
}};

}  // namespace
