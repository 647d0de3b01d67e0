// Where fanout finds its Python code and batch template (src/core/data_files.hpp):
// the environment override, the registered install, the source tree, and the
// error that names every place looked at. (tests/e2e/test_install.py runs an
// installed fanout with its source tree out of reach.)
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/data_files.hpp"
#include "core/error.hpp"

namespace fs = std::filesystem;
using fanout::DataFile;
using fanout::find_data_file;

namespace {

const std::string SOURCE = FANOUT_SOURCE_DIR;

class DataFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fanout-data-files-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    unsetenv("FANOUT_PYTHON_DIR");
    unsetenv("FANOUT_SBATCH_TEMPLATE");
  }
  void TearDown() override {
    unsetenv("FANOUT_PYTHON_DIR");
    unsetenv("FANOUT_SBATCH_TEMPLATE");
    fs::remove_all(dir_);
  }
  fs::path touch(const fs::path& relative) {
    fs::path p = dir_ / relative;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << "# test\n";
    return p;
  }
  std::string error_of(const DataFile& file) {
    try {
      find_data_file(file);
    } catch (const fanout::IoError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no IoError for " << file.relative;
    return "";
  }
  fs::path dir_;
};

TEST_F(DataFiles, BuildTreeFindsTheSourceTree) {
  EXPECT_EQ(find_data_file(fanout::PYTHON_PLOT), SOURCE + "/python/fanout_plot.py");
  EXPECT_EQ(find_data_file(fanout::PYTHON_WORKER), SOURCE + "/python/fanout_worker.py");
  EXPECT_EQ(find_data_file(fanout::SBATCH_TEMPLATE), SOURCE + "/slurm/fanout.sbatch");
}

TEST_F(DataFiles, EnvironmentOverridesAndIsTheOnlyPlaceLookedAt) {
  touch("py/fanout_worker.py");
  touch("t.sbatch");
  setenv("FANOUT_PYTHON_DIR", (dir_ / "py").c_str(), 1);
  setenv("FANOUT_SBATCH_TEMPLATE", (dir_ / "t.sbatch").c_str(), 1);
  EXPECT_EQ(find_data_file(fanout::PYTHON_WORKER), (dir_ / "py" / "fanout_worker.py").string());
  EXPECT_EQ(find_data_file(fanout::SBATCH_TEMPLATE), (dir_ / "t.sbatch").string());

  // Set but wrong: an error, not the source tree's copy.
  std::string why = error_of(fanout::PYTHON_PLOT);
  EXPECT_NE(why.find("cannot find fanout_plot.py"), std::string::npos) << why;
  EXPECT_NE(why.find("FANOUT_PYTHON_DIR is set and names " + (dir_ / "py" / "fanout_plot.py").string()),
            std::string::npos)
      << why;
  setenv("FANOUT_SBATCH_TEMPLATE", (dir_ / "none.sbatch").c_str(), 1);
  why = error_of(fanout::SBATCH_TEMPLATE);
  EXPECT_NE(why.find("FANOUT_SBATCH_TEMPLATE is set and names " + (dir_ / "none.sbatch").string()), std::string::npos)
      << why;

  // Empty is unset.
  setenv("FANOUT_PYTHON_DIR", "", 1);
  EXPECT_EQ(find_data_file(fanout::PYTHON_PLOT), SOURCE + "/python/fanout_plot.py");
}

TEST_F(DataFiles, MissingEverywhereNamesEveryPlaceAndTheVariable) {
  const DataFile nowhere{"python/not_there.py", "FANOUT_PYTHON_DIR", true};
  std::string why = error_of(nowhere);
  EXPECT_NE(why.find("cannot find not_there.py: it is not at "), std::string::npos) << why;
  EXPECT_NE(why.find(SOURCE + "/python/not_there.py (the source tree it was built from)"), std::string::npos) << why;
  EXPECT_NE(why.find("(beside the executable)"), std::string::npos) << why;
  EXPECT_NE(why.find("set FANOUT_PYTHON_DIR to a directory holding not_there.py"), std::string::npos) << why;
}

// The registration lasts for the rest of the process; its directory goes at
// TearDown, so a later test looks past it.
TEST_F(DataFiles, ARegisteredInstallComesBeforeTheSourceTree) {
  fs::path share = dir_ / "share" / "fanout";
  fs::path plot = touch("share/fanout/python/fanout_plot.py");
  EXPECT_TRUE(fanout::add_data_directory((share.string() + "/").c_str()));
  auto dirs = fanout::data_directories();
  auto at = [&dirs](const std::string& d) { return std::find(dirs.begin(), dirs.end(), d) - dirs.begin(); };
  ASSERT_LT(at(share.string()), static_cast<long>(dirs.size())) << "the trailing slash is dropped";
  EXPECT_LT(at(share.string()), at(SOURCE));
  EXPECT_EQ(find_data_file(fanout::PYTHON_PLOT), plot.string());
  // Not every file need be there: the next place has the others.
  EXPECT_EQ(find_data_file(fanout::SBATCH_TEMPLATE), SOURCE + "/slurm/fanout.sbatch");
}

}  // namespace
