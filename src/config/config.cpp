#include "config/config.hpp"

#include <algorithm>
#include <limits>
#include <sstream>

#include <fmt/format.h>

#include "config/sweep.hpp"
#include "core/error.hpp"
#include "core/limits.hpp"
#include "io/file_kind.hpp"

namespace fanout::config {

namespace {

const std::vector<std::string> SECTIONS{"job", "params", "sweep", "schedule", "run", "checkpoint", "output"};

// "[job], [schedule], ...": the tables a config may have, for messages.
std::string section_list() {
  std::string out;
  for (std::size_t i = 0; i < SECTIONS.size(); ++i) out += (i ? ", [" : "[") + SECTIONS[i] + "]";
  return out;
}

// Reads [schedule], [run] and [output] into cfg. The one place these keys are declared.
void read_run_sections(const toml::table& root, const std::string& origin, bool describe, RunConfig& cfg,
                       std::vector<Section>& out) {
  Section schedule(root["schedule"].as_table(), "schedule", origin, describe);
  cfg.policy_name = schedule.choice("policy", "dynamic", sched::policy_names(),
                                    "how task ids are handed to ranks: " + sched::policy_descriptions());
  cfg.policy = *sched::parse_policy(cfg.policy_name);  // choice() accepted only the table's names
  cfg.chunk =
      schedule.auto_or_whole("chunk", 1,
                             "dynamic: tasks per worker per request; guided: the smallest chunk; static policies "
                             "ignore it. \"auto\": dynamic sizes chunks from the task times measured so far "
                             "(about 5 ms of work each, shrinking at the end)");
  cfg.order_name = schedule.choice("order", "auto", {"auto", "given", "longest-first"},
                                   "the order tasks are handed out: as given, or longest first by cost (from the job, "
                                   "or from an earlier run with fanout run --costs FILE). \"auto\": longest-first when "
                                   "the policy is dynamic, the job estimates its tasks' costs, they differ, and there "
                                   "are at most 100000 tasks; else as given");
  cfg.order = cfg.order_name == "longest-first" ? Order::LongestFirst
              : cfg.order_name == "given"       ? Order::Given
                                                : Order::Auto;
  cfg.order_origin = schedule.location_of("order");
  if (cfg.order == Order::LongestFirst && cfg.policy == Policy::StaticBlock && !describe)
    schedule.fail("order",
                  "\"longest-first\" does not combine with policy \"static-block\" (it would give the "
                  "longest tasks all to rank 0); use dynamic, guided or static-cyclic");
  std::string hierarchy = schedule.word_or_whole(
      "hierarchy", "auto", sched::hierarchy_words(), 1,
      "how ranks reach rank 0: \"flat\" (every rank asks rank 0 for work and sends it its tasks), \"node\" (the "
      "ranks of a node take work from and send tasks to a leader, the node's first rank, and only leaders talk to "
      "rank 0), N (the same with groups of N consecutive ranks). \"auto\": node leaders once a run has enough "
      "ranks for one dispatcher to be the bottleneck, else flat");
  if (auto h = sched::parse_hierarchy(hierarchy)) cfg.hierarchy = *h;
  schedule.finish();
  out.push_back(std::move(schedule));

  Section run(root["run"].as_table(), "run", origin, describe);
  cfg.threads_per_rank = static_cast<unsigned>(
      run.whole("threads_per_rank", 1, 1, 1024, "worker threads inside each rank (processes x threads)"));
  cfg.progress_interval = run.whole("progress_interval", 30, 0, 86400,
                                    "seconds between progress lines on stderr (rank 0); 0 turns them off");
  cfg.grace = run.number("grace", 10, 0, 86400,
                         "seconds running tasks may take to finish after SIGTERM, SIGINT or SIGUSR1 before fanout "
                         "writes what finished and exits 4 (a second one stops at once)");
  cfg.retries = static_cast<unsigned>(
      run.whole("retries", 0, 0, 1000, "times a failed task is run again (on another rank when there is one)"));
  cfg.max_failures = run.whole("max_failures", 0, 0, Section::NO_MAX,
                               "stop handing out tasks once this many tasks have failed for good; 0: never stop");
  run.finish();
  out.push_back(std::move(run));

  Section checkpoint(root["checkpoint"].as_table(), "checkpoint", origin, describe);
  cfg.checkpoint_interval = checkpoint.number(
      "interval", 30, 0, 86400,
      "seconds between checkpoints: rank 0 makes the finished tasks durable in OUTPUT.journal; 0: only at the end");
  cfg.checkpoint_tasks = checkpoint.whole("tasks", 1000000, 1, Section::NO_MAX,
                                          "a checkpoint also happens when this many tasks finished since the last");
  checkpoint.finish();
  out.push_back(std::move(checkpoint));

  Section output(root["output"].as_table(), "output", origin, describe);
  cfg.output_path = output.text("path", "results/" + (describe ? std::string("<kind>") : cfg.job_kind) + ".h5",
                                "the HDF5 file to write; --output overrides");
  cfg.output_origin = output.location_of("path");
  output.finish();
  out.push_back(std::move(output));
}

void apply_override(toml::table& root, const std::string& assignment) {
  std::string origin = "--set " + assignment;
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError(fmt::format("{}: expected KEY=VALUE (for example schedule.policy=dynamic)", origin));
  std::string key = assignment.substr(0, eq);
  std::string value = assignment.substr(eq + 1);
  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string part; std::getline(ss, part, '.');) {
    if (part.empty()) throw ConfigError(fmt::format("{}: key \"{}\" has an empty part", origin, key));
    parts.push_back(part);
  }
  // Every key is SECTION.KEY: a deeper one could only be an unknown key, and
  // the tables made for it would have no source to name in the message.
  if (parts.size() != 2)
    throw ConfigError(fmt::format(
        "{}: expected a dotted key SECTION.KEY (for example run.threads_per_rank), found \"{}\"", origin, key));
  // The value is TOML; a bare word that is not valid TOML is taken as a string.
  toml::table parsed;
  try {
    parsed = toml::parse("v = " + value, origin);
  } catch (const toml::parse_error& e) {
    bool meant_as_toml = !value.empty() && std::string_view("[{\"'").find(value.front()) != std::string_view::npos;
    if (meant_as_toml || value.find('\n') != std::string::npos)
      throw ConfigError(fmt::format("{}: the value is not valid TOML: {}", origin, e.description()));
    toml::table literal;
    literal.insert_or_assign("v", value);
    std::ostringstream os;
    os << toml::toml_formatter(literal);
    parsed = toml::parse(os.str(), origin);
  }
  if (std::find(SECTIONS.begin(), SECTIONS.end(), parts[0]) == SECTIONS.end()) {
    std::string hint;
    for (const auto& s : SECTIONS)
      if (edit_distance(parts[0], s) <= 2) hint = fmt::format(" (did you mean [{}]?)", s);
    throw ConfigError(
        fmt::format("{}: [{}]: unknown section; expected the tables {}{}", origin, parts[0], section_list(), hint));
  }
  toml::table* table = &root;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    toml::node* child = table->get(parts[i]);
    if (!child) {
      table->insert_or_assign(parts[i], toml::table{});
      child = table->get(parts[i]);
    }
    table = child->as_table();
    if (!table) throw ConfigError(fmt::format("{}: {} is not a table", origin, parts[i]));
  }
  table->insert_or_assign(parts.back(), std::move(*parsed.get("v")));
}

