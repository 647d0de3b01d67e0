#pragma once
// TOML config -> validated RunConfig and the Job it describes.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/params.hpp"
#include "core/job.hpp"
#include "core/job_attribute.hpp"
#include "core/sweep.hpp"
#include "sched/hierarchy.hpp"
#include "sched/policy.hpp"

namespace fanout::config {

// The scheduling policies are sched's (sched/policy.hpp: their one table).
using Policy = sched::Policy;
// Auto: longest-first where it is known to help (run/request.cpp, hand_out_order), else given.
enum class Order { Auto, Given, LongestFirst };

struct RunConfig {
  std::string origin;  // the config file as named on the command line
  std::string job_kind;
  Policy policy = Policy::Dynamic;
  std::string policy_name;
  std::optional<std::uint64_t> chunk;  // nullopt: "auto"
  Order order = Order::Auto;
  std::string order_name;
  std::string order_origin;    // where schedule.order was set, for messages
  sched::Hierarchy hierarchy;  // [schedule] hierarchy: flat, node leaders, or groups of N
  unsigned threads_per_rank = 1;
  std::uint64_t progress_interval = 30;  // s; 0: no progress lines
  double grace = 10;                     // s running tasks get after a stop signal
  unsigned retries = 0;                  // extra attempts of a failed task
  std::uint64_t max_failures = 0;        // stop after this many final failures; 0: never
  double checkpoint_interval = 30;       // s between journal syncs; 0: only at the end
  std::uint64_t checkpoint_tasks = 1000000;
  std::string output_path;
  std::string output_origin;  // where output.path was set, for messages
  std::string resolved_toml;  // the whole config, defaults filled in
};

struct LoadedConfig {
  RunConfig run;
  std::shared_ptr<const Job> job;
  const JobInfo* info = nullptr;
  std::vector<Column> columns;         // the job's result columns as built (Job::columns)
  std::shared_ptr<const Sweep> sweep;  // [params] and [sweep]; null when the config has none
  // The files the sweep and the job read, with their digests (sweep.file
  // first): the run records them, and a resume must find them unchanged.
  std::vector<InputFile> inputs;
};

// Parses TOML text (named `origin` in messages), applies `--set KEY=VALUE`
// overrides, validates every key and builds the job. Throws ConfigError.
// `checked_elsewhere`: the text is a config another rank has loaded and
// checked already, so jobs skip their costly checks (Section::checked_elsewhere).
LoadedConfig load_config(const std::string& text, const std::string& origin,
                         const std::vector<std::string>& overrides = {}, bool checked_elsewhere = false);
// Same, reading the file first; an unreadable file is a ConfigError.
LoadedConfig load_config_file(const std::string& path, const std::vector<std::string>& overrides = {});

// The keys of every section but [job], for `fanout jobs` and docs.
std::vector<std::pair<std::string, std::vector<ParamSpec>>> describe_run_sections();
// The [job] keys of one job kind.
std::vector<ParamSpec> describe_job(const JobInfo& info);

// The [job] table of a resolved config, key by key in key order (as the resolved config writes them). Throws
// ConfigError for text that is not TOML.
std::vector<JobAttribute> job_attributes(const std::string& resolved_toml);

}  // namespace fanout::config
