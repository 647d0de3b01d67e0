// libFuzzer target for the config parser (tests/fuzz/CMakeLists.txt builds it
// with clang). The input is TOML text, then optionally a NUL byte and --set
// assignments, one a line. load_config must either give a config or throw
// ConfigError; any other exception, a crash or a sanitizer report is a bug.
// A config that loads must load again from its resolved text to the same
// text: that text is what rank 0 sends and the other ranks parse.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/error.hpp"

// The command job asks which rank it is; the real answer lives in
// src/cli/cli.cpp, which needs MPI and HDF5. The fuzzer is one process.
namespace fanout::cli {
int launched_rank() { return 0; }
}  // namespace fanout::cli

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  std::size_t nul = input.find('\0');
  std::string text = input.substr(0, nul);
  std::vector<std::string> overrides;
  if (nul != std::string::npos) {
    std::istringstream lines(input.substr(nul + 1));
    for (std::string line; std::getline(lines, line);) overrides.push_back(line);
  }
  try {
    auto loaded = fanout::config::load_config(text, "fuzz.toml", overrides);
    (void)loaded.job->task_count();
    auto again = fanout::config::load_config(loaded.run.resolved_toml, "resolved.toml");
    if (again.run.resolved_toml != loaded.run.resolved_toml) {
      std::fprintf(stderr, "resolved config changed on reload:\n%s\n---\n%s\n", loaded.run.resolved_toml.c_str(),
                   again.run.resolved_toml.c_str());
      std::abort();
    }
  } catch (const fanout::ConfigError&) {
    // The expected answer to bad input.
  }
  return 0;
}