LoadedConfig build(const toml::table& root, const std::string& origin, bool checked_elsewhere) {
  LoadedConfig loaded;
  RunConfig& cfg = loaded.run;
  cfg.origin = origin;
  std::vector<Section> sections;
  for (const auto& [key, node] : root) {
    if (std::find(SECTIONS.begin(), SECTIONS.end(), key.str()) != SECTIONS.end()) {
      if (node.is_table()) continue;
      throw ConfigError(fmt::format("{}: {}: expected a table [{}], found {}", location(node, origin), key.str(),
                                    key.str(), describe_found(node)));
    }
    std::string hint;
    for (const auto& s : SECTIONS)
      if (edit_distance(key.str(), s) <= 2) hint = fmt::format(" (did you mean [{}]?)", s);
    std::string what =
        node.is_table() ? fmt::format("[{}]: unknown section", key.str()) : fmt::format("{}: unknown key", key.str());
    throw ConfigError(
        fmt::format("{}: {}; expected the tables {}{}", location(node, origin), what, section_list(), hint));
  }

  const toml::table* job_table = root["job"].as_table();
  if (!job_table) throw ConfigError(fmt::format("{}: job: missing; expected a [job] table with a kind", origin));
  Section job(job_table, "job", origin);
  cfg.job_kind =
      job.choice("kind", std::nullopt, JobRegistry::instance().kinds(), "the job to run (fanout jobs lists them)");
  loaded.info = JobRegistry::instance().find(cfg.job_kind);
  toml::table sweep_tables;
  loaded.sweep = read_sweep(root, origin, sweep_tables, loaded.inputs);
  job.set_sweep(loaded.sweep.get());
  job.set_checked_elsewhere(checked_elsewhere);
  loaded.job = loaded.info->make(job);
  // Whatever made the tasks (a job's own keys, its list, a sweep): one limit for all.
  if (loaded.job->task_count() > MAX_TASKS)
    throw ConfigError(
        fmt::format("{}: job: {} tasks; fanout runs at most {} (rank 0 keeps a bit per task and the "
                    "file a record of about 60 bytes per task)",
                    origin, loaded.job->task_count(), MAX_TASKS_TEXT));
  if (loaded.sweep && !job.sweep_asked()) {
    const toml::node* where = root.get("params") ? root.get("params") : root.get("sweep");
    throw ConfigError(fmt::format(
        "{}: {}: job \"{}\" has its own task list, so it takes no [params] or [sweep]; a sweep drives the jobs that "
        "take their tasks from one (command with a command template, or a C++ job of your own that reads "
        "task.param())",
        location(*where, origin), root.get("params") ? "params" : "sweep", cfg.job_kind));
  }
  loaded.columns = loaded.job->columns(loaded.info->columns);
  loaded.inputs.insert(loaded.inputs.end(), job.inputs().begin(), job.inputs().end());
  job.finish();
  sections.push_back(std::move(job));

  read_run_sections(root, origin, false, cfg, sections);

  toml::table resolved;
  for (auto& s : sections) {
    resolved.insert_or_assign(s.name(), s.resolved());
  }
  for (auto&& [name, table] : sweep_tables) resolved.insert_or_assign(name.str(), table);
  cfg.resolved_toml = to_toml(resolved);
  return loaded;
}

}  // namespace

