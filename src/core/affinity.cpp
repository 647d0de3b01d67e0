#include "core/affinity.hpp"

#include <sched.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include <boost/mpi/collectives/gather.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/serialization/vector.hpp>

namespace fanout {

int CpuSet::count() const {
  int n = 0;
  for (std::uint64_t w : words) n += std::popcount(w);
  return n;
}

bool CpuSet::contains(int cpu) const {
  auto word = static_cast<std::size_t>(cpu / 64);
  return cpu >= 0 && word < words.size() && (words[word] >> (cpu % 64) & 1U) != 0;
}

void CpuSet::add(int cpu) {
  auto word = static_cast<std::size_t>(cpu / 64);
  if (words.size() <= word) words.resize(word + 1, 0);
  words[word] |= std::uint64_t{1} << (cpu % 64);
}

CpuSet& CpuSet::operator|=(const CpuSet& other) {
  if (words.size() < other.words.size()) words.resize(other.words.size(), 0);
  for (std::size_t i = 0; i < other.words.size(); ++i) words[i] |= other.words[i];
  return *this;
}

CpuSet affinity_of(pid_t pid) {
  CpuSet out;
  // The kernel's mask may be wider than cpu_set_t (more than 1024 CPUs): grow until it fits.
  for (int cpus = 1024; cpus <= (1 << 20); cpus *= 2) {
    cpu_set_t* set = CPU_ALLOC(cpus);
    std::size_t size = CPU_ALLOC_SIZE(cpus);
    CPU_ZERO_S(size, set);
    int rc = sched_getaffinity(pid, size, set);
    int error = errno;
    if (rc == 0)
      for (int cpu = 0; cpu < cpus; ++cpu)
        if (CPU_ISSET_S(cpu, size, set)) out.add(cpu);
    CPU_FREE(set);
    if (rc == 0 || error != EINVAL) break;
  }
  return out;
}

int threads_per_core(const CpuSet& cpus) {
  for (std::size_t w = 0; w < cpus.words.size(); ++w) {
    if (cpus.words[w] == 0) continue;
    int cpu = static_cast<int>(w * 64) + std::countr_zero(cpus.words[w]);
    std::ifstream in("/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/thread_siblings_list");
    std::string list;
    if (!(in >> list)) return 1;
    int n = 0;  // a list like "0,64" or "0-1"
    std::size_t pos = 0;
    while (pos < list.size()) {
      std::size_t comma = list.find(',', pos);
      std::string part = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      std::size_t dash = part.find('-');
      n += dash == std::string::npos ? 1 : std::stoi(part.substr(dash + 1)) - std::stoi(part.substr(0, dash)) + 1;
      pos = comma == std::string::npos ? list.size() : comma + 1;
    }
    return n > 0 ? n : 1;
  }
  return 1;
}

Placement measure_placement() {
  Placement p;
  p.own = affinity_of(0);
  p.launcher = affinity_of(getppid());
  p.threads_per_core = threads_per_core(p.own);
  return p;
}

void count_cpus(std::vector<RankRecord>& ranks, const std::vector<Placement>& placements) {
  std::map<std::string, CpuSet> node_sets;
  auto node_of = [](const RankRecord& r) { return std::string(r.node, strnlen(r.node, sizeof r.node)); };
  for (std::size_t r = 0; r < ranks.size() && r < placements.size(); ++r) {
    ranks[r].cpus = placements[r].own.count();
    CpuSet& node = node_sets[node_of(ranks[r])];
    node |= placements[r].own;
    node |= placements[r].launcher;
  }
  for (std::size_t r = 0; r < ranks.size() && r < placements.size(); ++r)
    ranks[r].node_cpus = node_sets[node_of(ranks[r])].count();
}

std::vector<int> record_cpus(const boost::mpi::communicator& comm, std::vector<RankRecord>& ranks,
                             const Placement& mine) {
  std::vector<Placement> placements;
  boost::mpi::gather(comm, mine, placements, 0);
  if (comm.rank() != 0) return {};
  count_cpus(ranks, placements);
  std::vector<int> smt;
  for (const auto& p : placements) smt.push_back(p.threads_per_core);
  return smt;
}

}  // namespace fanout
