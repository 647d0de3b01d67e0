// CPUs and workers (src/report/cpu_use.cpp, src/core/affinity.cpp): what
// /ranks cpus and node_cpus mean, the binding warning's remedies, the note.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "config/config.hpp"
#include "core/affinity.hpp"
#include "report/cpu_use.hpp"

namespace fanout {
namespace {

// A rank on node "vm" bound to `cpus` of the node's `node_cpus`, whose tasks
// ran `busy` seconds of the loop on its threads.
RankRecord rank(int r, int threads, int cpus, int node_cpus) {
  RankRecord x;
  x.rank = r;
  x.threads = threads;
  x.cpus = cpus;
  x.node_cpus = node_cpus;
  std::strcpy(x.node, "vm");
  x.busy = 2.0 * threads;  // 2 s of task loop per thread
  return x;
}

TEST(CpuUse, CountsOwnAndLauncherCpusPerNode) {
  std::vector<RankRecord> ranks{rank(0, 2, 0, 0), rank(1, 2, 0, 0)};
  std::vector<Placement> placements(2);
  placements[0].own.add(0);
  placements[1].own.add(1);
  for (auto& p : placements) {
    p.launcher.add(0);
    p.launcher.add(1);
    p.launcher.add(2);
  }
  count_cpus(ranks, placements);
  EXPECT_EQ(ranks[0].cpus, 1);
  EXPECT_EQ(ranks[1].cpus, 1);
  EXPECT_EQ(ranks[0].node_cpus, 3);  // what mpirun could have given them
  EXPECT_EQ(affinity_of(0).count() >= 1, true);
}

TEST(CpuUse, NoWarningForSleepingTasksOrUnboundRanks) {
  std::vector<RankRecord> ranks{rank(0, 2, 1, 2)};
  EXPECT_EQ(report::binding_warning(ranks, {0.01}, {1}, report::Launcher::Mpirun), "");  // sleeping
  std::vector<RankRecord> unbound{rank(0, 3, 2, 2)};  // --bind-to none: all the node's CPUs
  EXPECT_EQ(report::binding_warning(unbound, {4.0}, {1}, report::Launcher::Mpirun), "");
}

TEST(CpuUse, SuggestsPeOnlyWhereTheNodeHasTheCores) {
  std::vector<RankRecord> one{rank(0, 2, 1, 2)};
  std::string w = report::binding_warning(one, {1.5}, {1}, report::Launcher::Mpirun);
  EXPECT_NE(w.find("start mpirun with --bind-to none, or --map-by slot:PE=2"), std::string::npos) << w;
  // 2 ranks x 2 threads on 2 CPUs: PE=2 would need 4 cores.
  std::vector<RankRecord> two{rank(0, 2, 1, 2), rank(1, 2, 1, 2)};
  w = report::binding_warning(two, {1.5, 1.5}, {1, 1}, report::Launcher::Mpirun);
  EXPECT_NE(w.find("too few for --map-by slot:PE=2"), std::string::npos) << w;
  EXPECT_NE(w.find("--set run.threads_per_rank=1, or mpirun -n 1 --bind-to none"), std::string::npos) << w;
  EXPECT_EQ(w.find(", or --map-by slot:PE="), std::string::npos) << w;  // never as a remedy
  // Two hardware threads per core: a rank bound to one core has 2 CPUs; 4 threads need PE=2.
  std::vector<RankRecord> smt{rank(0, 4, 2, 8)};
  w = report::binding_warning(smt, {3.0}, {2}, report::Launcher::Mpirun);
  EXPECT_NE(w.find("--map-by slot:PE=2"), std::string::npos) << w;
  EXPECT_NE(report::binding_warning(one, {1.5}, {1}, report::Launcher::Slurm).find("--cpus-per-task=2"),
            std::string::npos);
}

TEST(CpuUse, NotesWorkersBeyondCpus) {
  std::vector<RankRecord> fits{rank(0, 1, 1, 2), rank(1, 1, 1, 2)};
  auto nodes = report::cpus_by_node(fits);
  EXPECT_EQ(report::total_cpus(nodes), 2);
  EXPECT_EQ(report::oversubscription_note(nodes), "");
  std::vector<RankRecord> crowded{rank(0, 2, 2, 2), rank(1, 2, 2, 2)};  // --bind-to none, 4 workers
  nodes = report::cpus_by_node(crowded);
  EXPECT_DOUBLE_EQ(report::crowding(nodes), 2.0);
  EXPECT_NE(report::oversubscription_note(nodes).find("4 workers (2 ranks x 2 threads) on the 2 CPUs of node vm"),
            std::string::npos);
  std::vector<RankRecord> old{rank(0, 2, 0, 0)};  // before format 1.5
  EXPECT_TRUE(report::cpus_by_node(old).empty());
}

TEST(JobAttributes, FlattensTablesAndKeepsArrayTypes) {
  auto attrs = config::job_attributes(
      "[job]\nkind = 'spin'\ntasks = 4\nx = 0.5\non = true\nnumbers = [1, 2]\nmixed = [1, 2.5]\n"
      "words = ['a', 'b']\nempty = []\nnested = [[1], [2]]\n[job.results]\nenergy = 'float64'\n");
  std::map<std::string, JobValue> by_key;
  for (const auto& a : attrs) by_key[a.key] = a.value;
  EXPECT_EQ(std::get<std::string>(by_key["kind"]), "spin");
  EXPECT_EQ(std::get<std::int64_t>(by_key["tasks"]), 4);
  EXPECT_EQ(std::get<double>(by_key["x"]), 0.5);
  EXPECT_EQ(std::get<bool>(by_key["on"]), true);
  EXPECT_EQ(std::get<std::vector<std::int64_t>>(by_key["numbers"]), (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(std::get<std::vector<double>>(by_key["mixed"]), (std::vector<double>{1.0, 2.5}));
  EXPECT_EQ(std::get<std::vector<std::string>>(by_key["words"]), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(std::get<std::string>(by_key["empty"]), "[]");
  EXPECT_EQ(std::get<std::string>(by_key["results.energy"]), "float64");
  EXPECT_TRUE(std::holds_alternative<std::string>(by_key["nested"]));
  for (const auto& a : attrs)
    if (a.key == "kind") EXPECT_FALSE(a.description.empty());
}

}  // namespace
}  // namespace fanout
