#include "report/compare.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/error.hpp"
#include "report/cpu_use.hpp"
#include "report/report.hpp"

namespace fanout::report {

bool study_key(const std::string& key) {
  // Keys that change how a run goes, not what it computes or how fast.
  return key.rfind("schedule.", 0) == 0 || key.rfind("checkpoint.", 0) == 0 || key == "run.threads_per_rank" ||
         key == "output.path" || key == "run.progress_interval" || key == "run.grace";
}

namespace {

void flatten(const toml::table& table, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>& out) {
  for (auto&& [key, node] : table) {
    std::string name = prefix + std::string(key.str());
    if (const toml::table* sub = node.as_table()) {
      flatten(*sub, name + ".", out);
      continue;
    }
    std::ostringstream os;
    node.visit([&os](auto&& value) { os << value; });
    out.emplace_back(name, os.str());
  }
}

std::string shorten(const std::string& value) {
  std::string one_line;
  for (char c : value) {
    if (c == '\n') continue;
    if (c == ' ' && !one_line.empty() && one_line.back() == ' ') continue;
    one_line += c;
  }
  return one_line.size() > 40 ? one_line.substr(0, 37) + "..." : one_line;
}

std::string value_of(const std::vector<std::pair<std::string, std::string>>& config, const std::string& key) {
  for (const auto& [k, v] : config)
    if (k == key) return shorten(v);
  return "not set";
}

}  // namespace

std::vector<std::pair<std::string, std::string>> flatten_toml(const std::string& text, const std::string& origin) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    throw IoError(fmt::format("{}: the config attribute is not valid TOML: {}", origin, e.description()));
  }
  std::vector<std::pair<std::string, std::string>> out;
  flatten(root, "", out);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> differing_keys(const std::vector<std::pair<std::string, std::string>>& a,
                                        const std::vector<std::pair<std::string, std::string>>& b) {
  std::map<std::string, std::string> left(a.begin(), a.end()), right(b.begin(), b.end());
  std::set<std::string> keys;
  for (const auto& [k, v] : left) {
    auto it = right.find(k);
    if (it == right.end() || it->second != v) keys.insert(k);
  }
  for (const auto& [k, v] : right)
    if (!left.count(k)) keys.insert(k);
  return {keys.begin(), keys.end()};
}

double karp_flatt(double speedup, double workers) { return (1.0 / speedup - 1.0 / workers) / (1.0 - 1.0 / workers); }

std::optional<AmdahlFit> amdahl_fit(const std::vector<std::pair<double, double>>& workers_speedup) {
  std::vector<double> x, y;
  for (const auto& [p, s] : workers_speedup) {
    if (!(p > 0) || !(s > 0) || !std::isfinite(s)) continue;
    x.push_back(1.0 / p);
    y.push_back(1.0 / s);
  }
  const double n = static_cast<double>(x.size());
  if (x.size() < 2) return std::nullopt;
  double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
  }
  if (sxx <= 1e-15 * std::max(1.0, mx * mx)) return std::nullopt;  // one worker count only
  AmdahlFit fit;
  fit.points = x.size();
  fit.slope = sxy / sxx;
  fit.intercept = my - fit.slope * mx;
  double t1 = fit.intercept + fit.slope;  // predicted 1/S at p = 1
  // t1 <= 0: a line that reaches 0 before p = 1; superlinear if it rises with 1/p, else runs slowing down.
  double f = t1 > 0 ? fit.intercept / t1 : fit.slope > 0 ? -1.0 : 2.0;
  fit.clamped = f < 0 || f > 1;
  fit.serial_fraction = std::clamp(f, 0.0, 1.0);
  fit.best_workers = best_workers(fit.serial_fraction);
  return fit;
}

std::optional<long> best_workers(double serial_fraction) {
  if (!(serial_fraction > 0)) return std::nullopt;
  if (serial_fraction >= 1) return 1;  // no parallel part: a second worker adds nothing
  double p = std::floor(1.0 + 1.0 / serial_fraction + 1e-9);
  return static_cast<long>(std::min(p, 1e15));
}

std::string crowding_note(const Comparison& c) {
  std::string where;
  long most_cpus = 0;
  for (const auto& r : c.runs) {
    most_cpus = std::max(most_cpus, r.cpus);
    if (r.oversubscribed) where += fmt::format("{}{} ({})", where.empty() ? "" : "; ", r.file, r.crowded_where);
  }
  std::string note;
  if (!where.empty())
    note = "more workers than CPUs in " + where +
           ": their tasks took turns on the CPUs, so their wall times, speedup, efficiency and Karp-Flatt fraction "
           "measure the machine, not the job" +
           (c.fit ? std::string(", and the Amdahl fit includes them") : std::string());
  if (c.fit && c.fit->best_workers && most_cpus > 0 && *c.fit->best_workers > most_cpus)
    note += fmt::format("{}the predicted best of {} workers is more than the {} CPU{} the runs had",
                        note.empty() ? "" : "; ", *c.fit->best_workers, most_cpus, most_cpus == 1 ? "" : "s");
  return note;
}

