// The run clock: one time axis for all ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include <boost/mpi/collectives/all_gather.hpp>
#include <boost/mpi/collectives/broadcast.hpp>
#include <boost/mpi/communicator.hpp>

#include "core/clock.hpp"

using namespace fanout;

TEST(Clock, RanksAgreeOnTheRunClock) {
  boost::mpi::communicator comm(boost::mpi::communicator(), boost::mpi::comm_duplicate);
  double start = steady_seconds();
  boost::mpi::broadcast(comm, start, 0);
  RunClock clock = synchronize_clock(comm, start);
  // On one machine all ranks share the steady clock, so the estimated
  // offset is only measurement error: far below a millisecond, allowing a lot
  // for an oversubscribed machine.
  EXPECT_LT(std::abs(clock.offset()), 0.05);
  EXPECT_GE(clock.now(), 0.0);
  // Rank 0's broadcast time is on the run clock of every rank.
  double sent = comm.rank() == 0 ? clock.now() : 0;
  boost::mpi::broadcast(comm, sent, 0);
  double received = clock.now();
  EXPECT_GE(received, sent - 0.05);
}

TEST(Clock, ThreadCpuTimeGrowsWithWork) {
  CpuTimes before = thread_cpu_times();
  double end = steady_seconds() + 0.05;
  volatile double x = 0;
  while (steady_seconds() < end) x = x + 1;
  CpuTimes after = thread_cpu_times();
  EXPECT_GT(after.user + after.sys, before.user + before.sys);
  ProcessUsage usage = process_usage();
  EXPECT_GT(usage.max_rss_bytes, 0);
}
