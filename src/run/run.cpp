#include "run/run.hpp"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <boost/mpi/collectives/broadcast.hpp>
#include <boost/mpi/communicator.hpp>

#include "config/config.hpp"
#include "core/affinity.hpp"
#include "core/background_sink.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/runner.hpp"
#include "io/journal.hpp"
#include "io/run_file.hpp"
#include "report/cpu_use.hpp"
#include "run/finish.hpp"
#include "run/progress.hpp"
#include "run/resume.hpp"
#include "run/sink.hpp"
#include "slurm/slurm.hpp"

namespace fanout::run {

namespace {

// Seconds kept free before a Slurm time limit for writing the file.
constexpr double WALLTIME_MARGIN = 30;

// Finished tasks waiting for rank 0's writing thread, at most (bytes).
constexpr std::size_t BACKGROUND_SINK_BYTES = std::size_t{64} << 20;

std::string mpi_library_version() {
  char version[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  MPI_Get_library_version(version, &length);
  std::string v(version, static_cast<std::size_t>(length));
  while (!v.empty() && (v.back() == '\n' || v.back() == '\0' || v.back() == ' ')) v.pop_back();
  return v.substr(0, v.find(','));
}

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

// Collective. Rank 0 loads the config (with the request's changes) and
// prepares the output (`open_output`); the other ranks load the resolved
// config it broadcasts. Returns the loaded config on every rank, or nullopt
// with `code` set (rank 0 has printed the error).
std::optional<config::LoadedConfig> load_everywhere(
    const boost::mpi::communicator& comm, const RunRequest& request, int& code,
    const std::function<void(const config::LoadedConfig&, const std::string& origin)>& open_output) {
  std::optional<config::LoadedConfig> loaded;
  auto resolved = from_rank0(comm, code, [&] {
    std::string origin;
    loaded = load_config(request, origin);
    open_output(*loaded, origin);
    return loaded->run.resolved_toml;
  });
  if (!resolved) return std::nullopt;
  if (comm.rank() != 0) loaded = config::load_config(*resolved, request.config, {}, /*checked_elsewhere=*/true);
  return loaded;
}

// How this rank was started, for the remedy of report::binding_warning.
report::Launcher launcher() {
  if (std::getenv("OMPI_COMM_WORLD_RANK")) return report::Launcher::Mpirun;
  if (std::getenv("SLURM_PROCID") && slurm::in_allocation()) return report::Launcher::Slurm;
  return report::Launcher::None;
}

// Is this rank one that mpirun started (not srun, not a singleton)?
bool under_mpirun() { return std::getenv("OMPI_MCA_orte_hnp_uri") != nullptr; }

// mpirun's odls_base_sigkill_timeout (s): 1 unless set in the environment.
std::string mpirun_kill_timeout() {
  const char* value = std::getenv("OMPI_MCA_odls_base_sigkill_timeout");
  return value && *value ? value : "1";
}

// Rank 0's files during a run: the run file, written as results arrive, and
// the checkpoint journal beside it; with what earlier sessions finished.
struct OutputFiles {
  ResumeState resumed;
  std::vector<std::uint64_t> order;  // the hand-out order (of the tasks left to run)
  std::unique_ptr<io::RunWriter> writer;
  std::unique_ptr<io::JournalWriter> journal;
  std::unique_ptr<CheckpointingSink> sink;
};

// Rank 0, before any task runs: checks the output (prepare_output), finds the
// hand-out order, creates the run file and the journal under temporary names
// and carries the tasks of earlier sessions over. Nothing is opened when the
// output is complete already (resumed.nothing_left). Throws ConfigError or IoError.
OutputFiles open_output(const config::LoadedConfig& cfg, const std::string& origin, const RunRequest& request,
                        int n_ranks, const std::string& created) {
  OutputFiles out;
  out.resumed = prepare_output(cfg, origin, request.resume, request.force);
  if (out.resumed.nothing_left) return out;
  const std::uint64_t task_count = cfg.job->task_count();
  HandOut hand_out = hand_out_order(cfg, request.costs);
  out.order = std::move(hand_out.ids);
  if (out.resumed.carried > 0) {  // the tasks left, in the hand-out order
    if (out.order.empty()) {
      for (std::uint64_t id = 0; id < task_count; ++id)
        if (!out.resumed.finished[id]) out.order.push_back(id);
    } else {
      std::erase_if(out.order, [&](std::uint64_t id) { return out.resumed.finished[id]; });
    }
  }
  io::RunMetadata meta;
  meta.job = cfg.run.job_kind;
  meta.config = cfg.run.resolved_toml;
  meta.command_line = request.command_line;
  meta.created = created;
  meta.scheduler = cfg.run.policy_name;
  meta.order = hand_out.order;
  meta.costs = hand_out.order == "longest-first" ? (request.costs ? *request.costs : "job") : "";
  meta.chunk = "";
  meta.mpi_library = mpi_library_version();
  meta.job_hash = job_hash(cfg.run.resolved_toml);
  meta.sessions = out.resumed.sessions;
  meta.n_ranks = n_ranks;
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
    out.writer = std::make_unique<io::RunWriter>(cfg.run.output_path, meta, cfg.columns);
    for (const auto& [name, value] : slurm::context_attributes()) out.writer->set_attribute(name, value);
  });
  io::JournalHeader header{cfg.run.job_kind,
                           meta.job_hash,
                           task_count,
                           RowLayout(cfg.columns).size(),
                           static_cast<std::uint64_t>(out.resumed.sessions),
                           cfg.run.resolved_toml,
                           cfg.inputs};
  creating(io::journal_path(cfg.run.output_path), [&] {
    out.journal = std::make_unique<io::JournalWriter>(io::journal_path(cfg.run.output_path), header,
                                                      cfg.run.checkpoint_interval, cfg.run.checkpoint_tasks);
  });
  carry_over(out.resumed, *out.writer, *out.journal);
  creating(io::journal_path(cfg.run.output_path), [&] { out.journal->start(); });
  out.resumed.finished = {};  // the runner keeps its own bit per task
  out.resumed.from_file = {};
  out.sink = std::make_unique<CheckpointingSink>(*out.writer, *out.journal, cfg.run.output_path);
  return out;
}

// Rank 0, after the tasks: the journal brought up to date, then the run file
// written and put in place, or given up with the journal kept; what happened
// is said on stderr. Returns the run's exit code.
int conclude(OutputFiles& out, const config::LoadedConfig& loaded, const RunOutcome& outcome,
             std::uint64_t already_done, double setup_end, const RunClock& clock, WriteSignals& signals, int n_ranks,
             const std::vector<int>& threads_per_core) {
  const config::RunConfig& cfg = loaded.run;
  const std::uint64_t task_count = loaded.job->task_count();
  int code = EXIT_OK;
  std::vector<PhaseRecord> phases = phases_until(outcome, setup_end, clock.now());
  std::vector<TaskError> errors = all_errors(out.resumed.errors, outcome.errors);
  const std::uint64_t to_run = task_count - already_done;
  const std::string status = status_of(outcome, to_run);
  const std::uint64_t done = already_done + outcome.completed;
  bool journal_ok = true;
  try {
    // Before the file: whatever happens while it is written, nothing
    // finished is lost. Synced only when the journal will be kept (a
    // complete run's file is not synced either).
    if (!out.sink->failed()) {
      if (status == "partial")
        out.journal->checkpoint();
      else
        out.journal->write_out();
    }
  } catch (const IoError&) {
    journal_ok = false;  // tried again if the file cannot be written either
  }
  if (out.sink->failed()) {
    // The run stopped because a write failed: the file is not written.
    const IoError& e = out.sink->error();
    give_up_file(out.writer, *out.journal);
    std::cerr << fmt::format(
        "fanout: error: {}; the run stopped and {} was not written; {}: {}, fanout resume {} "
        "continues\n",
        out.sink->failure(), cfg.output_path, kept_in_journal(false, done, cfg.output_path), retry_when(e),
        cfg.output_path);
    code = EXIT_IO;
  } else {
    try {
      code =
          finish_file(*out.writer, loaded, outcome, errors, to_run, std::move(phases), clock, [&] { signals.check(); });
    } catch (const WriteStopped&) {
      const bool whole = give_up_file(out.writer, *out.journal);
      std::cerr << fmt::format(
          "fanout: {}: stopped writing {}; it was not written, and {}: fanout resume {} "
          "writes it\n",
          WriteSignals::signal_name(), cfg.output_path, kept_in_journal(whole, done, cfg.output_path), cfg.output_path);
      code = EXIT_INTERRUPTED;
    } catch (const IoError& e) {
      const bool whole = give_up_file(out.writer, *out.journal);
      std::cerr << fmt::format("fanout: error: {}; it was not written, and {}: {}, fanout resume {} writes it\n",
                               write_failure(e, cfg.output_path), kept_in_journal(whole, done, cfg.output_path),
                               retry_when(e), cfg.output_path);
      code = EXIT_IO;
    }
  }
  if (code == EXIT_OK) {
    // A partial file holds every finished task: a journal that could not
    // take them all must not be what a resume reads.
    if (status != "partial" || !journal_ok) out.journal->remove();
    std::cerr << fmt::format(
        "fanout: wrote {}: {} of {} tasks done ({} failed{}) on {} rank{} x {} thread{}, {}, "
        "{:.2f} s\n",
        cfg.output_path, done, task_count, outcome.failed,
        outcome.retried ? fmt::format(", {} failed attempts retried", outcome.retried) : "", n_ranks,
        n_ranks == 1 ? "" : "s", cfg.threads_per_rank, cfg.threads_per_rank == 1 ? "" : "s", cfg.policy_name,
        clock.now());
    if (status == "partial")
      std::cerr << fmt::format("fanout: status partial ({}): {} tasks left; continue with: fanout resume {}\n",
                               outcome.stop_reason, task_count - done, cfg.output_path);
    std::cerr << report::binding_warning(outcome.ranks, outcome.task_cpu, threads_per_core, launcher());
    if (status == "partial" && (outcome.stop == StopCause::Signal || outcome.stop == StopCause::Check))
      code = EXIT_INTERRUPTED;
    else if (outcome.failed > 0)
      code = EXIT_TASKS_FAILED;
  }
  return code;
}

}  // namespace