Comparison compare(const std::vector<io::RunFile>& files) {
  if (files.size() < 2) throw ConfigError("compare: give two or more run files of the same job");
  Comparison c;
  c.job = files[0].job;
  for (const auto& f : files)
    if (f.job != c.job)
      throw ConfigError(fmt::format("compare: the files are runs of different jobs: {} of \"{}\", {} of \"{}\"",
                                    files[0].path, c.job, f.path, f.job));
  std::vector<std::vector<std::pair<std::string, std::string>>> configs;
  for (const auto& f : files) configs.push_back(flatten_toml(f.config, f.path));
  std::set<std::string> varied;
  std::vector<std::string> problems;
  std::set<std::string> reported;
  for (std::size_t i = 1; i < files.size(); ++i) {
    for (const auto& key : differing_keys(configs[0], configs[i])) {
      if (study_key(key)) {
        if (key != "output.path") varied.insert(key);
        continue;
      }
      if (!reported.insert(key).second) continue;
      problems.push_back(fmt::format("{} ({} in {}, {} in {})", key, value_of(configs[0], key), files[0].path,
                                     value_of(configs[i], key), files[i].path));
    }
  }
  if (!problems.empty()) {
    std::string list;
    for (const auto& p : problems) list += (list.empty() ? "" : "; ") + p;
    throw ConfigError(
        fmt::format("compare: the runs' configs differ beyond the keys a study varies (schedule.*, "
                    "checkpoint.*, run.threads_per_rank, run.progress_interval, run.grace, "
                    "output.path): {}",
                    list));
  }
  bool ranks_vary = false;
  for (const auto& f : files) ranks_vary = ranks_vary || f.n_ranks != files[0].n_ranks;
  if (ranks_vary) c.varied.push_back("ranks");
  c.varied.insert(c.varied.end(), varied.begin(), varied.end());

  for (std::size_t i = 0; i < files.size(); ++i) {
    const io::RunFile& f = files[i];
    Summary s = summarize(f);
    ComparedRun r;
    r.index = i;
    r.file = f.path;
    r.policy = s.policy;
    r.chunk = s.chunk;
    r.order = s.order;
    r.status = s.status;
    r.ranks = s.ranks;
    r.threads_per_rank = s.threads_per_rank;
    r.workers = s.workers;
    r.tasks = s.tasks;
    r.wall = s.wall;
    r.task_wall = s.task_wall;
    r.cpus = s.cpus;
    r.oversubscribed = s.oversubscribed;
    r.crowded_where = oversubscription_where(cpus_by_node(f.ranks));
    c.runs.push_back(r);
  }
  std::stable_sort(c.runs.begin(), c.runs.end(), [](const ComparedRun& a, const ComparedRun& b) {
    return a.workers != b.workers ? a.workers < b.workers : a.ranks < b.ranks;
  });
  // Baseline: the fastest run with the fewest workers (the least disturbed; as fanout plot --scaling).
  c.baseline = 0;
  for (std::size_t i = 1; i < c.runs.size() && c.runs[i].workers == c.runs[0].workers; ++i)
    if (c.runs[i].wall < c.runs[c.baseline].wall) c.baseline = i;
  const ComparedRun& base = c.runs[c.baseline];
  const double reference = base.wall * static_cast<double>(base.workers);  // the one-worker time, if base ran perfectly
  std::vector<std::pair<double, double>> points;
  for (auto& r : c.runs) {
    r.speedup = r.wall > 0 ? reference / r.wall : 0;
    r.efficiency = r.workers > 0 ? r.speedup / static_cast<double>(r.workers) : 0;
    if (r.workers > 1 && r.speedup > 0) r.karp_flatt = karp_flatt(r.speedup, static_cast<double>(r.workers));
    points.emplace_back(static_cast<double>(r.workers), r.speedup);
  }
  c.fit = amdahl_fit(points);
  if (!c.fit) {
    c.fit_note = "no Amdahl fit: it needs runs at two or more worker counts (ranks x threads)";
  } else {
    std::set<std::string> policies;
    for (const auto& r : c.runs) policies.insert(r.policy);
    if (policies.size() > 1) c.fit_note = "the fit takes the runs of every policy together";
    if (c.fit->clamped)
      c.fit_note += std::string(c.fit_note.empty() ? "" : "; ") +
                    (c.fit->serial_fraction == 0 ? "the runs scale better than Amdahl's law allows (superlinear): "
                                                   "serial fraction clamped to 0"
                                                 : "more workers made the runs slower: serial fraction clamped to 1");
    bool same_threads = std::all_of(c.runs.begin(), c.runs.end(), [&](const ComparedRun& r) {
      return r.threads_per_rank == c.runs[0].threads_per_rank;
    });
    if (same_threads && c.fit->best_workers)
      c.best_ranks = std::max(1L, *c.fit->best_workers / c.runs[0].threads_per_rank);
    // The replay at the best worker count (or the most measured), as fanout predict gives it.
    // A best of one worker (or none: no limit) says nothing to compare with: take the most workers measured.
    PredictOptions o;
    const bool best_usable = c.fit->best_workers && *c.fit->best_workers > 1;
    if (best_usable && c.best_ranks) {
      o.ranks = static_cast<int>(std::min(*c.best_ranks, 10'000'000L));
      o.threads = static_cast<unsigned>(c.runs[0].threads_per_rank);
    } else if (best_usable) {
      o.ranks = static_cast<int>(std::min(*c.fit->best_workers, 10'000'000L));
    } else {
      o.ranks = static_cast<int>(c.runs.back().ranks);
      o.threads = static_cast<unsigned>(c.runs.back().threads_per_rank);
    }
    try {
      c.replay = predict(files[base.index], o);
      c.fit_speedup_at_replay =
          amdahl_speedup(c.fit->serial_fraction, static_cast<double>(o.ranks) * static_cast<double>(o.threads));
    } catch (const Error&) {
      c.replay.reset();  // nothing to replay (no task ran in the baseline)
    }
  }
  c.cpu_note = crowding_note(c);
  return c;
}

