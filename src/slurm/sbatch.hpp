#pragma once
// Renders slurm/fanout.sbatch, the batch script that also works with plain
// sbatch, into the script of one job of `fanout submit`.
#include <string>
#include <utility>
#include <vector>

namespace fanout::slurm {

struct BatchRequest {
  // sbatch options without the leading "--", in order, e.g. {"nodes", "2"}.
  // Each replaces the template's #SBATCH (or commented ##SBATCH) line of that
  // option; options the template lacks follow its last replaced line.
  std::vector<std::pair<std::string, std::string>> options;
  std::string fanout;                 // the fanout binary the job runs
  std::vector<std::string> run_args;  // the arguments of `fanout run`
  std::string rendered_by;            // the command line that rendered it, for the header
};

// The template with the request filled in: the #SBATCH lines, the default of
// FANOUT= and the FANOUT_ARGS= line. Throws IoError, naming template_path,
// when the template lacks a FANOUT= or FANOUT_ARGS= line.
std::string render_batch_script(const std::string& template_text, const std::string& template_path,
                                const BatchRequest& request);

// A word a POSIX shell reads back as itself: as is when it is plain, else in
// single quotes (a ' inside written as '\'').
std::string shell_quote(const std::string& word);

}  // namespace fanout::slurm
