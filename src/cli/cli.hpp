#pragma once
// The subcommands. main() parses, builds the MPI environment when the command
// needs one, and calls execute(). `fanout run` and `fanout resume` call the
// run layer (run/run.hpp).
#include <functional>
#include <optional>
#include <string>

namespace boost::mpi {
class communicator;
}

namespace fanout::cli {

struct Command {
  bool needs_mpi = false;
  std::optional<int> exit_code;  // set when parsing alone finished the job (--help, usage error)
  std::function<int(const boost::mpi::communicator*)> execute;
};

// Parses the command line. Usage errors print once and set exit_code = 2.
Command parse(int argc, char** argv);

// The rank this process will have, from the launcher's environment, before
// MPI is initialised (0 when not launched by mpirun or srun).
int launched_rank();

// Transport defaults for a workstation, set before MPI starts: Open MPI's ob1
// messaging layer (shared memory and TCP) instead of probing for high-speed
// network hardware, which costs ~0.2 s per start. Never overrides a value the
// user set (OMPI_MCA_pml), and does nothing inside a batch job (Slurm, PBS,
// LSF), where the site's own configuration should choose; FANOUT_MPI_DEFAULTS=0
// turns it off.
void apply_mpi_defaults();

}  // namespace fanout::cli