LoadedConfig load_config(const std::string& text, const std::string& origin, const std::vector<std::string>& overrides,
                         bool checked_elsewhere) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw ConfigError(
        fmt::format("{}:{}:{}: TOML syntax error: {}", origin, where.line, where.column, e.description()));
  }
  for (const auto& o : overrides) apply_override(root, o);
  return build(root, origin, checked_elsewhere);
}

LoadedConfig load_config_file(const std::string& path, const std::vector<std::string>& overrides) {
  io::reject_if_not_config(path);  // a run file or a journal: say which command takes it
  std::string why;
  auto text = read_small_file(path, 16 << 20, why);
  if (!text) throw ConfigError(fmt::format("{}: cannot read the config file: {}", path, why));
  return load_config(*text, path, overrides);
}

std::vector<std::pair<std::string, std::vector<ParamSpec>>> describe_run_sections() {
  RunConfig cfg;
  std::vector<Section> sections;
  read_run_sections(toml::table{}, "", true, cfg, sections);
  std::vector<std::pair<std::string, std::vector<ParamSpec>>> out;
  for (auto& s : sections) out.emplace_back(s.name(), s.specs());
  return out;
}

std::vector<ParamSpec> describe_job(const JobInfo& info) {
  Section section(nullptr, "job", "", true);
  info.make(section);
  return section.specs();
}

