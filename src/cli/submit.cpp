#include "cli/submit.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "config/config.hpp"
#include "core/data_files.hpp"
#include "core/error.hpp"
#include "core/run_status.hpp"
#include "io/run_file.hpp"
#include "report/compare.hpp"
#include "report/report.hpp"
#include "run/output.hpp"
#include "slurm/sbatch.hpp"
#include "slurm/slurm.hpp"

namespace fanout::cli {

namespace fs = std::filesystem;

namespace {

// The batch script's warning (--signal=B:USR1@120) plus Slurm's 30 s check
// interval, and some time to work.
constexpr double MIN_TIME_SECONDS = 180;

// One batch job of a submission.
struct PlannedJob {
  int ranks = 0;
  int nodes = 0;
  std::string output;  // the run file
  std::string script;  // the rendered batch script
  std::string job_id;  // once submitted
};

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError(fmt::format("cannot read the batch template {}: {}", path, std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string this_binary() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "fanout" : self.string();
}

void check_options(const SubmitOptions& o) {
  static const std::regex time_format(R"((\d+-)?\d{1,2}:\d{2}:\d{2})");
  if (!std::regex_match(o.time, time_format))
    throw ConfigError(fmt::format("--time: expected HH:MM:SS (or D-HH:MM:SS), found \"{}\"", o.time));
  if (slurm::parse_duration(o.time).value_or(0) < MIN_TIME_SECONDS)
    throw ConfigError(fmt::format(
        "--time: {} is too short: the job asks Slurm for SIGUSR1 120 s before its limit (to stop and requeue "
        "cleanly), and Slurm may send it 30 s earlier still; give at least 00:03:00",
        o.time));
  if (o.scaling.empty() && o.nodes == 0)
    throw ConfigError("--nodes: required (the number of nodes; or give --scaling for a study)");
  if (!o.scaling.empty() && o.nodes != 0)
    throw ConfigError(
        "--nodes: not with --scaling: each job of the study gets as many nodes as its ranks need at "
        "--ntasks-per-node ranks per node");
  for (int n : o.scaling)
    if (n < 1) throw ConfigError(fmt::format("--scaling: expected rank counts >= 1, found {}", n));
}

// The rendered script of one job.
std::string render(const SubmitOptions& o, const std::string& template_text, const std::string& template_path,
                   const std::string& name, int nodes, std::optional<int> ntasks, unsigned threads,
                   const std::string& output, const std::string& command_line) {
  slurm::BatchRequest request;
  request.options.emplace_back("job-name", "fanout-" + name);
  request.options.emplace_back("nodes", std::to_string(nodes));
  request.options.emplace_back("ntasks-per-node", std::to_string(o.ntasks_per_node));
  if (ntasks) request.options.emplace_back("ntasks", std::to_string(*ntasks));
  if (threads > 1) request.options.emplace_back("cpus-per-task", std::to_string(threads));
  request.options.emplace_back("time", o.time);
  request.options.emplace_back("output", output + ".%j.out");
  if (o.partition) request.options.emplace_back("partition", *o.partition);
  if (o.account) request.options.emplace_back("account", *o.account);
  request.fanout = this_binary();
  request.run_args = {o.run.config, "--output", output};
  for (const auto& s : o.run.sets) {
    request.run_args.push_back("--set");
    request.run_args.push_back(s);
  }
  if (o.threads_per_rank) {
    request.run_args.push_back("--set");
    request.run_args.push_back("run.threads_per_rank=" + std::to_string(*o.threads_per_rank));
  }
  request.rendered_by = command_line;
  return slurm::render_batch_script(template_text, template_path, request);
}

// A TOML basic string: what --output becomes in output.path.
std::string toml_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) out += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
  return out + "\"";
}

// The config with --set, --threads-per-rank and --output applied (a bad one fails here, not in the queue).
config::LoadedConfig load_config(const SubmitOptions& o) {
  std::vector<std::string> sets = o.run.sets;
  if (o.threads_per_rank) sets.push_back("run.threads_per_rank=" + std::to_string(*o.threads_per_rank));
  if (o.run.output && o.scaling.empty()) sets.push_back("output.path=" + toml_string(*o.run.output));
  return config::load_config_file(o.run.config, sets);
}

std::vector<PlannedJob> plan(const SubmitOptions& o, const std::string& command_line) {
  check_options(o);
  config::LoadedConfig loaded = load_config(o);
  const unsigned threads = loaded.run.threads_per_rank;
  const std::string name = fs::path(o.run.config).stem().string();
  const std::string template_path = sbatch_template_path();
  const std::string template_text = read_text(template_path);

  std::vector<PlannedJob> jobs;
  if (o.scaling.empty()) {
    PlannedJob job;
    job.ranks = o.nodes * o.ntasks_per_node;
    job.nodes = o.nodes;
    job.output = loaded.run.output_path;
    job.script =
        render(o, template_text, template_path, name, o.nodes, std::nullopt, threads, job.output, command_line);
    jobs.push_back(std::move(job));
    return jobs;
  }
  const std::string dir = o.run.output ? *o.run.output : "runs/" + name;
  for (int n : o.scaling) {
    PlannedJob job;
    job.ranks = n;
    job.nodes = (n + o.ntasks_per_node - 1) / o.ntasks_per_node;
    job.output = (fs::path(dir) / fmt::format("n{}.h5", n)).string();
    job.script = render(o, template_text, template_path, fmt::format("{}-n{}", name, n), job.nodes, n, threads,
                        job.output, command_line);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

// Writes OUTPUT.sbatch and submits it; sets job.job_id.
void submit_job(PlannedJob& job) {
  const std::string script_path = job.output + ".sbatch";
  run::create_default_output_dir(job.output);  // results/, as fanout run would
  fs::path dir = fs::path(job.output).parent_path();
  std::error_code ec;
  if (!dir.empty() && !fs::is_directory(dir, ec))
    throw ConfigError(
        fmt::format("fanout submit: the directory {} of {} does not exist; create it first", dir.string(), job.output));
  for (const auto& path : {job.output, script_path})
    if (fs::exists(path, ec))
      throw ConfigError(
          fmt::format("fanout submit: {} already exists; remove it or choose another --output (the job "
                      "would not replace a run file, nor this command a kept batch script)",
                      path));
  {
    std::ofstream out(script_path);
    out << job.script;
    if (!out.flush()) throw IoError(fmt::format("cannot write {}: {}", script_path, std::strerror(errno)));
  }
  slurm::CommandResult r = slurm::run_command({"sbatch", "--parsable", script_path});
  if (r.status != 0) {
    fs::remove(script_path);
    std::string why = r.err.empty() ? r.out : r.err;
    while (!why.empty() && why.back() == '\n') why.pop_back();
    if (r.status < 0)
      throw IoError(fmt::format("fanout submit: cannot run sbatch ({}); is Slurm installed and on PATH?", why));
    throw ConfigError(fmt::format("fanout submit: sbatch refused {}: {}", script_path, why));
  }
  std::string id = r.out.substr(0, r.out.find_first_of(";\n"));
  job.job_id = id;
}

struct JobEnd {
  std::string state;  // COMPLETED, FAILED, CANCELLED, TIMEOUT, ...; "" if Slurm forgot the job
  int exit_code = 0;
};

// Polls scontrol until the job has ended for good (a requeued job has not).
JobEnd wait_for(const std::string& job_id) {
  static const std::regex state_re(R"(JobState=(\S+))");
  static const std::regex exit_re(R"(ExitCode=(\d+):(\d+))");
  static const std::vector<std::string> final_states{"COMPLETED", "FAILED",        "CANCELLED", "TIMEOUT", "NODE_FAIL",
                                                     "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"};
  std::string last;
  for (;;) {
    slurm::CommandResult r = slurm::run_command({"scontrol", "--oneliner", "show", "job", job_id});
    std::smatch m;
    if (r.status != 0 || !std::regex_search(r.out, m, state_re)) return {};
    std::string state = m[1].str();
    if (state != last) std::cerr << fmt::format("fanout submit: job {} {}\n", job_id, state);
    last = state;
    if (std::find(final_states.begin(), final_states.end(), state) != final_states.end()) {
      JobEnd end{state, 0};
      if (std::regex_search(r.out, m, exit_re)) end.exit_code = std::stoi(m[1].str());
      return end;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

// --wait: the outcome of every job, then the report (one job) or the comparison (a study).
int wait_and_report(const std::vector<PlannedJob>& jobs) {
  int code = EXIT_OK;
  std::vector<io::RunFile> runs;
  for (const auto& job : jobs) {
    JobEnd end = wait_for(job.job_id);
    if (!fs::exists(job.output)) {
      std::cerr << fmt::format("fanout: error: job {} ended{} without writing {}; see its log {}.{}.out\n", job.job_id,
                               end.state.empty() ? "" : " " + end.state, job.output, job.output, job.job_id);
      code = std::max(code, end.state == "CANCELLED" || end.state == "TIMEOUT" ? int(EXIT_INTERRUPTED) : int(EXIT_IO));
      continue;
    }
    io::RunFile run = io::read_run_file(job.output);
    const std::optional<RunStatus> status = parse_status(run.status);
    if (status != RunStatus::Complete) {
      std::cerr << fmt::format("fanout submit: job {} ended {} with {} status \"{}\"\n", job.job_id, end.state,
                               job.output, run.status);
      code = std::max(code, status == RunStatus::Failed ? int(EXIT_TASKS_FAILED) : int(EXIT_INTERRUPTED));
    }
    runs.push_back(std::move(run));
  }
  if (jobs.size() == 1 && runs.size() == 1) {
    std::cout << report::format_text(runs[0], report::summarize(runs[0]));
  } else if (runs.size() >= 2) {
    std::cout << report::format_text(report::compare(runs));
  }
  return code;
}

}  // namespace

std::string sbatch_template_path() { return find_data_file(SBATCH_TEMPLATE); }

CLI::App* add_submit_command(CLI::App& app, const std::shared_ptr<SubmitOptions>& options) {
  CLI::App* cmd = app.add_subcommand(
      "submit",
      "submit a config as a Slurm batch job (slurm/fanout.sbatch filled in, kept as OUTPUT.sbatch), or a "
      "strong-scaling study as one job per rank count; --dry-run prints the script");
  cmd->footer(
      "\nExamples:\n"
      "  fanout submit configs/spin.toml --nodes 2 --ntasks-per-node 4 --time 00:20:00\n"
      "  fanout submit configs/spin.toml --scaling 1,2,4,8 --ntasks-per-node 4 --time 00:20:00   "
      "# runs/spin/n1.h5 ... n8.h5\n"
      "  fanout compare runs/spin/n*.h5\n\n"
      "The job runs `fanout run CONFIG --output OUTPUT` with srun --mpi=pmix (or mpirun), gets SIGUSR1 120 s before "
      "its time limit, and requeues itself to finish what is left (docs/slurm.md). Its log is OUTPUT.JOBID.out. "
      "The template is $FANOUT_SBATCH_TEMPLATE, else slurm/fanout.sbatch under share/fanout/ of the install (beside "
      "bin/), else of the source tree.");
  cmd->add_option("CONFIG", options->run.config, "the run's TOML config")->required();
  cmd->add_option("--nodes,-N", options->nodes, "nodes for the job (not with --scaling)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--ntasks-per-node", options->ntasks_per_node, "ranks on each node (with --scaling: at most)")
      ->required()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--time,-t", options->time, "the job's time limit, HH:MM:SS or D-HH:MM:SS")->required();
  cmd->add_option("--output,-o", options->run.output,
                  "the run file (default: output.path of the config); with --scaling the directory of the "
                  "study's files (default runs/CONFIG-NAME)")
      ->type_name("PATH");
  cmd->add_option("--partition,-p", options->partition, "the Slurm partition (default: the site's)");
  cmd->add_option("--account,-A", options->account, "the account to charge (default: yours)");
  cmd->add_option("--threads-per-rank", options->threads_per_rank,
                  "worker threads per rank: sets run.threads_per_rank and asks for as many CPUs per task")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--set", options->run.sets, "override a config key, as for fanout run; repeatable")
      ->type_name("KEY=VALUE");
  cmd->add_option("--scaling", options->scaling,
                  "a strong-scaling study: one job per rank count, each writing DIR/n<N>.h5, ready for fanout compare")
      ->delimiter(',')
      ->type_name("N,N,...");
  cmd->add_flag("--dry-run", options->dry_run, "print the batch script(s), submit nothing, write nothing");
  cmd->add_flag("--wait", options->wait,
                "wait until the job(s) ended (requeues included), then print the report (a study: the comparison)");
  return cmd;
}

int submit(const SubmitOptions& options) {
  std::vector<PlannedJob> jobs = plan(options, options.run.command_line);
  if (options.dry_run) {
    for (const auto& job : jobs) {
      if (jobs.size() > 1)
        std::cout << fmt::format("# ---- {} rank{}: {}.sbatch\n", job.ranks, job.ranks == 1 ? "" : "s", job.output);
      std::cout << job.script;
    }
    return EXIT_OK;
  }
  if (!options.scaling.empty()) {
    fs::path dir = fs::path(jobs.front().output).parent_path();
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw IoError(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  }
  for (auto& job : jobs) {
    submit_job(job);
    std::cout << fmt::format("submitted job {}: {} rank{} on {} node{}, time limit {}; results: {} (log {}.{}.out)\n",
                             job.job_id, job.ranks, job.ranks == 1 ? "" : "s", job.nodes, job.nodes == 1 ? "" : "s",
                             options.time, job.output, job.output, job.job_id);
  }
  std::cout.flush();
  return options.wait ? wait_and_report(jobs) : EXIT_OK;
}

}  // namespace fanout::cli
