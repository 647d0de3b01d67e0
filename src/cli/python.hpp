#pragma once
// The commands written in Python (python/ of the source tree, share/fanout/python
// of an install): `fanout plot` runs fanout_plot.py with Debian's /usr/bin/python3.
#include <optional>
#include <string>
#include <vector>

#include "core/data_files.hpp"

namespace fanout::cli {

struct PlotOptions {
  std::vector<std::string> files;
  std::optional<std::string> out;  // default: beside each file
  bool scaling = false;
};

// The interpreter: $FANOUT_PYTHON if set, else /usr/bin/python3 (Debian's,
// which has h5py, numpy, pandas and matplotlib; a pyenv python3 first on PATH
// usually has none of them).
std::string python_interpreter();

// Runs `INTERPRETER -B SCRIPT ARGS...` in a child process
// (posix_spawn, no shell) with this process's environment and standard
// streams, and waits for it. Returns the script's exit code when it is one of
// fanout's (0, 2, 3, 4); EXIT_INTERRUPTED when the child died of SIGINT,
// SIGTERM or SIGHUP; EXIT_IO, after a message, for any other ending. Throws
// IoError when the interpreter or the script is missing or cannot be started.
// The script is found by find_data_file ($FANOUT_PYTHON_DIR, else the data
// directories: beside the executable, the install, the source tree).
int run_python_script(const DataFile& script, const std::vector<std::string>& args);

// `fanout plot`: fanout_plot.py [--scaling] [--out DIR] -- FILE...
int plot(const PlotOptions& options);

}  // namespace fanout::cli
