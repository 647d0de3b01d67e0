#include "core/result_file.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace fanout {
namespace {

// One value as found in the file, before it meets its declared type.
struct Scalar {
  enum class Kind { Int, Uint, Float, Bool, Text } kind = Kind::Int;
  std::int64_t i = 0;
  std::uint64_t u = 0;
  double f = 0;
  bool b = false;
  std::string s;
};

std::string shown(const Scalar& v) {
  switch (v.kind) {
    case Scalar::Kind::Int:
      return std::to_string(v.i);
    case Scalar::Kind::Uint:
      return std::to_string(v.u);
    case Scalar::Kind::Float:
      return fmt::format("{}", v.f);
    case Scalar::Kind::Bool:
      return v.b ? "true" : "false";
    case Scalar::Kind::Text:
      break;
  }
  std::string s = v.s;
  if (s.size() > 40) {
    std::size_t cut = 37;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
    s = s.substr(0, cut) + "...";
  }
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return "\"" + s + "\"";
}

template <class T>
bool parse_number(std::string_view token, T& out) {
  if (token.empty()) return false;
  // A leading + is taken (not +-5 or ++5).
  const char* begin = token.data() + (token.size() > 1 && token.front() == '+' && token[1] != '-' && token[1] != '+');
  auto [end, ec] = std::from_chars(begin, token.data() + token.size(), out);
  return ec == std::errc() && end == token.data() + token.size();
}

// A token of a name=value line: a bool, a whole number, a number, else text.
Scalar scalar_of_token(std::string_view token) {
  Scalar v;
  if (token == "true" || token == "false") {
    v.kind = Scalar::Kind::Bool;
    v.b = token == "true";
  } else if (parse_number(token, v.i)) {
    v.kind = Scalar::Kind::Int;
  } else if (parse_number(token, v.u)) {
    v.kind = Scalar::Kind::Uint;
  } else if (parse_number(token, v.f)) {
    v.kind = Scalar::Kind::Float;
  } else {
    v.kind = Scalar::Kind::Text;
    v.s = std::string(token);
  }
  return v;
}

std::optional<Scalar> scalar_of_json(const nlohmann::json& j) {
  Scalar v;
  if (j.is_boolean()) {
    v.kind = Scalar::Kind::Bool;
    v.b = j.get<bool>();
  } else if (j.is_number_integer() && !j.is_number_unsigned()) {
    v.kind = Scalar::Kind::Int;
    v.i = j.get<std::int64_t>();
  } else if (j.is_number_unsigned()) {
    v.kind = Scalar::Kind::Uint;
    v.u = j.get<std::uint64_t>();
  } else if (j.is_number_float()) {
    v.kind = Scalar::Kind::Float;
    v.f = j.get<double>();
  } else if (j.is_string()) {
    v.kind = Scalar::Kind::Text;
    v.s = j.get<std::string>();
  } else {
    return std::nullopt;
  }
  return v;
}

template <class T>
std::string whole_into(const Scalar& v, std::byte* out) {
  constexpr auto lo = std::numeric_limits<T>::min();
  constexpr auto hi = std::numeric_limits<T>::max();
  T value{};
  switch (v.kind) {
    case Scalar::Kind::Int:
      if (v.i < static_cast<std::int64_t>(lo) || (v.i > 0 && static_cast<std::uint64_t>(v.i) > hi))
        return fmt::format("{} is out of range ({} to {})", v.i, lo, hi);
      value = static_cast<T>(v.i);
      break;
    case Scalar::Kind::Uint:
      if (v.u > hi) return fmt::format("{} is out of range ({} to {})", v.u, lo, hi);
      value = static_cast<T>(v.u);
      break;
    case Scalar::Kind::Float:
      if (!std::isfinite(v.f) || v.f != std::floor(v.f)) return fmt::format("found {}, not a whole number", shown(v));
      // Compare in long double: hi as a double may round up past the type's range.
      if (static_cast<long double>(v.f) < static_cast<long double>(lo) ||
          static_cast<long double>(v.f) > static_cast<long double>(hi))
        return fmt::format("{} is out of range ({} to {})", shown(v), lo, hi);
      value = static_cast<T>(v.f);
      break;
    default:
      return fmt::format("found {}, not a whole number", shown(v));
  }
  std::memcpy(out, &value, sizeof value);
  return "";
}

// Writes one element of type `type` at out; "" or why it does not fit.
std::string element_into(const Scalar& v, ColumnType type, std::byte* out) {
  switch (type) {
    case ColumnType::U8:
      return whole_into<std::uint8_t>(v, out);
    case ColumnType::U32:
      return whole_into<std::uint32_t>(v, out);
    case ColumnType::I32:
      return whole_into<std::int32_t>(v, out);
    case ColumnType::I64:
      return whole_into<std::int64_t>(v, out);
    case ColumnType::U64:
      return whole_into<std::uint64_t>(v, out);
    case ColumnType::F64: {
      double d = 0;
      if (v.kind == Scalar::Kind::Int)
        d = static_cast<double>(v.i);
      else if (v.kind == Scalar::Kind::Uint)
        d = static_cast<double>(v.u);
      else if (v.kind == Scalar::Kind::Float)
        d = v.f;
      else if (v.kind == Scalar::Kind::Text && (v.s == "nan" || v.s == "NaN"))
        d = std::numeric_limits<double>::quiet_NaN();
      else if (v.kind == Scalar::Kind::Text && (v.s == "inf" || v.s == "Infinity"))
        d = HUGE_VAL;
      else if (v.kind == Scalar::Kind::Text && (v.s == "-inf" || v.s == "-Infinity"))
        d = -HUGE_VAL;
      else
        return fmt::format("found {}, not a number", shown(v));
      std::memcpy(out, &d, sizeof d);
      return "";
    }
    case ColumnType::Bool: {
      std::uint8_t b = 0;
      if (v.kind == Scalar::Kind::Bool)
        b = v.b;
      else if ((v.kind == Scalar::Kind::Int && (v.i == 0 || v.i == 1)))
        b = static_cast<std::uint8_t>(v.i);
      else
        return fmt::format("found {}, not true or false", shown(v));
      std::memcpy(out, &b, 1);
      return "";
    }
    case ColumnType::Text:
      break;
  }
  return "internal: text is not an element type";
}

// Declared results, with their place in the row and whether one was found.
class Results {
 public:
  Results(const std::vector<Column>& columns, Row& row, std::size_t first)
      : columns_(columns), row_(row), first_(first), found_(columns.size(), false) {}

