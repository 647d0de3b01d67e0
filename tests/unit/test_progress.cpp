// The progress line's ETA: from the rate when a task last finished, counted
// down; "unknown" once that time has passed with no task finished (a rank
// stopped with SIGSTOP holding the last tasks once made it say "ETA 0s").
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "run/progress.hpp"

using fanout::run::Progress;

namespace {
std::string eta_of(const std::string& line) {
  auto at = line.find("ETA ");
  EXPECT_NE(at, std::string::npos) << line;
  return line.substr(at + 4, line.find(", ", at) - at - 4);
}
}  // namespace

TEST(Progress, EtaFromTheRateCountsDownThenIsUnknownWhenNoTaskFinishes) {
  std::FILE* sink = std::fopen("/dev/null", "w");
  ASSERT_NE(sink, nullptr);
  Progress p(Progress::Mode::Lines, 1000, 1, sink);
  EXPECT_EQ(eta_of(p.line(3, 0, 0, 0)), "?");  // no task yet: no rate
  p.update(10, 998, 0, 0);                     // 998 tasks in 10 s: 2 left, 0.02 s
  EXPECT_EQ(eta_of(p.line(10, 998, 0, 0)), "0s");
  // A rank stopped (SIGSTOP) holds the 2 tasks left: no task finishes.
  p.update(40, 998, 0, 0);
  EXPECT_EQ(eta_of(p.line(40, 998, 0, 0)), "unknown (no task finished for 30s)");
  // Tasks finish again: the rate gives the ETA again.
  p.update(41, 999, 0, 0);
  EXPECT_EQ(eta_of(p.line(41, 999, 0, 0)), "0s");
  p.update(50, 1000, 0, 0);
  EXPECT_EQ(eta_of(p.line(50, 1000, 0, 0)), "0s");
  std::fclose(sink);
}

TEST(Progress, EtaCountsDownBetweenFinishedTasks) {
  std::FILE* sink = std::fopen("/dev/null", "w");
  ASSERT_NE(sink, nullptr);
  Progress p(Progress::Mode::Lines, 100, 1, sink);
  p.update(20, 10, 0, 0);  // 10 tasks in 20 s: 90 left, 180 s
  EXPECT_EQ(eta_of(p.line(20, 10, 0, 0)), "3m00s");
  p.update(50, 10, 0, 0);  // 30 s later, none finished: 150 s
  EXPECT_EQ(eta_of(p.line(50, 10, 0, 0)), "2m30s");
  p.update(250, 10, 0, 0);  // past the estimate
  EXPECT_EQ(eta_of(p.line(250, 10, 0, 0)), "unknown (no task finished for 3m50s)");
  std::fclose(sink);
}
