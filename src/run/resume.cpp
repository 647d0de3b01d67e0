#include "run/resume.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <unordered_map>

#include <fmt/format.h>

#include "core/error.hpp"
#include "io/journal.hpp"
#include "io/run_file.hpp"
#include "report/compare.hpp"
#include "run/output.hpp"

namespace fanout::run {
namespace fs = std::filesystem;

namespace {

std::vector<std::pair<std::string, std::string>> job_keys(const std::string& resolved_toml, const std::string& origin) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& kv : report::flatten_toml(resolved_toml, origin))
    if (kv.first.rfind("job.", 0) == 0 || kv.first.rfind("params.", 0) == 0 || kv.first.rfind("sweep.", 0) == 0)
      out.push_back(std::move(kv));
  return out;
}

// The output's interrupted run must be of this job with these parameters.
void check_same_job(const std::string& file, const std::string& stored_config, const std::string& stored_hash,
                    const config::LoadedConfig& loaded, const std::string& hash) {
  if (stored_hash == hash) return;
  auto before = job_keys(stored_config, file);
  auto now = job_keys(loaded.run.resolved_toml, loaded.run.origin);
  std::string list;
  std::map<std::string, std::string> b(before.begin(), before.end()), n(now.begin(), now.end());
  for (const auto& key : report::differing_keys(before, now))
    list += fmt::format("{}{} ({} there, {} now)", list.empty() ? "" : "; ", key, b.count(key) ? b[key] : "not set",
                        n.count(key) ? n[key] : "not set");
  throw ConfigError(fmt::format(
      "--resume: {} is a run of other job parameters, so its finished tasks do not belong to "
      "this config: {}; to start over, run without --resume and with --force, or use --output for a new file",
      file, list.empty() ? "the job tables differ" : list));
}

// The files the run read must be as they were when it began (InputFile):
// its finished tasks came from their old contents. `file` holds `stored`.
void check_same_inputs(const std::string& file, const std::vector<InputFile>& stored,
                       const config::LoadedConfig& loaded) {
  const std::string way_out =
      "start over: run without --resume and with --force (which discards the finished tasks), or use --output for "
      "a new file";
  for (const auto& before : stored) {
    auto now = std::find_if(loaded.inputs.begin(), loaded.inputs.end(),
                            [&](const InputFile& i) { return i.key == before.key && i.path == before.path; });
    if (now == loaded.inputs.end())
      throw ConfigError(
          fmt::format("--resume: {} ({}) was read when the run began (as {} records), and this config "
                      "reads it no more (the file is gone, or is not found there now), so the tasks "
                      "finished before cannot be checked against it; put it back, or {}",
                      before.path, before.key, file, way_out));
    if (now->sha256 != before.sha256)
      throw ConfigError(
          fmt::format("--resume: {} ({}) changed since the run began (SHA-256 {} then, as {} records, "
                      "{} now), so the tasks finished before and those still to run would come from "
                      "different contents; put the old contents back, or {}",
                      before.path, before.key, before.sha256.substr(0, 16), file, now->sha256.substr(0, 16), way_out));
  }
}

// The finished set of a run file's tasks (each task is there once).
void carry_from_file(Batch file, std::uint64_t task_count, ResumeState& state) {
  state.finished.assign(task_count, false);
  for (const auto& r : file.records)
    if (r.id < task_count) state.finished[r.id] = true;
  state.carried = static_cast<std::uint64_t>(std::count(state.finished.begin(), state.finished.end(), true));
  state.duplicates = state.carried != file.records.size();
  state.errors = std::move(file.errors);
  state.from_file = std::move(file);
}

// The first pass over the journal: which tasks finished ok (the last record
// of a task counts: a task can be there more than once, in journals of other
// fanout versions) and the failed earlier attempts of those tasks.
io::JournalScan find_finished(const std::string& journal, std::uint64_t task_count, ResumeState& state) {
  state.finished.assign(task_count, false);
  std::uint64_t ok_records = 0;
  std::vector<TaskError> errors;
  io::JournalScan scan = io::scan_journal(journal, [&](Batch& block) {
    for (const auto& r : block.records) {
      if (r.id >= task_count) continue;
      state.finished[r.id] = r.status == TaskStatus::Ok;
      if (r.status == TaskStatus::Ok) ++ok_records;
    }
    for (auto& e : block.errors) errors.push_back(std::move(e));
  });
  state.carried = static_cast<std::uint64_t>(std::count(state.finished.begin(), state.finished.end(), true));
  state.duplicates = ok_records != state.carried;
  for (auto& e : errors)
    if (e.id < task_count && state.finished[e.id]) state.errors.push_back(std::move(e));
  state.journal = journal;
  state.row_size = scan.header.row_size;
  return scan;
}

// Keeps the records of `block` that carry_over() passes on: finished tasks,
// once each (with duplicates, the last in the block).
void keep_finished(Batch& block, const ResumeState& state) {
  const std::size_t row_size = state.row_size;
  const auto n = static_cast<std::uint64_t>(state.finished.size());
  std::unordered_map<std::uint64_t, std::size_t> last;  // with duplicates: a task's last record in the block
  if (state.duplicates)
    for (std::size_t i = 0; i < block.records.size(); ++i) last[block.records[i].id] = i;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < block.records.size(); ++i) {
    const TaskRecord& r = block.records[i];
    if (r.id >= n || r.status != TaskStatus::Ok || !state.finished[r.id]) continue;
    if (state.duplicates && last[r.id] != i) continue;
    if (kept != i) {
      block.records[kept] = r;
      std::memcpy(block.rows.data() + kept * row_size, block.rows.data() + i * row_size, row_size);
    }
    ++kept;
  }
  block.records.resize(kept);
  block.rows.resize(kept * row_size);
}
}  // namespace

