#include "config/params.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/error.hpp"

namespace fanout::config {

std::string location(const toml::node& node, const std::string& fallback) {
  const auto& src = node.source();
  if (!src.path || src.path->empty()) return fallback;
  if (src.path->rfind("--set", 0) == 0) return *src.path;  // an override names itself
  if (src.begin.line == 0) return *src.path;
  return fmt::format("{}:{}", *src.path, src.begin.line);
}

std::optional<std::string> read_small_file(const std::string& path, std::size_t max_bytes, std::string& why) {
  std::error_code ec;
  // A directory opens as a stream on Linux and then reads as empty text.
  if (std::filesystem::is_directory(path, ec)) {
    why = std::strerror(EISDIR);
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = std::strerror(errno);
    return std::nullopt;
  }
  std::string text;
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_bytes) {
      why = fmt::format("larger than {} MiB", max_bytes >> 20);
      return std::nullopt;
    }
  }
  if (in.bad()) {
    why = std::strerror(errno);
    return std::nullopt;
  }
  return text;
}

bool is_identifier(std::string_view name) {
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (name.empty() || !letter(name.front())) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return letter(c) || digit(c); });
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

namespace {

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return node.as_array()->is_array_of_tables() ? "an array of tables" : "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date or time";
  }
}

std::string format_number(double x) { return fmt::format("{}", x); }

// The closest candidate within a third of the word's length, or "".
std::string closest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = word.size() / 3 + 2;
  for (const auto& c : candidates) {
    std::size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

std::string join_quoted(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", \"" : "\"") + items[i] + "\"";
  return out;
}

}  // namespace

namespace {

// Arrays and tables item by item, not through toml++'s formatter: in 3.3 it
// converts log10(nan) to an integer to decide on line breaks, undefined
// behaviour for a nan or inf anywhere inside (found by tests/fuzz).
void append_value(std::string& out, const toml::node& node) {
  constexpr std::size_t ENOUGH = 64;  // describe_value shows 60 characters at most
  if (const auto* s = node.as_string()) {
    out += '"' + s->get() + '"';
  } else if (const auto* f = node.as_floating_point()) {
    out += fmt::format("{}", f->get());  // shortest form: 0.3, not 0.29999999999999999; nan, inf
  } else if (const auto* a = node.as_array()) {
    out += '[';
    for (std::size_t i = 0; i < a->size() && out.size() < ENOUGH; ++i) {
      if (i) out += ", ";
      append_value(out, *a->get(i));
    }
    out += ']';
  } else if (const auto* t = node.as_table()) {
    out += '{';
    bool first = true;
    for (const auto& [key, value] : *t) {
      if (out.size() >= ENOUGH) break;
      out += (first ? " " : ", ") + std::string(key.str()) + " = ";
      append_value(out, value);
      first = false;
    }
    out += first ? "}" : " }";
  } else {
    std::ostringstream os;
    node.visit([&](auto&& n) { os << n; });  // integers, booleans, dates and times
    out += os.str();
  }
}

}  // namespace

namespace {

// 'text' when it can be (as toml++ writes it), else "text" with escapes.
std::string toml_string(const std::string& s) {
  bool literal = std::none_of(s.begin(), s.end(), [](char c) {
    return c == '\'' || c == 0x7f || (static_cast<unsigned char>(c) < 0x20 && c != '\t');
  });
  if (literal) return "'" + s + "'";
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        else
          out += c;
    }
  }
  return out + "\"";
}

std::string toml_key(std::string_view key) {
  bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  return bare ? std::string(key) : toml_string(std::string(key));
}

