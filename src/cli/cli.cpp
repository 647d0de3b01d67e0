#include "cli/cli.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/mpi/communicator.hpp>

#include "cli/python.hpp"
#include "cli/status.hpp"
#include "cli/submit.hpp"
#include "config/config.hpp"
#include "core/error.hpp"
#include "fanout/version.hpp"
#include "io/run_file.hpp"
#include "report/by_param.hpp"
#include "report/compare.hpp"
#include "report/predict.hpp"
#include "report/report.hpp"
#include "report/tasks.hpp"
#include "run/output.hpp"
#include "run/request.hpp"
#include "run/run.hpp"
#include "slurm/sbatch.hpp"

namespace fanout::cli {

int launched_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"}) {
    if (const char* v = std::getenv(name)) return std::atoi(v);
  }
  return 0;
}

void apply_mpi_defaults() {
  const char* off = std::getenv("FANOUT_MPI_DEFAULTS");
  if (off && std::string(off) == "0") return;
  for (const char* batch : {"SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID"})
    if (std::getenv(batch)) return;
  setenv("OMPI_MCA_pml", "ob1", /*overwrite=*/0);
}

namespace {

// Started by a launcher (mpirun, srun) as a rank other than 0: commands
// that need no MPI then leave the printing (and the work) to rank 0. Not
// when the launcher's variables were only inherited by a program that a
// task of a fanout run started (an ancestor is this same program before any
// launcher), nor when no launcher is found among the ancestors.
bool launched_as_other_rank() {
  if (launched_rank() == 0) return false;
  static const std::set<std::string> launchers{"mpirun", "mpiexec", "orterun",    "orted",          "prterun",
                                               "prted",  "srun",    "slurmstepd", "hydra_pmi_proxy"};
  auto name_of = [](const std::string& pid) {
    std::ifstream in("/proc/" + pid + "/comm");
    std::string name;
    std::getline(in, name);
    return name;
  };
  auto parent_of = [](const std::string& pid) {
    std::ifstream in("/proc/" + pid + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto paren = stat.rfind(')');
    std::istringstream rest(paren == std::string::npos ? "" : stat.substr(paren + 1));
    std::string state, ppid;
    rest >> state >> ppid;
    return ppid;
  };
  const std::string self = name_of("self");
  std::string pid = parent_of("self");
  for (int depth = 0; depth < 64 && !pid.empty() && pid != "0" && pid != "1"; ++depth) {
    const std::string name = name_of(pid);
    if (launchers.count(name)) return true;
    if (name == self) return false;
    pid = parent_of(pid);
  }
  return false;
}

std::string join_command_line(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) out += (i ? " " : "") + slurm::shell_quote(argv[i]);
  return out;
}

int print_jobs() {
  std::cout << "Built-in jobs (set job.kind in the config; every other [job] key is the job's own):\n";
  for (const auto* info : JobRegistry::instance().all()) {
    std::cout << "\n" << info->kind << ": " << info->summary << "\n  parameters ([job] keys):\n";
    for (const auto& p : config::describe_job(*info))
      std::cout << fmt::format("    {:<14} {:<22} {}{}\n", p.key, p.type, p.help,
                               p.default_text.empty() ? " (required)" : " (default " + p.default_text + ")");
    std::cout << "  result columns (/results/<name>, one value per task; TYPE[N]: N values per task):\n";
    for (const auto& c : info->columns)
      std::cout << fmt::format("    {:<14} {:<22} {}{}\n", c.name, column_type_text(c), c.description,
                               c.units.empty() ? "" : " [" + c.units + "]");
  }
  std::cout << "\nRun settings (any job):\n";
  for (const auto& [section, specs] : config::describe_run_sections())
    for (const auto& p : specs)
      std::cout << fmt::format("  {:<26} {}{}\n", section + "." + p.key, p.help,
                               p.default_text.empty() ? "" : " (default " + p.default_text + ")");
  return EXIT_OK;
}

int validate(const run::RunRequest& options, bool print) {
  std::string origin;
  auto loaded = run::load_config(options, origin);
  const bool create_dir = run::default_output_dir_missing(loaded.run.output_path);     // run creates results/
  if (!create_dir) run::check_output(loaded.run.output_path, origin, /*force=*/true);  // the directory must be there
  if (loaded.run.order == config::Order::LongestFirst) run::task_costs(loaded, options.costs);
  std::cout << fmt::format("{}: ok: job {} with {} tasks, policy {}, {} thread{} per rank, output {}\n", options.config,
                           loaded.run.job_kind, loaded.job->task_count(), loaded.run.policy_name,
                           loaded.run.threads_per_rank, loaded.run.threads_per_rank == 1 ? "" : "s",
                           loaded.run.output_path);
  if (create_dir)
    std::cout << fmt::format("note: {} does not exist; fanout run will create it (the default output directory)\n",
                             std::filesystem::path(loaded.run.output_path).parent_path().string());
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(loaded.run.output_path, ec)))  // a dangling link too
    std::cout << fmt::format("note: {} exists; fanout run will refuse to replace it without --force\n",
                             loaded.run.output_path);
  if (print) std::cout << "\n" << loaded.run.resolved_toml;
  return EXIT_OK;
}

