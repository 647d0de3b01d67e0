#include "io/file_kind.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/error.hpp"
#include "io/journal.hpp"

namespace fanout::io {
namespace {

constexpr std::array<char, 8> HDF5_SIGNATURE = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
// Larger files are not parsed as TOML (the config loader's own limit).
constexpr std::uintmax_t MAX_CONFIG_BYTES = 16 << 20;

bool has_hdf5_signature(std::ifstream& in, std::uintmax_t size) {
  // At the start, or after a user block of 512, 1024, 2048, ... bytes.
  for (std::uintmax_t at = 0; at + HDF5_SIGNATURE.size() <= size; at = at == 0 ? 512 : 2 * at) {
    std::array<char, 8> bytes{};
    in.seekg(static_cast<std::streamoff>(at));
    if (!in.read(bytes.data(), bytes.size())) return false;
    if (bytes == HDF5_SIGNATURE) return true;
  }
  return false;
}

bool is_toml(const std::string& text) {
  try {
    return !toml::parse(text).empty();
  } catch (const toml::parse_error&) {
    return false;
  }
}

}  // namespace

FileKind file_kind(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return FileKind::Unreadable;
  std::ifstream in(path, std::ios::binary);
  if (!in) return FileKind::Unreadable;
  const auto size = static_cast<std::uintmax_t>(st.st_size);
  if (has_hdf5_signature(in, size)) return FileKind::Hdf5;
  in.clear();
  in.seekg(0);
  std::string head(static_cast<std::size_t>(std::min<std::uintmax_t>(size, 16)), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  if (is_journal_start(head)) return FileKind::Journal;
  if (size > MAX_CONFIG_BYTES || std::memchr(head.data(), '\0', head.size())) return FileKind::Other;
  std::string text(static_cast<std::size_t>(size), '\0');
  in.clear();
  in.seekg(0);
  if (!in.read(text.data(), static_cast<std::streamsize>(text.size()))) return FileKind::Other;
  if (is_toml(text)) return FileKind::Config;
  return path.ends_with(".toml") ? FileKind::Config : FileKind::Other;
}

void reject_if_not_config(const std::string& path) {
  switch (file_kind(path)) {
    case FileKind::Hdf5:
      throw ConfigError(
          fmt::format("{}: expected a config (TOML), found an HDF5 file (a run file, as fanout run "
                      "writes); to summarise it: fanout report {}; to continue it if it was "
                      "interrupted: fanout resume {}",
                      path, path, path));
    case FileKind::Journal:
      throw ConfigError(
          fmt::format("{}: expected a config (TOML), found the checkpoint journal of a run; to see how "
                      "far it got: fanout status {}; to continue it: fanout resume {}",
                      path, path, path));
    default:
      return;
  }
}

void reject_if_not_run_file(const std::string& path, bool journal_ok) {
  switch (file_kind(path)) {
    case FileKind::Config:
      throw ConfigError(
          fmt::format("{}: expected a run file (HDF5, as fanout run writes), found a config (TOML); to "
                      "run it: fanout run {} (add --resume to continue its interrupted run)",
                      path, path));
    case FileKind::Journal:
      if (journal_ok) return;
      throw ConfigError(
          fmt::format("{}: expected a run file (HDF5), found the checkpoint journal of a run; to see "
                      "how far it got: fanout status {}; to continue it: fanout resume {}",
                      path, path, path));
    default:
      return;
  }
}

}  // namespace fanout::io
