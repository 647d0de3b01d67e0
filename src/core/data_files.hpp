#pragma once
// fanout's files that are not compiled in: the Python code (python/:
// fanout_plot.py for `fanout plot`, fanout_worker.py for the python job,
// the fanout_analysis package) and the batch template (slurm/fanout.sbatch
// for `fanout submit`). They keep the source tree's layout under a data
// directory: the source tree itself, or PREFIX/share/fanout of an install.
#include <string>
#include <vector>

namespace fanout {

struct DataFile {
  std::string relative;           // under a data directory: "python/fanout_plot.py"
  std::string env;                // the variable that overrides the search: "FANOUT_PYTHON_DIR"
  bool env_is_directory = false;  // $env names the file's directory (else the file itself)
};

inline const DataFile PYTHON_PLOT{"python/fanout_plot.py", "FANOUT_PYTHON_DIR", true};
inline const DataFile PYTHON_WORKER{"python/fanout_worker.py", "FANOUT_PYTHON_DIR", true};
inline const DataFile SBATCH_TEMPLATE{"slurm/fanout.sbatch", "FANOUT_SBATCH_TEMPLATE", false};

// The path of `file`. When $env is set (not empty) it alone is looked at;
// else the first data directory of data_directories() that holds the file.
// Throws IoError naming every place looked at and the variable.
std::string find_data_file(const DataFile& file);

// The data directories, in the order they are searched:
//   1. DIR/../share/fanout, DIR being the running executable's directory
//      (/proc/self/exe): an installed bin/fanout;
//   2. those given to add_data_directory: a runner built with
//      find_package(fanout) names the install it was built against;
//   3. the source tree the library was built from (a build tree's binaries);
//   4. the data directory of the install prefix the library was configured
//      for (CMAKE_INSTALL_PREFIX/share/fanout): the last resort of a binary
//      copied elsewhere after its source tree went away.
// The source tree comes before the configured prefix so that a build tree's
// fanout never runs the older scripts of an earlier `cmake --install`.
std::vector<std::string> data_directories();

// Adds a data directory (PREFIX/share/fanout) to the search. The source file
// that find_package(fanout) adds to every target linking fanout::fanout
// calls it from a static initialiser. Returns true.
bool add_data_directory(const char* directory);

}  // namespace fanout
