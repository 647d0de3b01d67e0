#pragma once
// What a run is asked to do: its config (a file, or a stored text), the
// command line's changes to it, and how the output is treated. `fanout run`
// fills one from its options, `fanout resume` from the run file.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace fanout::run {

struct RunRequest {
  std::string config;  // the config file; with config_text, the name messages give it
  // The config's text when it does not come from the file `config` names
  // (fanout resume: the config stored in the run file).
  std::optional<std::string> config_text;
  std::vector<std::string> sets;      // --set KEY=VALUE, in order
  std::optional<std::string> output;  // --output: overrides output.path
  std::optional<std::string> costs;   // an earlier run's file: hand tasks out longest-first
  bool force = false;                 // replace an existing output (once the new one is complete)
  bool resume = false;                // continue an interrupted run of the output
  std::string progress = "auto";      // auto|always|never (Progress::choose)
  std::string command_line;           // as typed, stored in the file
};

// The config with the request's --set, --output and --costs applied; where
// the output path came from ("--output PATH", or where output.path was set).
// Throws ConfigError.
config::LoadedConfig load_config(const RunRequest& request, std::string& output_origin);

// Task costs for longest-first: an earlier run's task times (matched by task
// id; tasks it lacks get the mean), or the job's own estimates. Throws
// ConfigError when neither is at hand or the earlier run is of another job.
std::vector<double> task_costs(const config::LoadedConfig& loaded, const std::optional<std::string>& costs_file);

// The order tasks are handed out in: its name, as the file records it, and
// for longest-first the task ids in that order.
struct HandOut {
  std::string order = "given";
  std::vector<std::uint64_t> ids;  // empty: as given
};

// schedule.order resolved: "auto" goes longest-first under the dynamic
// policy when the job estimates costs that differ (and not for very many tasks).
HandOut hand_out_order(const config::LoadedConfig& cfg, const std::optional<std::string>& costs_file);

}  // namespace fanout::run
