#pragma once
// A run: the config's tasks on every rank of a communicator, the run file
// and its checkpoint journal written by rank 0 as results arrive, the
// messages on rank 0's stderr, and the exit code. `fanout run` and
// `fanout resume` call it; so can a test or another program.
#include <string>

#include "run/request.hpp"

namespace boost::mpi {
class communicator;
}

namespace fanout::run {

// Collective: every rank of `comm` calls it with the same request, and every
// rank returns the same exit code (core/error.hpp: 0 ok, 1 tasks failed,
// 2 usage or config error, 3 I/O error, 4 interrupted). Errors are printed
// once, by rank 0. With request.resume, the tasks finished in the output
// file or its journal are kept and the rest run (prepare_output).
int run(const boost::mpi::communicator& comm, const RunRequest& request);

// Collective: `fanout resume FILE`. Rank 0 reads the config stored in the
// run file (or its journal, FILE.journal or FILE itself), and every rank runs
// it as a resumed run of that output: run() with the stored config, the
// output FILE and resume set. `request` gives the rest (--set, progress,
// command line); its config, output and costs are not used.
int resume(const boost::mpi::communicator& comm, RunRequest request, const std::string& file);

}  // namespace fanout::run
