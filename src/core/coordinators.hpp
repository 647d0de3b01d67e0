#pragma once
// The coordinating thread of each rank: it does all of the rank's MPI calls
// (MPI_THREAD_FUNNELED is enough) while the worker threads compute.
//   Root (rank 0): hands out work (Dispatcher), collects every task
//     (Collector), decides stops; serves its children: its own group's ranks
//     and the other groups' leaders.
//   Leader: takes work from rank 0 for its group in large chunks
//     (GroupSupply), serves its group's ranks, and forwards their tasks to
//     rank 0 in large batches. Computes too.
//   Member: asks its parent (rank 0 or its leader) for work before its queue
//     runs dry and streams finished tasks back.
#include <cstddef>

#include "core/collector.hpp"
#include "core/dispatcher.hpp"
#include "core/link.hpp"
#include "core/pacing.hpp"
#include "core/runner.hpp"
#include "core/sink.hpp"
#include "core/topology.hpp"
#include "core/worker_pool.hpp"

namespace fanout {

// What every coordinator works with.
struct RankContext {
  Link& link;
  WorkerPool& pool;
  const RunSettings& settings;
  const Topology& topology;
  CommTimer& timer;
  double& serve;  // s serving received messages (RankRecord::serve)
  RunOutcome& outcome;
  std::size_t row_size;
};

// Each returns when this rank (and, for rank 0 and leaders, every rank it
// serves) is done; sets outcome.abandoned when running tasks were left.
void coordinate_root(const RankContext& context, Dispatcher& dispatcher, Collector& collector, TaskSink& sink);
void coordinate_leader(const RankContext& context);
void coordinate_member(const RankContext& context);

}  // namespace fanout