  // The index of result `name`, or an error naming it.
  std::optional<std::size_t> find(std::string_view name, std::string& why) const {
    for (std::size_t c = 0; c < columns_.size(); ++c)
      if (columns_[c].name == name) {
        if (found_[c]) {
          why = fmt::format("result {} is given twice", columns_[c].name);
          return std::nullopt;
        }
        return c;
      }
    std::string shown_name(name.substr(0, 40));
    for (char& ch : shown_name)
      if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
    why = fmt::format("\"{}\" is not a declared result (declared: {})", shown_name, declared());
    return std::nullopt;
  }

  // Stores values (one, or an array's length) into result c.
  std::string store(std::size_t c, const std::vector<Scalar>& values, bool is_array) {
    const Column& column = columns_[c];
    found_[c] = true;
    if (column.type == ColumnType::Text) {
      if (is_array || values.size() != 1 || values[0].kind != Scalar::Kind::Text) {
        if (!is_array && values.size() == 1)
          return fmt::format("result {}: found {}, not a text", column.name, shown(values[0]));
        return fmt::format("result {}: found a list, not a text", column.name);
      }
      if (values[0].s.find('\0') != std::string::npos)
        return fmt::format("result {}: a text cannot hold a NUL character", column.name);
      if (values[0].s.size() > column.length)
        return fmt::format("result {}: a text of {} bytes is too long for text[{}]", column.name, values[0].s.size(),
                           column.length);
      row_.set_text(first_ + c, values[0].s);
      return "";
    }
    if (column.length > 1 && !is_array)
      return fmt::format("result {}: found one value, expected a list of {} ({})", column.name, column.length,
                         column_type_text(column));
    if (column.length == 1 && is_array)
      return fmt::format("result {}: found a list, expected one {}", column.name, column_type_name(column.type));
    if (values.size() != column.length)
      return fmt::format("result {}: found {} values, expected {} ({})", column.name, values.size(), column.length,
                         column_type_text(column));
    const std::size_t size = column_size(column.type);
    std::vector<std::byte> bytes(size * values.size());
    for (std::size_t k = 0; k < values.size(); ++k) {
      std::string why = element_into(values[k], column.type, bytes.data() + k * size);
      if (!why.empty())
        return column.length > 1 ? fmt::format("result {}[{}]: {}", column.name, k, why)
                                 : fmt::format("result {} ({}): {}", column.name, column_type_name(column.type), why);
    }
    set(first_ + c, column.type, bytes);
    return "";
  }

