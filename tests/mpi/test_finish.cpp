// Job::finish through the run layer (run::run, what `fanout run` calls) at whatever rank count
// mpiexec gives: array columns reach the file, finish reads them range by
// range and writes root attributes and /output datasets, and it runs only
// when every task succeeded; a finish that throws leaves no file.
#include <gtest/gtest.h>
#include <unistd.h>
#include <algorithm>

#include <boost/mpi/collectives/broadcast.hpp>
#include <boost/mpi/communicator.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "config/params.hpp"
#include "core/error.hpp"
#include "core/job.hpp"
#include "core/run_output.hpp"
#include "io/hdf5.hpp"
#include "run/run.hpp"

using namespace fanout;

namespace {

constexpr std::uint64_t TASKS = 2500;
constexpr std::uint64_t WIDTH = 1000;  // 2.5 M values: finish reads them in 3 ranges

// Task i: value i^2, and a row of WIDTH values i * WIDTH + j; fails at task `fail`.
class FinishProbe : public Job {
 public:
  FinishProbe(std::uint64_t fail, bool finish_throws) : fail_(fail), finish_throws_(finish_throws) {}
  std::uint64_t task_count() const override { return TASKS; }
  std::vector<Column> columns(std::vector<Column> registered) const override {
    registered[1].length = WIDTH;
    return registered;
  }
  void run(std::uint64_t task, Row& row) const override {
    if (task == fail_) throw std::runtime_error("refused");
    row.set<std::uint64_t>(0, task * task);
    std::vector<std::uint32_t> values(WIDTH);
    for (std::uint64_t j = 0; j < WIDTH; ++j) values[j] = static_cast<std::uint32_t>(task * WIDTH + j);
    row.set<std::uint32_t>(1, values);
  }
  void finish(RunOutput& output) const override {
    if (finish_throws_) throw std::runtime_error("no luck");
    output.set_attribute("total", output.sum<std::uint64_t>("value"), "the sum of value");
    output.set_attribute("label", "probe", "a label");
    output.set_attribute("half", 0.5, "one half");
    auto grid = output.create_dataset("grid", ColumnType::U32, TASKS, WIDTH);
    std::uint64_t ranges = 0;
    output.for_each_range<std::uint32_t>("row", [&](std::uint64_t first, std::span<const std::uint32_t> rows) {
      grid->write_rows(first, rows.size() / WIDTH, rows.data());
      ++ranges;
    });
    grid->set_attribute("ranges", ranges);
  }

 private:
  std::uint64_t fail_;
  bool finish_throws_;
};

const RegisterJob registered{{
    "finish_probe",
    "test job for Job::finish",
    {{"value", ColumnType::U64, "", "i^2"}, {"row", ColumnType::U32, "", "i * width + j", 0}},
    [](config::Section& params) -> std::unique_ptr<Job> {
      auto fail = params.whole("fail", 1'000'000, 0, 1'000'000, "task that fails (none by default)");
      auto finish_throws = params.whole("finish_throws", 0, 0, 1, "1: finish throws");
      return std::make_unique<FinishProbe>(fail, finish_throws == 1);
    },
}};

// A fresh directory named on rank 0, known to every rank.
std::string shared_directory(const boost::mpi::communicator& comm) {
  std::string dir;
  if (comm.rank() == 0) {
    char name[] = "/tmp/fanout-finish-XXXXXX";
    dir = mkdtemp(name);
  }
  boost::mpi::broadcast(comm, dir, 0);
  return dir;
}

int run_probe(const boost::mpi::communicator& comm, const std::string& dir, const std::string& job_keys) {
  std::string config = dir + "/probe.toml";
  if (comm.rank() == 0) std::ofstream(config) << "[job]\nkind = \"finish_probe\"\n" << job_keys << "\n";
  comm.barrier();
  run::RunRequest request;
  request.config = config;
  request.output = dir + "/probe.h5";
  request.progress = "never";
  request.sets = {"schedule.policy=dynamic", "run.threads_per_rank=2"};
  return run::run(comm, request);
}

}  // namespace

TEST(Finish, WritesAttributesAndOutputFromArrayColumns) {
  boost::mpi::communicator comm;
  std::string dir = shared_directory(comm);
  EXPECT_EQ(run_probe(comm, dir, ""), EXIT_OK);
  if (comm.rank() == 0) {
    io::Handle file = io::open_file_read(dir + "/probe.h5");
    EXPECT_EQ(io::read_string_attr(file.get(), "status"), "complete");
    std::uint64_t total = 0;
    for (std::uint64_t i = 0; i < TASKS; ++i) total += i * i;
    EXPECT_EQ(static_cast<std::uint64_t>(io::read_int_attr(file.get(), "total").at(0)), total);
    EXPECT_EQ(io::read_string_attr(file.get(), "label"), "probe");
    EXPECT_EQ(io::read_double_attr(file.get(), "half"), 0.5);
    for (const char* name : {"results/row", "output/grid"}) {
      io::Handle ds = io::open_dataset(file.get(), name);
      EXPECT_EQ(io::dataset_shape(ds.get()), (std::vector<std::uint64_t>{TASKS, WIDTH})) << name;
      std::vector<std::uint32_t> values(TASKS * WIDTH);
      io::read_range(ds.get(), H5T_NATIVE_UINT32, 0, TASKS, values.data());
      std::uint64_t wrong = 0;
      for (std::uint64_t k = 0; k < values.size(); ++k) wrong += values[k] != k;
      EXPECT_EQ(wrong, 0u) << name;
    }
    io::Handle grid = io::open_dataset(file.get(), "output/grid");
    EXPECT_EQ(io::read_int_attr(grid.get(), "ranges").at(0), 3);
  }
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove_all(dir);
}

TEST(Finish, NotCalledWhenATaskFailed) {
  boost::mpi::communicator comm;
  std::string dir = shared_directory(comm);
  EXPECT_EQ(run_probe(comm, dir, "fail = 7"), EXIT_TASKS_FAILED);
  if (comm.rank() == 0) {
    io::Handle file = io::open_file_read(dir + "/probe.h5");
    EXPECT_EQ(io::read_string_attr(file.get(), "status"), "failed");
    EXPECT_FALSE(io::attr_exists(file.get(), "total"));
    EXPECT_FALSE(io::link_exists(file.get(), "output"));
  }
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove_all(dir);
}

// No file, only the checkpoint journal of the finished tasks (for a resume).
TEST(Finish, ThrowingLeavesNoFile) {
  boost::mpi::communicator comm;
  std::string dir = shared_directory(comm);
  EXPECT_EQ(run_probe(comm, dir, "finish_throws = 1"), EXIT_TASKS_FAILED);
  if (comm.rank() == 0) {
    std::vector<std::string> left;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) left.push_back(entry.path().filename());
    std::sort(left.begin(), left.end());
    EXPECT_EQ(left, (std::vector<std::string>{"probe.h5.journal", "probe.toml"}));
  }
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove_all(dir);
}
