#include "core/clock.hpp"

#include <sys/resource.h>

#include <chrono>
#include <limits>

#include <boost/mpi/collectives/broadcast.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/mpi/status.hpp>

namespace fanout {

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

namespace {
double seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6; }
}  // namespace

CpuTimes thread_cpu_times() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return {seconds(usage.ru_utime), seconds(usage.ru_stime)};
}

ProcessUsage process_usage() {
  rusage usage{}, children{};
  getrusage(RUSAGE_SELF, &usage);
  // The child processes it waited for (the command job's) worked for it too.
  getrusage(RUSAGE_CHILDREN, &children);
  return {seconds(usage.ru_utime) + seconds(children.ru_utime), seconds(usage.ru_stime) + seconds(children.ru_stime),
          static_cast<std::int64_t>(usage.ru_maxrss) * 1024};
}

RunClock synchronize_clock(const boost::mpi::communicator& comm, double rank0_start) {
  constexpr int ROUNDS = 4;
  constexpr int TAG = 9001;
  double offset = 0;
  if (comm.rank() == 0) {
    // Answer pings in arrival order, so a rank that is slow to start (say, on
    // an oversubscribed machine) holds up no one else.
    for (int i = 0; i < ROUNDS * (comm.size() - 1); ++i) {
      int ping = 0;
      boost::mpi::status status = comm.recv(boost::mpi::any_source, TAG, ping);
      comm.send(status.source(), TAG, steady_seconds());
    }
  } else {
    double best_delay = std::numeric_limits<double>::infinity();
    for (int i = 0; i < ROUNDS; ++i) {
      double sent = steady_seconds();
      comm.send(0, TAG, 1);
      double remote = 0;
      comm.recv(0, TAG, remote);
      double received = steady_seconds();
      if (received - sent < best_delay) {
        best_delay = received - sent;
        offset = remote - (sent + received) / 2;
      }
    }
  }
  double start = rank0_start;
  boost::mpi::broadcast(comm, start, 0);
  return RunClock(offset, start);
}

}  // namespace fanout