  // The declared results nobody gave, or "".
  std::string missing() const {
    std::string names;
    for (std::size_t c = 0; c < columns_.size(); ++c)
      if (!found_[c]) names += (names.empty() ? "" : ", ") + columns_[c].name;
    if (names.empty()) return "";
    return fmt::format("missing result{} {}", names.find(',') == std::string::npos ? "" : "s", names);
  }

  std::string declared() const {
    std::string names;
    for (const auto& c : columns_) names += (names.empty() ? "" : ", ") + c.name;
    return names;
  }

 private:
  void set(std::size_t column, ColumnType type, const std::vector<std::byte>& bytes) {
    const std::size_t n = bytes.size() / column_size(type);
    auto typed = [&]<class T>(T*) {
      std::vector<T> values(n);
      std::memcpy(values.data(), bytes.data(), bytes.size());
      if (n == 1)
        row_.set<T>(column, values[0]);
      else
        row_.set<T>(column, std::span<const T>(values));
    };
    switch (type) {
      case ColumnType::U8:
        typed(static_cast<std::uint8_t*>(nullptr));
        break;
      case ColumnType::U32:
        typed(static_cast<std::uint32_t*>(nullptr));
        break;
      case ColumnType::I32:
        typed(static_cast<std::int32_t*>(nullptr));
        break;
      case ColumnType::I64:
        typed(static_cast<std::int64_t*>(nullptr));
        break;
      case ColumnType::U64:
        typed(static_cast<std::uint64_t*>(nullptr));
        break;
      case ColumnType::F64:
        typed(static_cast<double*>(nullptr));
        break;
      case ColumnType::Bool: {
        if (n == 1) {
          row_.set<bool>(column, bytes[0] != std::byte{0});
        } else {
          std::unique_ptr<bool[]> values(new bool[n]);
          for (std::size_t k = 0; k < n; ++k) values[k] = bytes[k] != std::byte{0};
          row_.set<bool>(column, std::span<const bool>(values.get(), n));
        }
        break;
      }
      case ColumnType::Text:
        break;
    }
  }

