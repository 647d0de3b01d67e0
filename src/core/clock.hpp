#pragma once
// Clocks: one run clock shared by all ranks, and CPU time of threads and processes.
#include <cstdint>

namespace boost::mpi {
class communicator;
}

namespace fanout {

// Seconds on this process's steady (monotonic) clock.
double steady_seconds();

struct CpuTimes {
  double user = 0;
  double sys = 0;
};
// User and system CPU time of the calling thread (getrusage RUSAGE_THREAD).
CpuTimes thread_cpu_times();

struct ProcessUsage {
  double user = 0;
  double sys = 0;
  std::int64_t max_rss_bytes = 0;
};
// The whole process, all threads (getrusage RUSAGE_SELF), plus the CPU of the
// child processes it waited for (RUSAGE_CHILDREN: a command job's commands).
ProcessUsage process_usage();

// Seconds since the run started, on rank 0's steady clock: each rank adds its
// measured offset to rank 0, so times from different nodes are comparable.
class RunClock {
 public:
  RunClock() = default;
  RunClock(double offset, double start) : offset_(offset), start_(start) {}
  double now() const { return steady_seconds() + offset_ - start_; }
  // A local steady_seconds() reading on the run clock.
  double at(double local_steady) const { return local_steady + offset_ - start_; }
  double offset() const { return offset_; }

 private:
  double offset_ = 0;
  double start_ = 0;
};

// Collective. Estimates every rank's clock offset to rank 0 by ping-pong
// (the round trip with the smallest delay wins) and makes `start` (a reading
// of rank 0's steady clock) time zero on every rank.
RunClock synchronize_clock(const boost::mpi::communicator& comm, double rank0_start);

}  // namespace fanout