int run(const boost::mpi::communicator& comm, const RunRequest& request) {
  install_stop_signals();
  double start = steady_seconds();
  ProcessUsage usage_at_start = process_usage();
  std::string created = utc_now();
  int code = EXIT_OK;
  OutputFiles out;  // rank 0's; the others get resumed.carried and .sessions, broadcast below
  auto opening = [&](const config::LoadedConfig& cfg, const std::string& origin) {
    out = open_output(cfg, origin, request, comm.size(), created);
  };
  auto loaded = load_everywhere(comm, request, code, opening);
  if (!loaded) return code;
  const config::RunConfig& cfg = loaded->run;
  int nothing_left = out.resumed.nothing_left ? 1 : 0;
  boost::mpi::broadcast(comm, nothing_left, 0);
  if (nothing_left) {
    if (comm.rank() == 0)
      std::cerr << fmt::format("fanout: {} is complete already: nothing to resume\n", cfg.output_path);
    return EXIT_OK;
  }
  if (comm.rank() == 0 && !out.resumed.source.empty())
    std::cerr << fmt::format("fanout: resuming {} (session {}): {} of {} tasks finished before, from {}\n",
                             cfg.output_path, out.resumed.sessions, out.resumed.carried, loaded->job->task_count(),
                             out.resumed.source);
  else if (comm.rank() == 0 && request.resume)
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
  std::uint64_t already_done = out.resumed.carried;
  boost::mpi::broadcast(comm, already_done, 0);
  boost::mpi::broadcast(comm, out.resumed.sessions, 0);
  auto interval = static_cast<double>(cfg.progress_interval);
  Progress progress(Progress::choose(request.progress, Progress::stderr_reaches_terminal(), interval),
                    task_count - already_done, interval);
  RunSettings settings;
  settings.policy = cfg.policy;
  settings.hierarchy = cfg.hierarchy;  // as given (Auto too): the runner resolves it
  settings.node_name = slurm::node_name();
  settings.chunk = cfg.chunk;
  settings.threads_per_rank = cfg.threads_per_rank;
  settings.progress_interval = progress.tick();
  settings.usage_at_start = usage_at_start;
  settings.order = std::move(out.order);
  settings.already_done = already_done;
  settings.session = static_cast<std::uint16_t>(std::max<std::int64_t>(0, out.resumed.sessions - 1));
  settings.sweep = loaded->sweep.get();
  settings.retries = cfg.retries;
  settings.max_failures = cfg.max_failures;
  settings.grace = cfg.grace;
  // Inside a Slurm allocation with a time limit: stop handing out tasks that
  // could not end before it, keeping WALLTIME_MARGIN seconds for the file.
  if (comm.rank() == 0) settings.stop_check = slurm::time_limit_stop_check(WALLTIME_MARGIN);
  // A write that failed (a full disk) stops the run at once: what finishes now cannot be stored.
  if (out.sink) settings.fail_check = [&out] { return out.sink->failed() ? out.sink->failure() : std::string(); };
  settings.progress = [&](std::uint64_t done, std::uint64_t failed, double task_cpu) {
    progress.update(clock.now(), done, failed, task_cpu);
  };
  // Rank 0 writes on a thread of its own, so that its coordinating thread
  // answers requests while the file and the journal are written.
  std::optional<BackgroundSink> background;
  if (out.sink) background.emplace(*out.sink, BACKGROUND_SINK_BYTES);
  // At a stop, what has finished goes to the output path before the running
  // tasks get their grace, and again as they finish.
  bool publish_failed = false;
  if (comm.rank() == 0)
    settings.publish = [&](const RunOutcome& so_far) {
      if (publish_failed) return;
      bool first = !out.writer->published();
      try {
        background->exclusive([&] {
          out.journal->write_out();  // the journal holds every task the file does
          publish_partial(*out.writer, *loaded, so_far, out.resumed.errors, setup_end, clock, comm.size());
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
      std::cerr << fmt::format(
          "fanout: wrote {} (status partial): {} of {} tasks done; it is updated as the running "
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
    code = conclude(out, *loaded, outcome, already_done, setup_end, clock, signals, comm.size(), threads_per_core);
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

int resume(const boost::mpi::communicator& comm, RunRequest request, const std::string& file) {
  int code = EXIT_OK;
  auto config = from_rank0(comm, code, [&] { return stored_config(file); });
  if (!config) return code;
  std::string output = file.ends_with(".journal") ? file.substr(0, file.size() - 8) : file;
  request.config = output + " (its stored config)";
  request.config_text = *config;
  request.output = output;
  request.resume = true;
  return run(comm, request);
}

}  // namespace fanout::run
