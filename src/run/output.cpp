#include "run/output.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"
#include "io/journal.hpp"

namespace fanout::run {
namespace fs = std::filesystem;

namespace {

// Where output files go by default (output.path = "results/<kind>.h5", as
// the configs in configs/ set it too): created when missing. Any other
// directory must exist.
constexpr const char* DEFAULT_OUTPUT_DIR = "results";

// A running process (not a zombie: a killed rank whose parent died too may
// linger as one until init reaps it).
bool pid_alive(long pid) {
  if (pid <= 0 || (kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM)) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto paren = text.rfind(')');
  return paren == std::string::npos || paren + 2 >= text.size() || text[paren + 2] != 'Z';
}

// The files PREFIX + PID in `output`'s directory, with their pids.
std::vector<std::pair<fs::path, long>> files_of_pids(const std::string& output, const std::string& prefix) {
  fs::path p(output);
  fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::vector<std::pair<fs::path, long>> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    std::string pid = name.substr(prefix.size());
    long value = 0;
    auto [end, error] = std::from_chars(pid.data(), pid.data() + pid.size(), value);
    if (pid.empty() || error != std::errc() || end != pid.data() + pid.size() || value <= 0) continue;
    out.emplace_back(entry.path(), value);
  }
  return out;
}

// The .NAME.partial-PID files beside `output` (RunWriter's), with their pids.
std::vector<std::pair<fs::path, long>> partial_files_of(const std::string& output) {
  std::string prefix = ".";
  prefix += fs::path(output).filename().string();
  prefix += ".partial-";
  return files_of_pids(output, prefix);
}

// The NAME.journal.new-PID files beside `output` (JournalWriter's before start()).
std::vector<std::pair<fs::path, long>> journal_temp_files_of(const std::string& output) {
  return files_of_pids(output, fs::path(io::journal_path(output)).filename().string() + io::JOURNAL_TEMP_INFIX);
}

}  // namespace

long live_writer(const std::string& output) {
  for (const auto& [path, pid] : partial_files_of(output))
    if (pid_alive(pid) && pid != getpid()) return pid;
  return 0;
}

void check_output(const std::string& path, const std::string& origin, bool force) {
  if (path.find('\0') != std::string::npos)
    throw ConfigError(fmt::format("{}: output.path: expected a file path, found a NUL character in it", origin));
  fs::path p(path);
  fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw ConfigError(fmt::format("{}: output.path: the directory {} of {} does not exist; create it first", origin,
                                  dir.string(), path));
  if (access(dir.c_str(), W_OK) != 0)
    throw ConfigError(
        fmt::format("{}: output.path: cannot write in {}: {}", origin, dir.string(), std::strerror(errno)));
  // access() says yes to root on a read-only file system.
  struct statvfs fs_info {};
  if (statvfs(dir.c_str(), &fs_info) == 0 && (fs_info.f_flag & ST_RDONLY))
    throw ConfigError(
        fmt::format("{}: output.path: cannot write in {}: {}", origin, dir.string(), std::strerror(EROFS)));
  // The temporary file and the journal beside it (.NAME.partial-PID, NAME.journal) have longer names.
  constexpr std::size_t TEMP_NAME_EXTRA = 32;
  long name_max = pathconf(dir.c_str(), _PC_NAME_MAX);
  std::size_t name_length = p.filename().string().size();
  if (name_max > 0 && name_length + TEMP_NAME_EXTRA > static_cast<std::size_t>(name_max))
    throw ConfigError(
        fmt::format("{}: output.path: the file name is {} bytes long; expected at most {} in {} "
                    "(its limit of {}, less room for the temporary names beside it)",
                    origin, name_length, static_cast<std::size_t>(name_max) - TEMP_NAME_EXTRA, dir.string(), name_max));
  if (fs::is_directory(p, ec)) throw ConfigError(fmt::format("{}: output.path: {} is a directory", origin, path));
  // Whatever is there counts, a symbolic link too (dangling, or a loop): the
  // new file would replace the link itself.
  const fs::file_status there = fs::symlink_status(p, ec);
  if (fs::exists(there) && !force)
    throw ConfigError(
        fmt::format("{}: output.path: {} already exists{}; pass --force to replace it "
                    "(it stays untouched until the new file is complete) or --output to write elsewhere",
                    origin, path, fs::is_symlink(there) ? " (a symbolic link, which --force replaces)" : ""));
}

bool default_output_dir_missing(const std::string& output) {
  fs::path dir = fs::path(output).parent_path().lexically_normal();
  std::error_code ec;
  return dir == fs::path(DEFAULT_OUTPUT_DIR) && !fs::exists(dir, ec);
}

void create_default_output_dir(const std::string& output) {
  if (!default_output_dir_missing(output)) return;
  // A failure is left to check_output, which says what is wrong with the directory.
  if (mkdir(DEFAULT_OUTPUT_DIR, 0777) == 0)
    std::cerr << fmt::format("fanout: created {}/ (the default output directory) for {}\n", DEFAULT_OUTPUT_DIR, output);
}

void remove_dead_partial_files(const std::string& output) {
  std::error_code ec;
  for (const auto& [path, pid] : partial_files_of(output))
    if (!pid_alive(pid)) fs::remove(path, ec);
}

void remove_dead_journal_temps(const std::string& output) {
  std::error_code ec;
  for (const auto& [path, pid] : journal_temp_files_of(output))
    if (!pid_alive(pid)) fs::remove(path, ec);
}

}  // namespace fanout::run
