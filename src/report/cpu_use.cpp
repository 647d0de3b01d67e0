#include "report/cpu_use.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace fanout::report {

namespace {

std::string plural(long n, const char* word) { return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s"); }

std::string node_of(const RankRecord& r) {
  std::string node(r.node, strnlen(r.node, sizeof r.node));
  return node.empty() ? std::string(r.host, strnlen(r.host, sizeof r.host)) : node;
}

}  // namespace

bool kept_cpus_busy(const RankRecord& r, double task_cpu) {
  if (r.threads <= 0 || r.cpus <= 0) return false;
  double span = (r.busy + r.idle) / r.threads;
  return span > 0 && task_cpu >= BUSY_CPUS * r.cpus * span;
}

std::vector<NodeCpus> cpus_by_node(const std::vector<RankRecord>& ranks, const std::vector<double>& task_cpu) {
  std::vector<NodeCpus> nodes;
  for (const auto& r : ranks)
    if (r.cpus <= 0 || r.node_cpus <= 0) return {};
  for (const auto& r : ranks) {
    std::string name = node_of(r);
    auto it = std::find_if(nodes.begin(), nodes.end(), [&](const NodeCpus& n) { return n.node == name; });
    if (it == nodes.end()) {
      nodes.push_back({});
      it = nodes.end() - 1;
      it->node = name;
    }
    ++it->ranks;
    it->workers += r.threads;
    it->usable += r.cpus;
    it->cpus = std::max<long>(it->cpus, r.node_cpus);
    it->threads = std::max<long>(it->threads, r.threads);
    // Short: bound to fewer CPUs than threads, where more were there to have
    // (an unbound rank with too many threads crowds its node instead).
    if (r.cpus < r.threads && r.cpus < r.node_cpus) {
      it->fewest_cpus = it->short_ranks == 0 ? r.cpus : std::min<long>(it->fewest_cpus, r.cpus);
      ++it->short_ranks;
      auto k = static_cast<std::size_t>(r.rank);
      if (k < task_cpu.size() && kept_cpus_busy(r, task_cpu[k])) ++it->busy_short_ranks;
    }
  }
  for (auto& n : nodes) n.usable = std::min(n.usable, n.cpus);
  return nodes;
}

double crowding(const std::vector<NodeCpus>& nodes) {
  double most = 0;
  for (const auto& n : nodes) {
    if (n.usable > 0) most = std::max(most, static_cast<double>(n.workers) / static_cast<double>(n.usable));
    if (n.short_ranks > 0 && n.fewest_cpus > 0)
      most = std::max(most, static_cast<double>(n.threads) / static_cast<double>(n.fewest_cpus));
  }
  return most;
}

long total_cpus(const std::vector<NodeCpus>& nodes) {
  long n = 0;
  for (const auto& node : nodes) n += node.usable;
  return n;
}

std::string binding_warning(const std::vector<RankRecord>& ranks, const std::vector<double>& task_cpu,
                            const std::vector<int>& threads_per_core, Launcher launcher) {
  std::vector<NodeCpus> nodes = cpus_by_node(ranks, task_cpu);
  long busy_short = 0;
  const NodeCpus* worst = nullptr;
  for (auto& n : nodes) {
    for (std::size_t r = 0; r < ranks.size() && r < threads_per_core.size(); ++r)
      if (node_of(ranks[r]) == n.node) n.threads_per_core = std::max(1, threads_per_core[r]);
    busy_short += n.busy_short_ranks;
    if (n.busy_short_ranks > 0 && !worst) worst = &n;
  }
  if (!worst) return "";
  const NodeCpus& n = *worst;
  const long t = n.threads;
  const bool one = busy_short == 1;
  std::string out = fmt::format(
      "fanout: warning: {} of {} had {}{} ({} CPU affinity) for {} worker threads, and {} tasks kept {} busy: the "
      "threads took turns on {}; ",
      busy_short, plural(static_cast<long>(ranks.size()), "rank"), plural(n.fewest_cpus, "CPU"), one ? "" : " each",
      one ? "its" : "their", t, one ? "its" : "their", n.fewest_cpus == 1 ? "it" : "them",
      n.fewest_cpus == 1 ? "it" : "them");
  if (launcher == Launcher::Slurm)
    return out + fmt::format("ask Slurm for --cpus-per-task={} (on srun too, see docs/slurm.md)\n", t);
  if (launcher == Launcher::None)
    return out + fmt::format(
                     "fanout was started with a narrower CPU affinity (taskset, numactl or a container's "
                     "cpuset): widen it to {} CPUs, or set run.threads_per_rank={}\n",
                     t, n.fewest_cpus);
  // mpirun: --map-by slot:PE=p binds each rank to p cores (p x threads_per_core CPUs).
  const long smt = n.threads_per_core;
  const long cores = std::max(1L, n.cpus / smt);
  const long pe = (t + smt - 1) / smt;
  const bool one_node = nodes.size() == 1;
  if (n.ranks * pe <= cores) return out + fmt::format("start mpirun with --bind-to none, or --map-by slot:PE={}\n", pe);
  // The node has too few cores to give every rank its own: name what fits.
  const long workers = n.ranks * t;
  out +=
      fmt::format("node {} has {} for {} ({} x {}), too few for --map-by slot:PE={}; ", n.node, plural(n.cpus, "CPU"),
                  plural(workers, "worker"), plural(n.ranks, "rank"), plural(t, "thread"), pe);
  std::vector<std::string> fits;
  const long fit_threads = std::max(1L, n.cpus / n.ranks);
  if (fit_threads == 1)
    fits.push_back("--set run.threads_per_rank=1");
  else if (fit_threads < t)
    fits.push_back(fmt::format("--set run.threads_per_rank={} with --bind-to none", fit_threads));
  const long fit_ranks = n.cpus / t;
  if (fit_ranks >= 1)
    fits.push_back(one_node ? fmt::format("mpirun -n {} --bind-to none", fit_ranks)
                            : fmt::format("{} per node (mpirun --map-by ppr:{}:node --bind-to none)",
                                          plural(fit_ranks, "rank"), fit_ranks));
  std::string either;
  for (std::size_t i = 0; i < fits.size(); ++i) either += (i ? ", or " : "") + fits[i];
  return out + fmt::format("run {} there: {} (--bind-to none alone lets the {} take turns on the {})\n",
                           plural(n.cpus, "worker"), either, plural(workers, "worker"), plural(n.cpus, "CPU"));
}

std::string oversubscription_where(const std::vector<NodeCpus>& nodes) {
  std::string where;
  for (const auto& n : nodes) {
    std::string part;
    if (n.short_ranks > 0)
      part = fmt::format("{} on node {} with {}{} ({} CPU affinity) for {}", plural(n.short_ranks, "rank"), n.node,
                         plural(n.fewest_cpus, "CPU"), n.short_ranks == 1 ? "" : " each",
                         n.short_ranks == 1 ? "its" : "their", plural(n.threads, "thread"));
    else if (n.workers > n.usable)
      part = fmt::format("{} ({} x {}) on the {} of node {}", plural(n.workers, "worker"), plural(n.ranks, "rank"),
                         plural(n.threads, "thread"), plural(n.usable, "CPU"), n.node);
    if (!part.empty()) where += (where.empty() ? "" : "; ") + part;
  }
  return where;
}

std::string oversubscription_note(const std::vector<NodeCpus>& nodes) {
  std::string where = oversubscription_where(nodes);
  if (where.empty()) return "";
  return "more workers than CPUs: " + where +
         ". Computing tasks took turns on the CPUs, so their times include waiting for one: parallel efficiency "
         "and the lost core-seconds count that wait as work, and CPU/wall reads lower than the work is (CPU-bound "
         "work can show as mixed or I/O-bound); measure with at most one worker per CPU";
}

}  // namespace fanout::report