namespace {

std::string toml_text(const toml::node& node) {
  std::ostringstream os;
  if (const auto* array = node.as_array())
    os << toml::toml_formatter(*array, toml::format_flags::none);
  else if (const auto* table = node.as_table())
    os << toml::toml_formatter(*table, toml::format_flags::none);
  else
    node.visit([&os](auto&& value) { os << toml::toml_formatter(value, toml::format_flags::none); });
  return os.str();
}

// One array as an array of one kind, or its TOML text.
JobValue array_value(const toml::array& array) {
  bool ints = true, numbers = true, bools = true, strings = true;
  for (const auto& e : array) {
    ints = ints && e.is_integer();
    numbers = numbers && (e.is_integer() || e.is_floating_point());
    bools = bools && e.is_boolean();
    strings = strings && e.is_string();
  }
  if (array.empty() || (!numbers && !bools && !strings)) return toml_text(array);
  if (ints) {
    std::vector<std::int64_t> v;
    for (const auto& e : array) v.push_back(e.as_integer()->get());
    return v;
  }
  if (numbers) {
    std::vector<double> v;
    for (const auto& e : array)
      v.push_back(e.is_integer() ? static_cast<double>(e.as_integer()->get()) : e.as_floating_point()->get());
    return v;
  }
  if (bools) {
    std::vector<bool> v;
    for (const auto& e : array) v.push_back(e.as_boolean()->get());
    return v;
  }
  std::vector<std::string> v;
  for (const auto& e : array) v.push_back(e.as_string()->get());
  return v;
}

void flatten_job(const toml::table& table, const std::string& prefix, std::vector<JobAttribute>& out) {
  for (auto&& [key, node] : table) {
    std::string name = prefix + std::string(key.str());
    if (const auto* sub = node.as_table()) {
      flatten_job(*sub, name + ".", out);
    } else if (const auto* array = node.as_array()) {
      out.push_back({name, array_value(*array), ""});
    } else if (const auto* i = node.as_integer()) {
      out.push_back({name, i->get(), ""});
    } else if (const auto* d = node.as_floating_point()) {
      out.push_back({name, d->get(), ""});
    } else if (const auto* b = node.as_boolean()) {
      out.push_back({name, b->get(), ""});
    } else if (const auto* s = node.as_string()) {
      out.push_back({name, s->get(), ""});
    } else {
      out.push_back({name, toml_text(node), ""});  // dates and times
    }
  }
}

}  // namespace

std::vector<JobAttribute> job_attributes(const std::string& resolved_toml) {
  toml::table root;
  try {
    root = toml::parse(resolved_toml, std::string("the resolved config"));
  } catch (const toml::parse_error& e) {
    throw ConfigError(fmt::format("the resolved config is not TOML: {}", e.description()));
  }
  std::vector<JobAttribute> out;
  const toml::table* job = root["job"].as_table();
  if (!job) return out;
  flatten_job(*job, "", out);
  std::vector<ParamSpec> specs;
  if (const auto* kind = job->get_as<std::string>("kind"))
    if (const JobInfo* info = JobRegistry::instance().find(kind->get())) specs = describe_job(*info);
  for (auto& a : out) {
    if (a.key == "kind") {
      a.description = "the job to run (job.kind; fanout jobs lists them)";
      continue;
    }
    std::string table = a.key.substr(0, a.key.find('.'));
    for (const auto& spec : specs)
      if (spec.key == a.key || (a.description.empty() && spec.key == table)) a.description = spec.help;
  }
  return out;
}

}  // namespace fanout::config
