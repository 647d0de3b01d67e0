// The checkpoint journal read block by block (io::scan_journal), and what a
// resume makes of it (run::prepare_output, run::carry_over): the last record
// of a task counts, also when a journal holds a task more than once. A torn
// tail is told from damage, a damaged header refused, the input files' digests kept.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <zlib.h>

#include "config/config.hpp"
#include "core/batch.hpp"
#include "core/error.hpp"
#include "core/inputs.hpp"
#include "core/limits.hpp"
#include "io/journal.hpp"
#include "io/run_file.hpp"
#include "run/resume.hpp"
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
  return {"spin", "0123456789abcdef", tasks, 8, 1, config, {}, true};
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

// Numbers of a damaged journal that would size memory are refused, not used
// (issue #15): a header claiming more tasks than a run may have or no
// session, and a block whose row size times its record count wraps around.
TEST_F(JournalTest, DamagedSizesAreRefusedBeforeTheyAllocate) {
  const std::string big = path("big.h5.journal"), none = path("none.h5.journal");
  io::JournalWriter(big, header(MAX_TASKS + 1), 30, 1000).start();
  EXPECT_THROW(io::scan_journal(big), IoError);
  io::JournalHeader no_session = header(10);
  no_session.sessions = 0;
  io::JournalWriter(none, no_session, 30, 1000).start();
  EXPECT_THROW(io::scan_journal(none), IoError);

  std::vector<TaskRecord> one{record(0, TaskStatus::Ok, 1.0)};
  std::vector<char> bytes;
  encode_into(bytes, one, rows_of(one), {});
  std::uint64_t flags = 0;
  EXPECT_EQ(decode(bytes.data(), bytes.size(), 8, flags).records.size(), 1u);
  // 1 x (56 + 2^64 - 56) wraps to 0 in a multiplication.
  EXPECT_THROW(decode(bytes.data(), bytes.size(), ~std::size_t{0} - sizeof(TaskRecord) + 1, flags), std::runtime_error);
  EXPECT_THROW(decode(bytes.data(), bytes.size(), bytes.size() + 1, flags), std::runtime_error);
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
    io::JournalHeader h{"spin", run::job_hash(loaded.run.resolved_toml), 5, 8, 1, loaded.run.resolved_toml, {}, true};
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
  run::ResumeState state = run::prepare_output(loaded, "test", /*resume=*/true, /*force=*/false);
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
    run::carry_over(state, writer, journal);
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

// A journal of `blocks` blocks of 3 tasks each (ids 3b, 3b+1, 3b+2); returns
// each block's offset in the file (and the file size last).
std::vector<std::uint64_t> write_blocks(const std::string& file, std::uint64_t blocks,
                                        const io::JournalHeader& h = header(300)) {
  std::vector<std::uint64_t> offsets;
  io::JournalWriter journal(file, h, 30, 1000);
  journal.start();
  for (std::uint64_t b = 0; b < blocks; ++b) {
    offsets.push_back(fs::file_size(file));
    std::vector<TaskRecord> three;
    for (std::uint64_t id = 3 * b; id < 3 * b + 3; ++id)
      three.push_back(record(id, TaskStatus::Ok, 1.0 + static_cast<double>(id)));
    journal.add(three, rows_of(three), {});
    journal.write_out();
  }
  offsets.push_back(fs::file_size(file));
  return offsets;
}

void flip_bit(const std::string& file, std::uint64_t offset, int bit = 0) {
  std::fstream f(file, std::ios::binary | std::ios::in | std::ios::out);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ (1 << bit));
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

std::vector<std::uint64_t> ids_of(const std::vector<Batch>& blocks) {
  std::vector<std::uint64_t> ids;
  for (const auto& b : blocks)
    for (const auto& r : b.records) ids.push_back(r.id);
  return ids;
}

TEST(InputsTest, Sha256OfKnownTexts) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 56 bytes: the length no longer fits the first padding block.
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// A bit flipped in a middle block is damage, not a torn tail: that block is
// skipped, with its record count, and the intact blocks after it are kept.
TEST_F(JournalTest, DamagedMiddleBlockIsSkippedAndTheRestKept) {
  const std::string file = path("run.h5.journal");
  std::vector<std::uint64_t> at = write_blocks(file, 5);
  flip_bit(file, at[2] + 16 + 40);  // in block 2's first record
  io::JournalScan scan;
  std::vector<Batch> blocks = scan_all(file, &scan);
  EXPECT_FALSE(scan.torn);
  EXPECT_EQ(scan.blocks, 4u);
  EXPECT_EQ(ids_of(blocks), (std::vector<std::uint64_t>{0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14}));
  ASSERT_EQ(scan.damaged.size(), 1u);
  EXPECT_EQ(scan.damaged[0].offset, at[2]);
  EXPECT_EQ(scan.damaged[0].bytes, at[3] - at[2]);
  EXPECT_EQ(scan.damaged[0].records, 3);
  EXPECT_EQ(scan.blocks_after_damage, 2u);
  EXPECT_EQ(scan.records_after_damage, 6u);
  std::string said = io::describe_damage(file, scan);
  EXPECT_NE(said.find(file + " is damaged"), std::string::npos) << said;
  EXPECT_NE(said.find("3 task records by its own count"), std::string::npos) << said;
  EXPECT_NE(said.find("the 2 intact blocks after it (6 task records) are kept"), std::string::npos) << said;
  EXPECT_EQ(io::describe_damage(file, io::JournalScan{}), "");

  // Its length field damaged: the blocks after it are found again by their magic and CRC.
  write_blocks(file, 5);
  flip_bit(file, at[1] + 8, 3);
  blocks = scan_all(file, &scan);
  EXPECT_FALSE(scan.torn);
  EXPECT_EQ(ids_of(blocks), (std::vector<std::uint64_t>{0, 1, 2, 6, 7, 8, 9, 10, 11, 12, 13, 14}));
  ASSERT_EQ(scan.damaged.size(), 1u);
  EXPECT_EQ(scan.damaged[0].bytes, at[2] - at[1]);
  EXPECT_EQ(scan.damaged[0].records, -1) << "a length that disagrees: the count is not trusted";
  EXPECT_NE(io::describe_damage(file, scan).find("task records that cannot be counted"), std::string::npos);

  // A length damaged to run past the end, with intact blocks after it: damage, not a torn tail.
  write_blocks(file, 5);
  flip_bit(file, at[3] + 8 + 4, 6);
  blocks = scan_all(file, &scan);
  EXPECT_FALSE(scan.torn);
  EXPECT_EQ(scan.blocks, 4u);
  EXPECT_EQ(scan.damaged.size(), 1u);

  // Two damaged blocks.
  write_blocks(file, 5);
  flip_bit(file, at[0] + 16 + 30);
  flip_bit(file, at[3] + 2);  // the magic
  blocks = scan_all(file, &scan);
  EXPECT_EQ(ids_of(blocks), (std::vector<std::uint64_t>{3, 4, 5, 6, 7, 8, 12, 13, 14}));
  EXPECT_EQ(scan.damaged.size(), 2u);
  EXPECT_EQ(scan.blocks_after_damage, 3u);
}

// A block longer than the 4 MiB read whole without a check: checked piece by
// piece first, then read; damaged, skipped like any other.
TEST_F(JournalTest, LargeBlockIsCheckedBeforeItIsRead) {
  const std::string file = path("run.h5.journal");
  std::vector<TaskRecord> many;
  for (std::uint64_t id = 0; id < 80000; ++id) many.push_back(record(id, TaskStatus::Ok, 1.0));
  std::vector<TaskRecord> last{record(80000, TaskStatus::Ok, 2.0)};
  std::uint64_t big_at = 0;
  auto write = [&] {
    io::JournalWriter journal(file, header(80001), 30, 1000000);
    journal.start();
    big_at = fs::file_size(file);
    journal.add(many, rows_of(many), {});
    journal.write_out();
    journal.add(last, rows_of(last), {});
    journal.write_out();
  };
  write();
  ASSERT_GT(fs::file_size(file), big_at + (std::uint64_t{4} << 20));
  io::JournalScan scan;
  std::vector<Batch> blocks = scan_all(file, &scan);
  EXPECT_EQ(scan.blocks, 2u);
  EXPECT_EQ(ids_of(blocks).size(), 80001u);
  EXPECT_TRUE(scan.damaged.empty());
  write();
  flip_bit(file, big_at + 16 + 24 + 56 * 70000);
  blocks = scan_all(file, &scan);
  EXPECT_EQ(ids_of(blocks), (std::vector<std::uint64_t>{80000}));
  ASSERT_EQ(scan.damaged.size(), 1u);
  EXPECT_EQ(scan.damaged[0].records, 80000);
}

// The last block, whole but failing its CRC, is damage too (a kill leaves a
// block short, never wrong); a block cut short at the end is a torn tail.
TEST_F(JournalTest, TornTailIsNotDamage) {
  const std::string file = path("run.h5.journal");
  std::vector<std::uint64_t> at = write_blocks(file, 4);
  flip_bit(file, at[4] - 1);
  io::JournalScan scan;
  scan_all(file, &scan);
  EXPECT_FALSE(scan.torn);
  EXPECT_EQ(scan.blocks, 3u);
  ASSERT_EQ(scan.damaged.size(), 1u);
  EXPECT_EQ(scan.damaged[0].records, 3);
  EXPECT_NE(io::describe_damage(file, scan).find("nothing intact follows it"), std::string::npos);

  for (std::uint64_t cut : {std::uint64_t{1}, std::uint64_t{30}, at[4] - at[3] - 10}) {
    write_blocks(file, 4);
    fs::resize_file(file, at[4] - cut);
    scan_all(file, &scan);
    EXPECT_TRUE(scan.torn) << "cut " << cut;
    EXPECT_EQ(scan.torn_bytes, at[4] - cut - at[3]);
    EXPECT_TRUE(scan.damaged.empty());
    EXPECT_EQ(scan.blocks, 3u);
  }
  // Damage before a torn tail: both told.
  write_blocks(file, 4);
  flip_bit(file, at[1] + 20);
  fs::resize_file(file, at[4] - 7);
  std::vector<Batch> blocks = scan_all(file, &scan);
  EXPECT_TRUE(scan.torn);
  EXPECT_EQ(scan.damaged.size(), 1u);
  EXPECT_EQ(ids_of(blocks), (std::vector<std::uint64_t>{0, 1, 2, 6, 7, 8}));
}

// A kill may cut the journal at any byte. Cut inside the header: an I/O
// error (never a crash, never a header taken as valid); cut inside a block
// (records, rows or an error's message): a torn tail, the blocks before it
// kept, no damage; cut between blocks: nothing torn.
TEST_F(JournalTest, CutAtEveryByte) {
  const std::string file = path("run.h5.journal");
  std::vector<std::uint64_t> at;  // where the blocks start, and the file's end
  {
    io::JournalWriter journal(file, header(10, "[job]\nkind = 'spin'\n"), 30, 1000);
    journal.start();
    at.push_back(fs::file_size(file));
    std::vector<TaskRecord> first{record(0, TaskStatus::Ok, 1), record(1, TaskStatus::Ok, 2)};
    journal.add(first, rows_of(first), {});
    journal.write_out();
    at.push_back(fs::file_size(file));
    std::vector<TaskRecord> second{record(2, TaskStatus::Ok, 3), record(3, TaskStatus::Failed, 4)};
    journal.add(second, rows_of(second), std::vector<TaskError>{{3, 1, 0, "exit code 3"}});
    journal.write_out();
    at.push_back(fs::file_size(file));
  }
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_EQ(bytes.size(), at[2]);
  const std::string cut = path("cut.h5.journal");
  for (std::uint64_t n = 0; n <= at[2]; ++n) {
    {
      // A new file each time: truncating one makes ext4 write it out at close.
      fs::remove(cut);
      std::ofstream out(cut, std::ios::binary);
      out.write(bytes.data(), static_cast<std::streamsize>(n));
    }
    if (n < at[0]) {
      EXPECT_THROW(io::scan_journal(cut, [](Batch&) {}), IoError) << "cut at " << n;
      continue;
    }
    io::JournalScan scan;
    std::vector<Batch> blocks;
    try {
      blocks = scan_all(cut, &scan);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cut at " << n << ": " << e.what();
      continue;
    }
    const std::uint64_t whole = n >= at[2] ? 2 : n >= at[1] ? 1 : 0;
    EXPECT_EQ(scan.blocks, whole) << "cut at " << n;
    EXPECT_EQ(scan.torn, n != at[whole]) << "cut at " << n;
    EXPECT_EQ(scan.torn_bytes, n - at[whole]) << "cut at " << n;
    EXPECT_TRUE(scan.damaged.empty()) << "cut at " << n;
    EXPECT_EQ(ids_of(blocks).size(), 2 * whole) << "cut at " << n;
    if (whole == 2) {
      ASSERT_EQ(blocks[1].errors.size(), 1u);
      EXPECT_EQ(blocks[1].errors[0].message, "exit code 3");
    }
  }
}

// A damaged header (its config, job kind, hash or counts) is an I/O error
// naming the file as damaged, never taken for a run of other parameters.
TEST_F(JournalTest, DamagedHeaderIsRefused) {
  const std::string file = path("run.h5.journal");
  io::JournalHeader h = header(300, "[job]\nkind = 'spin'\n");
  h.inputs = {{"job.file", "/data/commands.txt", std::string(64, 'a')}};
  std::vector<std::uint64_t> at = write_blocks(file, 2, h);
  io::JournalScan scan = io::scan_journal(file);
  EXPECT_EQ(scan.version, 3u);
  EXPECT_EQ(scan.header.config, h.config);
  EXPECT_EQ(scan.header.inputs, h.inputs);
  EXPECT_TRUE(scan.header.inputs_recorded);
  // Every byte of the header after the magic and version: refused, naming the file as damaged.
  for (std::uint64_t offset = 20; offset < at[0]; offset += 7) {
    write_blocks(file, 2, h);
    flip_bit(file, offset, 5);
    try {
      io::scan_journal(file);
      ADD_FAILURE() << "a bit flipped at byte " << offset << " was not noticed";
    } catch (const IoError& e) {
      EXPECT_NE(std::string(e.what()).find(file + ": the checkpoint journal's header is damaged"), std::string::npos)
          << e.what();
    }
  }
  write_blocks(file, 2, h);
  flip_bit(file, 16, 2);  // the version
  try {
    io::scan_journal(file);
    ADD_FAILURE() << "a damaged version was not noticed";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("the journal is damaged, or was written by a newer fanout"), std::string::npos)
        << e.what();
  }
}

