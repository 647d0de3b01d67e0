#include "report/answers.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "report/report.hpp"

namespace fanout::report {
namespace {

const io::ResultColumn* find_column(const io::RunFile& run, const std::string& name) {
  for (const auto& c : run.results)
    if (c.name == name && c.type != "text") return &c;
  return nullptr;
}

// Row i of a numeric column exactly, for unsigned integer columns; else rounded.
std::uint64_t exact(const io::ResultColumn& c, std::size_t i) {
  return c.unsigned_values.empty() ? static_cast<std::uint64_t>(c.values[i]) : c.unsigned_values[i];
}

// A whole number of the [job] table in the file's config, if it is there.
std::optional<std::int64_t> job_parameter(const io::RunFile& run, const char* key) {
  try {
    toml::table config = toml::parse(run.config, run.path);
    return config["job"][key].value<std::int64_t>();
  } catch (const toml::parse_error&) {
    return std::nullopt;
  }
}

std::string of_tasks(std::uint64_t used, std::uint64_t all, const char* what) {
  return used == all ? std::string() : fmt::format(" (from the {} of {} {} that finished ok)", used, all, what);
}

// primes: which numbers are prime (columns number, is_prime).
std::optional<JobAnswer> primes_answer(const io::RunFile& run, const std::vector<std::size_t>& ok) {
  const io::ResultColumn* number = find_column(run, "number");
  const io::ResultColumn* is_prime = find_column(run, "is_prime");
  if (!number || !is_prime) return std::nullopt;
  std::vector<std::uint64_t> primes;
  for (std::size_t i : ok)
    if (i < is_prime->values.size() && i < number->values.size() && is_prime->values[i] != 0)
      primes.push_back(exact(*number, i));
  JobAnswer a;
  a.text = fmt::format("{} of {} number{} {} prime{}", primes.size(), ok.size(), ok.size() == 1 ? "" : "s",
                       primes.size() == 1 ? "is" : "are", of_tasks(ok.size(), run.tasks.size(), "tasks"));
  std::string listed, json_list;
  for (std::size_t k = 0; k < primes.size(); ++k) {
    if (k < PRIMES_LISTED_TEXT) listed += fmt::format("{}{}", k ? ", " : "", primes[k]);
    if (k < PRIMES_LISTED_JSON) json_list += fmt::format("{}{}", k ? ", " : "", primes[k]);
  }
  if (!primes.empty())
    a.details.push_back("primes: " + listed +
                        (primes.size() > PRIMES_LISTED_TEXT
                             ? fmt::format(", ... and {} more (fanout report FILE --tasks lists every task)",
                                           primes.size() - PRIMES_LISTED_TEXT)
                             : std::string()));
  a.fields = {{"primes", std::to_string(primes.size())},
              {"tested", std::to_string(ok.size())},
              {"prime_numbers", "[" + json_list + "]"},
              {"prime_numbers_listed", std::to_string(std::min(primes.size(), PRIMES_LISTED_JSON))}};
  return a;
}

// monte_carlo_pi: pi = 4 inside / points, with its standard error 4 sqrt(p (1 - p) / n).
std::optional<JobAnswer> pi_answer(const io::RunFile& run, const std::vector<std::size_t>& ok) {
  const io::ResultColumn* inside = find_column(run, "inside");
  auto samples = job_parameter(run, "samples");
  if (!inside || !samples || *samples <= 0 || ok.empty()) return std::nullopt;
  std::uint64_t in = 0;
  for (std::size_t i : ok)
    if (i < inside->values.size()) in += exact(*inside, i);
  const double n = static_cast<double>(ok.size()) * static_cast<double>(*samples);
  const double p = static_cast<double>(in) / n;
  const double pi = 4.0 * p, stderr_ = 4.0 * std::sqrt(p * (1.0 - p) / n);
  JobAnswer a;
  a.text = fmt::format("pi = {:.8f} +- {:.8f} (standard error; 4 x {} of {:.0f} points inside the quarter circle){}",
                       pi, stderr_, in, n, of_tasks(ok.size(), run.tasks.size(), "tasks"));
  a.fields = {{"pi", fmt::format("{:.17g}", pi)},
              {"pi_stderr", fmt::format("{:.17g}", stderr_)},
              {"inside", std::to_string(in)},
              {"samples", fmt::format("{:.0f}", n)}};
  return a;
}

// prime_count: the primes in [start, stop), the sum of the blocks' counts.
std::optional<JobAnswer> prime_count_answer(const io::RunFile& run, const std::vector<std::size_t>& ok) {
  const io::ResultColumn* count = find_column(run, "count");
  if (!count) return std::nullopt;
  std::uint64_t total = 0;
  for (std::size_t i : ok)
    if (i < count->values.size()) total += exact(*count, i);
  auto start = job_parameter(run, "start").value_or(0);
  auto stop = job_parameter(run, "stop");
  JobAnswer a;
  a.text = fmt::format("{} primes{}{}", total, stop ? fmt::format(" in [{}, {})", start, *stop) : std::string(),
                       of_tasks(ok.size(), run.tasks.size(), "blocks"));
  a.fields = {{"total", std::to_string(total)},
              {"start", std::to_string(start)},
              {"stop", stop ? std::to_string(*stop) : std::string("null")},
              {"complete", ok.size() == run.tasks.size() ? "true" : "false"}};
  return a;
}

}  // namespace

ResultsSummary summarize_results(const io::RunFile& run) {
  ResultsSummary r;
  r.tasks = run.tasks.size();
  std::vector<std::size_t> ok;
  for (std::size_t i = 0; i < run.tasks.size(); ++i)
    if (run.tasks[i].attempt > 0 && run.tasks[i].status == TaskStatus::Ok) ok.push_back(i);
  r.ok = ok.size();
  if (run.job == "primes")
    r.answer = primes_answer(run, ok);
  else if (run.job == "monte_carlo_pi")
    r.answer = pi_answer(run, ok);
  else if (run.job == "prime_count")
    r.answer = prime_count_answer(run, ok);
  if (r.answer) r.answer->fields.insert(r.answer->fields.begin(), {"text", json_string(r.answer->text)});

  for (const auto& c : run.results) {
    ColumnStats s;
    s.name = c.name;
    s.type = c.type;
    const std::size_t n = c.type == "text" ? c.texts.size() : c.values.size();
    if (c.type == "text") {
      std::unordered_set<std::string> seen;
      for (std::size_t i : ok)
        if (i < n) {
          seen.insert(c.texts[i]);
          ++s.count;
        }
      s.distinct = seen.size();
    } else {
      double sum = 0;
      s.min = std::numeric_limits<double>::infinity();
      s.max = -s.min;
      for (std::size_t i : ok) {
        if (i >= n) continue;
        double v = c.values[i];
        ++s.count;
        sum += v;
        s.min = std::min(s.min, v);
        s.max = std::max(s.max, v);
        if (c.type == "bool" && v != 0) ++s.true_count;
      }
      s.mean = s.count ? sum / static_cast<double>(s.count) : 0;
      if (s.count == 0) s.min = s.max = 0;
    }
    r.columns.push_back(s);
  }
  return r;
}

namespace {

std::string column_text(const ColumnStats& c) {
  if (c.type == "text")
    return fmt::format("{} (text): {} distinct value{}", c.name, c.distinct, c.distinct == 1 ? "" : "s");
  if (c.type == "bool") return fmt::format("{} (bool): {} true of {}", c.name, c.true_count, c.count);
  return fmt::format("{} ({}): min {:.6g}, mean {:.6g}, max {:.6g}", c.name, c.type, c.min, c.mean, c.max);
}

}  // namespace

std::string format_results_text(const ResultsSummary& r) {
  std::string out;
  const std::string indent(11, ' ');
  if (r.answer) {
    out += "answer:    " + r.answer->text + "\n";
    for (const auto& d : r.answer->details) out += indent + d + "\n";
  }
  for (std::size_t k = 0; k < r.columns.size(); ++k)
    out += (k == 0 ? fmt::format("results:   over the {} task{} that finished ok:", r.ok, r.ok == 1 ? "" : "s") + "\n" +
                         indent
                   : indent) +
           column_text(r.columns[k]) + "\n";
  return out;
}

std::string results_json_fields(const ResultsSummary& r) {
  std::string answer = "null";
  if (r.answer) {
    answer.clear();
    for (const auto& [name, value] : r.answer->fields)
      answer += fmt::format("{}{}: {}", answer.empty() ? "" : ", ", json_string(name), value);
    answer = "{" + answer + "}";
  }
  std::string columns;
  for (const auto& c : r.columns) {
    bool number = c.type != "text" && c.type != "bool";
    auto num = [&](double x) { return number && c.count ? json_number(x) : std::string("null"); };
    columns += fmt::format(
        "{}{{\"name\": {}, \"type\": {}, \"count\": {}, \"min\": {}, \"mean\": {}, \"max\": {}, \"true\": {}, "
        "\"distinct\": {}}}",
        columns.empty() ? "" : ", ", json_string(c.name), json_string(c.type), c.count, num(c.min), num(c.mean),
        num(c.max), c.type == "bool" ? std::to_string(c.true_count) : "null",
        c.type == "text" ? std::to_string(c.distinct) : "null");
  }
  return fmt::format("\"answer\": {}, \"results\": [{}]", answer, columns);
}

std::string format_results_json(const io::RunFile& run, const ResultsSummary& r) {
  return fmt::format("{{\"file\": {}, \"job\": {}, \"tasks\": {}, \"ok\": {}, {}}}\n", json_string(run.path),
                     json_string(run.job), r.tasks, r.ok, results_json_fields(r));
}

std::string format_results_csv(const ResultsSummary& r) {
  std::string out = "column,type,count,min,mean,max,true,distinct\n";
  for (const auto& c : r.columns) {
    bool number = c.type != "text" && c.type != "bool" && c.count > 0;
    out += fmt::format("{},{},{},{},{},{},{},{}\n", csv_field(c.name), c.type, c.count,
                       number ? fmt::format("{}", c.min) : "", number ? fmt::format("{}", c.mean) : "",
                       number ? fmt::format("{}", c.max) : "", c.type == "bool" ? std::to_string(c.true_count) : "",
                       c.type == "text" ? std::to_string(c.distinct) : "");
  }
  return out;
}

}  // namespace fanout::report
