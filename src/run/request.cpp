#include "run/request.hpp"

#include <algorithm>
#include <functional>
#include <sstream>

#include <fmt/format.h>

#include "core/error.hpp"
#include "io/run_file.hpp"
#include "sched/scheduler.hpp"

namespace fanout::run {

namespace {

// `text` with every byte that does not belong to a well-formed UTF-8
// character replaced by U+FFFD (a TOML string holds UTF-8 only).
std::string valid_utf8(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t n = c < 0x80                 ? 1
                    : c >= 0xC2 && c <= 0xDF ? 2
                    : c >= 0xE0 && c <= 0xEF ? 3
                    : c >= 0xF0 && c <= 0xF4 ? 4
                                             : 0;
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

// schedule.order = "auto" sorts at most this many tasks: runs of more tasks
// mostly have short ones, whose order matters little, and the scattered ids
// of longest-first slow the writer down (docs/jobs.md, Performance notes).
constexpr std::uint64_t AUTO_LONGEST_FIRST_MAX = 100000;

}  // namespace

// The config with --set and --output applied; where the output path came from.
config::LoadedConfig load_config(const RunRequest& options, std::string& output_origin) {
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
    throw ConfigError(
        fmt::format("{}: schedule.order: \"longest-first\" needs task costs, and job \"{}\" does not "
                    "estimate them; pass an earlier run of this config with --costs FILE",
                    loaded.run.order_origin, loaded.run.job_kind));
  std::vector<double> costs(n, 0.0);
  for (std::uint64_t i = 0; i < n; ++i) costs[i] = loaded.job->cost(i);
  return costs;
}

HandOut hand_out_order(const config::LoadedConfig& cfg, const std::optional<std::string>& costs_file) {
  switch (cfg.run.order) {
    case config::Order::Given:
      return {};
    case config::Order::LongestFirst:
      return {"longest-first", sched::longest_first(task_costs(cfg, costs_file))};
    case config::Order::Auto:
      break;
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

}  // namespace fanout::run
