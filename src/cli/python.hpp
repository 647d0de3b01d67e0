#pragma once
// The commands written in Python (python/ of the source tree): `fanout plot`
// runs python/fanout_plot.py with Debian's /usr/bin/python3.
#include <optional>
#include <string>
#include <vector>

namespace fanout::cli {

struct PlotOptions {
  std::vector<std::string> files;
  std::optional<std::string> out;  // default: beside each file
  bool scaling = false;
};

// Where fanout's Python code is: $FANOUT_PYTHON_DIR if set, else the python/
// directory of the source tree this binary was built from.
std::string python_dir();

// The interpreter: $FANOUT_PYTHON if set, else /usr/bin/python3 (Debian's,
// which has h5py, numpy, pandas and matplotlib; a pyenv python3 first on PATH
// usually has none of them).
std::string python_interpreter();

// Runs `INTERPRETER -B python_dir()/SCRIPT ARGS...` in a child process
// (posix_spawn, no shell) with this process's environment and standard
// streams, and waits for it. Returns the script's exit code when it is one of
// fanout's (0, 2, 3, 4); EXIT_INTERRUPTED when the child died of SIGINT,
// SIGTERM or SIGHUP; EXIT_IO, after a message, for any other ending. Throws
// IoError when the interpreter or the script is missing or cannot be started.
int run_python_script(const std::string& script, const std::vector<std::string>& args);

// `fanout plot`: python/fanout_plot.py [--scaling] [--out DIR] -- FILE...
int plot(const PlotOptions& options);

}  // namespace fanout::cli
