#pragma once
// Section: typed, validated reading of one TOML table. Every key is declared
// once, where it is read, with its default, its range and its help text; the
// same declarations drive validation, the resolved config and `fanout jobs`.
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "core/inputs.hpp"

namespace fanout {
class Sweep;
}

namespace fanout::config {

// One declared key, as listed by `fanout jobs` and documented in docs/.
struct ParamSpec {
  std::string key;
  std::string type;          // "whole number", "number", "string", ...
  std::string default_text;  // TOML text of the default, empty when required
  std::string help;
};

// Where a node came from: "file:line" or "--set key=value".
std::string location(const toml::node& node, const std::string& fallback);

// The whole of a small input file (a config, a list of commands), read at
// most max_bytes far, so that /dev/zero or a huge file given by mistake is an
// error, not a hang. On failure: nullopt, and `why` says why ("Is a
// directory", "larger than 16 MiB", ...).
std::optional<std::string> read_small_file(const std::string& path, std::size_t max_bytes, std::string& why);

// A name usable as a parameter or result: a letter or _, then letters, digits or _.
bool is_identifier(std::string_view name);

// Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

class Section {
 public:
  // table may be null (the section is absent). In describe mode nothing is
  // validated: getters return defaults or placeholders and only record specs.
  Section(const toml::table* table, std::string name, std::string origin, bool describe = false);

  static constexpr std::uint64_t NO_MAX = std::numeric_limits<std::uint64_t>::max();

  std::uint64_t whole(std::string_view key, std::optional<std::uint64_t> def, std::uint64_t min, std::uint64_t max,
                      std::string_view help);
  // A whole number up to 2^64 - 1: a TOML integer (they stop at 2^63 - 1) or
  // a string of decimal digits ("18446744073709551615"). Kept in the
  // resolved config as an integer when it fits one, else as that string.
  std::uint64_t big_whole(std::string_view key, std::optional<std::uint64_t> def, std::uint64_t min, std::uint64_t max,
                          std::string_view help);
  double number(std::string_view key, std::optional<double> def, double min, double max, std::string_view help);
  std::string choice(std::string_view key, std::optional<std::string> def, const std::vector<std::string>& options,
                     std::string_view help);
  std::string text(std::string_view key, std::optional<std::string> def, std::string_view help);
  std::vector<std::uint64_t> whole_list(std::string_view key, std::uint64_t min, std::string_view help);
  // Optional keys without a default (listed as "default none"): nullopt when absent.
  std::optional<double> optional_number(std::string_view key, double min, double max, std::string_view help);
  // A non-empty string, or nullopt when absent.
  std::optional<std::string> optional_text(std::string_view key, std::string_view help);
  // A non-empty array of non-empty strings.
  std::optional<std::vector<std::string>> optional_text_list(std::string_view key, std::string_view help);
  // A file's path: a relative one is taken from the directory of the config
  // file that gave it (from the working directory for --set). Returned, and
  // kept in the resolved config, as an absolute path.
  std::optional<std::string> optional_path(std::string_view key, std::string_view help);
  // Records a file the job read (at `key`'s value) with a digest of its
  // bytes: the run keeps it, and a resume refuses a changed file (InputFile).
  void add_input(std::string_view key, const std::string& path, std::string_view bytes);
  const std::vector<InputFile>& inputs() const { return inputs_; }
  // A sub-table such as [job.results]: null when absent.
  const toml::table* optional_table(std::string_view key, std::string_view help);
  // The run's parameter sweep ([params], [sweep]), for a job that takes its
  // tasks from one; null when the config has none. Asking tells the config
  // that the job takes a sweep: [params] given to a job that never asks is
  // an error (it has its own task list).
  const Sweep* sweep() {
    sweep_asked_ = true;
    return sweep_;
  }
  bool sweep_asked() const { return sweep_asked_; }
  void set_sweep(const Sweep* sweep) { sweep_ = sweep; }
  // Another rank loaded this config and its checks passed there: a job may
  // skip what is costly to check again (the python job's import).
  bool checked_elsewhere() const { return checked_elsewhere_; }
  void set_checked_elsewhere(bool checked) { checked_elsewhere_ = checked; }

  // "auto" (returned as nullopt) or a whole number >= min.
  std::optional<std::uint64_t> auto_or_whole(std::string_view key, std::uint64_t min, std::string_view help);

  // One of `words`, or a whole number >= min given as a TOML integer: the
  // value as text ("node", "4"). Kept in the resolved config as given.
  std::string word_or_whole(std::string_view key, const std::string& def, const std::vector<std::string>& words,
                            std::uint64_t min, std::string_view help);

  // Throws ConfigError for the first key that no getter asked for.
  void finish() const;

  bool describing() const { return describe_; }
  const std::vector<ParamSpec>& specs() const { return specs_; }
  // The values read, defaults included: the resolved config of this section.
  const toml::table& resolved() const { return resolved_; }
  const std::string& name() const { return name_; }

  // "file:line" of key (or of the table when the key is absent).
  std::string location_of(std::string_view key) const { return where(key); }
  // Throws ConfigError "LOCATION: SECTION.KEY: MESSAGE" for the node of key.
  [[noreturn]] void fail(std::string_view key, const std::string& message) const;

 private:
  const toml::node* lookup(std::string_view key, std::string_view type, std::string default_text,
                           std::string_view help);
  double number_value(std::string_view key, const toml::node& node, double min, double max) const;
  [[noreturn]] void fail_type(std::string_view key, const toml::node& node, const std::string& expected) const;
  std::string where(std::string_view key) const;
  std::string qualified(std::string_view key) const;

  const toml::table* table_;
  std::string name_;
  std::string origin_;
  bool describe_;
  std::set<std::string, std::less<>> known_;
  std::vector<ParamSpec> specs_;
  toml::table resolved_;
  const Sweep* sweep_ = nullptr;
  bool sweep_asked_ = false;
  bool checked_elsewhere_ = false;
  std::vector<InputFile> inputs_;
};

// TOML text of a whole document: its tables as [sections] (sub-tables as
// [section.sub]), inline tables and arrays inline, floats in their shortest
// exact form. Not toml++'s formatter: in 3.3 it takes log10 of every float in
// an array to decide on line breaks, undefined behaviour for one below 0.1
// (found by tests/fuzz with a [params] list such as [0.001]).
std::string to_toml(const toml::table& root);

// A TOML value as a person reads it in an error message: "dynamc" (a string),
// 3.5 (a float), [1, 2] (an array).
std::string describe_value(const toml::node& node);
// The value and its TOML type, for "found ..." in messages: "dynamc" (a string).
std::string describe_found(const toml::node& node);

}  // namespace fanout::config
