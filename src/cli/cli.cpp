#include "cli/cli.hpp"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <atomic>
#include <functional>
#include <iostream>
#include <iterator>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>

#include <CLI/CLI.hpp>
#include <boost/mpi/collectives/broadcast.hpp>
#include <boost/mpi/communicator.hpp>
#include <fmt/format.h>

#include "cli/progress.hpp"
#include "cli/python.hpp"
#include "cli/resume.hpp"
#include "config/config.hpp"
#include "core/affinity.hpp"
#include "core/background_sink.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/runner.hpp"
#include "fanout/version.hpp"
#include "io/journal.hpp"
#include "io/run_file.hpp"
#include "report/by_param.hpp"
#include "report/compare.hpp"
#include "report/cpu_use.hpp"
#include "report/predict.hpp"
#include "report/report.hpp"
#include "report/tasks.hpp"
#include "sched/scheduler.hpp"
#include "slurm/sbatch.hpp"
#include "slurm/slurm.hpp"
#include "cli/submit.hpp"

namespace fanout::cli {

// Seconds kept free before a Slurm time limit for writing the file.
constexpr double WALLTIME_MARGIN = 30;

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
  static const std::set<std::string> launchers{"mpirun",      "mpiexec", "orterun", "orted",          "prterun",
                                               "prted",       "srun",    "slurmstepd", "hydra_pmi_proxy"};
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

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string mpi_library_version() {
  char version[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  MPI_Get_library_version(version, &length);
  std::string v(version, static_cast<std::size_t>(length));
  while (!v.empty() && (v.back() == '\n' || v.back() == '\0' || v.back() == ' ')) v.pop_back();
  return v.substr(0, v.find(','));
}

// `text` with every byte that does not belong to a well-formed UTF-8
// character replaced by U+FFFD (a TOML string holds UTF-8 only).
std::string valid_utf8(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    bool ok = n > 0 && i + n <= text.size();
    for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    if (ok && n >= 3) {  // no overlong forms, no surrogates, nothing above U+10FFFF
      const auto d = static_cast<unsigned char>(text[i + 1]);
      ok = !(c == 0xE0 && d < 0xA0) && !(c == 0xED && d > 0x9F) && !(c == 0xF0 && d < 0x90) && !(c == 0xF4 && d > 0x8F);
    }
    if (ok) {
      out.append(text, i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::string quote_toml(const std::string& value) {
  toml::table t;
  t.insert_or_assign("v", valid_utf8(value));
  std::ostringstream os;
  os << toml::toml_formatter(t);
  return os.str().substr(os.str().find('=') + 2);
}

// The config with --set and --output applied; where the output path came from.
config::LoadedConfig load_with_options(const RunOptions& options, std::string& output_origin) {
  auto sets = options.sets;
  if (options.output) sets.push_back("output.path=" + quote_toml(*options.output));
  if (options.costs) sets.push_back("schedule.order=longest-first");
  auto loaded = options.config_text ? config::load_config(*options.config_text, options.config, sets)
                                    : config::load_config_file(options.config, sets);
  output_origin = options.output ? "--output " + *options.output : loaded.run.output_origin;
  // The file name exactly as given: a TOML string is UTF-8 (in the stored
  // config's output.path other bytes are U+FFFD), a file name need not be.
  if (options.output) loaded.run.output_path = *options.output;
  return loaded;
}

// Task costs for longest-first: an earlier run's task times (matched by task
// id; tasks it lacks get the mean), or the job's own estimates.
std::vector<double> task_costs(const config::LoadedConfig& loaded, const std::optional<std::string>& costs_file) {
  const std::uint64_t n = loaded.job->task_count();
  if (costs_file) {
    io::RunFile earlier;
    try {
      earlier = io::read_run_file(*costs_file);
    } catch (const Error& e) {  // IoError, or ConfigError for a config or journal given as FILE
      // Bad input to the run, found before any task runs: a usage error, like an unreadable config.
      throw ConfigError(std::string("--costs ") + e.what());
    }
    if (earlier.job != loaded.run.job_kind)
      throw ConfigError(fmt::format("--costs {}: a run of job \"{}\", but this config runs job \"{}\"", *costs_file,
                                    earlier.job, loaded.run.job_kind));
    return io::task_durations(earlier, n);
  }
  if (!loaded.job->has_costs())
    throw ConfigError(fmt::format("{}: schedule.order: \"longest-first\" needs task costs, and job \"{}\" does not "
                                  "estimate them; pass an earlier run of this config with --costs FILE",
                                  loaded.run.order_origin, loaded.run.job_kind));
  std::vector<double> costs(n, 0.0);
  for (std::uint64_t i = 0; i < n; ++i) costs[i] = loaded.job->cost(i);
  return costs;
}

// schedule.order = "auto" sorts at most this many tasks: runs of more tasks
// mostly have short ones, whose order matters little, and the scattered ids
// of longest-first slow the writer down (docs/jobs.md, Performance notes).
constexpr std::uint64_t AUTO_LONGEST_FIRST_MAX = 100000;

// The order tasks are handed out in: its name, as the file records it, and
// for longest-first the task ids in that order.
struct HandOut {
  std::string order = "given";
  std::vector<std::uint64_t> ids;  // empty: as given
};

HandOut hand_out_order(const config::LoadedConfig& cfg, const std::optional<std::string>& costs_file) {
  switch (cfg.run.order) {
    case config::Order::Given: return {};
    case config::Order::LongestFirst: return {"longest-first", sched::longest_first(task_costs(cfg, costs_file))};
    case config::Order::Auto: break;
  }
  // Longest-first pays where idle workers ask for the next task (dynamic);
  // under guided the first chunk would take all the longest tasks.
  if (cfg.run.policy != config::Policy::Dynamic || !cfg.job->has_costs() ||
      cfg.job->task_count() > AUTO_LONGEST_FIRST_MAX)
    return {};
  std::vector<double> costs = task_costs(cfg, std::nullopt);
  if (std::adjacent_find(costs.begin(), costs.end(), std::not_equal_to<>()) == costs.end()) return {};  // all alike
  return {"longest-first", sched::longest_first(costs)};
}

// Resolves the config on rank 0 and broadcasts the outcome.
// Collective. Returns the loaded config on every rank, or nullopt with code set.
// Collective. Rank 0 runs `produce`; every rank gets the text it returned,
// or, when it threw an Error, nothing and the error's exit code in `code`
// (rank 0 prints the message once).
std::optional<std::string> from_rank0(const boost::mpi::communicator& comm, int& code,
                                      const std::function<std::string()>& produce) {
  std::string payload;  // the text, or the error message
  code = EXIT_OK;
  if (comm.rank() == 0) {
    try {
      payload = produce();
    } catch (const Error& e) {
      code = e.exit_code();
      payload = e.what();
    }
  }
  boost::mpi::broadcast(comm, code, 0);
  boost::mpi::broadcast(comm, payload, 0);
  if (code != EXIT_OK) {
    if (comm.rank() == 0) std::cerr << "fanout: error: " << payload << "\n";
    return std::nullopt;
  }
  return payload;
}

std::optional<config::LoadedConfig> load_everywhere(
    const boost::mpi::communicator& comm, const RunOptions& options, int& code,
    const std::function<void(const config::LoadedConfig&, const std::string& origin)>& open_output) {
  std::optional<config::LoadedConfig> loaded;
  auto resolved = from_rank0(comm, code, [&] {
    std::string origin;
    loaded = load_with_options(options, origin);
    open_output(*loaded, origin);
    return loaded->run.resolved_toml;
  });
  if (!resolved) return std::nullopt;
  if (comm.rank() != 0) loaded = config::load_config(*resolved, options.config, {}, /*checked_elsewhere=*/true);
  return loaded;
}

std::string status_of(const RunOutcome& outcome, std::uint64_t to_run) {
  if (outcome.completed < to_run) return "partial";
  return outcome.failed > 0 ? "failed" : "complete";
}

// Finished tasks waiting for rank 0's writing thread, at most (bytes).
constexpr std::size_t BACKGROUND_SINK_BYTES = std::size_t{64} << 20;

// What went wrong writing `file`, for messages: "no space left on device
// while writing FILE" (the system's error), else "cannot write FILE: ...".
std::string write_failure(const IoError& e, const std::string& file) {
  if (e.os_error() == 0) return fmt::format("cannot write {}: {}", file, e.what());
  std::string what = std::strerror(e.os_error());
  if (!what.empty()) what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
  return fmt::format("{} while writing {}", what, file);
}

// When to try again after a write failed.
std::string retry_when(const IoError& e) {
  return e.os_error() == ENOSPC || e.os_error() == EDQUOT ? "once there is space" : "once that is fixed";
}

// Rank 0's sink: the run file, and the checkpoint journal beside it. A
// failed write (a full disk) is kept, not thrown: from then on nothing more
// is stored, and failure() tells the runner to stop (RunSettings::fail_check).
class CheckpointingSink : public TaskSink {
 public:
  CheckpointingSink(io::RunWriter& writer, io::JournalWriter& journal, std::string output)
      : writer_(writer), journal_(journal), output_(std::move(output)) {}
  void store(std::span<const TaskRecord> records, std::span<const std::byte> rows) override {
    guarded(journal_.path(), [&] { journal_.add(records, rows, {}); });
    guarded(output_, [&] { writer_.store(records, rows); });
  }
  void store_errors(std::span<const TaskError> errors) override {
    guarded(journal_.path(), [&] { journal_.add({}, {}, errors); });
  }
  void poll() override {
    guarded(journal_.path(), [&] { journal_.poll(); });
  }
  bool failed() const { return failed_.load(); }
  // "no space left on device while writing FILE", or "" (any thread).
  std::string failure() const {
    if (!failed_.load()) return "";
    std::lock_guard lock(mutex_);
    return error_ ? write_failure(*error_, file_) : "";
  }
  // After the run (the writing thread has stopped): the first error.
  const IoError& error() const { return *error_; }

 private:
  template <class Write>
  void guarded(const std::string& file, Write&& write) {
    if (failed_.load()) return;
    try {
      write();
    } catch (const IoError& e) {
      std::lock_guard lock(mutex_);
      error_ = e;
      file_ = file;
      failed_.store(true);
    }
  }

  io::RunWriter& writer_;
  io::JournalWriter& journal_;
  std::string output_;
  std::atomic<bool> failed_{false};
  mutable std::mutex mutex_;
  std::optional<IoError> error_;
  std::string file_;
};

// Thrown between the steps of writing the run file when a stop signal asks
// for it (WriteSignals).
struct WriteStopped {};

// Stop signals (SIGTERM, SIGINT, SIGUSR1) while rank 0 writes the run file.
// The write is the run's last step and leaves every finished task in the
// file, so the first signal lets it go on; a second one (counting one that
// stopped the tasks before) stops it at the next step: the file is given up,
// the journal kept. Signals before the write began do not count twice.
class WriteSignals {
 public:
  explicit WriteSignals(std::string output) : output_(std::move(output)), before_(stop_signals_received()) {}
  // Between two steps of the write: throws WriteStopped when it must stop.
  void check() {
    const int during = stop_signals_received() - before_;
    if (during == 0) return;
    if (before_ + during >= 2) throw WriteStopped{};
    if (!noted_)
      std::cerr << fmt::format("fanout: {} while writing {}: finishing the file first (a second signal stops it, "
                               "keeping the finished tasks in {})\n",
                               signal_name(), output_, io::journal_path(output_));
    noted_ = true;
  }
  static std::string signal_name() {
    switch (last_stop_signal()) {
      case SIGTERM: return "SIGTERM";
      case SIGINT: return "SIGINT";
      case SIGUSR1: return "SIGUSR1";
      default: return "signal " + std::to_string(last_stop_signal());
    }
  }

 private:
  std::string output_;
  int before_;
  bool noted_ = false;
};

// Rank 0, when the run file is not to be written after all (a write failed,
// or a signal stopped it): removes its temporary file, which frees its
// space, then writes out and syncs what the journal could not write before.
// Returns whether the journal now holds every task it was given.
bool give_up_file(std::unique_ptr<io::RunWriter>& writer, io::JournalWriter& journal) {
  writer.reset();
  try {
    journal.checkpoint();
    return true;
  } catch (const IoError&) {
    return false;
  }
}

// "the 20 finished tasks are kept in J", or what is left of that.
std::string kept_in_journal(bool journal_whole, std::uint64_t finished, const std::string& output) {
  if (journal_whole)
    return fmt::format("the {} finished task{} are kept in {}", finished, finished == 1 ? "" : "s",
                       io::journal_path(output));
  return fmt::format("the finished tasks written to {} before that are kept (the others will run again)",
                     io::journal_path(output));
}

// Is stderr a terminal, here or, for a rank that mpirun started on this
// machine (its stderr is a pipe to mpirun), at mpirun itself?
bool stderr_reaches_terminal() {
  if (isatty(STDERR_FILENO) == 1) return true;
  if (!std::getenv("OMPI_COMM_WORLD_RANK")) return false;
  std::error_code ec;
  auto target = std::filesystem::read_symlink("/proc/" + std::to_string(getppid()) + "/fd/2", ec);
  if (ec) return false;
  std::string t = target.string();
  return t.rfind("/dev/pts/", 0) == 0 || t.rfind("/dev/tty", 0) == 0;
}

// How this rank was started, for the remedy of report::binding_warning.
report::Launcher launcher() {
  if (std::getenv("OMPI_COMM_WORLD_RANK")) return report::Launcher::Mpirun;
  if (std::getenv("SLURM_PROCID") && slurm::in_allocation()) return report::Launcher::Slurm;
  return report::Launcher::None;
}

// Failed attempts of earlier sessions and of this one, by task id and attempt.
std::vector<TaskError> all_errors(const std::vector<TaskError>& earlier, const std::vector<TaskError>& now) {
  std::vector<TaskError> errors = earlier;
  errors.insert(errors.end(), now.begin(), now.end());
  std::sort(errors.begin(), errors.end(),
            [](auto& a, auto& b) { return a.id != b.id ? a.id < b.id : a.attempt < b.attempt; });
  return errors;
}

// The phases up to `now` (run clock): setup, distribute, compute, collect.
std::vector<PhaseRecord> phases_until(const RunOutcome& outcome, double setup_end, double now) {
  double first = outcome.completed ? outcome.first_start : setup_end;
  double last = outcome.completed ? outcome.last_end : setup_end;
  std::vector<PhaseRecord> phases(4);
  set_phase(phases[0], "setup", 0, setup_end);
  set_phase(phases[1], "distribute", setup_end, first);
  set_phase(phases[2], "compute", first, last);
  set_phase(phases[3], "collect", last, std::max(last, now));
  return phases;
}

// Is this rank one that mpirun started (not srun, not a singleton)?
bool under_mpirun() { return std::getenv("OMPI_MCA_orte_hnp_uri") != nullptr; }

// mpirun's odls_base_sigkill_timeout (s): 1 unless set in the environment.
std::string mpirun_kill_timeout() {
  const char* value = std::getenv("OMPI_MCA_odls_base_sigkill_timeout");
  return value && *value ? value : "1";
}

// Rank 0, at a stop, while the running tasks get their grace: the tasks
// finished so far go to the output path as a partial file (without /ranks,
// which the ranks report at the end), and the writer goes on (RunWriter::publish).
void publish_partial(io::RunWriter& writer, const config::LoadedConfig& loaded, const RunOutcome& so_far,
                     const std::vector<TaskError>& earlier_errors, double setup_end, const RunClock& clock,
                     int n_ranks) {
  writer.set_attribute("chunk", so_far.chunk);
  writer.flush();
  if (loaded.sweep) writer.write_params(*loaded.sweep);
  // /ranks before the ranks report: the tasks and busy time rank 0 has
  // received from each; its own host and pid; the rest 0 (docs/file-format.md).
  std::vector<RankRecord> ranks = so_far.ranks;
  ranks.resize(static_cast<std::size_t>(n_ranks));
  for (int r = 0; r < n_ranks; ++r) {
    ranks[r].rank = r;
    ranks[r].threads = static_cast<std::int32_t>(loaded.run.threads_per_rank);
  }
  gethostname(ranks[0].host, sizeof ranks[0].host - 1);
  std::snprintf(ranks[0].node, sizeof ranks[0].node, "%s", slurm::node_name().c_str());
  ranks[0].pid = getpid();
  writer.write_ranks(ranks);
  writer.write_errors(all_errors(earlier_errors, so_far.errors));
  double now = clock.now();
  std::vector<PhaseRecord> phases = phases_until(so_far, setup_end, now);
  phases.emplace_back();
  set_phase(phases.back(), "write", now, clock.now());
  writer.write_phases(phases);
  writer.publish("partial", utc_now());
}

// Rank 0: the last datasets and, when every task succeeded, the job's own
// output (Job::finish); then the file goes into place. `between_steps` runs
// before each step (it may throw WriteStopped). Throws IoError when the file
// cannot be written.
int finish_file(io::RunWriter& writer, const config::LoadedConfig& loaded, const RunOutcome& outcome,
                const std::vector<TaskError>& errors, std::uint64_t to_run, std::vector<PhaseRecord> phases,
                const RunClock& clock, const std::function<void()>& between_steps) {
  double write_start = phases.back().t_end;
  between_steps();
  writer.set_attribute("chunk", outcome.chunk);
  writer.flush();
  between_steps();
  if (loaded.sweep) writer.write_params(*loaded.sweep);
  if (status_of(outcome, to_run) == "complete") {
    between_steps();
    try {
      writer.finish_job(*loaded.job);
    } catch (const IoError&) {
      throw;
    } catch (const std::exception& e) {
      std::cerr << fmt::format("fanout: error: job \"{}\" failed in its finish step: {}; {} not written (the "
                               "finished tasks are kept in {}: fanout resume {} runs the finish step again)\n",
                               loaded.run.job_kind, e.what(), loaded.run.output_path,
                               io::journal_path(loaded.run.output_path), loaded.run.output_path);
      return EXIT_TASKS_FAILED;
    }
  }
  between_steps();
  writer.write_ranks(outcome.ranks);
  between_steps();
  writer.write_errors(errors);
  phases.emplace_back();
  set_phase(phases.back(), "write", write_start, clock.now());
  writer.write_phases(phases);
  between_steps();
  writer.commit(status_of(outcome, to_run), utc_now());
  return EXIT_OK;
}

}  // namespace

int run(const boost::mpi::communicator& comm, const RunOptions& options) {
  install_stop_signals();
  double start = steady_seconds();
  ProcessUsage usage_at_start = process_usage();
  std::string created = utc_now();
  int code = EXIT_OK;
  // Rank 0 only: the file is written as results arrive, the journal beside it.
  std::unique_ptr<io::RunWriter> writer;
  std::unique_ptr<io::JournalWriter> journal;
  std::unique_ptr<CheckpointingSink> sink;
  std::vector<std::uint64_t> order;  // rank 0 only: the hand-out order (of the tasks left to run)
  ResumeState resumed;
  auto open_output = [&](const config::LoadedConfig& cfg, const std::string& origin) {
    resumed = prepare_output(cfg, origin, options.resume, options.force);
    if (resumed.nothing_left) return;
    const std::uint64_t task_count = cfg.job->task_count();
    HandOut hand_out = hand_out_order(cfg, options.costs);
    order = std::move(hand_out.ids);
    if (resumed.carried > 0) {  // the tasks left, in the hand-out order
      if (order.empty()) {
        for (std::uint64_t id = 0; id < task_count; ++id)
          if (!resumed.finished[id]) order.push_back(id);
      } else {
        std::erase_if(order, [&](std::uint64_t id) { return resumed.finished[id]; });
      }
    }
    io::RunMetadata meta;
    meta.job = cfg.run.job_kind;
    meta.config = cfg.run.resolved_toml;
    meta.command_line = options.command_line;
    meta.created = created;
    meta.scheduler = cfg.run.policy_name;
    meta.order = hand_out.order;
    meta.costs = hand_out.order == "longest-first" ? (options.costs ? *options.costs : "job") : "";
    meta.chunk = "";
    meta.mpi_library = mpi_library_version();
    meta.job_hash = job_hash(cfg.run.resolved_toml);
    meta.sessions = resumed.sessions;
    meta.n_ranks = comm.size();
    meta.threads_per_rank = cfg.run.threads_per_rank;
    meta.task_count = task_count;
    meta.job_attributes = config::job_attributes(cfg.run.resolved_toml);
    // A write that fails here (a full disk) leaves everything as it was:
    // both start under temporary names.
    auto creating = [&](const std::string& file, const std::function<void()>& create) {
      try {
        create();
      } catch (const IoError& e) {
        throw IoError(write_failure(e, file) + "; the run did not start, and nothing was changed", e.os_error());
      }
    };
    meta.inputs = cfg.inputs;
    creating(cfg.run.output_path, [&] {
      writer = std::make_unique<io::RunWriter>(cfg.run.output_path, meta, cfg.columns);
      for (const auto& [name, value] : slurm::context_attributes()) writer->set_attribute(name, value);
    });
    io::JournalHeader header{cfg.run.job_kind, meta.job_hash, task_count, RowLayout(cfg.columns).size(),
                             static_cast<std::uint64_t>(resumed.sessions), cfg.run.resolved_toml, cfg.inputs};
    creating(io::journal_path(cfg.run.output_path), [&] {
      journal = std::make_unique<io::JournalWriter>(io::journal_path(cfg.run.output_path), header,
                                                    cfg.run.checkpoint_interval, cfg.run.checkpoint_tasks);
    });
    carry_over(resumed, *writer, *journal);
    creating(io::journal_path(cfg.run.output_path), [&] { journal->start(); });
    resumed.finished = {};  // the runner keeps its own bit per task
    resumed.from_file = {};
    sink = std::make_unique<CheckpointingSink>(*writer, *journal, cfg.run.output_path);
  };
  auto loaded = load_everywhere(comm, options, code, open_output);
  if (!loaded) return code;
  const config::RunConfig& cfg = loaded->run;
  int nothing_left = resumed.nothing_left ? 1 : 0;
  boost::mpi::broadcast(comm, nothing_left, 0);
  if (nothing_left) {
    if (comm.rank() == 0)
      std::cerr << fmt::format("fanout: {} is complete already: nothing to resume\n", cfg.output_path);
    return EXIT_OK;
  }
  if (comm.rank() == 0 && !resumed.source.empty())
    std::cerr << fmt::format("fanout: resuming {} (session {}): {} of {} tasks finished before, from {}\n",
                             cfg.output_path, resumed.sessions, resumed.carried,
                             loaded->job->task_count(), resumed.source);
  else if (comm.rank() == 0 && options.resume)
    std::cerr << fmt::format("fanout: --resume: no interrupted run of {} found; starting it from the beginning\n",
                             cfg.output_path);
  // Before any worker thread starts; whether the threads had CPUs enough is
  // told after the tasks, from the CPU time they used (report::binding_warning).
  const Placement placement = measure_placement();
  loaded->job->prepare(cfg.threads_per_rank);
  RunClock clock = synchronize_clock(comm, start);
  double setup_end = clock.now();

  RowLayout layout(loaded->columns);
  const std::uint64_t task_count = loaded->job->task_count();
  std::uint64_t already_done = resumed.carried;
  boost::mpi::broadcast(comm, already_done, 0);
  boost::mpi::broadcast(comm, resumed.sessions, 0);
  auto interval = static_cast<double>(cfg.progress_interval);
  Progress progress(Progress::choose(options.progress, stderr_reaches_terminal(), interval), task_count - already_done,
                    interval);
  RunSettings settings;
  settings.policy = cfg.policy;
  settings.chunk = cfg.chunk;
  settings.threads_per_rank = cfg.threads_per_rank;
  settings.progress_interval = progress.tick();
  settings.usage_at_start = usage_at_start;
  settings.order = std::move(order);
  settings.already_done = already_done;
  settings.session = static_cast<std::uint16_t>(std::max<std::int64_t>(0, resumed.sessions - 1));
  settings.sweep = loaded->sweep.get();
  settings.retries = cfg.retries;
  settings.max_failures = cfg.max_failures;
  settings.grace = cfg.grace;
  // Inside a Slurm allocation with a time limit: stop handing out tasks that
  // could not end before it, keeping WALLTIME_MARGIN seconds for the file.
  if (comm.rank() == 0) settings.stop_check = slurm::time_limit_stop_check(WALLTIME_MARGIN);
  // A write that failed (a full disk) stops the run at once: what finishes now cannot be stored.
  if (sink) settings.fail_check = [&sink] { return sink->failed() ? sink->failure() : std::string(); };
  settings.progress = [&](std::uint64_t done, std::uint64_t failed, double task_cpu) {
    progress.update(clock.now(), done, failed, task_cpu);
  };
  // Rank 0 writes on a thread of its own, so that its coordinating thread
  // answers requests while the file and the journal are written.
  std::optional<BackgroundSink> background;
  if (sink) background.emplace(*sink, BACKGROUND_SINK_BYTES);
  // At a stop, what has finished goes to the output path before the running
  // tasks get their grace, and again as they finish.
  bool publish_failed = false;
  if (comm.rank() == 0)
    settings.publish = [&](const RunOutcome& so_far) {
      if (publish_failed) return;
      bool first = !writer->published();
      try {
        background->exclusive([&] {
          journal->write_out();  // the journal holds every task the file does
          publish_partial(*writer, *loaded, so_far, resumed.errors, setup_end, clock, comm.size());
        });
      } catch (const IoError& e) {
        publish_failed = true;
        std::cerr << "fanout: warning: " << e.what() << "\n";
        return;
      }
      const std::uint64_t done = already_done + so_far.completed;
      if (!first) {
        std::cerr << fmt::format("fanout: updated {}: {} of {} tasks done\n", cfg.output_path, done, task_count);
        return;
      }
      std::cerr << fmt::format("fanout: wrote {} (status partial): {} of {} tasks done; it is updated as the running "
                               "tasks finish\n",
                               cfg.output_path, done, task_count);
      if (so_far.stop == StopCause::Signal && so_far.stop_reason.starts_with("SIGTERM") && under_mpirun())
        std::cerr << fmt::format(
            "fanout: under mpirun: mpirun passes a SIGINT or SIGTERM on as SIGTERM after {0} s and kills the ranks "
            "{0} s later (its odls_base_sigkill_timeout), so running tasks may not get their grace; to let them "
            "finish, stop with kill -USR1 <mpirun's pid> (passed on at once, no kill)\n",
            mpirun_kill_timeout());
    };
  RunOutcome outcome = execute(comm, *loaded->job, layout, settings, clock, background ? &*background : nullptr);
  WriteSignals signals(cfg.output_path);  // the signals the run has seen
  if (background) {
    background->drain();
    background.reset();
  }
  slurm::record_nodes(comm, outcome.ranks);
  const std::vector<int> threads_per_core = record_cpus(comm, outcome.ranks, placement);

  if (comm.rank() == 0) {
    progress.finish();
    std::vector<PhaseRecord> phases = phases_until(outcome, setup_end, clock.now());
    std::vector<TaskError> errors = all_errors(resumed.errors, outcome.errors);
    const std::uint64_t to_run = task_count - already_done;
    const std::string status = status_of(outcome, to_run);
    const std::uint64_t done = already_done + outcome.completed;
    bool journal_ok = true;
    try {
      // Before the file: whatever happens while it is written, nothing
      // finished is lost. Synced only when the journal will be kept (a
      // complete run's file is not synced either).
      if (!sink->failed()) {
        if (status == "partial")
          journal->checkpoint();
        else
          journal->write_out();
      }
    } catch (const IoError&) {
      journal_ok = false;  // tried again if the file cannot be written either
    }
    if (sink->failed()) {
      // The run stopped because a write failed: the file is not written.
      const IoError& e = sink->error();
      give_up_file(writer, *journal);
      std::cerr << fmt::format("fanout: error: {}; the run stopped and {} was not written; {}: {}, fanout resume {} "
                               "continues\n",
                               sink->failure(), cfg.output_path, kept_in_journal(false, done, cfg.output_path),
                               retry_when(e), cfg.output_path);
      code = EXIT_IO;
    } else {
      try {
        code = finish_file(*writer, *loaded, outcome, errors, to_run, std::move(phases), clock,
                           [&] { signals.check(); });
      } catch (const WriteStopped&) {
        const bool whole = give_up_file(writer, *journal);
        std::cerr << fmt::format("fanout: {}: stopped writing {}; it was not written, and {}: fanout resume {} "
                                 "writes it\n",
                                 WriteSignals::signal_name(), cfg.output_path,
                                 kept_in_journal(whole, done, cfg.output_path), cfg.output_path);
        code = EXIT_INTERRUPTED;
      } catch (const IoError& e) {
        const bool whole = give_up_file(writer, *journal);
        std::cerr << fmt::format("fanout: error: {}; it was not written, and {}: {}, fanout resume {} writes it\n",
                                 write_failure(e, cfg.output_path), kept_in_journal(whole, done, cfg.output_path),
                                 retry_when(e), cfg.output_path);
        code = EXIT_IO;
      }
    }
    if (code == EXIT_OK) {
      // A partial file holds every finished task: a journal that could not
      // take them all must not be what a resume reads.
      if (status != "partial" || !journal_ok) journal->remove();
      std::cerr << fmt::format("fanout: wrote {}: {} of {} tasks done ({} failed{}) on {} rank{} x {} thread{}, {}, "
                               "{:.2f} s\n",
                               cfg.output_path, done, task_count, outcome.failed,
                               outcome.retried ? fmt::format(", {} failed attempts retried", outcome.retried) : "",
                               comm.size(), comm.size() == 1 ? "" : "s", cfg.threads_per_rank,
                               cfg.threads_per_rank == 1 ? "" : "s", cfg.policy_name, clock.now());
      if (status == "partial")
        std::cerr << fmt::format("fanout: status partial ({}): {} tasks left; continue with: fanout resume {}\n",
                                 outcome.stop_reason, task_count - done, cfg.output_path);
      std::cerr << report::binding_warning(outcome.ranks, outcome.task_cpu, threads_per_core, launcher());
      if (status == "partial" && (outcome.stop == StopCause::Signal || outcome.stop == StopCause::Check))
        code = EXIT_INTERRUPTED;
      else if (outcome.failed > 0)
        code = EXIT_TASKS_FAILED;
    }
  }
  quiet_barrier(comm);  // rank 0 may write for a while: the others wait without spinning
  boost::mpi::broadcast(comm, code, 0);
  if (outcome.abandoned) {
    // Worker threads still run tasks that were given up on: leave without
    // running destructors under their feet.
    std::cout.flush();
    std::cerr.flush();
    MPI_Finalize();
    _exit(code);
  }
  return code;
}

namespace {

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

int validate(const RunOptions& options, bool print) {
  std::string origin;
  auto loaded = load_with_options(options, origin);
  const bool create_dir = default_output_dir_missing(loaded.run.output_path);  // run creates results/
  if (!create_dir) check_output(loaded.run.output_path, origin, /*force=*/true);  // the directory must be there
  if (loaded.run.order == config::Order::LongestFirst) task_costs(loaded, options.costs);
  std::cout << fmt::format("{}: ok: job {} with {} tasks, policy {}, {} thread{} per rank, output {}\n",
                           options.config, loaded.run.job_kind, loaded.job->task_count(), loaded.run.policy_name,
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
                 const std::string& policy, const std::string& chunk, const std::string& format) {
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

// `fanout resume FILE`: rank 0 reads the config stored in the file (or its
// journal) and every rank runs it with --resume --output FILE.
int resume_run(const boost::mpi::communicator& comm, RunOptions options, const std::string& file) {
  int code = EXIT_OK;
  auto config = from_rank0(comm, code, [&] { return stored_config(file); });
  if (!config) return code;
  std::string output = file.ends_with(".journal") ? file.substr(0, file.size() - 8) : file;
  options.config = output + " (its stored config)";
  options.config_text = *config;
  options.output = output;
  options.resume = true;
  return run(comm, options);
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

  auto options = std::make_shared<RunOptions>();
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
  CLI::App* run_cmd = app->add_subcommand(
      "run", "run a config's tasks on all ranks (start with mpirun -n N) and write the HDF5 file");
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
  run_cmd->add_option("--costs", options->costs,
                      "hand tasks out longest-first, using the task times of an earlier run of the same job "
                      "(sets schedule.order = \"longest-first\")")
      ->type_name("FILE");
  auto resume_file = std::make_shared<std::string>();
  CLI::App* resume_cmd = app->add_subcommand(
      "resume", "continue an interrupted run from its file (or journal), with the config stored in it; the same as "
                "fanout run CONFIG --resume (start with mpirun -n N; the rank count may differ)");
  resume_cmd->add_option("FILE", *resume_file, "the run's output file (or its .journal)")->required();
  resume_cmd->add_option("--set", options->sets, "override a config key, as for run (the [job] keys must not change)")
      ->type_name("KEY=VALUE");
  add_progress_option(resume_cmd, "as for run");
  auto status_file = std::make_shared<std::string>();
  CLI::App* status_cmd = app->add_subcommand(
      "status", "show how far a run got: done, failed and remaining tasks, rate and ETA; reads a finished or partial "
                "file, or the checkpoint journal of a running or killed run");
  status_cmd->add_option("FILE", *status_file, "the run's output file (or its .journal)")->required();
  CLI::App* validate_cmd = app->add_subcommand("validate", "check a config (and its overrides) without running it");
  add_config_options(validate_cmd);
  validate_cmd->add_flag("--print", *print, "print the resolved config, defaults filled in");
  validate_cmd->add_option("--costs", options->costs, "check an earlier run's file for longest-first, as run would")
      ->type_name("FILE");
  CLI::App* jobs_cmd = app->add_subcommand("jobs", "list the built-in jobs, their parameters and result columns");
  CLI::App* report_cmd = app->add_subcommand("report", "summarise a run file: CPU times, wall time, balance, efficiency");
  report_cmd->add_option("FILE", *file, "a file written by fanout run")->required();
  report_cmd->add_option("--format", *format, "text (default), json, or csv (one row per rank; with --by, per value)")
      ->check(CLI::IsMember({"text", "json", "csv"}));
  auto report_by = std::make_shared<std::string>();
  report_cmd->add_option("--by", *report_by,
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
      "compare", "compare runs of one job at different rank counts or policies: speedup, efficiency, Karp-Flatt, "
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
      "predict", "predict wall time and efficiency at other rank and thread counts by replaying a run's task times "
                 "through the runner's schedulers (a discrete-event simulation)");
  predict_cmd->add_option("FILE", *predict_file_path, "a file written by fanout run")->required();
  auto predict_ranks = std::make_shared<std::string>();
  predict_cmd->add_option("--ranks,-n", *predict_ranks, "ranks to predict for: a number, or several (1,2,4,8: a table)")
      ->required()
      ->type_name("N[,N...]");
  predict_cmd->add_option("--threads", predict_options->threads, "threads per rank (default 1)")->check(CLI::Range(1, 1024));
  predict_cmd->add_option("--policy", *predict_policy, "scheduling policy (default: the file's)")
      ->check(CLI::IsMember(sched::policy_names()));
  predict_cmd->add_option("--chunk", *predict_chunk, "chunk: a whole number or auto (default: the file's)");
  predict_cmd->add_option("--latency", predict_options->latency,
                          "seconds for a remote rank's request to be answered (default 0.0002)")
      ->check(CLI::Range(0.0, 10.0));
  predict_cmd->add_option("--format", *predict_format, "text (default) or json")->check(CLI::IsMember({"text", "json"}));

  auto plot_options = std::make_shared<PlotOptions>();
  CLI::App* plot_cmd = app->add_subcommand(
      "plot", "draw run files as PNGs: timeline, rank utilisation, task durations; with --scaling, speedup and "
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
      if (speak) std::cerr << "fanout: error: unknown command \"" << first << "\"; expected one of " << names
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
    command.execute = [options](const boost::mpi::communicator* comm) { return run(*comm, *options); };
  } else if (resume_cmd->parsed()) {
    command.needs_mpi = true;
    command.execute = [options, resume_file](const boost::mpi::communicator* comm) {
      return resume_run(*comm, *options, *resume_file);
    };
  } else if (status_cmd->parsed()) {
    command.execute = [status_file](const boost::mpi::communicator*) { return print_status(*status_file); };
  } else if (validate_cmd->parsed()) {
    command.execute = [options, print](const boost::mpi::communicator*) { return validate(*options, *print); };
  } else if (jobs_cmd->parsed()) {
    command.execute = [](const boost::mpi::communicator*) { return print_jobs(); };
  } else if (predict_cmd->parsed()) {
    command.execute = [predict_file_path, predict_options, predict_ranks, predict_policy, predict_chunk,
                       predict_format](const boost::mpi::communicator*) {
      return predict_file(*predict_file_path, *predict_options, *predict_ranks, *predict_policy, *predict_chunk,
                          *predict_format);
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