// A journal of version 1 (no header length or CRC, no inputs) is still read.
TEST_F(JournalTest, Version1JournalIsStillRead) {
  const std::string file = path("run.h5.journal");
  std::vector<std::uint64_t> at = write_blocks(file, 3);
  std::string blocks;
  {
    std::ifstream in(file, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(at[0]));
    blocks.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  io::JournalHeader h = header(300, "[job]\nkind = 'spin'\n");
  std::string v1(io::JOURNAL_MAGIC, sizeof io::JOURNAL_MAGIC);
  auto put = [&](std::uint64_t v, std::size_t bytes = 8) { v1.append(reinterpret_cast<const char*>(&v), bytes); };
  put(1, 4);
  put(h.task_count);
  put(h.row_size);
  put(h.sessions);
  for (const std::string& s : {h.job, h.job_hash, h.config}) {
    put(s.size());
    v1 += s;
  }
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << v1 << blocks;
  }
  io::JournalScan scan;
  std::vector<Batch> read = scan_all(file, &scan);
  EXPECT_EQ(scan.version, 1u);
  EXPECT_EQ(scan.header.config, h.config);
  EXPECT_EQ(scan.header.task_count, 300u);
  EXPECT_FALSE(scan.header.inputs_recorded);
  EXPECT_EQ(ids_of(read).size(), 9u);
  EXPECT_TRUE(scan.damaged.empty());
}

