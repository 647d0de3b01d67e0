#include "config/sweep.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "config/params.hpp"
#include "core/error.hpp"

namespace fanout::config {
namespace {

constexpr std::size_t MAX_CSV_BYTES = std::size_t{1} << 30;

[[noreturn]] void fail_at(const toml::node& node, const std::string& origin, const std::string& key,
                          const std::string& message) {
  throw ConfigError(fmt::format("{}: {}: {}", location(node, origin), key, message));
}

bool is_reserved(std::string_view name) { return name == "repeat"; }

void check_name(const toml::node& node, const std::string& origin, const std::string& name) {
  if (!is_identifier(name))
    fail_at(node, origin, fmt::format("params.{}", name),
            "a parameter's name must be an identifier (a letter or _, then letters, digits or _), as it becomes "
            "{name} in a command and FANOUT_PARAM_<name> in its environment");
  if (is_reserved(name))
    fail_at(node, origin, "params.repeat",
            "\"repeat\" is the name of the copy number that [sweep] repeat adds; name the parameter otherwise");
}

// A list axis: one type per list; whole numbers among floats become floats.
SweepParam list_param(const toml::array& array, const std::string& origin, const std::string& key) {
  SweepParam p;
  p.source = ParamSource::List;
  if (array.empty()) fail_at(array, origin, key, "expected a non-empty list of values, found []");
  bool any_float = false, any_int = false, any_bool = false, any_text = false;
  for (const auto& item : array) {
    switch (item.type()) {
      case toml::node_type::floating_point:
        any_float = true;
        break;
      case toml::node_type::integer:
        any_int = true;
        break;
      case toml::node_type::boolean:
        any_bool = true;
        break;
      case toml::node_type::string:
        any_text = true;
        break;
      default:
        fail_at(item, origin, key,
                fmt::format("expected numbers, whole numbers, strings or booleans in the list, found {}",
                            describe_found(item)));
    }
  }
  int kinds = (any_float || any_int ? 1 : 0) + (any_bool ? 1 : 0) + (any_text ? 1 : 0);
  if (kinds > 1)
    fail_at(array, origin, key,
            fmt::format("expected values of one type (numbers, strings or booleans), found a mix: {}",
                        describe_value(array)));
  p.type = any_text ? ParamType::Text : any_bool ? ParamType::Bool : any_float ? ParamType::Float : ParamType::Int;
  for (std::size_t i = 0; i < array.size(); ++i) {
    const toml::node& item = *array.get(i);
    std::string item_key = fmt::format("{}[{}]", key, i);
    switch (p.type) {
      case ParamType::Text: {
        const std::string& s = item.as_string()->get();
        if (s.find('\0') != std::string::npos)
          fail_at(item, origin, item_key, "a text parameter cannot hold a NUL character");
        p.text_bytes = std::max(p.text_bytes, s.size());
        p.values.emplace_back(s);
        break;
      }
      case ParamType::Bool:
        p.values.emplace_back(item.as_boolean()->get());
        break;
      case ParamType::Int:
        p.values.emplace_back(item.as_integer()->get());
        break;
      case ParamType::Float: {
        double v = item.is_integer() ? static_cast<double>(item.as_integer()->get()) : item.as_floating_point()->get();
        if (!std::isfinite(v)) fail_at(item, origin, item_key, fmt::format("expected a finite number, found {}", v));
        p.values.emplace_back(v);
        break;
      }
    }
  }
  p.definition = describe_value(array);
  return p;
}

const toml::node* get(const toml::table& t, const char* key) { return t.get(key); }

std::int64_t whole_key(const toml::table& t, const char* name, const std::string& origin, const std::string& key,
                       std::optional<std::int64_t> def) {
  const toml::node* node = get(t, name);
  if (!node) {
    if (def) return *def;
    fail_at(t, origin, key,
            fmt::format("missing {}; expected {{ start = A, stop = B, step = S }} (whole numbers)", name));
  }
  auto v = node->value_exact<std::int64_t>();
  if (!v)
    fail_at(*node, origin, key + "." + name, fmt::format("expected a whole number, found {}", describe_found(*node)));
  return *v;
}

double number_key(const toml::table& t, const char* name, const std::string& origin, const std::string& key) {
  const toml::node* node = get(t, name);
  if (!node) fail_at(t, origin, key, fmt::format("missing {}; expected {{ from = A, to = B, num = N }}", name));
  std::optional<double> v;
  if (node->is_floating_point()) v = node->as_floating_point()->get();
  if (node->is_integer()) v = static_cast<double>(node->as_integer()->get());
  if (!v || !std::isfinite(*v))
    fail_at(*node, origin, key + "." + name, fmt::format("expected a finite number, found {}", describe_found(*node)));
  return *v;
}

void only_keys(const toml::table& t, const std::vector<std::string>& allowed, const std::string& origin,
               const std::string& key) {
  for (const auto& [k, node] : t) {
    if (std::find(allowed.begin(), allowed.end(), k.str()) != allowed.end()) continue;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    fail_at(node, origin, fmt::format("{}.{}", key, k.str()), fmt::format("unknown key; expected one of: {}", list));
  }
}

// { start, stop, step }: whole numbers from start, stop excluded.
SweepParam range_param(const toml::table& t, const std::string& origin, const std::string& key) {
  only_keys(t, {"start", "stop", "step"}, origin, key);
  SweepParam p;
  p.type = ParamType::Int;
  p.source = ParamSource::Range;
  p.start = whole_key(t, "start", origin, key, std::nullopt);
  p.stop = whole_key(t, "stop", origin, key, std::nullopt);
  p.step = whole_key(t, "step", origin, key, 1);
  const toml::node& step_node = get(t, "step") ? *get(t, "step") : static_cast<const toml::node&>(t);
  if (p.step == 0) fail_at(step_node, origin, key + ".step", "expected a whole number other than 0, found 0");
  if (p.start == p.stop)
    fail_at(t, origin, key, fmt::format("the range is empty: start = stop = {} (stop is excluded)", p.start));
  if ((p.stop > p.start) != (p.step > 0))
    fail_at(step_node, origin, key + ".step",
            fmt::format("step {}{} goes away from stop: from {} the values would never reach {}; use step {}", p.step,
                        get(t, "step") ? "" : " (the default)", p.start, p.stop, -p.step));
  // Values: ceil(|stop - start| / |step|), in unsigned 64 bits (the span may exceed int64).
  const bool up = p.stop > p.start;
  const std::uint64_t span = up ? static_cast<std::uint64_t>(p.stop) - static_cast<std::uint64_t>(p.start)
                                : static_cast<std::uint64_t>(p.start) - static_cast<std::uint64_t>(p.stop);
  const std::uint64_t stride = p.step > 0 ? static_cast<std::uint64_t>(p.step) : 0 - static_cast<std::uint64_t>(p.step);
  const std::uint64_t count = span / stride + (span % stride != 0 ? 1 : 0);
  p.values.clear();
  p.size = count;
  p.definition = fmt::format("{{ start = {}, stop = {}, step = {} }}", p.start, p.stop, p.step);
  return p;
}

// { from, to, num, scale }: num values evenly spaced (or log-spaced), both ends included.
SweepParam spaced_param(const toml::table& t, const std::string& origin, const std::string& key) {
  only_keys(t, {"from", "to", "num", "scale"}, origin, key);
  SweepParam p;
  p.type = ParamType::Float;
  p.from = number_key(t, "from", origin, key);
  p.to = number_key(t, "to", origin, key);
  const toml::node* num = get(t, "num");
  if (!num)
    fail_at(t, origin, key, "missing num; expected { from = A, to = B, num = N } (N values, both ends included)");
  auto n = num->value_exact<std::int64_t>();
  if (!n)
    fail_at(*num, origin, key + ".num", fmt::format("expected a whole number >= 1, found {}", describe_found(*num)));
  if (*n < 1) fail_at(*num, origin, key + ".num", fmt::format("expected a whole number >= 1, found {}", *n));
  p.size = static_cast<std::uint64_t>(*n);
  std::string scale = "linear";
  if (const toml::node* s = get(t, "scale")) {
    auto v = s->value_exact<std::string>();
    if (!v || (*v != "linear" && *v != "log"))
      fail_at(*s, origin, key + ".scale",
              fmt::format("expected one of \"linear\", \"log\", found {}", describe_found(*s)));
    scale = *v;
  }
  p.source = scale == "log" ? ParamSource::Log : ParamSource::Linear;
  if (p.source == ParamSource::Log && (p.from <= 0 || p.to <= 0))
    fail_at(t, origin, key,
            fmt::format("a log scale needs from and to above 0, found from = {}, to = {}", p.from, p.to));
  p.definition = fmt::format("{{ from = {}, to = {}, num = {}, scale = \"{}\" }}", p.from, p.to, *n, scale);
  return p;
}

SweepParam read_axis(const toml::node& node, const std::string& origin, const std::string& name) {
  const std::string key = "params." + name;
  check_name(node, origin, name);
  SweepParam p;
  if (const toml::array* array = node.as_array()) {
    p = list_param(*array, origin, key);
    p.size = p.values.size();
  } else if (const toml::table* table = node.as_table()) {
    if (table->contains("start") || table->contains("stop") || table->contains("step"))
      p = range_param(*table, origin, key);
    else if (table->contains("from") || table->contains("to") || table->contains("num"))
      p = spaced_param(*table, origin, key);
    else
      fail_at(node, origin, key,
              fmt::format("expected {{ start, stop, step }} (whole numbers) or {{ from, to, num }} (evenly spaced), "
                          "found {}",
                          describe_value(node)));
  } else {
    fail_at(node, origin, key,
            fmt::format("expected a list [a, b, ...], {{ start, stop, step }} or {{ from, to, num }}, found {}",
                        describe_found(node)));
  }
  p.name = name;
  return p;
}

// Parsing a CSV field from text: the narrowest type that holds it.
// A leading + is taken (not +-5 or ++5).
const char* number_start(std::string_view s) {
  return s.data() + (s.size() > 1 && s.front() == '+' && s[1] != '-' && s[1] != '+' ? 1 : 0);
}

std::optional<std::int64_t> as_int(std::string_view s) {
  std::int64_t v = 0;
  if (s.empty()) return std::nullopt;
  const char* b = number_start(s);
  auto [end, ec] = std::from_chars(b, s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> as_float(std::string_view s) {
  double v = 0;
  if (s.empty()) return std::nullopt;
  const char* b = number_start(s);
  auto [end, ec] = std::from_chars(b, s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

std::vector<std::string> written_order(const toml::table& params) {
  std::vector<std::pair<std::pair<std::uint32_t, std::uint32_t>, std::string>> keyed;
  for (const auto& [key, node] : params) {
    const auto& begin = key.source().begin;
    // Keys added by --set have no position: after the file's, by name.
    std::uint32_t line = begin.line ? begin.line : std::numeric_limits<std::uint32_t>::max();
    keyed.push_back({{line, begin.column}, std::string(key.str())});
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::string> names;
  for (auto& k : keyed) names.push_back(std::move(k.second));
  return names;
}

std::vector<CsvColumn> parse_csv(const std::string& text, const std::string& path, const std::string& where) {
  auto fail = [&](std::size_t line, const std::string& message) -> void {
    throw ConfigError(fmt::format("{}: sweep.file: {}:{}: {}", where, path, line, message));
  };
  // Records of fields, each with the line it starts on.
  std::vector<std::vector<std::string>> records;
  std::vector<std::vector<bool>> quoted;  // by record and field: it was in quotes (so it is text)
  std::vector<std::size_t> lines;
  std::size_t line = 1;
  std::size_t i = 0;
  if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;  // a UTF-8 byte order mark
  while (i < text.size()) {
    std::vector<std::string> fields;
    std::vector<bool> field_quoted;
    std::size_t start_line = line;
    std::string field;
    bool quoted_field = false;
    for (;;) {
      if (i < text.size() && text[i] == '"' && field.find_first_not_of(" \t") == std::string::npos && !quoted_field) {
        field.clear();
        quoted_field = true;
        ++i;
        for (;;) {
          if (i >= text.size()) fail(start_line, "a quoted field is not closed (a \" is missing)");
          char c = text[i++];
          if (c == '"') {
            if (i < text.size() && text[i] == '"') {
              field += '"';
              ++i;
              continue;
            }
            break;
          }
          if (c == '\n') ++line;
          field += c;
        }
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
        if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
          fail(line, "text after a quoted field's closing \" (a field is either quoted whole or not at all)");
        continue;
      }
      if (i >= text.size() || text[i] == ',' || text[i] == '\n' || text[i] == '\r') {
        if (!quoted_field) {  // spaces around an unquoted field are not part of it
          field.erase(0, field.find_first_not_of(" \t"));
          field.erase(field.find_last_not_of(" \t") + 1);
        }
        field_quoted.push_back(quoted_field);
        fields.push_back(std::move(field));
        field.clear();
        quoted_field = false;
        if (i < text.size() && text[i] == ',') {
          ++i;
          continue;
        }
        if (i < text.size() && text[i] == '\r') ++i;
        if (i < text.size() && text[i] == '\n') ++i;
        ++line;
        break;
      }
      if (text[i] == '"') fail(line, "a \" inside an unquoted field (quote the whole field and double the \")");
      if (text[i] == '\0') fail(line, "a NUL byte: not a text file");
      field += text[i++];
    }
    bool blank = fields.size() == 1 && fields[0].empty();
    if (!blank) {
      quoted.push_back(std::move(field_quoted));
      records.push_back(std::move(fields));
      lines.push_back(start_line);
    }
  }
  if (records.empty()) fail(1, "empty; expected a header row naming the columns, then one row per task");
  const auto& header = records.front();
  std::vector<CsvColumn> columns(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) {
    std::string name = header[c];
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
    name.erase(0, name.find_first_not_of(" \t"));
    if (!is_identifier(name))
      fail(lines[0], fmt::format("the first row must name the columns (identifiers such as x or n_steps), found "
                                 "\"{}\" in column {}; is the header row missing?",
                                 header[c], c + 1));
    if (name == "repeat") fail(lines[0], "column \"repeat\": the name of the copy number that [sweep] repeat adds");
    for (std::size_t d = 0; d < c; ++d)
      if (columns[d].name == name) fail(lines[0], fmt::format("column \"{}\" appears twice in the header", name));
    columns[c].name = name;
  }
  if (records.size() == 1) fail(lines[0], "a header but no rows; expected one row per task after the header");
  for (std::size_t r = 1; r < records.size(); ++r)
    if (records[r].size() != header.size())
      fail(lines[r], fmt::format("{} field{}, but the header has {} (every row needs one field per column)",
                                 records[r].size(), records[r].size() == 1 ? "" : "s", header.size()));
  for (std::size_t c = 0; c < columns.size(); ++c) {
    bool ints = true, floats = true, bools = true;
    for (std::size_t r = 1; r < records.size(); ++r) {
      const std::string& f = records[r][c];
      if (quoted[r][c]) ints = floats = bools = false;  // "007" keeps its zeros
      ints = ints && as_int(f).has_value();
      floats = floats && as_float(f).has_value();
      bools = bools && (f == "true" || f == "false");
    }
    CsvColumn& col = columns[c];
    col.type = ints ? ParamType::Int : floats ? ParamType::Float : bools ? ParamType::Bool : ParamType::Text;
    for (std::size_t r = 1; r < records.size(); ++r) {
      const std::string& f = records[r][c];
      switch (col.type) {
        case ParamType::Int:
          col.values.emplace_back(*as_int(f));
          break;
        case ParamType::Float:
          col.values.emplace_back(*as_float(f));
          break;
        case ParamType::Bool:
          col.values.emplace_back(f == "true");
          break;
        case ParamType::Text:
          col.values.emplace_back(f);
          break;
      }
    }
  }
  return columns;
}

std::shared_ptr<const Sweep> read_sweep(const toml::table& root, const std::string& origin, toml::table& resolved,
                                        std::vector<InputFile>& inputs) {
  const toml::node* params_node = root.get("params");
  const toml::node* sweep_node = root.get("sweep");
  if (!params_node && !sweep_node) return nullptr;

  Section section(sweep_node ? sweep_node->as_table() : nullptr, "sweep", origin);
  std::string mode = section.choice("mode", "product", {"product", "zip"},
                                    "product: one task per combination of the axes; zip: the axes go together "
                                    "(all of one length), task i takes the i-th value of each");
  std::uint64_t repeat = section.whole("repeat", 1, 1, Sweep::MAX_TASKS,
                                       "each combination this many times; the parameter repeat (0..repeat-1) tells "
                                       "the copies apart");
  // toml++ keeps a table's keys sorted, not as written: the order of the
  // axes is kept in axes (load_config fills it in from the file's positions
  // before any --set), so every rank, and a resume, reads the same order.
  auto order = section.optional_text_list("axes", "the [params] axes, outermost first (default: as written)");
  auto file = section.optional_path("file",
                                    "a CSV table, a header row naming the columns, then one task per row (one "
                                    "parameter per column), crossed with the [params] axes");
  section.finish();

  auto sweep = std::make_shared<Sweep>();
  toml::array resolved_axes;
  const toml::table* params = params_node ? params_node->as_table() : nullptr;
  std::vector<std::string> names;  // every parameter so far, for clashes
  // Which key each axis came from, for zip's message.
  std::vector<std::pair<std::string, const toml::node*>> axis_keys;
  if (file) {
    std::string why;
    auto text = read_small_file(*file, MAX_CSV_BYTES, why);
    if (!text) section.fail("file", fmt::format("cannot read {}: {}", *file, why));
    auto columns = parse_csv(*text, *file, section.location_of("file"));
    section.add_input("file", *file, *text);
    std::size_t axis = sweep->add_axis(columns.front().values.size());
    axis_keys.emplace_back("sweep.file", nullptr);
    for (auto& c : columns) {
      SweepParam p;
      p.name = c.name;
      p.type = c.type;
      p.source = ParamSource::File;
      p.axis = axis;
      p.definition = *file;
      if (c.type == ParamType::Text)
        for (const auto& v : c.values) p.text_bytes = std::max(p.text_bytes, std::get<std::string>(v).size());
      p.values = std::move(c.values);
      names.push_back(p.name);
      sweep->add_param(std::move(p));
    }
    sweep->file = *file;
  }
  if (params) {
    std::vector<std::string> ordered = order.value_or(std::vector<std::string>{});
    for (std::size_t i = 0; i < ordered.size(); ++i)
      if (std::find(ordered.begin(), ordered.begin() + static_cast<std::ptrdiff_t>(i), ordered[i]) !=
          ordered.begin() + static_cast<std::ptrdiff_t>(i))
        section.fail("axes", fmt::format("lists \"{}\" twice", ordered[i]));
    for (const auto& name : ordered)
      if (!params->contains(name))
        section.fail("axes", fmt::format("lists \"{}\", which is not a key of [params]", name));
    for (const auto& name : written_order(*params))
      if (std::find(ordered.begin(), ordered.end(), name) == ordered.end()) ordered.push_back(name);
    toml::array axes;
    for (const auto& name : ordered) axes.push_back(name);
    resolved_axes = std::move(axes);
    for (const auto& name : ordered) {
      const toml::node& node = *params->get(name);
      SweepParam p = read_axis(node, origin, name);
      if (std::find(names.begin(), names.end(), name) != names.end())
        fail_at(node, origin, "params." + name,
                fmt::format("\"{}\" is also a column of the sweep's file {}; a parameter has one source", name,
                            file ? *file : ""));
      names.push_back(name);
      p.axis = sweep->add_axis(p.size);
      axis_keys.emplace_back("params." + name, &node);
      sweep->add_param(std::move(p));
    }
  } else if (params_node) {
    fail_at(*params_node, origin, "params",
            fmt::format("expected a table [params], found {}", describe_found(*params_node)));
  }
  if (sweep->axes().empty()) {
    const toml::node& where = params_node ? *params_node : *sweep_node;
    fail_at(where, origin, params_node ? "params" : "sweep",
            "no axes: give [params] axes (x = [1, 2, 3]) or a [sweep] file of parameters");
  }
  const SweepMode sweep_mode = mode == "zip" ? SweepMode::Zip : SweepMode::Product;
  if (sweep_mode == SweepMode::Zip) {
    const auto& sizes = sweep->axes();
    for (std::size_t a = 1; a < sizes.size(); ++a) {
      if (sizes[a] == sizes[0]) continue;
      const auto& [key, node] = axis_keys[a];
      std::string message = fmt::format(
          "mode \"zip\" takes the axes together, so they must be of one length: {} has {} value{}, {} has {}",
          axis_keys[0].first, sizes[0], sizes[0] == 1 ? "" : "s", key, sizes[a]);
      fail_at(*node, origin, key, message);
    }
  }
  if (!sweep->seal(sweep_mode, repeat)) {
    std::string sizes;
    for (std::size_t a = 0; a < axis_keys.size(); ++a)
      sizes += fmt::format("{}{} ({})", a ? " x " : "", axis_keys[a].first, sweep->axes()[a]);
    if (repeat > 1) sizes += fmt::format(" x repeat ({})", repeat);
    const toml::node& where = params_node ? *params_node : *sweep_node;
    fail_at(where, origin, params_node ? "params" : "sweep",
            fmt::format("the sweep has more than {} tasks ({}); fanout runs at most {}", MAX_TASKS_TEXT, sizes,
                        MAX_TASKS_TEXT));
  }
  if (params) resolved.insert_or_assign("params", *params);
  toml::table sweep_table = section.resolved();
  if (params) sweep_table.insert_or_assign("axes", resolved_axes);
  resolved.insert_or_assign("sweep", std::move(sweep_table));
  inputs.insert(inputs.end(), section.inputs().begin(), section.inputs().end());
  return sweep;
}

}  // namespace fanout::config
