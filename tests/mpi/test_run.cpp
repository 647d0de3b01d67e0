// The run layer called directly (run::run, run::resume, what `fanout run`
// and `fanout resume` call), collectively at whatever rank count mpiexec
// gives: every rank returns the same exit code; an existing output is
// refused without force and left as it was; a resume of a complete file
// finds nothing to do; --force replaces the file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <boost/mpi/collectives/broadcast.hpp>
#include <boost/mpi/collectives/gather.hpp>
#include <boost/mpi/communicator.hpp>
#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "io/hdf5.hpp"
#include "run/run.hpp"

using namespace fanout;

namespace {

// Every rank's exit code, on rank 0 (the others get an empty vector).
std::vector<int> codes_everywhere(const boost::mpi::communicator& comm, int code) {
  std::vector<int> all;
  boost::mpi::gather(comm, code, all, 0);
  return all;
}

// "COMMAND_LINE STATUS SESSIONS" of a run file.
std::string summary_of(const std::string& path) {
  io::Handle file = io::open_file_read(path);
  return io::read_string_attr(file.get(), "command_line") + " " + io::read_string_attr(file.get(), "status") + " " +
         std::to_string(io::read_int_attr(file.get(), "sessions").at(0));
}

}  // namespace

TEST(RunLayer, RefusesExistingOutputResumesNothingAndForceReplaces) {
  boost::mpi::communicator comm;
  std::string dir;
  if (comm.rank() == 0) {
    char name[] = "/tmp/fanout-run-layer-XXXXXX";
    dir = mkdtemp(name);
    std::ofstream(dir + "/spin.toml") << "[job]\nkind = \"spin\"\ntasks = 40\nduration = 0.0\n";
  }
  boost::mpi::broadcast(comm, dir, 0);
  run::RunRequest request;
  request.config = dir + "/spin.toml";
  request.output = dir + "/spin.h5";
  request.progress = "never";
  request.command_line = "test_run";
  auto expect_everywhere = [&](int code, int expected, const char* what) {
    std::vector<int> all = codes_everywhere(comm, code);
    if (comm.rank() == 0) {
      EXPECT_EQ(all, std::vector<int>(static_cast<std::size_t>(comm.size()), expected)) << what;
    }
  };

  expect_everywhere(run::run(comm, request), EXIT_OK, "first run");
  std::string first;
  if (comm.rank() == 0) {
    first = summary_of(dir + "/spin.h5");
    EXPECT_EQ(first, "test_run complete 1");
  }
  expect_everywhere(run::run(comm, request), EXIT_USAGE, "the output exists, no --force");
  expect_everywhere(run::resume(comm, request, dir + "/spin.h5"), EXIT_OK, "resume of a complete file");
  if (comm.rank() == 0) {
    EXPECT_EQ(summary_of(dir + "/spin.h5"), first) << "left as it was";
  }

  request.force = true;
  request.command_line = "test_run --force";
  expect_everywhere(run::run(comm, request), EXIT_OK, "--force");
  if (comm.rank() == 0) {
    std::string second = summary_of(dir + "/spin.h5");
    EXPECT_EQ(second, "test_run --force complete 1");
    EXPECT_FALSE(std::filesystem::exists(dir + "/spin.h5.journal"));
  }
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove_all(dir);
}