std::string toml_value(const toml::node& node) {
  if (const auto* s = node.as_string()) return toml_string(s->get());
  if (const auto* i = node.as_integer()) return std::to_string(i->get());
  if (const auto* b = node.as_boolean()) return b->get() ? "true" : "false";
  if (const auto* f = node.as_floating_point()) {
    double v = f->get();
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    std::string text = fmt::format("{}", v);                          // shortest exact form
    if (text.find_first_of(".e") == std::string::npos) text += ".0";  // stays a float
    return text;
  }
  if (const auto* a = node.as_array()) {
    if (a->empty()) return "[]";
    std::string out = "[ ";  // spaced as toml++ writes it
    for (std::size_t k = 0; k < a->size(); ++k) out += (k ? ", " : "") + toml_value(*a->get(k));
    return out + " ]";
  }
  if (const auto* t = node.as_table()) {
    std::string out = "{";
    bool first = true;
    for (const auto& [key, value] : *t) {
      out += (first ? " " : ", ") + toml_key(key.str()) + " = " + toml_value(value);
      first = false;
    }
    return out + (first ? "}" : " }");
  }
  std::ostringstream os;
  node.visit([&](auto&& n) { os << n; });  // dates and times
  return os.str();
}

void append_section(std::string& out, const std::string& name, const toml::table& table) {
  out += "[" + name + "]\n";
  for (const auto& [key, value] : table)
    if (!(value.is_table() && !value.as_table()->is_inline()))
      out += toml_key(key.str()) + " = " + toml_value(value) + "\n";
  out += "\n";
  for (const auto& [key, value] : table)
    if (value.is_table() && !value.as_table()->is_inline())
      append_section(out, name + "." + toml_key(key.str()), *value.as_table());
}

}  // namespace

std::string to_toml(const toml::table& root) {
  std::string out;
  for (const auto& [key, value] : root) {
    if (value.is_table())
      append_section(out, toml_key(key.str()), *value.as_table());
    else
      out = toml_key(key.str()) + " = " + toml_value(value) + "\n" + out;  // before the first [section]
  }
  return out;
}

std::string describe_value(const toml::node& node) {
  std::string shown;
  append_value(shown, node);
  if (shown.size() > 60) shown = shown.substr(0, 57) + "...";
  return shown;
}

std::string describe_found(const toml::node& node) {
  return fmt::format("{} ({})", describe_value(node), type_name(node));
}

Section::Section(const toml::table* table, std::string name, std::string origin, bool describe)
    : table_(table), name_(std::move(name)), origin_(std::move(origin)), describe_(describe) {}

std::string Section::qualified(std::string_view key) const {
  return name_.empty() ? std::string(key) : fmt::format("{}.{}", name_, key);
}

std::string Section::where(std::string_view key) const {
  if (table_) {
    if (const toml::node* node = table_->get(key)) return location(*node, origin_);
    return location(*table_, origin_);
  }
  return origin_;
}

void Section::fail(std::string_view key, const std::string& message) const {
  throw ConfigError(fmt::format("{}: {}: {}", where(key), qualified(key), message));
}

void Section::fail_type(std::string_view key, const toml::node& node, const std::string& expected) const {
  fail(key, fmt::format("expected {}, found {}", expected, describe_found(node)));
}

const toml::node* Section::lookup(std::string_view key, std::string_view type, std::string default_text,
                                  std::string_view help) {
  known_.emplace(key);
  specs_.push_back({std::string(key), std::string(type), std::move(default_text), std::string(help)});
  if (describe_ || !table_) return nullptr;
  return table_->get(key);
}

std::uint64_t Section::whole(std::string_view key, std::optional<std::uint64_t> def, std::uint64_t min,
                             std::uint64_t max, std::string_view help) {
  std::string expected =
      max == NO_MAX ? fmt::format("a whole number >= {}", min) : fmt::format("a whole number from {} to {}", min, max);
  const toml::node* node = lookup(key, "whole number", def ? std::to_string(*def) : "", help);
  std::uint64_t value = def.value_or(min);
  if (node) {
    auto v = node->value_exact<std::int64_t>();
    if (!v) fail_type(key, *node, expected);
    if (*v < 0 || static_cast<std::uint64_t>(*v) < min || static_cast<std::uint64_t>(*v) > max)
      fail(key, fmt::format("expected {}, found {}", expected, *v));
    value = static_cast<std::uint64_t>(*v);
  } else if (!def && !describe_) {
    fail(key, fmt::format("missing; expected {}", expected));
  }
  resolved_.insert_or_assign(key, static_cast<std::int64_t>(value));
  return value;
}

