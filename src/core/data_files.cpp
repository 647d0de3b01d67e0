#include "core/data_files.hpp"

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <system_error>

#include <fmt/format.h>

#include "core/error.hpp"

// CMakeLists.txt sets both on this file alone.
#if !defined(FANOUT_SOURCE_DATA_DIR) || !defined(FANOUT_INSTALL_DATA_DIR)
#error "FANOUT_SOURCE_DATA_DIR and FANOUT_INSTALL_DATA_DIR must be defined (the source tree, PREFIX/share/fanout)"
#endif

namespace fanout {

namespace fs = std::filesystem;

namespace {

struct Registered {
  std::mutex mutex;
  std::vector<std::string> directories;
};

Registered& registered() {
  static Registered r;  // constructed on first use: safe from other static initialisers
  return r;
}

// A directory's path without "..", "." or a trailing slash, so that repeats are seen.
std::string normal(const fs::path& dir) {
  fs::path p = dir.lexically_normal();
  if (!p.has_filename() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
  return p.string();
}

std::string beside_executable() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec || self.empty()) return "";
  return normal(self.parent_path() / ".." / "share" / "fanout");
}

bool readable_file(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

}  // namespace

bool add_data_directory(const char* directory) {
  if (!directory || !*directory) return true;
  Registered& r = registered();
  std::lock_guard lock(r.mutex);
  r.directories.push_back(normal(directory));
  return true;
}

namespace {

struct Place {
  std::string directory;
  const char* why;
};

// The data directories with what each is, in search order, without repeats.
std::vector<Place> places() {
  std::vector<Place> all;
  auto add = [&all](const std::string& dir, const char* why) {
    if (dir.empty()) return;
    for (const auto& p : all)
      if (p.directory == dir) return;
    all.push_back({dir, why});
  };
  add(beside_executable(), "beside the executable");
  {
    Registered& r = registered();
    std::lock_guard lock(r.mutex);
    for (const auto& dir : r.directories) add(dir, "the install it was built against");
  }
  add(normal(FANOUT_SOURCE_DATA_DIR), "the source tree it was built from");
  add(normal(FANOUT_INSTALL_DATA_DIR), "the configured install prefix");
  return all;
}

}  // namespace

std::vector<std::string> data_directories() {
  std::vector<std::string> dirs;
  for (const auto& p : places()) dirs.push_back(p.directory);
  return dirs;
}

std::string find_data_file(const DataFile& file) {
  const std::string name = fs::path(file.relative).filename().string();
  const std::string set_it =
      file.env_is_directory
          ? fmt::format("a directory holding {} ({}/ of a fanout checkout, or PREFIX/share/fanout/{}/ of an install)",
                        name, fs::path(file.relative).parent_path().string(),
                        fs::path(file.relative).parent_path().string())
          : fmt::format("the file ({} of a fanout checkout, or PREFIX/share/fanout/{} of an install)", file.relative,
                        file.relative);
  const char* value = std::getenv(file.env.c_str());
  if (value && *value) {
    fs::path path = file.env_is_directory ? fs::path(value) / name : fs::path(value);
    if (readable_file(path)) return path.string();
    throw IoError(
        fmt::format("cannot find {}: {} is set and names {}, which is not a file; set it to {}, or "
                    "unset it to use fanout's own copy",
                    name, file.env, path.string(), set_it));
  }
  std::string looked;
  for (const auto& place : places()) {
    fs::path path = fs::path(place.directory) / file.relative;
    if (readable_file(path)) return path.string();
    looked += fmt::format("{}{} ({})", looked.empty() ? "" : ", ", path.string(), place.why);
  }
  throw IoError(fmt::format("cannot find {}: it is not at {}; set {} to {}", name, looked, file.env, set_it));
}

}  // namespace fanout
