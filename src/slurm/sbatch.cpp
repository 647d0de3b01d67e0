#include "slurm/sbatch.hpp"

#include <algorithm>
#include <regex>
#include <set>
#include <sstream>

#include "core/error.hpp"

namespace fanout::slurm {

std::string shell_quote(const std::string& word) {
  bool plain = !word.empty() && word.find_first_of(" \t\n'\"$\\`*?[]{}()<>|&;#~!") == std::string::npos;
  if (plain) return word;
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

namespace {

// sbatch reads a #SBATCH value with spaces only inside double quotes.
std::string sbatch_line_for(const std::string& key, const std::string& value) {
  bool plain = value.find_first_of(" \t\"") == std::string::npos;
  return "#SBATCH --" + key + "=" + (plain ? value : "\"" + value + "\"");
}

}  // namespace

std::string render_batch_script(const std::string& template_text, const std::string& template_path,
                                const BatchRequest& request) {
  static const std::regex sbatch_line(R"(^##?SBATCH\s+--([A-Za-z-]+)(=.*)?\s*$)");
  std::vector<std::string> lines;
  std::istringstream in(template_text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);

  std::vector<std::string> out;
  std::set<std::string> rendered;
  std::size_t insert_at = 1;  // after the first #SBATCH line replaced (or the first line)
  bool has_fanout = false, has_args = false;
  auto value_of = [&](const std::string& key) -> const std::string* {
    for (const auto& [k, v] : request.options)
      if (k == key) return &v;
    return nullptr;
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    std::smatch m;
    if (std::regex_match(line, m, sbatch_line)) {
      const std::string key = m[1].str();
      if (const std::string* value = value_of(key)) {
        if (rendered.insert(key).second) {
          out.push_back(sbatch_line_for(key, *value));
          if (rendered.size() == 1) insert_at = out.size();
        }
        continue;
      }
    } else if (line.rfind("FANOUT=", 0) == 0) {
      out.push_back("FANOUT=${FANOUT:-" + shell_quote(request.fanout) + "}");
      has_fanout = true;
      continue;
    } else if (line.rfind("FANOUT_ARGS=", 0) == 0) {
      std::string args;
      for (const auto& a : request.run_args) args += (args.empty() ? "" : " ") + shell_quote(a);
      out.push_back("FANOUT_ARGS=(" + args + ")");
      has_args = true;
      continue;
    }
    out.push_back(line);
    if (i == 0 && line.rfind("#!", 0) == 0) {
      out.push_back("# Rendered from " + template_path + " by:");
      out.push_back("#   " + request.rendered_by);
    }
  }
  if (!has_fanout || !has_args)
    throw IoError(template_path +
                  ": not a fanout batch template: it needs a FANOUT=... line and a FANOUT_ARGS=... "
                  "line (see slurm/fanout.sbatch)");
  // An option the template lacks goes right after the option before it in the request.
  for (std::size_t k = 0; k < request.options.size(); ++k) {
    const auto& [key, value] = request.options[k];
    if (rendered.count(key)) continue;
    std::size_t at = insert_at;
    for (std::size_t j = k; j-- > 0;) {
      const std::string previous = "#SBATCH --" + request.options[j].first + "=";
      auto it = std::find_if(out.begin(), out.end(), [&](const std::string& l) { return l.rfind(previous, 0) == 0; });
      if (it != out.end()) {
        at = static_cast<std::size_t>(it - out.begin()) + 1;
        break;
      }
    }
    out.insert(out.begin() + static_cast<std::ptrdiff_t>(at), sbatch_line_for(key, value));
    rendered.insert(key);
  }

  std::string script;
  for (const auto& l : out) script += l + "\n";
  return script;
}

}  // namespace fanout::slurm
