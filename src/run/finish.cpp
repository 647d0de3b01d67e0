#include "run/finish.hpp"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>

#include <fmt/format.h>

#include "core/error.hpp"
#include "io/journal.hpp"
#include "io/run_file.hpp"
#include "slurm/slurm.hpp"

namespace fanout::run {

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string status_of(const RunOutcome& outcome, std::uint64_t to_run) {
  if (outcome.completed < to_run) return "partial";
  return outcome.failed > 0 ? "failed" : "complete";
}

std::vector<TaskError> all_errors(const std::vector<TaskError>& earlier, const std::vector<TaskError>& now) {
  std::vector<TaskError> errors = earlier;
  errors.insert(errors.end(), now.begin(), now.end());
  std::sort(errors.begin(), errors.end(),
            [](auto& a, auto& b) { return a.id != b.id ? a.id < b.id : a.attempt < b.attempt; });
  return errors;
}

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

WriteSignals::WriteSignals(std::string output) : output_(std::move(output)), before_(stop_signals_received()) {}

void WriteSignals::check() {
  const int during = stop_signals_received() - before_;
  if (during == 0) return;
  if (before_ + during >= 2) throw WriteStopped{};
  if (!noted_)
    std::cerr << fmt::format(
        "fanout: {} while writing {}: finishing the file first (a second signal stops it, "
        "keeping the finished tasks in {})\n",
        signal_name(), output_, io::journal_path(output_));
  noted_ = true;
}

std::string WriteSignals::signal_name() { return fanout::signal_name(last_stop_signal()); }

bool give_up_file(std::unique_ptr<io::RunWriter>& writer, io::JournalWriter& journal) {
  writer.reset();
  try {
    journal.checkpoint();
    return true;
  } catch (const IoError&) {
    return false;
  }
}

std::string kept_in_journal(bool journal_whole, std::uint64_t finished, const std::string& output) {
  if (journal_whole)
    return fmt::format("the {} finished task{} are kept in {}", finished, finished == 1 ? "" : "s",
                       io::journal_path(output));
  return fmt::format("the finished tasks written to {} before that are kept (the others will run again)",
                     io::journal_path(output));
}

void publish_partial(io::RunWriter& writer, const config::LoadedConfig& loaded, const RunOutcome& so_far,
                     const std::vector<TaskError>& earlier_errors, double setup_end, const RunClock& clock,
                     int n_ranks) {
  writer.set_attribute("chunk", so_far.chunk);
  writer.set_hierarchy(so_far.hierarchy);
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

int finish_file(io::RunWriter& writer, const config::LoadedConfig& loaded, const RunOutcome& outcome,
                const std::vector<TaskError>& errors, std::uint64_t to_run, std::vector<PhaseRecord> phases,
                const RunClock& clock, const std::function<void()>& between_steps) {
  double write_start = phases.back().t_end;
  between_steps();
  writer.set_attribute("chunk", outcome.chunk);
  writer.set_hierarchy(outcome.hierarchy);
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
      std::cerr << fmt::format(
          "fanout: error: job \"{}\" failed in its finish step: {}; {} not written (the "
          "finished tasks are kept in {}: fanout resume {} runs the finish step again)\n",
          loaded.run.job_kind, e.what(), loaded.run.output_path, io::journal_path(loaded.run.output_path),
          loaded.run.output_path);
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

}  // namespace fanout::run
