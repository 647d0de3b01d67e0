#include "config/results.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/result_file.hpp"

namespace fanout::config {

std::vector<Column> read_result_columns(Section& job, const std::vector<Column>& own, std::string_view how) {
  const toml::table* table = job.optional_table(
      "results", fmt::format("the results your code reports, name = \"type\" (bool, uint8, int32, int64, uint32, "
                             "uint64, float64, text[N], or arrays T[N]); {}",
                             how));
  std::vector<Column> columns;
  if (!table) return columns;
  const std::string origin = job.location_of("results");
  if (table->empty())
    job.fail("results", "expected at least one result, name = \"type\" (for example energy = \"float64\")");
  // By name, as toml++ keeps them (not as written): every rank, reading the
  // resolved config, must lay out the row the same way.
  for (const auto& entry : *table) {
    const std::string name(entry.first.str());
    const toml::node& node = entry.second;
    const std::string key = "job.results." + name;
    auto fail = [&](const std::string& message) {
      throw ConfigError(fmt::format("{}: {}: {}", location(node, origin), key, message));
    };
    if (!is_identifier(name)) fail("a result's name must be an identifier (a letter or _, then letters, digits or _)");
    for (const auto& c : own)
      if (c.name == name)
        fail(fmt::format("\"{}\" is one of the job's own result columns; name your result otherwise", name));
    auto type = node.value_exact<std::string>();
    std::string why;
    std::optional<Column> column;
    if (type) column = parse_result_type(*type, why);
    if (!type) why = "expected a type such as \"float64\", \"int64\", \"bool\", \"text[32]\" or \"float64[16]\"";
    if (!column) fail(fmt::format("{}, found {}", why, describe_found(node)));
    column->name = name;
    column->description = fmt::format("declared in [job.results] as {}", *type);
    columns.push_back(std::move(*column));
  }
  return columns;
}

}  // namespace fanout::config
