#include "core/runner.hpp"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include <boost/mpi/collectives/all_gather.hpp>
#include <boost/mpi/collectives/all_reduce.hpp>
#include <boost/mpi/collectives/gather.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/serialization/array.hpp>
#include <boost/serialization/string.hpp>

#include "core/coordinators.hpp"
#include "core/mpi_check.hpp"
#include "core/pacing.hpp"
#include "sched/scheduler.hpp"

namespace fanout {
namespace {

std::atomic<int> g_stop_signals{0};
std::atomic<int> g_last_signal{0};

void on_stop_signal(int signo) {
  g_last_signal.store(signo);
  g_stop_signals.fetch_add(1);
}

}  // namespace

void install_stop_signals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int signo : {SIGTERM, SIGINT, SIGUSR1}) sigaction(signo, &action, nullptr);
}

int stop_signals_received() { return g_stop_signals.load(); }
int last_stop_signal() { return g_last_signal.load(); }

std::string signal_name(int signo) {
  switch (signo) {
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    case SIGUSR1:
      return "SIGUSR1";
    default:
      return "signal " + std::to_string(signo);
  }
}

void quiet_barrier(const boost::mpi::communicator& comm) {
  MPI_Request request;
  check_mpi(MPI_Ibarrier(comm, &request), "MPI_Ibarrier");
  wait_quietly([&] {
    int done = 0;
    check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    return done != 0;
  });
}

void set_phase(PhaseRecord& phase, const std::string& name, double t_start, double t_end) {
  std::memset(phase.name, 0, sizeof phase.name);
  std::memcpy(phase.name, name.data(), std::min(name.size(), sizeof phase.name - 1));
  phase.t_start = t_start;
  phase.t_end = t_end;
}

namespace {

RankRecord describe_rank(int rank, unsigned threads, double compute_wall, const WorkerPool& pool,
                         const CommTimer& timer, const ProcessUsage& at_start) {
  RankRecord r;
  r.rank = rank;
  r.threads = static_cast<std::int32_t>(threads);
  gethostname(r.host, sizeof r.host - 1);
  r.pid = getpid();
  r.busy = pool.busy();
  r.idle = std::max(0.0, threads * compute_wall - r.busy);
  r.comm = timer.total();
  ProcessUsage usage = process_usage();
  r.cpu_user = usage.user - at_start.user;
  r.cpu_sys = usage.sys - at_start.sys;
  r.max_rss = usage.max_rss_bytes;
  r.tasks = pool.tasks_done();
  return r;
}

// This rank's node: settings.node_name, else the host name.
std::string node_name(const RunSettings& settings) {
  if (!settings.node_name.empty()) return settings.node_name;
  char host[HOST_NAME_BYTES] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

// Collective: the hierarchy the run uses and this rank's place in it.
Topology plan(const boost::mpi::communicator& comm, const RunSettings& settings, sched::Hierarchy& used) {
  const int ranks = comm.size();
  std::vector<std::string> nodes;
  // Node names are only gathered when they decide something.
  bool need_nodes = settings.hierarchy.kind == sched::HierarchyKind::Node ||
                    (settings.hierarchy.kind == sched::HierarchyKind::Auto && ranks >= AUTO_LEADERS_FROM_RANKS);
  if (need_nodes) boost::mpi::all_gather(comm, node_name(settings), nodes);
  used = resolve_hierarchy(settings.hierarchy, ranks, need_nodes ? count_nodes(nodes) : 1);
  std::vector<int> leaders;
  switch (used.kind) {
    case sched::HierarchyKind::Node:
      leaders = leaders_of_nodes(nodes);
      break;
    case sched::HierarchyKind::Groups:
      leaders = leaders_of_groups(ranks, used.group_size);
      break;
    default:
      leaders = leaders_of_groups(ranks, ranks);
      break;  // flat: one group, led by rank 0
  }
  if (used.kind != sched::HierarchyKind::Flat) detach_rank_zero(leaders);
  return make_topology(comm.rank(), leaders);
}

}  // namespace

RunOutcome execute(const boost::mpi::communicator& comm, const Job& job, const RowLayout& layout,
                   const RunSettings& settings, const RunClock& clock, TaskSink* sink) {
  if (comm.rank() == 0 && !sink) throw std::invalid_argument("execute: rank 0 needs a sink for the results");
  RunOutcome outcome;
  const unsigned threads = settings.threads_per_rank;
  const std::uint64_t task_count = job.task_count();
  const std::uint64_t to_run = task_count - settings.already_done;
  if (settings.already_done > 0 && comm.rank() == 0 && settings.order.size() != to_run)
    throw std::invalid_argument("execute: a resumed run must list the tasks left to run");
  const Topology topology = plan(comm, settings, outcome.hierarchy);
  double compute_start = steady_seconds();
  CommTimer timer;
  RankRecord mine;
  {
    // The runner's own traffic goes on a duplicate, so that probing for any
    // tag can never take a message of the caller's (a collective's, say).
    boost::mpi::communicator own(comm, boost::mpi::comm_duplicate);
    Link link(own);
    // Abandoned worker threads still use the pool: it then lives until _exit.
    auto pool =
        std::make_unique<WorkerPool>(job, layout, threads, comm.rank(), settings.session, clock, settings.sweep);
    double serve = 0;
    RankContext context{link, *pool, settings, topology, timer, serve, outcome, layout.size()};
    if (comm.rank() == 0) {
      auto scheduler =
          sched::make_scheduler({settings.policy, to_run, comm.size(), threads, settings.chunk, settings.order});
      outcome.chunk = scheduler->chunk_description();
      Dispatcher dispatcher(*scheduler, topology.route, settings.retries);
      Collector collector(outcome, *sink, *scheduler, dispatcher, settings, task_count);
      coordinate_root(context, dispatcher, collector, *sink);
    } else if (topology.is_leader()) {
      coordinate_leader(context);
    } else {
      coordinate_member(context);
    }
    if (!outcome.abandoned) pool->close();
    // Idle time runs until every rank is done, so wait for them first.
    quiet_barrier(comm);
    job.release();  // the job's helper processes end here, so their CPU counts in this rank's
    mine = describe_rank(comm.rank(), threads, steady_seconds() - compute_start, *pool, timer, settings.usage_at_start);
    mine.leader = topology.recorded_leader();
    const Traffic& traffic = link.traffic();
    mine.messages_in = traffic.messages_in;
    mine.messages_out = traffic.messages_out;
    mine.bytes_in = traffic.bytes_in;
    mine.bytes_out = traffic.bytes_out;
    mine.serve = serve;
    if (outcome.abandoned) (void)pool.release();
  }
  int abandoned = outcome.abandoned ? 1 : 0;
  int any_abandoned = 0;
  boost::mpi::all_reduce(comm, abandoned, any_abandoned, std::logical_or<int>());
  if (comm.rank() == 0) {
    boost::mpi::gather(comm, mine, outcome.ranks, 0);
    if (outcome.stop == StopCause::None && outcome.completed != to_run)
      throw std::logic_error("the run ended with " + std::to_string(to_run - outcome.completed) + " tasks not run");
    std::sort(outcome.errors.begin(), outcome.errors.end(),
              [](auto& a, auto& b) { return a.id != b.id ? a.id < b.id : a.attempt < b.attempt; });
  } else {
    boost::mpi::gather(comm, mine, 0);
    outcome.ranks.push_back(mine);
  }
  outcome.abandoned = any_abandoned != 0;
  return outcome;
}

}  // namespace fanout
