#pragma once
// Which CPUs a rank's worker threads could run on: its affinity mask (as
// mpirun or Slurm bound it), and its launcher's, which is what a binding could
// have given it. /ranks records their counts (cpus, node_cpus, format 1.5).
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/records.hpp"

namespace boost::mpi {
class communicator;
}

namespace fanout {

// A set of CPU numbers, 64 to a word.
struct CpuSet {
  std::vector<std::uint64_t> words;

  int count() const;
  bool contains(int cpu) const;
  void add(int cpu);
  CpuSet& operator|=(const CpuSet& other);
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& words;
  }
};

// The CPUs process `pid` (0: this one) may run on (sched_getaffinity); empty
// when it cannot be read (the process is gone).
CpuSet affinity_of(pid_t pid);
// Hardware threads per core of the first CPU in `cpus` (its thread_siblings
// in /sys); 1 when unknown.
int threads_per_core(const CpuSet& cpus);

// What a rank could run on when its run started: its own mask, and its
// launcher's (its parent process: mpirun, Open MPI's daemon, slurmstepd or a
// shell), which is what a binding could have given it.
struct Placement {
  CpuSet own;
  CpuSet launcher;
  int threads_per_core = 1;
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& own& launcher& threads_per_core;
  }
};
Placement measure_placement();

// Collective. Rank 0 fills `cpus` and `node_cpus` of every rank's record (the
// /ranks rows it gathered; nodes by their `node` name, so call this after
// slurm::record_nodes) and returns each rank's hardware threads per core; the
// other ranks get an empty vector.
std::vector<int> record_cpus(const boost::mpi::communicator& comm, std::vector<RankRecord>& ranks,
                             const Placement& mine);

// Fills cpus and node_cpus from the ranks' placements (rank r: placements[r]).
void count_cpus(std::vector<RankRecord>& ranks, const std::vector<Placement>& placements);

}  // namespace fanout