int predict_file(const std::string& path, report::PredictOptions options, const std::string& ranks,
                 const std::string& policy, const std::string& chunk, const std::string& hierarchy,
                 const std::string& format) {
  if (!hierarchy.empty()) options.hierarchy = report::parse_hierarchy_option(hierarchy);
  std::vector<int> rank_counts;  // --ranks N[,N...]
  for (std::size_t at = 0; at <= ranks.size();) {
    std::size_t comma = std::min(ranks.find(',', at), ranks.size());
    std::string item = ranks.substr(at, comma - at);
    int value = 0;
    auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (error != std::errc() || end != item.data() + item.size() || value < 1 || value > 10'000'000)
      throw ConfigError("--ranks: expected whole numbers from 1 to 10000000, separated by commas, found \"" + item +
                        "\" in \"" + ranks + "\"");
    rank_counts.push_back(value);
    at = comma + 1;
  }
  if (!policy.empty()) options.policy = sched::parse_policy(policy);  // CLI::IsMember checked it
  if (chunk == "auto") {
    options.chunk_auto = true;
  } else if (!chunk.empty()) {
    std::uint64_t value = 0;
    auto [end, error] = std::from_chars(chunk.data(), chunk.data() + chunk.size(), value);
    if (error != std::errc() || end != chunk.data() + chunk.size() || value == 0)
      throw ConfigError("--chunk: expected \"auto\" or a whole number >= 1, found \"" + chunk + "\"");
    options.chunk = value;
  }
  io::RunFile run = io::read_run_file(path);
  std::vector<report::Prediction> rows;
  for (int n : rank_counts) {
    options.ranks = n;
    rows.push_back(report::predict(run, options));
  }
  std::cout << (format == "json" ? report::format_json(rows) : report::format_text(rows));
  return EXIT_OK;
}

int report_file(const std::string& path, const std::string& format, const std::string& by, bool tasks, bool results) {
  if (int(tasks) + int(results) + int(!by.empty()) > 1)
    throw ConfigError("report: give at most one of --tasks, --results and --by");
  if (tasks) {  // streamed: never the whole file in memory
    report::export_tasks(path, format == "json" ? "json" : "csv", std::cout);
    return EXIT_OK;
  }
  io::RunFile run = io::read_run_file(path);
  if (results) {
    report::ResultsSummary summary = report::summarize_results(run);
    std::cout << (format == "json"  ? report::format_results_json(run, summary)
                  : format == "csv" ? report::format_results_csv(summary)
                                    : report::format_results_text(summary));
    return EXIT_OK;
  }
  if (!by.empty()) {
    report::ByParam grouped = report::group_by_param(run, by);
    std::cout << (format == "json"  ? report::format_json(grouped)
                  : format == "csv" ? report::format_csv(grouped)
                                    : report::format_text(grouped));
    return EXIT_OK;
  }
  report::Summary summary = report::summarize(run);
  std::cout << (format == "json"  ? report::format_json(run, summary)
                : format == "csv" ? report::format_csv(summary)
                                  : report::format_text(run, summary));
  return EXIT_OK;
}