// Version 3 records the size of a task record (the blocks hold them as raw
// bytes): another size is refused, naming it; a version 2 journal (no
// record_size, 56-byte records) is still read.
TEST_F(JournalTest, RecordSizeIsCheckedAndVersion2IsStillRead) {
  const std::string file = path("run.h5.journal");
  std::vector<std::uint64_t> at = write_blocks(file, 3);
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::uint64_t record_size = 0;
  std::memcpy(&record_size, bytes.data() + 32 + 24, 8);  // after the start and the three counts
  EXPECT_EQ(record_size, sizeof(TaskRecord));
  // The header rewritten: its version, its fields, its length and CRC.
  auto rewrite = [&](std::uint32_t version, const std::string& header) {
    std::string out = bytes.substr(0, 16);
    auto crc = static_cast<std::uint32_t>(
        ::crc32(0L, reinterpret_cast<const Bytef*>(header.data()), static_cast<uInt>(header.size())));
    std::uint64_t length = header.size();
    out.append(reinterpret_cast<const char*>(&version), 4).append(reinterpret_cast<const char*>(&crc), 4);
    out.append(reinterpret_cast<const char*>(&length), 8).append(header).append(bytes.substr(at[0]));
    std::ofstream(file, std::ios::binary | std::ios::trunc) << out;
  };
  const std::string header_v3 = bytes.substr(32, at[0] - 32);
  std::string header_v2 = header_v3;
  header_v2.erase(24, 8);
  rewrite(2, header_v2);
  io::JournalScan scan;
  std::vector<Batch> read = scan_all(file, &scan);
  EXPECT_EQ(scan.version, 2u);
  EXPECT_EQ(scan.header.task_count, 300u);
  EXPECT_EQ(ids_of(read).size(), 9u);
  EXPECT_TRUE(scan.damaged.empty());

  std::string header_other = header_v3;
  const std::uint64_t other = sizeof(TaskRecord) + 8;
  std::memcpy(header_other.data() + 24, &other, 8);
  rewrite(3, header_other);
  try {
    io::scan_journal(file);
    ADD_FAILURE() << "a journal of 64-byte records was read";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(file + ": the checkpoint journal's task records are 64 bytes, this "
                                                "fanout's are 56: it was written by another version of fanout"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
