#pragma once
// [params] and [sweep] -> a validated Sweep (core/sweep.hpp). Errors name
// file:line and the key (params.x, sweep.mode) and are ConfigErrors (exit 2).
#include <memory>
#include <string>

#include <toml++/toml.h>

#include "core/inputs.hpp"
#include "core/sweep.hpp"

namespace fanout::config {

// Reads root's [params] and [sweep]. Returns null when the config has
// neither [params] nor [sweep]. Puts the resolved tables (the axes as
// written; [sweep] with its defaults and the file's absolute path) into
// `resolved` as "params" and "sweep"; the CSV of sweep.file, with its
// digest, into `inputs`.
std::shared_ptr<const Sweep> read_sweep(const toml::table& root, const std::string& origin, toml::table& resolved,
                                        std::vector<InputFile>& inputs);

// The keys of [params] in the order they are written in the config file
// (toml++ keeps tables sorted by key); keys without a position last.
std::vector<std::string> written_order(const toml::table& params);

// A CSV table: a header row of names, then rows of as many fields (RFC 4180
// quoting; CR LF or LF). Each column's type is the narrowest that holds all
// its fields: int64, float64, bool (true/false), else text. Throws
// ConfigError "WHERE: sweep.file: FILE:LINE: ..." for a table it cannot take.
struct CsvColumn {
  std::string name;
  ParamType type = ParamType::Text;
  std::vector<ParamValue> values;
};
std::vector<CsvColumn> parse_csv(const std::string& text, const std::string& path, const std::string& where);

}  // namespace fanout::config
