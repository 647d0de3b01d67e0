// The checkpoint journal read block by block (io::scan_journal), and what a
// resume makes of it (cli::prepare_output, cli::carry_over): the last record
// of a task counts, also when a journal holds a task more than once.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "cli/resume.hpp"
#include "config/config.hpp"
#include "core/error.hpp"
#include "io/journal.hpp"
#include "io/run_file.hpp"
#include "temp_dir_test.hpp"

namespace fs = std::filesystem;
using namespace fanout;

namespace {

using JournalTest = TempDirTest;

TaskRecord record(std::uint64_t id, TaskStatus status, double t_end, std::uint16_t session = 0) {
  TaskRecord r;
  r.id = id;
  r.rank = 0;
  r.thread = 0;
  r.t_start = t_end - 0.5;
  r.t_end = t_end;
  r.attempt = 1;
  r.status = status;
  r.session = session;
  return r;
}

// Rows of one float64 column: the task's t_end, so a row tells which record it came with.
std::vector<std::byte> rows_of(const std::vector<TaskRecord>& records) {
  std::vector<std::byte> rows(records.size() * sizeof(double));
  for (std::size_t i = 0; i < records.size(); ++i) std::memcpy(rows.data() + i * 8, &records[i].t_end, 8);
  return rows;
}

io::JournalHeader header(std::uint64_t tasks, const std::string& config = "") {
  return {"spin", "0123456789abcdef", tasks, 8, 1, config};
}

std::vector<Batch> scan_all(const std::string& file, io::JournalScan* scan = nullptr) {
  std::vector<Batch> blocks;
  io::JournalScan s = io::scan_journal(file, [&](Batch& block) { blocks.push_back(block); });
  if (scan) *scan = s;
  return blocks;
}

TEST_F(JournalTest, CarriedBlocksThenAddedOnesInOrder) {
  const std::string file = path("run.h5.journal");
  {
    io::JournalWriter journal(file, header(10), 30, 1000);
    EXPECT_FALSE(fs::exists(file)) << "the journal is in place before start()";
    std::vector<TaskRecord> carried{record(0, TaskStatus::Ok, 1), record(1, TaskStatus::Ok, 2)};
    journal.carry(carried, rows_of(carried), {});
    journal.carry({}, {}, std::vector<TaskError>{{1, 1, 0, "boom"}});
    journal.start();
    EXPECT_TRUE(fs::exists(file));
    std::vector<TaskRecord> added{record(5, TaskStatus::Failed, 3, 1)};
    journal.add(added, rows_of(added), {});
    journal.checkpoint();
  }
  io::JournalScan scan;
  std::vector<Batch> blocks = scan_all(file, &scan);
  EXPECT_EQ(scan.header.task_count, 10u);
  EXPECT_EQ(scan.header.job, "spin");
  EXPECT_FALSE(scan.torn);
  ASSERT_EQ(blocks.size(), 3u);
  ASSERT_EQ(blocks[0].records.size(), 2u);
  EXPECT_EQ(blocks[0].records[1].id, 1u);
  ASSERT_EQ(blocks[1].errors.size(), 1u);
  EXPECT_EQ(blocks[1].errors[0].message, "boom");
  ASSERT_EQ(blocks[2].records.size(), 1u);
  EXPECT_EQ(blocks[2].records[0].id, 5u);
  EXPECT_EQ(blocks[2].records[0].status, TaskStatus::Failed);
  // Without a visitor: the header only.
  EXPECT_EQ(io::scan_journal(file).blocks, 0u);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1) << "a temporary file is left";
}

TEST_F(JournalTest, NeverStartedLeavesNothing) {
  {
    io::JournalWriter journal(path("run.h5.journal"), header(3), 30, 1000);
    std::vector<TaskRecord> carried{record(0, TaskStatus::Ok, 1)};
    journal.carry(carried, rows_of(carried), {});
  }
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(JournalTest, TornLastBlockIsIgnored) {
  const std::string file = path("run.h5.journal");
  {
    io::JournalWriter journal(file, header(10), 30, 1000);
    journal.start();
    for (std::uint64_t id = 0; id < 3; ++id) {
      std::vector<TaskRecord> one{record(id, TaskStatus::Ok, 1.0 + static_cast<double>(id))};
      journal.add(one, rows_of(one), {});
      journal.write_out();
    }
  }
  fs::resize_file(file, fs::file_size(file) - 5);  // killed in the middle of the last block
  io::JournalScan scan;
  std::vector<Batch> blocks = scan_all(file, &scan);
  EXPECT_TRUE(scan.torn);
  EXPECT_EQ(scan.blocks, 2u);
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[1].records[0].id, 1u);
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << "FANOUT JOURNAL\n";
  }
  EXPECT_THROW(io::scan_journal(file), IoError);
}