double amdahl_speedup(double serial_fraction, double workers) {
  return 1.0 / (serial_fraction + (1 - serial_fraction) / workers);
}

std::string format_text(const Comparison& c) {
  std::string out;
  auto line = [&out](const std::string& text) { out += text + "\n"; };
  std::string varied;
  for (const auto& v : c.varied) varied += (varied.empty() ? "" : ", ") + v;
  line(fmt::format("compare:  job {}, {} runs; they differ in: {}", c.job, c.runs.size(),
                   varied.empty() ? "nothing but the output path" : varied));
  const ComparedRun& base = c.runs[c.baseline];
  line(fmt::format("baseline: {} ({} worker{}): speedup = {} x {:.3f} s / wall, efficiency = speedup / workers",
                   base.file, base.workers, base.workers == 1 ? "" : "s", base.workers, base.wall));
  line("");
  std::size_t width = 4;
  for (const auto& r : c.runs) width = std::max(width, r.file.size());
  width = std::min<std::size_t>(width, 40);
  line(fmt::format("{:<{}} {:>5} {:>7} {:>7} {:<13} {:<9} {:>9} {:>8} {:>10} {:>10}", "file", width, "ranks", "threads",
                   "workers", "policy", "status", "wall s", "speedup", "efficiency", "Karp-Flatt"));
  for (const auto& r : c.runs) {
    std::string file = r.file.size() > width ? "..." + r.file.substr(r.file.size() - width + 3) : r.file;
    line(fmt::format("{:<{}} {:>5} {:>7} {:>7} {:<13} {:<9} {:>9.3f} {:>8.2f} {:>10.2f} {:>10}", file, width, r.ranks,
                     r.threads_per_rank, r.workers, r.policy, r.status, r.wall, r.speedup, r.efficiency,
                     r.karp_flatt ? fmt::format("{:.3f}", *r.karp_flatt) : std::string("-")));
  }
  line("");
  if (c.fit) {
    const AmdahlFit& f = *c.fit;
    line(
        fmt::format("Amdahl fit (least squares of 1/S on 1/p, p = workers, {} runs): 1/S = {:.4f} + {:.4f}/p, "
                    "serial fraction {:.4f}",
                    f.points, f.intercept, f.slope, f.serial_fraction));
    if (f.best_workers) {
      line(fmt::format(
          "predicted best: {} worker{}{} (the most whose predicted efficiency 1/(f p + 1 - f) stays >= "
          "0.5; predicted speedup there {:.2f})",
          *f.best_workers, *f.best_workers == 1 ? "" : "s",
          c.best_ranks ? fmt::format(", {} rank{} x {} thread{}", *c.best_ranks, *c.best_ranks == 1 ? "" : "s",
                                     c.runs[0].threads_per_rank, c.runs[0].threads_per_rank == 1 ? "" : "s")
                       : std::string(),
          amdahl_speedup(f.serial_fraction, static_cast<double>(*f.best_workers))));
    } else {
      line("predicted best: no limit (serial fraction 0: the fit predicts efficiency 1 at any worker count)");
    }
  }
  if (c.replay) {
    const Prediction& p = *c.replay;
    const ComparedRun& b = c.runs[c.baseline];
    double workers = static_cast<double>(p.ranks) * p.threads;
    double gap = c.fit_speedup_at_replay > 0 ? p.speedup / c.fit_speedup_at_replay : 1;
    std::string why = gap > 1.1
                          ? fmt::format(
                                "the replay is {:.0f}% faster: it keeps every task's recorded time and gives each "
                                "worker a core of its own, while the fit also counts what the measured runs lost "
                                "beyond that (cores shared with other ranks or other work, contention, communication), "
                                "so on this machine trust the fit, with more cores the replay",
                                100 * (gap - 1))
                      : gap < 0.9 ? fmt::format(
                                        "the replay is {:.0f}% slower: its tasks took as long as in the baseline run, "
                                        "while the measured runs with more workers did better than the baseline",
                                        100 * (1 / gap - 1))
                                  : std::string("the two agree within 10%");
    line(wrap(fmt::format("replay:   fanout predict {} --ranks {}{} (the baseline's task times through the "
                          "scheduler): speedup {:.2f} at {:.0f} worker{}, where the fit predicts {:.2f}; {}",
                          b.file, p.ranks, p.threads > 1 ? fmt::format(" --threads {}", p.threads) : std::string(),
                          p.speedup, workers, workers == 1 ? "" : "s", c.fit_speedup_at_replay, why),
              100, std::string(10, ' ')));
  }
  if (!c.fit_note.empty()) line("note: " + c.fit_note);
  if (!c.cpu_note.empty()) line("note: " + c.cpu_note);
  return out;
}

