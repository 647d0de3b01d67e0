// share_cpu: how one CPU reading is shared out over the tasks of its span.
#include <gtest/gtest.h>

#include <cstring>
#include <string_view>
#include <vector>

#include "core/records.hpp"

using namespace fanout;

namespace {
TaskRecord task(double start, double end) {
  TaskRecord r;
  r.t_start = start;
  r.t_end = end;
  return r;
}
}  // namespace

TEST(ShareCpu, OneTaskKeepsTheReading) {
  std::vector<TaskRecord> span{task(1.0, 1.5)};
  span[0].cpu_shared = 1;
  share_cpu(span, 0.4, 0.05);
  EXPECT_EQ(span[0].cpu_user, 0.4);
  EXPECT_EQ(span[0].cpu_sys, 0.05);
  EXPECT_EQ(span[0].cpu_shared, 0);
}

TEST(ShareCpu, SharesGoByWallTimeAndAddUpToTheReading) {
  std::vector<TaskRecord> span{task(0, 1e-6), task(1e-6, 3e-6), task(3e-6, 6e-6)};
  share_cpu(span, 12e-6, 6e-6);
  const double weights[] = {1.0 / 6, 2.0 / 6, 3.0 / 6};
  double user = 0, sys = 0;
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(span[i].cpu_user, 12e-6 * weights[i], 1e-15);
    EXPECT_NEAR(span[i].cpu_sys, 6e-6 * weights[i], 1e-15);
    EXPECT_EQ(span[i].cpu_shared, 1);
    user += span[i].cpu_user;
    sys += span[i].cpu_sys;
  }
  EXPECT_NEAR(user, 12e-6, 1e-15);
  EXPECT_NEAR(sys, 6e-6, 1e-15);
}

TEST(ShareCpu, TasksThatTookNoMeasurableTimeShareEqually) {
  std::vector<TaskRecord> span{task(2, 2), task(2, 2), task(2, 2), task(2, 2)};
  share_cpu(span, 4e-6, 0);
  for (const auto& r : span) {
    EXPECT_DOUBLE_EQ(r.cpu_user, 1e-6);
    EXPECT_EQ(r.cpu_sys, 0);
    EXPECT_EQ(r.cpu_shared, 1);
  }
}

TEST(ShareCpu, AnEmptySpanIsLeftAlone) {
  std::vector<TaskRecord> span;
  share_cpu(span, 1, 1);
  EXPECT_TRUE(span.empty());
}

// The run status and phase names: one table each (core/run_status.hpp), as the file spells them.
TEST(RunStatusNames, EnumsMapToTheFilesStrings) {
  using namespace fanout;
  EXPECT_EQ(status_name(RunStatus::Complete), "complete");
  EXPECT_EQ(status_name(RunStatus::Failed), "failed");
  for (std::string_view name : RUN_STATUS_NAMES) EXPECT_EQ(status_name(*parse_status(name)), name);
  EXPECT_EQ(parse_status("Complete"), std::nullopt);
  for (std::string_view name : PHASE_NAMES) EXPECT_EQ(phase_name(*parse_phase(name)), name);
  PhaseRecord record;
  std::memcpy(record.name, "compute", 7);
  EXPECT_EQ(phase_of(record), Phase::Compute);
  std::memcpy(record.name, "computed", 8);
  EXPECT_EQ(phase_of(record), std::nullopt);
}