// A write that fails (a full file system; here RLIMIT_FSIZE, EFBIG) cuts the
// journal back to its last whole block, so that it stays valid, and keeps
// what it could not write: written, after the blocks before it, once there is room.
TEST_F(JournalTest, FailedWriteKeepsWholeBlocksAndIsWrittenLater) {
  const std::string file = path("run.h5.journal");
  struct Limits {  // restored whatever happens
    rlimit file_size{};
    struct sigaction xfsz {};
    Limits() {
      getrlimit(RLIMIT_FSIZE, &file_size);
      struct sigaction ignore {};
      ignore.sa_handler = SIG_IGN;
      sigaction(SIGXFSZ, &ignore, &xfsz);
    }
    ~Limits() {
      setrlimit(RLIMIT_FSIZE, &file_size);
      sigaction(SIGXFSZ, &xfsz, nullptr);
    }
  } limits;
  io::JournalWriter journal(file, header(100), 30, 1000000);
  journal.start();
  std::vector<TaskRecord> first{record(0, TaskStatus::Ok, 1)};
  journal.add(first, rows_of(first), {});
  journal.write_out();
  const auto whole = fs::file_size(file);
  rlimit tight = limits.file_size;
  tight.rlim_cur = whole + 100;  // room for part of the next block only
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &tight), 0);
  std::vector<TaskRecord> many;
  for (std::uint64_t id = 1; id <= 20; ++id) many.push_back(record(id, TaskStatus::Ok, 1.0 + static_cast<double>(id)));
  journal.add(many, rows_of(many), {});
  try {
    journal.write_out();
    FAIL() << "a write beyond RLIMIT_FSIZE succeeded";
  } catch (const IoError& e) {
    EXPECT_EQ(e.os_error(), EFBIG) << e.what();
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
  }
  EXPECT_EQ(fs::file_size(file), whole) << "the part of the block written was not cut off";
  io::JournalScan scan;
  EXPECT_EQ(scan_all(file, &scan).size(), 1u);
  EXPECT_FALSE(scan.torn);

  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limits.file_size), 0);
  journal.checkpoint();
  std::vector<Batch> blocks = scan_all(file, &scan);
  EXPECT_FALSE(scan.torn);
  ASSERT_EQ(blocks.size(), 2u);
  ASSERT_EQ(blocks[1].records.size(), 20u);
  EXPECT_EQ(blocks[1].records[19].id, 20u);
}

// A journal that holds tasks more than once (as journals of other fanout
// versions may): the last record of a task decides whether it finished, and
// it is the one carried into the new file; errors go with the finished tasks.
TEST_F(JournalTest, ResumeCarriesTheLastRecordOfEachTask) {
  const std::string output = path("run.h5");
  auto loaded = config::load_config("[job]\nkind = \"spin\"\ntasks = 5\nduration = 0\n", "test.toml",
                                    {"output.path=\"" + output + "\""});
  ASSERT_EQ(RowLayout(loaded.columns).size(), 8u);
  {
    io::JournalHeader h{"spin", cli::job_hash(loaded.run.resolved_toml), 5, 8, 1, loaded.run.resolved_toml};
    io::JournalWriter journal(io::journal_path(output), h, 30, 1000);
    journal.start();
    std::vector<std::vector<TaskRecord>> blocks{
        {record(0, TaskStatus::Ok, 1), record(1, TaskStatus::Failed, 2), record(2, TaskStatus::Ok, 3)},
        {record(1, TaskStatus::Ok, 4), record(2, TaskStatus::Ok, 5), record(3, TaskStatus::Failed, 6),
         record(2, TaskStatus::Ok, 7)},
        {record(0, TaskStatus::Failed, 8), record(9, TaskStatus::Ok, 9)}};  // id 9: not a task of this job
    for (const auto& b : blocks) journal.add(b, rows_of(b), {});
    journal.add({}, {}, std::vector<TaskError>{{1, 1, 0, "first try"}, {0, 1, 0, "lost"}, {3, 1, 0, "still"}});
    journal.checkpoint();
  }
  cli::ResumeState state = cli::prepare_output(loaded, "test", /*resume=*/true, /*force=*/false);
  EXPECT_EQ(state.carried, 2u);
  EXPECT_EQ(state.finished, (std::vector<bool>{false, true, true, false, false}));
  EXPECT_EQ(state.sessions, 2);
  ASSERT_EQ(state.errors.size(), 1u);
  EXPECT_EQ(state.errors[0].message, "first try");

  io::RunMetadata meta;
  meta.job = "spin";
  meta.config = loaded.run.resolved_toml;
  meta.task_count = 5;
  {
    io::RunWriter writer(output, meta, loaded.columns);
    io::JournalWriter journal(io::journal_path(output), header(5, loaded.run.resolved_toml), 30, 1000);
    cli::carry_over(state, writer, journal);
    journal.start();
    writer.commit("partial", "2026-01-01T00:00:00Z");
  }
  io::RunFile run = io::read_run_file(output);
  ASSERT_EQ(run.tasks.size(), 5u);
  EXPECT_EQ(run.tasks[0].attempt, 0u) << "task 0 failed last: not carried";
  EXPECT_EQ(run.tasks[1].t_end, 4);
  EXPECT_EQ(run.tasks[2].t_end, 7) << "the last of task 2's three records";
  EXPECT_EQ(run.tasks[3].attempt, 0u);
  ASSERT_EQ(run.results.size(), 1u);
  EXPECT_EQ(run.results[0].values[2], 7) << "the row that came with that record";
  // The new journal: the finished tasks and their errors, nothing else.
  std::vector<std::uint64_t> ids;
  std::vector<std::string> messages;
  for (const auto& b : scan_all(io::journal_path(output))) {
    for (const auto& r : b.records) ids.push_back(r.id);
    for (const auto& e : b.errors) messages.push_back(e.message);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(messages, (std::vector<std::string>{"first try"}));
}

}  // namespace
