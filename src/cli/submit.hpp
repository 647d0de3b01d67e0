#pragma once
// `fanout submit`: renders slurm/fanout.sbatch for a config and submits it
// with sbatch (one job, or one job per rank count of a scaling study).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "run/request.hpp"

namespace CLI {
class App;
}

namespace fanout::cli {

struct SubmitOptions {
  fanout::run::RunRequest run;  // CONFIG, --set, --output; command_line: how submit was called, from "fanout" on
  int nodes = 0;
  int ntasks_per_node = 0;
  std::string time;  // HH:MM:SS or D-HH:MM:SS
  std::optional<std::string> partition;
  std::optional<std::string> account;
  std::optional<unsigned> threads_per_rank;
  std::vector<int> scaling;  // rank counts; empty: one job
  bool dry_run = false;
  bool wait = false;
};

// Adds the `submit` subcommand and its options to app, filling `options`.
CLI::App* add_submit_command(CLI::App& app, const std::shared_ptr<SubmitOptions>& options);

// Where the batch template is: $FANOUT_SBATCH_TEMPLATE if set, else
// slurm/fanout.sbatch of the first data directory that has it (an install's
// share/fanout/, the source tree; see find_data_file). Throws IoError.
std::string sbatch_template_path();

// `fanout submit`. Returns an exit code (0 ok; 2 bad options or config, an
// existing output, or sbatch refusing the job; 3 sbatch or the template
// missing; with --wait, the run's outcome: 1 tasks failed, 4 interrupted).
int submit(const SubmitOptions& options);

}  // namespace fanout::cli
