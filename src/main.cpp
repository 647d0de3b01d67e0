// fanout's entry point: parse, build the MPI environment when the command
// needs one, call the library, map exceptions to exit codes.
#include <exception>
#include <iostream>
#include <optional>

#include <boost/mpi/communicator.hpp>
#include <boost/mpi/environment.hpp>

#include "cli/cli.hpp"
#include "core/error.hpp"

int main(int argc, char** argv) {
  fanout::cli::Command command = fanout::cli::parse(argc, argv);
  if (command.exit_code) return *command.exit_code;

  std::optional<boost::mpi::environment> env;
  std::optional<boost::mpi::communicator> world;
  int rank = fanout::cli::launched_rank();
  if (command.needs_mpi) {
    fanout::cli::apply_mpi_defaults();
    // Only the main thread calls MPI; worker threads never do.
    env.emplace(argc, argv, boost::mpi::threading::funneled, /*abort_on_exception=*/true);
    if (env->thread_level() < boost::mpi::threading::funneled) {
      std::cerr << "fanout: error: the MPI library does not provide MPI_THREAD_FUNNELED\n";
      return fanout::EXIT_USAGE;
    }
    world.emplace();  // MPI_COMM_WORLD, attached; the library only sees this communicator
    rank = world->rank();
  }
  try {
    return command.execute(world ? &*world : nullptr);
  } catch (const fanout::Error& e) {
    // Errors that reach here are local to this rank (collective ones return a code).
    std::cerr << (world && world->size() > 1 ? "[rank " + std::to_string(rank) + "] " : "")
              << "fanout: error: " << e.what() << "\n";
    if (world && world->size() > 1) env->abort(e.exit_code());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "[rank " << rank << "] fanout: internal error: " << e.what() << "\n";
    if (world && world->size() > 1) env->abort(fanout::EXIT_IO);
    return fanout::EXIT_IO;
  }
}