std::string format_json(const Comparison& c) {
  const auto& num = json_number;
  auto opt_num = [&](const std::optional<double>& x) { return x ? num(*x) : std::string("null"); };
  auto opt_int = [](const std::optional<long>& x) { return x ? std::to_string(*x) : std::string("null"); };
  std::string runs;
  for (const auto& r : c.runs)
    runs += fmt::format(
        "{}{{\"file\": {}, \"ranks\": {}, \"threads_per_rank\": {}, \"workers\": {}, \"policy\": {}, \"chunk\": {}, "
        "\"order\": {}, \"status\": {}, \"tasks\": {}, \"wall\": {}, \"task_wall\": {}, \"speedup\": {}, "
        "\"efficiency\": {}, \"karp_flatt\": {}, \"cpus\": {}, \"oversubscribed\": {}}}",
        runs.empty() ? "" : ", ", json_string(r.file), r.ranks, r.threads_per_rank, r.workers, json_string(r.policy),
        json_string(r.chunk), json_string(r.order), json_string(r.status), r.tasks, num(r.wall), num(r.task_wall),
        num(r.speedup), num(r.efficiency), opt_num(r.karp_flatt),
        r.cpus > 0 ? std::to_string(r.cpus) : std::string("null"),
        r.cpus > 0 ? (r.oversubscribed ? "true" : "false") : "null");
  std::string varied;
  for (const auto& v : c.varied) varied += (varied.empty() ? "" : ", ") + json_string(v);
  std::string fit = "null";
  if (c.fit)
    fit = fmt::format(
        "{{\"points\": {}, \"intercept\": {}, \"slope\": {}, \"serial_fraction\": {}, \"clamped\": {}, "
        "\"best_workers\": {}, \"best_ranks\": {}}}",
        c.fit->points, num(c.fit->intercept), num(c.fit->slope), num(c.fit->serial_fraction),
        c.fit->clamped ? "true" : "false", opt_int(c.fit->best_workers), opt_int(c.best_ranks));
  std::string replay = "null";
  if (c.replay)
    replay = fmt::format(
        "{{\"ranks\": {}, \"threads\": {}, \"workers\": {}, \"wall\": {}, \"speedup\": {}, "
        "\"fit_speedup\": {}}}",
        c.replay->ranks, c.replay->threads, static_cast<long>(c.replay->ranks) * c.replay->threads, num(c.replay->wall),
        num(c.replay->speedup), num(c.fit_speedup_at_replay));
  return fmt::format(
      "{{\"job\": {}, \"varied\": [{}], \"baseline\": {}, \"runs\": [{}], \"amdahl\": {}, \"replay\": {}, "
      "\"note\": {}, \"cpu_note\": {}}}\n",
      json_string(c.job), varied, json_string(c.runs[c.baseline].file), runs, fit, replay, json_string(c.fit_note),
      json_string(c.cpu_note));
}

}  // namespace fanout::report
