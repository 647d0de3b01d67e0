#pragma once
// How a run's workers sat on the CPUs they could use (/ranks cpus and
// node_cpus, format 1.5): the warning `fanout run` gives when a rank's threads
// outnumbered its CPUs and kept them busy, and the note of `report` and
// `compare` when workers outnumbered CPUs (docs/report.md).
#include <string>
#include <vector>

#include "core/records.hpp"

namespace fanout::report {

struct NodeCpus {
  std::string node;
  long ranks = 0;
  long workers = 0;           // the threads of its ranks, summed
  long cpus = 0;              // /ranks node_cpus: CPUs its ranks could have been given (their launchers' too)
  long usable = 0;            // CPUs its ranks could use as bound: at most the sum of their cpus
  long threads = 0;           // threads per rank (the most of its ranks)
  long short_ranks = 0;       // ranks bound to fewer CPUs (their affinity) than threads, of more on the node
  long fewest_cpus = 0;       // the smallest affinity of those
  long busy_short_ranks = 0;  // of those, the ranks whose tasks kept their CPUs busy
  int threads_per_core = 1;   // hardware threads per core (known during the run only)
  bool oversubscribed() const { return workers > usable || short_ranks > 0; }
};

// Per node, in the order of their first rank; empty when the file does not
// record CPUs (before format 1.5: cpus = 0).
// task_cpu: the CPU time of each rank's tasks, by rank (empty: not known).
std::vector<NodeCpus> cpus_by_node(const std::vector<RankRecord>& ranks, const std::vector<double>& task_cpu = {});
// The CPUs the workers could use: the sum of `usable` over the nodes; 0 when not recorded.
long total_cpus(const std::vector<NodeCpus>& nodes);

// A rank's tasks kept its CPUs busy when their CPU time (task_cpu) came to
// at least a tenth of what its CPUs could give over its task loop ((busy +
// idle) / threads seconds): its threads then competed for them. Sleeping
// tasks never do (well under 1%); computing ones still do on a machine where
// other work takes most of the CPUs (measured: 16% at a load of 6 per core).
inline constexpr double BUSY_CPUS = 0.1;
bool kept_cpus_busy(const RankRecord& rank, double task_cpu);

// How fanout was started, for the remedy the warning names.
enum class Launcher { Mpirun, Slurm, None };

// `fanout run`'s warning after the tasks, or "": some rank had fewer CPUs
// (its affinity) than worker threads and its tasks kept them busy. Names a
// remedy that fits the node's CPUs (never a --map-by slot:PE=N that needs more
// cores than the node has). task_cpu: by rank; threads_per_core: by rank, from record_cpus.
std::string binding_warning(const std::vector<RankRecord>& ranks, const std::vector<double>& task_cpu,
                            const std::vector<int>& threads_per_core, Launcher launcher);

// For report and compare, or "": where workers outnumbered the CPUs they
// could use, and why the efficiency figures then mislead.
std::string oversubscription_note(const std::vector<NodeCpus>& nodes);
// Where workers outnumbered CPUs, in a few words ("4 workers (2 ranks x 2 threads) on the 2 CPUs of node vm"), or "".
// The most workers per usable CPU on a node, or threads per CPU in a rank, whichever is more; 0 when not recorded.
double crowding(const std::vector<NodeCpus>& nodes);
std::string oversubscription_where(const std::vector<NodeCpus>& nodes);

}  // namespace fanout::report
