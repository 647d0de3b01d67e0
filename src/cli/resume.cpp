#include "cli/resume.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <iostream>
#include <map>
#include <unordered_map>

#include <fmt/format.h>

#include "core/error.hpp"
#include "io/journal.hpp"
#include "io/run_file.hpp"
#include "report/compare.hpp"

namespace fanout::cli {
namespace fs = std::filesystem;

namespace {

// Where output files go by default (output.path = "results/<kind>.h5", as
// the configs in configs/ set it too): created when missing. Any other
// directory must exist.
constexpr const char* DEFAULT_OUTPUT_DIR = "results";

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
    list += fmt::format("{}{} ({} there, {} now)", list.empty() ? "" : "; ", key,
                        b.count(key) ? b[key] : "not set", n.count(key) ? n[key] : "not set");
  throw ConfigError(fmt::format("--resume: {} is a run of other job parameters, so its finished tasks do not belong to "
                                "this config: {}; to start over, run without --resume and with --force, or use --output for a new file",
                                file, list.empty() ? "the job tables differ" : list));
}

// The files the run read must be as they were when it began (InputFile):
// its finished tasks came from their old contents. `file` holds `stored`.
void check_same_inputs(const std::string& file, const std::vector<InputFile>& stored, const config::LoadedConfig& loaded) {
  const std::string way_out =
      "start over: run without --resume and with --force (which discards the finished tasks), or use --output for "
      "a new file";
  for (const auto& before : stored) {
    auto now = std::find_if(loaded.inputs.begin(), loaded.inputs.end(),
                            [&](const InputFile& i) { return i.key == before.key && i.path == before.path; });
    if (now == loaded.inputs.end())
      throw ConfigError(fmt::format("--resume: {} ({}) was read when the run began (as {} records), and this config "
                                    "reads it no more (the file is gone, or is not found there now), so the tasks "
                                    "finished before cannot be checked against it; put it back, or {}",
                                    before.path, before.key, file, way_out));
    if (now->sha256 != before.sha256)
      throw ConfigError(fmt::format("--resume: {} ({}) changed since the run began (SHA-256 {} then, as {} records, "
                                    "{} now), so the tasks finished before and those still to run would come from "
                                    "different contents; put the old contents back, or {}",
                                    before.path, before.key, before.sha256.substr(0, 16), file,
                                    now->sha256.substr(0, 16), way_out));
  }
}

// A running process (not a zombie: a killed rank whose parent died too may
// linger as one until init reaps it).
bool pid_alive(long pid) {
  if (pid <= 0 || (kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM)) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto paren = text.rfind(')');
  return paren == std::string::npos || paren + 2 >= text.size() || text[paren + 2] != 'Z';
}

// The files PREFIX + PID in `output`'s directory, with their pids.
std::vector<std::pair<fs::path, long>> files_of_pids(const std::string& output, const std::string& prefix) {
  fs::path p(output);
  fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::vector<std::pair<fs::path, long>> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    std::string pid = name.substr(prefix.size());
    long value = 0;
    auto [end, error] = std::from_chars(pid.data(), pid.data() + pid.size(), value);
    if (pid.empty() || error != std::errc() || end != pid.data() + pid.size() || value <= 0) continue;
    out.emplace_back(entry.path(), value);
  }
  return out;
}

// The .NAME.partial-PID files beside `output` (RunWriter's), with their pids.
std::vector<std::pair<fs::path, long>> partial_files(const std::string& output) {
  std::string prefix = ".";
  prefix += fs::path(output).filename().string();
  prefix += ".partial-";
  return files_of_pids(output, prefix);
}