int compare_files(const std::vector<std::string>& paths, const std::string& format) {
  std::vector<io::RunFile> runs;
  for (const auto& path : paths) runs.push_back(io::read_run_file(path));
  report::Comparison comparison = report::compare(runs);
  std::cout << (format == "json" ? report::format_json(comparison) : report::format_text(comparison));
  return EXIT_OK;
}

}  // namespace

Command parse(int argc, char** argv) {
  auto app = std::make_shared<CLI::App>(
      "fanout: scatter CPU-bound tasks across MPI ranks and threads, gather every result and timing into one HDF5 "
      "file.\n\nExamples:\n  mpirun -n 4 fanout run configs/primes.toml\n  fanout report results/primes.h5\n\n"
      "fanout run CONFIG takes --output PATH, --set KEY=VALUE (repeatable), --force, --resume and --costs FILE; "
      "`fanout COMMAND --help` "
      "describes each command.\n\n"
      "Exit codes: 0 ok, 1 tasks failed, 2 usage or config error, 3 I/O error, 4 interrupted.",
      "fanout");
  app->set_version_flag("--version", std::string(VERSION) + " (" + GIT_SHA + ")");
  app->require_subcommand(1);
  app->fallthrough(false);

  auto options = std::make_shared<run::RunRequest>();
  options->command_line = join_command_line(argc, argv);
  auto print = std::make_shared<bool>(false);
  auto format = std::make_shared<std::string>("text");
  auto file = std::make_shared<std::string>();

  auto add_config_options = [&](CLI::App* sub) {
    sub->add_option("CONFIG", options->config, "the run's TOML config (see configs/ and `fanout jobs`)")->required();
    sub->add_option("--set", options->sets,
                    "override a config key, e.g. --set schedule.policy=dynamic; the value is TOML "
                    "(a bare word is a string); repeatable")
        ->type_name("KEY=VALUE");
    sub->add_option("--output,-o", options->output, "the HDF5 file to write (overrides output.path)")
        ->type_name("PATH");
  };
  CLI::App* run_cmd =
      app->add_subcommand("run", "run a config's tasks on all ranks (start with mpirun -n N) and write the HDF5 file");
  add_config_options(run_cmd);
  run_cmd->add_flag("--force", options->force, "replace an existing output file (only once the new one is complete)");
  auto add_progress_option = [&](CLI::App* sub, const std::string& help) {
    sub->add_option("--progress", options->progress, help)->check(CLI::IsMember({"auto", "always", "never"}));
  };
  add_progress_option(run_cmd,
                      "auto (default): an updating line on a terminal, else a line every run.progress_interval "
                      "seconds; always: the updating line anyway; never: none. Runs under 2 s show none");
  run_cmd->add_flag("--resume", options->resume,
                    "continue an interrupted run of this config: the tasks finished in the output file or its "
                    "checkpoint journal (OUTPUT.journal) are kept, the rest are run; without either, start afresh");
  run_cmd
      ->add_option("--costs", options->costs,
                   "hand tasks out longest-first, using the task times of an earlier run of the same job "
                   "(sets schedule.order = \"longest-first\")")
      ->type_name("FILE");
  auto resume_file = std::make_shared<std::string>();
  CLI::App* resume_cmd = app->add_subcommand(
      "resume",
      "continue an interrupted run from its file (or journal), with the config stored in it; the same as "
      "fanout run CONFIG --resume (start with mpirun -n N; the rank count may differ)");
  resume_cmd->add_option("FILE", *resume_file, "the run's output file (or its .journal)")->required();
  resume_cmd->add_option("--set", options->sets, "override a config key, as for run (the [job] keys must not change)")
      ->type_name("KEY=VALUE");
  add_progress_option(resume_cmd, "as for run");
  auto status_file = std::make_shared<std::string>();
  CLI::App* status_cmd = app->add_subcommand(
      "status",
      "show how far a run got: done, failed and remaining tasks, rate and ETA; reads a finished or partial "
      "file, or the checkpoint journal of a running or killed run");
  status_cmd->add_option("FILE", *status_file, "the run's output file (or its .journal)")->required();
  CLI::App* validate_cmd = app->add_subcommand("validate", "check a config (and its overrides) without running it");
  add_config_options(validate_cmd);
  validate_cmd->add_flag("--print", *print, "print the resolved config, defaults filled in");
  validate_cmd->add_option("--costs", options->costs, "check an earlier run's file for longest-first, as run would")
      ->type_name("FILE");
  CLI::App* jobs_cmd = app->add_subcommand("jobs", "list the built-in jobs, their parameters and result columns");
  CLI::App* report_cmd =
      app->add_subcommand("report", "summarise a run file: CPU times, wall time, balance, efficiency");
  report_cmd->add_option("FILE", *file, "a file written by fanout run")->required();
  report_cmd->add_option("--format", *format, "text (default), json, or csv (one row per rank; with --by, per value)")
      ->check(CLI::IsMember({"text", "json", "csv"}));
  auto report_by = std::make_shared<std::string>();
  report_cmd
      ->add_option("--by", *report_by,
                   "a sweep parameter: per value of it, the task count, mean and max task time, CPU/wall and "
                   "failures")
      ->type_name("PARAM");
  auto report_tasks = std::make_shared<bool>(false);
  auto report_results = std::make_shared<bool>(false);
  report_cmd->add_flag("--tasks", *report_tasks,
                       "every task, one row each: id, parameters, results, status, rank, thread, start, end, CPU "
                       "times, attempt, session; --format csv (also the default) or json");
  report_cmd->add_flag("--results", *report_results,
                       "the job's answer and a summary of each result column (min, mean, max; bools: count true)");
  auto compare_paths = std::make_shared<std::vector<std::string>>();
  auto compare_format = std::make_shared<std::string>("text");
  CLI::App* compare_cmd = app->add_subcommand(
      "compare",
      "compare runs of one job at different rank counts or policies: speedup, efficiency, Karp-Flatt, "
      "Amdahl fit");
  compare_cmd->add_option("FILE", *compare_paths, "two or more files written by fanout run")->required();
  compare_cmd->add_option("--format", *compare_format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));

  auto predict_options = std::make_shared<report::PredictOptions>();
  auto predict_policy = std::make_shared<std::string>();
  auto predict_chunk = std::make_shared<std::string>();
  auto predict_format = std::make_shared<std::string>("text");
  auto predict_file_path = std::make_shared<std::string>();
  CLI::App* predict_cmd = app->add_subcommand(
      "predict",
      "predict wall time and efficiency at other rank and thread counts by replaying a run's task times "
      "through the runner's schedulers (a discrete-event simulation)");
  predict_cmd->add_option("FILE", *predict_file_path, "a file written by fanout run")->required();
  auto predict_ranks = std::make_shared<std::string>();
  predict_cmd->add_option("--ranks,-n", *predict_ranks, "ranks to predict for: a number, or several (1,2,4,8: a table)")
      ->required()
      ->type_name("N[,N...]");
  predict_cmd->add_option("--threads", predict_options->threads, "threads per rank (default 1)")
      ->check(CLI::Range(1, 1024));
  predict_cmd->add_option("--policy", *predict_policy, "scheduling policy (default: the file's)")
      ->check(CLI::IsMember(sched::policy_names()));
  predict_cmd->add_option("--chunk", *predict_chunk, "chunk: a whole number or auto (default: the file's)");
  predict_cmd
      ->add_option("--latency", predict_options->latency,
                   "seconds for a remote rank's request to be answered (default 0.0002)")
      ->check(CLI::Range(0.0, 10.0));
  auto predict_hierarchy = std::make_shared<std::string>();
  predict_cmd
      ->add_option("--hierarchy", *predict_hierarchy,
                   "flat, node or a group size: who answers the ranks' requests (default: the file's)")
      ->type_name("H");
  predict_cmd
      ->add_option("--ranks-per-node", predict_options->ranks_per_node,
                   "ranks per node, for --hierarchy node (default: the most on one node in the file)")
      ->check(CLI::Range(1, 10'000'000));
  predict_cmd->add_option("--format", *predict_format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));

  auto plot_options = std::make_shared<PlotOptions>();
  CLI::App* plot_cmd = app->add_subcommand(
      "plot",
      "draw run files as PNGs: timeline, rank utilisation, task durations; with --scaling, speedup and "
      "efficiency of runs at different rank counts (needs python3-matplotlib)");
  plot_cmd->add_option("FILE", plot_options->files, "files written by fanout run")->required();
  plot_cmd->add_option("--out", plot_options->out, "the directory for the PNGs (default: beside each file)")
      ->type_name("DIR");
  plot_cmd->add_flag("--scaling", plot_options->scaling,
                     "one speedup and one efficiency plot of all FILEs (runs of one job at different rank counts)");

  auto submit_options = std::make_shared<SubmitOptions>();
  submit_options->run.command_line = "fanout " + join_command_line(argc - 1, argv + 1);
  CLI::App* submit_cmd = add_submit_command(*app, submit_options);

  Command command;
  bool speak = !launched_as_other_rank();
  if (argc < 2) {
    if (speak) std::cerr << app->help();
    command.exit_code = EXIT_USAGE;
    return command;
  }
  std::string first = argv[1];
  if (first.empty() || first[0] != '-') {
    bool known = false;
    std::string names;
    for (const auto* sub : app->get_subcommands({})) {
      known = known || sub->get_name() == first;
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      if (speak)
        std::cerr << "fanout: error: unknown command \"" << first << "\"; expected one of " << names
                  << " (fanout --help explains them)\n";
      command.exit_code = EXIT_USAGE;
      return command;
    }
  }
  try {
    app->parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::ostringstream discard;
    int code = app->exit(e, speak ? std::cout : discard, speak ? std::cerr : discard);
    command.exit_code = code == 0 ? EXIT_OK : EXIT_USAGE;
    return command;
  }

  if (run_cmd->parsed()) {
    command.needs_mpi = true;
    command.execute = [options](const boost::mpi::communicator* comm) { return run::run(*comm, *options); };
  } else if (resume_cmd->parsed()) {
    command.needs_mpi = true;
    command.execute = [options, resume_file](const boost::mpi::communicator* comm) {
      return run::resume(*comm, *options, *resume_file);
    };
  } else if (status_cmd->parsed()) {
    command.execute = [status_file](const boost::mpi::communicator*) { return print_status(*status_file); };
  } else if (validate_cmd->parsed()) {
    command.execute = [options, print](const boost::mpi::communicator*) { return validate(*options, *print); };
  } else if (jobs_cmd->parsed()) {
    command.execute = [](const boost::mpi::communicator*) { return print_jobs(); };
  } else if (predict_cmd->parsed()) {
    command.execute = [predict_file_path, predict_options, predict_ranks, predict_policy, predict_chunk,
                       predict_hierarchy, predict_format](const boost::mpi::communicator*) {
      return predict_file(*predict_file_path, *predict_options, *predict_ranks, *predict_policy, *predict_chunk,
                          *predict_hierarchy, *predict_format);
    };
  } else if (compare_cmd->parsed()) {
    command.execute = [compare_paths, compare_format](const boost::mpi::communicator*) {
      return compare_files(*compare_paths, *compare_format);
    };
  } else if (plot_cmd->parsed()) {
    command.execute = [plot_options](const boost::mpi::communicator*) { return plot(*plot_options); };
  } else if (submit_cmd->parsed()) {
    command.execute = [submit_options](const boost::mpi::communicator*) { return submit(*submit_options); };
  } else if (report_cmd->parsed()) {
    command.execute = [file, format, report_by, report_tasks, report_results](const boost::mpi::communicator*) {
      return report_file(*file, *format, *report_by, *report_tasks, *report_results);
    };
  }
  // Under mpirun -n N, a command without MPI runs (and prints) once: on rank 0 (README: Usage).
  if (!command.needs_mpi && !speak) command.exit_code = EXIT_OK;
  return command;
}

}  // namespace fanout::cli