std::string job_hash(const std::string& resolved_toml) {
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a, 64 bits
  auto mix = [&h](std::string_view text) {
    for (char c : text) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
  };
  for (const auto& [key, value] : job_keys(resolved_toml, "config")) {
    mix(key);
    mix("=");
    mix(value);
    mix("\n");
  }
  return fmt::format("{:016x}", h);
}

ResumeState prepare_output(const config::LoadedConfig& loaded, const std::string& origin, bool resume, bool force) {
  const std::string& output = loaded.run.output_path;
  const std::string journal = io::journal_path(output);
  std::error_code ec;
  create_default_output_dir(output);
  check_output(output, origin, force || resume);
  if (long pid = live_writer(output))
    throw ConfigError(
        fmt::format("{}: output.path: fanout (pid {}) is writing {} right now; wait for it, stop it, or "
                    "use --output to write elsewhere",
                    origin, pid, output));
  // New journals of runs killed before they were complete: never to be read.
  remove_dead_journal_temps(output);
  ResumeState state;
  bool have_journal = fs::exists(journal, ec);
  if (!resume) {
    if (have_journal && !force)
      throw ConfigError(fmt::format(
          "{}: output.path: {} holds the finished tasks of an interrupted run of {}; pass --resume to continue it, "
          "or --force to start over (which discards them)",
          origin, journal, output));
    return state;
  }
  // Leftovers of runs that were killed: never complete, never to be read.
  remove_dead_partial_files(output);

  const std::string hash = job_hash(loaded.run.resolved_toml);
  const std::uint64_t task_count = loaded.job->task_count();
  std::int64_t sessions_before = 0;
  if (fs::exists(output, ec)) {
    io::RunFile file = io::read_run_attributes(output);
    if (file.job != loaded.run.job_kind)
      throw ConfigError(fmt::format("--resume: {} is a run of job \"{}\", but this config runs job \"{}\"", output,
                                    file.job, loaded.run.job_kind));
    check_same_job(output, file.config, file.job_hash.empty() ? job_hash(file.config) : file.job_hash, loaded, hash);
    if (file.status == "complete") {
      state.nothing_left = true;
      if (have_journal) fs::remove(journal, ec);  // left by a run killed right after its commit
      return state;
    }
    check_same_inputs(output, file.inputs, loaded);
    sessions_before = file.sessions;
    if (!have_journal) {
      carry_from_file(io::read_finished_tasks(output, loaded.columns), task_count, state);
      state.source = output;
    }
  }
  if (have_journal) {
    io::JournalHeader header = io::scan_journal(journal).header;
    if (header.job != loaded.run.job_kind)
      throw ConfigError(
          fmt::format("--resume: {} is the journal of a run of job \"{}\", but this config runs job \"{}\"", journal,
                      header.job, loaded.run.job_kind));
    check_same_job(journal, header.config, header.job_hash, loaded, hash);
    check_same_inputs(journal, header.inputs, loaded);
    if (!header.inputs_recorded && !loaded.inputs.empty())
      std::cerr << fmt::format(
          "fanout: warning: {} was written by an older fanout, which recorded no digests of the "
          "files a run reads: whether {} changed since the run began is not checked\n",
          journal, loaded.inputs.front().path);
    if (header.task_count != task_count || header.row_size != RowLayout(loaded.columns).size())
      throw IoError(fmt::format("{}: the journal's task count or row size does not match job \"{}\"", journal,
                                loaded.run.job_kind));
    io::JournalScan scan = find_finished(journal, task_count, state);
    sessions_before = std::max<std::int64_t>(sessions_before, static_cast<std::int64_t>(header.sessions));
    state.source = journal + (scan.torn ? " (its last block, cut short when the run was stopped, ignored)" : "") +
                   (scan.damaged.empty() ? "" : " (damaged: see the warning above)");
    if (!scan.damaged.empty()) std::cerr << "fanout: warning: " << io::describe_damage(journal, scan) << "\n";
  }
  state.sessions = sessions_before + 1;
  return state;
}

void carry_over(const ResumeState& state, io::RunWriter& writer, io::JournalWriter& journal) {
  auto pass_on = [&](const Batch& block) {
    if (block.records.empty()) return;
    writer.store(block.records, block.rows);
    journal.carry(block.records, block.rows, {});
    // A later block may hold the task again: the writer's last write wins,
    // and one batch must not hold a task twice.
    if (state.duplicates) writer.flush();
  };
  if (!state.journal.empty()) {
    io::scan_journal(state.journal, [&](Batch& block) {
      keep_finished(block, state);
      pass_on(block);
    });
  } else {
    pass_on(state.from_file);
  }
  journal.carry({}, {}, state.errors);
}

std::string stored_config(const std::string& path) {
  std::error_code ec;
  std::string journal = path.size() > 8 && path.ends_with(".journal") ? path : io::journal_path(path);
  if (fs::exists(journal, ec) && (!fs::exists(path, ec) || path == journal))
    return io::scan_journal(journal).header.config;
  return io::read_run_attributes(path).config;
}

}  // namespace fanout::run