std::uint64_t Section::big_whole(std::string_view key, std::optional<std::uint64_t> def, std::uint64_t min,
                                 std::uint64_t max, std::string_view help) {
  std::string expected = fmt::format("a whole number from {} to {} (an integer or a string of digits)", min, max);
  const toml::node* node = lookup(key, "whole number or digits", def ? std::to_string(*def) : "", help);
  std::uint64_t value = def.value_or(min);
  if (node) {
    if (auto v = node->value_exact<std::int64_t>()) {
      if (*v < 0 || static_cast<std::uint64_t>(*v) < min || static_cast<std::uint64_t>(*v) > max)
        fail(key, fmt::format("expected {}, found {}", expected, *v));
      value = static_cast<std::uint64_t>(*v);
    } else if (auto s = node->value_exact<std::string>()) {
      const char* end = s->data() + s->size();
      bool digits = !s->empty() && std::all_of(s->begin(), s->end(), [](char c) { return c >= '0' && c <= '9'; });
      auto [ptr, error] = std::from_chars(s->data(), end, value);
      if (!digits || ptr != end || error != std::errc{} || value < min || value > max)
        fail(key, fmt::format("expected {}, found {}", expected, describe_found(*node)));
    } else {
      fail_type(key, *node, expected);
    }
  } else if (!def && !describe_) {
    fail(key, fmt::format("missing; expected {}", expected));
  }
  if (value <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    resolved_.insert_or_assign(key, static_cast<std::int64_t>(value));
  else
    resolved_.insert_or_assign(key, std::to_string(value));
  return value;
}

double Section::number(std::string_view key, std::optional<double> def, double min, double max, std::string_view help) {
  const toml::node* node = lookup(key, "number", def ? format_number(*def) : "", help);
  double value = def.value_or(min);
  if (node) {
    value = number_value(key, *node, min, max);
  } else if (!def && !describe_) {
    fail(key, fmt::format("missing; expected a number from {} to {}", format_number(min), format_number(max)));
  }
  resolved_.insert_or_assign(key, value);
  return value;
}

double Section::number_value(std::string_view key, const toml::node& node, double min, double max) const {
  std::string expected = fmt::format("a number from {} to {}", format_number(min), format_number(max));
  std::optional<double> v;
  if (node.is_floating_point()) v = node.as_floating_point()->get();
  if (node.is_integer()) v = static_cast<double>(node.as_integer()->get());
  if (!v) fail_type(key, node, expected);
  if (!(*v >= min && *v <= max)) fail(key, fmt::format("expected {}, found {}", expected, describe_value(node)));
  return *v;
}

std::string Section::choice(std::string_view key, std::optional<std::string> def,
                            const std::vector<std::string>& options, std::string_view help) {
  std::string expected = "one of " + join_quoted(options);
  const toml::node* node = lookup(key, expected, def ? "\"" + *def + "\"" : "", help);
  std::string value = def.value_or(options.front());
  if (node) {
    auto v = node->value_exact<std::string>();
    if (!v) fail_type(key, *node, expected);
    if (std::find(options.begin(), options.end(), *v) == options.end()) {
      std::string hint = closest(*v, options);
      fail(key, fmt::format("expected {}, found \"{}\"{}", expected, *v,
                            hint.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", hint)));
    }
    value = *v;
  } else if (!def && !describe_) {
    fail(key, fmt::format("missing; expected {}", expected));
  }
  resolved_.insert_or_assign(key, value);
  return value;
}

std::string Section::text(std::string_view key, std::optional<std::string> def, std::string_view help) {
  const toml::node* node = lookup(key, "string", def ? "\"" + *def + "\"" : "", help);
  std::string value = def.value_or("");
  if (node) {
    auto v = node->value_exact<std::string>();
    if (!v) fail_type(key, *node, "a string");
    if (v->empty()) fail(key, "expected a non-empty string, found \"\"");
    value = *v;
  } else if (!def && !describe_) {
    fail(key, "missing; expected a string");
  }
  resolved_.insert_or_assign(key, value);
  return value;
}

std::vector<std::uint64_t> Section::whole_list(std::string_view key, std::uint64_t min, std::string_view help) {
  std::string expected = fmt::format("a non-empty array of whole numbers >= {}", min);
  const toml::node* node = lookup(key, "array of whole numbers", "", help);
  std::vector<std::uint64_t> values;
  if (node) {
    const toml::array* array = node->as_array();
    if (!array) fail_type(key, *node, expected);
    if (array->empty()) fail(key, fmt::format("expected {}, found []", expected));
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& item = *array->get(i);
      auto v = item.value_exact<std::int64_t>();
      std::string item_key = fmt::format("{}[{}]", key, i);
      if (!v) {
        throw ConfigError(fmt::format("{}: {}: expected a whole number >= {}, found {}", location(item, where(key)),
                                      qualified(item_key), min, describe_found(item)));
      }
      if (*v < 0 || static_cast<std::uint64_t>(*v) < min) {
        throw ConfigError(fmt::format("{}: {}: expected a whole number >= {}, found {}", location(item, where(key)),
                                      qualified(item_key), min, *v));
      }
      values.push_back(static_cast<std::uint64_t>(*v));
    }
  } else if (!describe_) {
    fail(key, fmt::format("missing; expected {}", expected));
  }
  toml::array out;
  for (auto v : values) out.push_back(static_cast<std::int64_t>(v));
  resolved_.insert_or_assign(key, std::move(out));
  return values;
}

std::optional<double> Section::optional_number(std::string_view key, double min, double max, std::string_view help) {
  const toml::node* node = lookup(key, "number", "none", help);
  if (!node) return std::nullopt;
  double value = number_value(key, *node, min, max);
  resolved_.insert_or_assign(key, value);
  return value;
}

std::optional<std::string> Section::optional_text(std::string_view key, std::string_view help) {
  const toml::node* node = lookup(key, "string", "none", help);
  if (!node) return std::nullopt;
  auto v = node->value_exact<std::string>();
  if (!v) fail_type(key, *node, "a string");
  if (v->empty()) fail(key, "expected a non-empty string, found \"\"");
  resolved_.insert_or_assign(key, *v);
  return v;
}

std::optional<std::vector<std::string>> Section::optional_text_list(std::string_view key, std::string_view help) {
  const std::string expected = "a non-empty array of non-empty strings";
  const toml::node* node = lookup(key, "array of strings", "none", help);
  if (!node) return std::nullopt;
  const toml::array* array = node->as_array();
  if (!array) fail_type(key, *node, expected);
  if (array->empty()) fail(key, fmt::format("expected {}, found []", expected));
  std::vector<std::string> values;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    auto v = item.value_exact<std::string>();
    if (!v || v->empty()) {
      throw ConfigError(fmt::format("{}: {}: expected a non-empty string, found {}{}", location(item, where(key)),
                                    qualified(fmt::format("{}[{}]", key, i)), describe_value(item),
                                    v ? "" : " (" + type_name(item) + ")"));
    }
    values.push_back(*v);
  }
  resolved_.insert_or_assign(key, *array);
  return values;
}

void Section::add_input(std::string_view key, const std::string& path, std::string_view bytes) {
  if (!describe_) inputs_.push_back({qualified(key), path, sha256_hex(bytes)});
}

std::optional<std::string> Section::optional_path(std::string_view key, std::string_view help) {
  const toml::node* node = lookup(key, "string (a file path)", "none", help);
  if (!node) return std::nullopt;
  auto v = node->value_exact<std::string>();
  if (!v) fail_type(key, *node, "a string (a file path)");
  if (v->empty()) fail(key, "expected a file path, found \"\"");
  namespace fs = std::filesystem;
  fs::path path(*v);
  const auto& source = node->source().path;
  if (path.is_relative() && source && !source->empty() && source->rfind("--set", 0) != 0)
    path = fs::path(*source).parent_path() / path;
  std::string absolute = fs::absolute(path).lexically_normal().string();
  resolved_.insert_or_assign(key, absolute);
  return absolute;
}

const toml::table* Section::optional_table(std::string_view key, std::string_view help) {
  const toml::node* node = lookup(key, "table", "none", help);
  if (!node) return nullptr;
  const toml::table* table = node->as_table();
  if (!table) fail_type(key, *node, fmt::format("a table [{}.{}]", name_, key));
  resolved_.insert_or_assign(key, *table);
  return table;
}

std::optional<std::uint64_t> Section::auto_or_whole(std::string_view key, std::uint64_t min, std::string_view help) {
  std::string expected = fmt::format("\"auto\" or a whole number >= {}", min);
  const toml::node* node = lookup(key, expected, "\"auto\"", help);
  std::optional<std::uint64_t> value;
  if (node) {
    if (auto s = node->value_exact<std::string>()) {
      if (*s != "auto") fail(key, fmt::format("expected {}, found \"{}\"", expected, *s));
    } else if (auto v = node->value_exact<std::int64_t>()) {
      if (*v < 0 || static_cast<std::uint64_t>(*v) < min) fail(key, fmt::format("expected {}, found {}", expected, *v));
      value = static_cast<std::uint64_t>(*v);
    } else {
      fail_type(key, *node, expected);
    }
  }
  if (value) {
    resolved_.insert_or_assign(key, static_cast<std::int64_t>(*value));
  } else {
    resolved_.insert_or_assign(key, "auto");
  }
  return value;
}

std::string Section::word_or_whole(std::string_view key, const std::string& def, const std::vector<std::string>& words,
                                   std::uint64_t min, std::string_view help) {
  std::string expected = fmt::format("one of {} or a whole number >= {}", join_quoted(words), min);
  const toml::node* node = lookup(key, expected, "\"" + def + "\"", help);
  std::string value = def;
  if (node) {
    auto digits = node->value_exact<std::string>();
    if (digits && !digits->empty() && digits->size() < 10 &&
        std::all_of(digits->begin(), digits->end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
      std::int64_t v = std::stoll(*digits);  // "4" as well as 4
      if (static_cast<std::uint64_t>(v) < min) fail(key, fmt::format("expected {}, found \"{}\"", expected, *digits));
      value = std::to_string(v);
      resolved_.insert_or_assign(key, v);
    } else if (auto s = node->value_exact<std::string>()) {
      if (std::find(words.begin(), words.end(), *s) == words.end()) {
        std::string hint = closest(*s, words);
        fail(key, fmt::format("expected {}, found \"{}\"{}", expected, *s,
                              hint.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", hint)));
      }
      value = *s;
      resolved_.insert_or_assign(key, value);
    } else if (auto v = node->value_exact<std::int64_t>()) {
      if (*v < 0 || static_cast<std::uint64_t>(*v) < min) fail(key, fmt::format("expected {}, found {}", expected, *v));
      value = std::to_string(*v);
      resolved_.insert_or_assign(key, *v);
    } else {
      fail_type(key, *node, expected);
    }
  } else {
    resolved_.insert_or_assign(key, value);
  }
  return value;
}

void Section::finish() const {
  if (describe_ || !table_) return;
  std::vector<std::string> known(known_.begin(), known_.end());
  for (const auto& [key, node] : *table_) {
    if (known_.count(key.str())) continue;
    std::string hint = closest(key.str(), known);
    std::string list;
    for (const auto& spec : specs_) list += (list.empty() ? "" : ", ") + spec.key;
    throw ConfigError(fmt::format("{}: {}: unknown key; expected one of: {}{}", location(node, origin_),
                                  qualified(key.str()), list.empty() ? "(none)" : list,
                                  hint.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", hint)));
  }
}

}  // namespace fanout::config