  const std::vector<Column>& columns_;
  Row& row_;
  std::size_t first_;
  std::vector<bool> found_;
};

std::string_view trim(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

std::string parse_json(std::string_view text, Results& results) {
  // A name given twice is an error, as in the name=value form (nlohmann would keep the last).
  std::string twice;
  std::set<std::string> names;
  nlohmann::json::parser_callback_t note_names = [&](int depth, nlohmann::json::parse_event_t event,
                                                     nlohmann::json& parsed) {
    if (depth == 1 && event == nlohmann::json::parse_event_t::key && parsed.is_string() &&
        !names.insert(parsed.get<std::string>()).second && twice.empty())
      twice = parsed.get<std::string>();
    return true;
  };
  nlohmann::json doc = nlohmann::json::parse(text.begin(), text.end(), note_names, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return "the result file starts with { but is not valid JSON (nor name=value lines)";
  if (!twice.empty()) {
    std::string why;
    if (results.find(twice, why)) return fmt::format("result {} is given twice", twice);
    return why;
  }
  if (!doc.is_object()) return "the result file holds JSON that is not an object {\"name\": value, ...}";
  std::string first_error;
  for (const auto& [name, value] : doc.items()) {
    std::string why;
    auto c = results.find(name, why);
    if (!c) {
      if (first_error.empty()) first_error = why;
      continue;
    }
    std::vector<Scalar> values;
    bool is_array = value.is_array();
    for (const auto& item : is_array ? value : nlohmann::json::array({value})) {
      auto v = scalar_of_json(item);
      if (!v) {
        why = fmt::format("result {}: found {}, not a value", name,
                          item.is_null()     ? "null"
                          : item.is_object() ? "an object"
                                             : "a nested list");
        break;
      }
      values.push_back(std::move(*v));
    }
    if (why.empty()) why = results.store(*c, values, is_array);
    if (!why.empty() && first_error.empty()) first_error = why;
  }
  return first_error;
}

std::string parse_lines(std::string_view text, const std::vector<Column>& columns, Results& results) {
  std::string first_error;
  std::size_t line_number = 0;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++line_number;
    std::string_view content = trim(line);
    if (content.empty() || content.front() == '#') continue;
    std::size_t eq = content.find('=');
    if (eq == std::string_view::npos) {
      if (first_error.empty())
        first_error =
            fmt::format("line {} of the result file is not name=value (nor is the file one JSON object)", line_number);
      continue;
    }
    std::string why;
    auto c = results.find(trim(content.substr(0, eq)), why);
    std::string_view value = trim(content.substr(eq + 1));
    if (c) {
      const Column& column = columns[*c];
      std::vector<Scalar> values;
      bool is_array = false;
      if (column.type == ColumnType::Text) {
        Scalar s;
        s.kind = Scalar::Kind::Text;
        s.s = std::string(value);
        values.push_back(std::move(s));
      } else {
        // One value, or a list: "1, 2, 3", "1 2 3" or "[1, 2, 3]".
        if (!value.empty() && value.front() == '[' && value.back() == ']') {
          value = value.substr(1, value.size() - 2);
          is_array = true;
        }
        std::size_t i = 0;
        while (i < value.size()) {
          while (i < value.size() && (value[i] == ' ' || value[i] == ',' || value[i] == '\t')) ++i;
          std::size_t j = i;
          while (j < value.size() && value[j] != ' ' && value[j] != ',' && value[j] != '\t') ++j;
          if (j > i) values.push_back(scalar_of_token(value.substr(i, j - i)));
          i = j;
        }
        is_array = is_array || values.size() != 1;
        if (values.empty()) {
          why = fmt::format("result {}: no value after =", column.name);
          values.clear();
        }
      }
      if (why.empty()) why = results.store(*c, values, is_array);
    }
    if (!why.empty() && first_error.empty()) first_error = why;
  }
  return first_error;
}

}  // namespace

std::optional<Column> parse_result_type(std::string_view text, std::string& why) {
  static const std::pair<const char*, ColumnType> TYPES[] = {{"bool", ColumnType::Bool},   {"uint8", ColumnType::U8},
                                                             {"int32", ColumnType::I32},   {"int64", ColumnType::I64},
                                                             {"uint32", ColumnType::U32},  {"uint64", ColumnType::U64},
                                                             {"float64", ColumnType::F64}, {"text", ColumnType::Text}};
  std::string_view base = text.substr(0, text.find('['));
  std::optional<ColumnType> type;
  for (const auto& [name, t] : TYPES)
    if (base == name) type = t;
  const char* expected =
      "one of bool, uint8, int32, int64, uint32, uint64, float64, text[N], or an array T[N] of one of them";
  if (!type) {
    why = fmt::format("expected {}", expected);
    return std::nullopt;
  }
  Column column;
  column.type = *type;
  column.length = 1;
  if (base.size() < text.size()) {
    std::string_view size = text.substr(base.size());
    std::uint64_t n = 0;
    if (size.size() < 3 || size.back() != ']' || !parse_number(size.substr(1, size.size() - 2), n) || n < 1 ||
        n > MAX_RESULT_LENGTH) {
      why = fmt::format("expected {} with N from 1 to {}", expected, MAX_RESULT_LENGTH);
      return std::nullopt;
    }
    column.length = n;
  } else if (*type == ColumnType::Text) {
    why = "expected text[N], the most bytes a value may take (N from 1 to 65536)";
    return std::nullopt;
  }
  return column;
}

std::string parse_result_file(std::string_view text, const std::vector<Column>& columns, Row& row, std::size_t first) {
  Results results(columns, row, first);
  if (text.size() > MAX_RESULT_FILE_BYTES)
    return fmt::format("the result file is larger than {} MiB", MAX_RESULT_FILE_BYTES >> 20);
  if (text.find('\0') != std::string_view::npos) return "the result file holds a NUL byte: not text";
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a UTF-8 byte order mark
  std::string_view content = trim(text);
  if (content.empty()) return fmt::format("no results: the result file is empty (expected {})", results.declared());
  std::string why = content.front() == '{' ? parse_json(content, results) : parse_lines(text, columns, results);
  if (!why.empty()) return why;
  return results.missing();
}

}  // namespace fanout