// The NAME.journal.new-PID files beside `output` (JournalWriter's before start()).
std::vector<std::pair<fs::path, long>> journal_temp_files(const std::string& output) {
  return files_of_pids(output, fs::path(io::journal_path(output)).filename().string() + io::JOURNAL_TEMP_INFIX);
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

// The task costs `fanout status` weighs the remaining work by, and where they
// came from; empty when none are known. A file's `costs` attribute names them
// (an earlier run, or "job"); a journal's config says whether the run went
// longest-first, and then the job's own estimates are taken when it makes them.
// Whether the run handed its tasks out longest-first: the file's `order`, or
// for a journal (order "") its config's schedule.order.
bool went_longest_first(const std::string& output, const std::string& config, const std::string& order) {
  if (!order.empty()) return order == "longest-first";
  for (const auto& [key, value] : report::flatten_toml(config, output))
    if (key == "schedule.order") return value == "longest-first" || value == "'longest-first'" || value == "\"longest-first\"";
  return false;
}

std::vector<double> status_costs(const std::string& output, const std::string& config, const std::string& order,
                                 const std::string& costs, std::uint64_t task_count, std::string& source) {
  std::error_code ec;
  if (!costs.empty() && costs != "job") {  // an earlier run, as typed: from where fanout ran, or beside the output
    fs::path path(costs);
    if (!fs::exists(path, ec) && path.is_relative()) path = fs::path(output).parent_path() / costs;
    try {
      io::RunFile earlier = io::read_run_file(path.string());
      source = "the task times of " + costs;
      return io::task_durations(earlier, task_count);
    } catch (const IoError&) {
      return {};
    }
  }
  // A journal's config may say "auto", which goes longest-first by the job's costs when it has them.
  bool may_have_job_costs = order.empty() && config.find("order = 'auto'") != std::string::npos;
  if (!went_longest_first(output, config, order) && costs != "job" && !may_have_job_costs) return {};
  try {
    config::LoadedConfig loaded = config::load_config(config, output, {}, /*checked_elsewhere=*/true);
    if (!loaded.job->has_costs() || loaded.job->task_count() != task_count) return {};
    std::vector<double> out(task_count);
    for (std::uint64_t i = 0; i < task_count; ++i) out[i] = loaded.job->cost(i);
    source = "the job's cost estimates";
    return out;
  } catch (const Error&) {
    return {};
  }
}

// status sizes its per-task state by a journal's task_count: the header must
// agree with the journal's own config (resume checks it against the config it
// runs). A config that no longer loads (a job.file moved away) leaves the
// header's count, which scan_journal caps at MAX_TASKS.
void check_journal_task_count(const std::string& journal, const io::JournalHeader& header) {
  std::uint64_t expected = 0;
  try {
    expected = config::load_config(header.config, journal + " (its stored config)", {}, /*checked_elsewhere=*/true)
                   .job->task_count();
  } catch (const Error&) {
    return;
  }
  if (header.task_count != expected)
    throw IoError(fmt::format("{}: the checkpoint journal's header says {} tasks, but its stored config makes {} (the "
                              "journal is damaged)",
                              journal, header.task_count, expected));
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

long live_writer(const std::string& output) {
  for (const auto& [path, pid] : partial_files(output))
    if (pid_alive(pid) && pid != getpid()) return pid;
  return 0;
}

void check_output(const std::string& path, const std::string& origin, bool force) {
  if (path.find('\0') != std::string::npos)
    throw ConfigError(fmt::format("{}: output.path: expected a file path, found a NUL character in it", origin));
  fs::path p(path);
  fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw ConfigError(fmt::format("{}: output.path: the directory {} of {} does not exist; create it first", origin,
                                  dir.string(), path));
  if (access(dir.c_str(), W_OK) != 0)
    throw ConfigError(fmt::format("{}: output.path: cannot write in {}: {}", origin, dir.string(), std::strerror(errno)));
  // access() says yes to root on a read-only file system.
  struct statvfs fs_info {};
  if (statvfs(dir.c_str(), &fs_info) == 0 && (fs_info.f_flag & ST_RDONLY))
    throw ConfigError(fmt::format("{}: output.path: cannot write in {}: {}", origin, dir.string(), std::strerror(EROFS)));
  // The temporary file and the journal beside it (.NAME.partial-PID, NAME.journal) have longer names.
  constexpr std::size_t TEMP_NAME_EXTRA = 32;
  long name_max = pathconf(dir.c_str(), _PC_NAME_MAX);
  std::size_t name_length = p.filename().string().size();
  if (name_max > 0 && name_length + TEMP_NAME_EXTRA > static_cast<std::size_t>(name_max))
    throw ConfigError(fmt::format("{}: output.path: the file name is {} bytes long; expected at most {} in {} "
                                  "(its limit of {}, less room for the temporary names beside it)",
                                  origin, name_length, static_cast<std::size_t>(name_max) - TEMP_NAME_EXTRA,
                                  dir.string(), name_max));
  if (fs::is_directory(p, ec)) throw ConfigError(fmt::format("{}: output.path: {} is a directory", origin, path));
  // Whatever is there counts, a symbolic link too (dangling, or a loop): the
  // new file would replace the link itself.
  const fs::file_status there = fs::symlink_status(p, ec);
  if (fs::exists(there) && !force)
    throw ConfigError(fmt::format("{}: output.path: {} already exists{}; pass --force to replace it "
                                  "(it stays untouched until the new file is complete) or --output to write elsewhere",
                                  origin, path, fs::is_symlink(there) ? " (a symbolic link, which --force replaces)" : ""));
}

bool default_output_dir_missing(const std::string& output) {
  fs::path dir = fs::path(output).parent_path().lexically_normal();
  std::error_code ec;
  return dir == fs::path(DEFAULT_OUTPUT_DIR) && !fs::exists(dir, ec);
}

void create_default_output_dir(const std::string& output) {
  if (!default_output_dir_missing(output)) return;
  // A failure is left to check_output, which says what is wrong with the directory.
  if (mkdir(DEFAULT_OUTPUT_DIR, 0777) == 0)
    std::cerr << fmt::format("fanout: created {}/ (the default output directory) for {}\n", DEFAULT_OUTPUT_DIR, output);
}

ResumeState prepare_output(const config::LoadedConfig& loaded, const std::string& origin, bool resume, bool force) {
  const std::string& output = loaded.run.output_path;
  const std::string journal = io::journal_path(output);
  std::error_code ec;
  create_default_output_dir(output);
  check_output(output, origin, force || resume);
  if (long pid = live_writer(output))
    throw ConfigError(fmt::format("{}: output.path: fanout (pid {}) is writing {} right now; wait for it, stop it, or "
                                  "use --output to write elsewhere",
                                  origin, pid, output));
  // New journals of runs killed before they were complete: never to be read.
  for (const auto& [path, pid] : journal_temp_files(output))
    if (!pid_alive(pid)) fs::remove(path, ec);
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
  for (const auto& [path, pid] : partial_files(output))
    if (!pid_alive(pid)) fs::remove(path, ec);

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
      throw ConfigError(fmt::format("--resume: {} is the journal of a run of job \"{}\", but this config runs job \"{}\"",
                                    journal, header.job, loaded.run.job_kind));
    check_same_job(journal, header.config, header.job_hash, loaded, hash);
    check_same_inputs(journal, header.inputs, loaded);
    if (!header.inputs_recorded && !loaded.inputs.empty())
      std::cerr << fmt::format("fanout: warning: {} was written by an older fanout, which recorded no digests of the "
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
  if (fs::exists(journal, ec) && (!fs::exists(path, ec) || path == journal)) return io::scan_journal(journal).header.config;
  return io::read_run_attributes(path).config;
}

namespace {

// The rate of the latest session (earlier ones ran on other clocks).
struct SessionRate {
  std::uint16_t session = 0;
  double first = 0, last = 0;
  std::uint64_t tasks = 0;
  void add(const TaskRecord& t) {
    if (tasks > 0 && t.session < session) return;
    if (tasks == 0 || t.session > session) {
      session = t.session;
      first = t.t_start;
      last = t.t_end;
      tasks = 0;
    }
    first = std::min(first, t.t_start);
    last = std::max(last, t.t_end);
    ++tasks;
  }
};

}  // namespace

int print_status(const std::string& path) {
  std::error_code ec;
  const bool given_journal = path.ends_with(".journal");
  const std::string output = given_journal ? path.substr(0, path.size() - 8) : path;
  const std::string journal = io::journal_path(output);
  const bool have_file = fs::exists(output, ec);
  const bool have_journal = fs::exists(journal, ec);
  if (!have_file && !have_journal)
    throw IoError(fmt::format("{}: no such run file, and no checkpoint journal {}", output, journal));

  std::uint64_t task_count = 0, done = 0, failed = 0;
  std::string job, status, config, order, costs;
  SessionRate rate;
  if (have_file && !(given_journal && have_journal)) {
    io::RunFile head = io::read_run_attributes(output);
    job = head.job;
    status = head.status;
    config = head.config;
    order = head.order.empty() ? "given" : head.order;
    costs = head.costs;
  }
  long writer = live_writer(output);
  std::string from = output;
  // Every task's last record, in one pass over the journal (block by block,
  // whatever it holds) or over the file's /tasks.
  const bool from_journal = have_journal && (status.empty() || status == "partial");
  std::optional<io::RunFile> file;
  std::vector<bool> seen;  // done, one bit per task
  std::string damage;  // what a scan of the journal found damaged
  auto for_each_record = [&](const std::function<void(const TaskRecord&)>& fn) {
    if (from_journal) {
      damage = io::describe_damage(journal, io::scan_journal(journal, [&](Batch& block) {
        for (const auto& t : block.records)
          if (t.id < task_count) fn(t);
      }));
    } else {
      for (const auto& t : file->tasks)
        if (t.attempt != 0 && t.id < task_count) fn(t);
    }
  };
  if (from_journal) {
    io::JournalHeader header = io::scan_journal(journal).header;
    check_journal_task_count(journal, header);
    job = header.job;
    task_count = header.task_count;
    config = header.config;
    if (status.empty()) {  // no file: the journal records no order, its config's decides
      order.clear();
      costs.clear();
    }
    if (status.empty()) status = writer ? "running" : "interrupted";
    struct stat st {};
    std::string age;
    if (stat(journal.c_str(), &st) == 0) age = fmt::format(", last written {:.0f} s ago", std::difftime(std::time(nullptr), st.st_mtime));
    from = journal + age;
  } else {
    file = io::read_run_file(output);
    task_count = file->tasks.size();
  }
  // Two bits per task (done, failed by its last record).
  seen.assign(task_count, false);
  std::vector<bool> failed_last(task_count, false);
  for_each_record([&](const TaskRecord& t) {
    seen[t.id] = true;
    failed_last[t.id] = t.status != TaskStatus::Ok;
    rate.add(t);
  });
  done = static_cast<std::uint64_t>(std::count(seen.begin(), seen.end(), true));
  failed = static_cast<std::uint64_t>(std::count(failed_last.begin(), failed_last.end(), true));

  std::uint64_t remaining = task_count - std::min(done, task_count);
  std::cout << fmt::format("{}: job {}, {}\n", output, job, status);
  std::cout << fmt::format("  tasks:     {} in all; {} done ({} failed), {} remaining ({:.1f}% done)\n", task_count,
                           done, failed, remaining, task_count ? 100.0 * static_cast<double>(done) / static_cast<double>(task_count) : 100.0);
  std::cout << fmt::format("  from:      {}\n", from);
  if (!damage.empty()) std::cout << fmt::format("  damaged:   {}\n", damage);
  if (rate.tasks > 0 && rate.last > rate.first) {
    const double span = rate.last - rate.first;
    double per_second = static_cast<double>(rate.tasks) / span;
    std::cout << fmt::format("  rate:      {:.4g} tasks/s (session {}: {} tasks in {:.3g} s)\n", per_second,
                             rate.session + 1, rate.tasks, span);
    if (remaining > 0) {
      // Weighed by cost when the costs are known: under longest-first the
      // tasks left are the short ones, and a count would overstate them.
      std::string source;
      std::vector<double> cost = status_costs(output, config, order, costs, task_count, source);
      double done_cost = 0, remaining_cost = 0, all_done_cost = 0;  // done: in the latest session
      if (!cost.empty()) {
        for_each_record([&](const TaskRecord& t) {
          if (t.session == rate.session) done_cost += cost[t.id];
        });
        for (std::uint64_t id = 0; id < task_count; ++id) (seen[id] ? all_done_cost : remaining_cost) += cost[id];
      }
      if (done_cost > 0) {
        std::cout << fmt::format("  ETA:       {:.3g} s of running at that pace per unit of cost ({:.1f}% of the "
                                 "cost is left, by {})\n",
                                 span * remaining_cost / done_cost,
                                 100.0 * remaining_cost / (remaining_cost + all_done_cost), source);
      } else {
        bool longest_first = went_longest_first(output, config, order);
        std::cout << fmt::format("  ETA:       {:.3g} s of running at that rate{}\n",
                                 static_cast<double>(remaining) / per_second,
                                 longest_first ? " (at most: the run went longest-first, so the tasks left are the "
                                                 "shorter ones, and their costs are not at hand)"
                                               : "");
      }
    }
  }
  if (writer) std::cout << fmt::format("  running:   pid {} is writing it now\n", writer);
  if (!writer && remaining > 0 && (status == "partial" || status == "interrupted" || status == "failed"))
    std::cout << fmt::format("  resume:    fanout resume {}   (or fanout run CONFIG --resume)\n", output);
  return EXIT_OK;
}

}  // namespace fanout::cli
