// The run file: written by RunWriter, read back by read_run_file; temporary
// name until commit; clear errors for files that are not ours.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "core/error.hpp"
#include "io/hdf5.hpp"
#include "io/run_file.hpp"
#include "temp_dir_test.hpp"

namespace fs = std::filesystem;
using namespace fanout;

namespace {

using RunFileTest = TempDirTest;

const std::vector<Column> COLUMNS{{"number", ColumnType::U64, "", "n"}, {"value", ColumnType::F64, "s", "v"}};

io::RunMetadata metadata(std::uint64_t tasks) {
  io::RunMetadata meta;
  meta.job = "test";
  meta.config = "[job]\nkind = 'test'\n";
  meta.command_line = "fanout run x.toml";
  meta.created = "2026-01-01T00:00:00Z";
  meta.scheduler = "dynamic";
  meta.chunk = "auto";
  meta.mpi_library = "Open MPI";
  meta.n_ranks = 2;
  meta.threads_per_rank = 1;
  meta.task_count = tasks;
  return meta;
}

void write_sample(const std::string& file, std::uint64_t tasks, bool replaces = false) {
  RowLayout layout(COLUMNS);
  std::vector<TaskRecord> records(tasks);
  std::vector<std::byte> rows(tasks * layout.size());
  for (std::uint64_t i = 0; i < tasks; ++i) {
    records[i].id = i;
    records[i].rank = static_cast<std::int32_t>(i % 2);
    records[i].thread = 0;
    records[i].t_start = static_cast<double>(i);
    records[i].t_end = static_cast<double>(i) + 0.5;
    records[i].cpu_user = 0.25;
    records[i].attempt = 1;
    records[i].status = i == 3 ? TaskStatus::Failed : TaskStatus::Ok;
    Row row(layout, std::span(rows).subspan(i * layout.size(), layout.size()));
    row.set<std::uint64_t>(0, i * i);
    row.set<double>(1, 0.5 * static_cast<double>(i));
  }
  io::RunWriter writer(file, metadata(tasks), COLUMNS);
  EXPECT_EQ(fs::exists(file), replaces) << "nothing new at the output name before commit";
  EXPECT_TRUE(fs::exists(writer.temp_path()));
  writer.write_tasks(0, records, rows);
  std::vector<RankRecord> ranks(2);
  for (int r = 0; r < 2; ++r) {
    ranks[r].rank = r;
    std::strcpy(ranks[r].host, "node");
    ranks[r].tasks = tasks / 2;
    ranks[r].busy = 1.5;
    ranks[r].cpus = r + 1;
    ranks[r].node_cpus = 4;
    ranks[r].messages_in = 10 + static_cast<std::uint64_t>(r);
    ranks[r].messages_out = 20 + static_cast<std::uint64_t>(r);
    ranks[r].bytes_in = (std::uint64_t{1} << 40) + static_cast<std::uint64_t>(r);
    ranks[r].bytes_out = 300 + static_cast<std::uint64_t>(r);
  }
  ranks[1].leader = 1;  // since 1.7 (a leader of its own group would say 0; the reader checks the range only)
  writer.write_ranks(ranks);
  writer.set_hierarchy({sched::HierarchyKind::Groups, 4});
  std::vector<PhaseRecord> phases(1);
  std::strcpy(phases[0].name, "compute");
  phases[0].t_end = 9;
  writer.write_phases(phases);
  writer.write_errors({{3, 2, 1, "boom: task 3 failed"}});
  writer.commit("failed", "2026-01-01T00:00:09Z");
  EXPECT_FALSE(fs::exists(writer.temp_path()));
}

}  // namespace

TEST_F(RunFileTest, RoundTrip) {
  std::string file = path("run.h5");
  write_sample(file, 10);
  io::RunFile run = io::read_run_file(file);
  EXPECT_EQ(run.format_version, (std::vector<std::int64_t>{1, 7}));
  EXPECT_EQ(run.job, "test");
  EXPECT_EQ(run.hierarchy, "4");  // since 1.7
  EXPECT_EQ(run.status, "failed");
  EXPECT_EQ(run.finished, "2026-01-01T00:00:09Z");
  EXPECT_EQ(run.config, "[job]\nkind = 'test'\n");
  EXPECT_EQ(run.n_ranks, 2);
  ASSERT_EQ(run.tasks.size(), 10u);
  for (std::uint64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(run.tasks[i].id, i);
    EXPECT_EQ(run.tasks[i].rank, static_cast<int>(i % 2));
    EXPECT_EQ(run.tasks[i].t_end, static_cast<double>(i) + 0.5);
    EXPECT_EQ(run.tasks[i].status, i == 3 ? TaskStatus::Failed : TaskStatus::Ok);
  }
  ASSERT_EQ(run.results.size(), 2u);
  EXPECT_EQ(run.results[0].name, "number");
  EXPECT_EQ(run.results[0].values[9], 81.0);
  EXPECT_EQ(run.results[1].name, "value");
  EXPECT_EQ(run.results[1].values[4], 2.0);
  ASSERT_EQ(run.ranks.size(), 2u);
  EXPECT_STREQ(run.ranks[1].host, "node");
  EXPECT_EQ(run.ranks[1].busy, 1.5);
  EXPECT_EQ(run.ranks[1].cpus, 2);  // since 1.5
  EXPECT_EQ(run.ranks[1].node_cpus, 4);
  EXPECT_EQ(run.ranks[0].leader, 0);  // since 1.7
  EXPECT_EQ(run.ranks[1].leader, 1);
  EXPECT_EQ(run.ranks[1].messages_in, 11u);
  EXPECT_EQ(run.ranks[1].messages_out, 21u);
  EXPECT_EQ(run.ranks[1].bytes_in, (std::uint64_t{1} << 40) + 1);
  EXPECT_EQ(run.ranks[1].bytes_out, 301u);
  ASSERT_EQ(run.phases.size(), 1u);
  EXPECT_STREQ(run.phases[0].name, "compute");
  ASSERT_EQ(run.errors.size(), 1u);
  EXPECT_EQ(run.errors[0].id, 3u);
  EXPECT_EQ(run.errors[0].message, "boom: task 3 failed");
  EXPECT_EQ(run.errors[0].attempt, 2u);
  EXPECT_EQ(run.errors[0].rank, 1);
}

TEST_F(RunFileTest, LargeFilesSpanManyChunks) {
  std::string file = path("big.h5");
  write_sample(file, 200000);
  io::RunFile run = io::read_run_file(file);
  EXPECT_EQ(run.tasks.size(), 200000u);
  EXPECT_EQ(run.results[0].values[199999], 199999.0 * 199999.0);
  EXPECT_EQ(run.tasks[131072].id, 131072u);
}

TEST_F(RunFileTest, StoredTasksInAnyOrderLandByTaskId) {
  // As a sink the writer takes tasks in any order, in batches of any size,
  // and flushes them by id: in contiguous runs or scattered points.
  std::string file = path("stream.h5");
  const std::uint64_t tasks = 3 * io::RunWriter::FLUSH_RECORDS + 123;
  RowLayout layout(COLUMNS);
  {
    io::RunWriter writer(file, metadata(tasks), COLUMNS);
    // Odd ids first (scattered), then even ids in descending blocks.
    auto send = [&](std::vector<std::uint64_t> ids) {
      std::vector<TaskRecord> records;
      std::vector<std::byte> rows(ids.size() * layout.size());
      for (std::size_t k = 0; k < ids.size(); ++k) {
        TaskRecord r;
        r.id = ids[k];
        r.rank = r.thread = 0;  // a task that ran has a rank and thread (the readers check them)
        r.attempt = 1;
        r.t_end = static_cast<double>(ids[k]);
        records.push_back(r);
        Row row(layout, std::span(rows).subspan(k * layout.size(), layout.size()));
        row.set<std::uint64_t>(0, ids[k] + 7);
        row.set<double>(1, 0.5);
      }
      writer.store(records, rows);
    };
    std::vector<std::uint64_t> odd, even;
    for (std::uint64_t i = 0; i < tasks; ++i) (i % 2 ? odd : even).push_back(i);
    for (std::size_t k = 0; k < odd.size(); k += 1000)
      send(std::vector<std::uint64_t>(odd.begin() + k, odd.begin() + std::min(odd.size(), k + 1000)));
    for (std::size_t end = even.size(); end > 0;) {
      std::size_t begin = end > 5000 ? end - 5000 : 0;
      send(std::vector<std::uint64_t>(even.begin() + begin, even.begin() + end));
      end = begin;
    }
    writer.commit("complete", "2026-01-01T00:00:01Z");
  }
  io::RunFile run = io::read_run_file(file);
  ASSERT_EQ(run.tasks.size(), tasks);
  for (std::uint64_t i = 0; i < tasks; ++i) {
    ASSERT_EQ(run.tasks[i].id, i);
    ASSERT_EQ(run.tasks[i].t_end, static_cast<double>(i));
    ASSERT_EQ(run.results[0].values[i], static_cast<double>(i + 7));
  }
}

// publish(): a whole file at the output path at once (a run being stopped),
// then the writer goes on, and its commit replaces that file with one holding
// every task and /ranks, /phases and /errors written once more.
TEST_F(RunFileTest, PublishPutsAWholeFileInPlaceAndGoesOn) {
  std::string file = path("stopped.h5");
  RowLayout layout(COLUMNS);
  auto send = [&](io::RunWriter& writer, std::uint64_t first, std::uint64_t n) {
    std::vector<TaskRecord> records(n);
    std::vector<std::byte> rows(n * layout.size());
    for (std::uint64_t k = 0; k < n; ++k) {
      records[k].id = first + k;
      records[k].attempt = 1;
      records[k].rank = records[k].thread = 0;  // a task that ran has a rank and thread (the readers check them)
      Row row(layout, std::span(rows).subspan(k * layout.size(), layout.size()));
      row.set<std::uint64_t>(0, first + k + 100);
    }
    writer.store(records, rows);
  };
  std::vector<RankRecord> ranks(2);
  ranks[1].rank = 1;  // rows in rank order (the readers check them)
  {
    io::RunWriter writer(file, metadata(10), COLUMNS);
    send(writer, 0, 4);
    writer.write_ranks(ranks);
    writer.write_errors({{7, 1, 0, "first"}});
    writer.write_phases(std::vector<PhaseRecord>(4));
    writer.publish("partial", "2026-01-01T00:00:05Z");
    EXPECT_TRUE(writer.published());
    EXPECT_TRUE(fs::exists(writer.temp_path())) << "the writer goes on with a copy";
    io::RunFile partial = io::read_run_file(file);
    EXPECT_EQ(partial.status, "partial");
    ASSERT_EQ(partial.tasks.size(), 10u);
    for (std::uint64_t i = 0; i < 10; ++i) EXPECT_EQ(partial.tasks[i].attempt, i < 4 ? 1u : 0u) << i;
    EXPECT_EQ(partial.results[0].values[3], 103.0);
    ASSERT_EQ(partial.errors.size(), 1u);

    send(writer, 4, 3);
    writer.publish("partial", "2026-01-01T00:00:06Z");  // an update during the grace
    EXPECT_EQ(io::read_run_file(file).tasks[6].attempt, 1u);
    send(writer, 7, 3);
    writer.write_ranks(ranks);
    writer.write_errors({{7, 1, 0, "first"}, {8, 1, 1, "second"}});
    writer.write_phases(std::vector<PhaseRecord>(5));
    writer.commit("complete", "2026-01-01T00:00:09Z");
    EXPECT_FALSE(fs::exists(writer.temp_path()));
  }
  io::RunFile run = io::read_run_file(file);
  EXPECT_EQ(run.status, "complete");
  EXPECT_EQ(run.finished, "2026-01-01T00:00:09Z");
  for (std::uint64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(run.tasks[i].attempt, 1u) << i;
    EXPECT_EQ(run.results[0].values[i], static_cast<double>(i + 100)) << i;
  }
  EXPECT_EQ(run.errors.size(), 2u);
  EXPECT_EQ(run.phases.size(), 5u);
  EXPECT_EQ(run.ranks.size(), 2u);
}

TEST_F(RunFileTest, TextColumnsAndTimedOutRoundTrip) {
  std::string file = path("text.h5");
  const std::vector<Column> columns{{"code", ColumnType::I32, "", "c"}, {"tail", ColumnType::Text, "", "t", 8}};
  RowLayout layout(columns);
  const std::uint64_t tasks = 3000;  // several chunks of a text column
  std::vector<TaskRecord> records(tasks);
  std::vector<std::byte> rows(tasks * layout.size());
  for (std::uint64_t i = 0; i < tasks; ++i) {
    records[i].id = i;
    records[i].rank = records[i].thread = 0;
    records[i].attempt = 1;
    records[i].status = i == 2 ? TaskStatus::TimedOut : TaskStatus::Ok;
    Row row(layout, std::span(rows).subspan(i * layout.size(), layout.size()));
    row.set<std::int32_t>(0, static_cast<std::int32_t>(i));
    row.set_text(1, i == 1 ? std::string("12345678") : "t" + std::to_string(i));
  }
  {
    io::RunWriter writer(file, metadata(tasks), columns);
    writer.store(records, rows);
    writer.commit("failed", "2026-01-01T00:00:01Z");
  }
  io::RunFile run = io::read_run_file(file);
  EXPECT_EQ(run.tasks[2].status, TaskStatus::TimedOut);
  ASSERT_EQ(run.results.size(), 2u);
  EXPECT_EQ(run.results[0].values[7], 7.0);
  EXPECT_EQ(run.results[1].type, "text");
  ASSERT_EQ(run.results[1].texts.size(), tasks);
  EXPECT_EQ(run.results[1].texts[0], "t0");
  EXPECT_EQ(run.results[1].texts[1], "12345678");
  EXPECT_EQ(run.results[1].texts[2999], "t2999");
}

TEST_F(RunFileTest, AbandonedWriterLeavesNothing) {
  std::string file = path("abandoned.h5");
  std::string temp;
  {
    io::RunWriter writer(file, metadata(4), COLUMNS);
    temp = writer.temp_path();
    EXPECT_TRUE(fs::exists(temp));
  }
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_FALSE(fs::exists(file));
}

TEST_F(RunFileTest, CommitReplacesAnOldFileOnlyWhenComplete) {
  std::string file = path("run.h5");
  { std::ofstream(file) << "old"; }
  {
    io::RunWriter writer(file, metadata(2), COLUMNS);
    std::ifstream in(file);
    std::string content;
    in >> content;
    EXPECT_EQ(content, "old") << "the old file is untouched while the new one is written";
  }
  write_sample(file, 4, true);
  EXPECT_EQ(io::read_run_file(file).tasks.size(), 4u);
}

TEST_F(RunFileTest, WriterFailsClearlyInAMissingDirectory) {
  try {
    io::RunWriter writer(path("no/such/dir/run.h5"), metadata(1), COLUMNS);
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_EQ(e.exit_code(), 3);
    EXPECT_NE(std::string(e.what()).find("cannot create " + path("no/such/dir/.run.h5.partial-")), std::string::npos)
        << e.what();
  }
}

namespace {
std::string read_error(const std::string& file) {
  try {
    io::read_run_file(file);
  } catch (const IoError& e) {
    EXPECT_EQ(e.exit_code(), 3);
    return e.what();
  }
  ADD_FAILURE() << "no IoError for " << file;
  return "";
}
}  // namespace

TEST_F(RunFileTest, ReaderRejectsWhatIsNotARunFile) {
  EXPECT_EQ(read_error(path("missing.h5")), path("missing.h5") + ": cannot open: No such file or directory");
  { std::ofstream(path("text.h5")) << "hello, not HDF5\n"; }
  EXPECT_EQ(read_error(path("text.h5")), path("text.h5") + ": not an HDF5 file (or truncated)");
  {
    io::Handle f = io::create_file(path("foreign.h5"));
    io::write_attr(f.get(), "creator", std::string("someone else"));
  }
  EXPECT_EQ(read_error(path("foreign.h5")),
            path("foreign.h5") + ": an HDF5 file, but not a fanout run file (no format = \"fanout\" attribute)");
  {
    io::Handle f = io::create_file(path("future.h5"));
    io::write_attr(f.get(), "format", std::string("fanout"));
    io::write_attr(f.get(), "format_version", std::vector<std::int64_t>{2, 0});
  }
  EXPECT_EQ(read_error(path("future.h5")),
            path("future.h5") + ": format version 2.x is newer than this fanout reads (1.x); upgrade fanout");
}

TEST_F(RunFileTest, ReaderRejectsATruncatedFile) {
  std::string file = path("run.h5");
  write_sample(file, 1000);
  fs::resize_file(file, fs::file_size(file) / 2);
  std::string message = read_error(file);
  EXPECT_EQ(message.rfind(file + ": ", 0), 0u) << message;
}

TEST_F(RunFileTest, ArrayColumnsLandByTaskIdInAnyOrder) {
  // An array column is a 2-D /results dataset; scattered ids go through the
  // read-modify-write path (rewrite_span), which must keep whole rows.
  std::string file = path("array.h5");
  const std::uint64_t tasks = 1000, width = 5;
  const std::vector<Column> columns{{"n", ColumnType::U64, "", "n"}, {"row", ColumnType::U32, "", "r", width}};
  RowLayout layout(columns);
  {
    io::RunWriter writer(file, metadata(tasks), columns);
    auto send = [&](std::vector<std::uint64_t> ids) {
      std::vector<TaskRecord> records;
      std::vector<std::byte> rows(ids.size() * layout.size());
      for (std::size_t k = 0; k < ids.size(); ++k) {
        TaskRecord r;
        r.id = ids[k];
        r.rank = r.thread = 0;  // a task that ran has a rank and thread (the readers check them)
        r.attempt = 1;
        records.push_back(r);
        Row row(layout, std::span(rows).subspan(k * layout.size(), layout.size()));
        row.set<std::uint64_t>(0, ids[k]);
        std::vector<std::uint32_t> values(width);
        for (std::uint64_t j = 0; j < width; ++j) values[j] = static_cast<std::uint32_t>(ids[k] * width + j);
        row.set<std::uint32_t>(1, values);
      }
      writer.store(records, rows);
      writer.flush();
    };
    std::vector<std::uint64_t> evens, odds;  // each scattered, in a shuffled order
    for (std::uint64_t i = 0; i < tasks; ++i) ((i * 7919) % 2 ? odds : evens).push_back((i * 7919) % tasks);
    send(evens);
    send(odds);
    writer.commit("complete", "2026-01-01T00:00:01Z");
  }
  io::Handle f = io::open_file_read(file);
  io::Handle ds = io::open_dataset(f.get(), "results/row");
  EXPECT_EQ(io::dataset_shape(ds.get()), (std::vector<std::uint64_t>{tasks, width}));
  std::vector<std::uint32_t> values(tasks * width);
  io::read_range(ds.get(), H5T_NATIVE_UINT32, 0, tasks, values.data());
  for (std::uint64_t k = 0; k < values.size(); ++k) ASSERT_EQ(values[k], k) << "element " << k;
  io::RunFile run = io::read_run_file(file);  // reports read the 1-D columns and skip the array
  ASSERT_EQ(run.results.size(), 1u);
  EXPECT_EQ(run.results[0].name, "n");
  EXPECT_EQ(run.results[0].values[999], 999.0);
}

TEST_F(RunFileTest, ErrorMessagesAndStringsAreFixedLengthAndOldFilesStillRead) {
  // Format 1.6: no variable-length strings (their bytes live in HDF5's global
  // heap, which has no checksum: a damaged one crashes libhdf5 1.10).
  std::string file = path("errors.h5");
  const std::vector<TaskError> errors{{1, 1, 0, "first"}, {2, 1, 1, ""}, {2, 2, 0, "caf\xc3\xa9 \xe2\x9c\x93"}};
  {
    io::RunWriter writer(file, metadata(4), COLUMNS);
    writer.write_errors(errors);
    writer.commit("failed", "");
  }
  auto no_vlen = [](hid_t type) { return H5Tis_variable_str(type) <= 0 && H5Tdetect_class(type, H5T_STRING) <= 0; };
  {
    io::Handle f = io::open_file_read(file);
    for (const auto& name : io::attr_names(f.get())) {
      io::Handle attr{H5Aopen(f.get(), name.c_str(), H5P_DEFAULT), H5Aclose};
      io::Handle type{H5Aget_type(attr.get()), H5Tclose};
      EXPECT_LE(H5Tis_variable_str(type.get()), 0) << "root attribute " << name;
    }
    io::Handle ds = io::open_dataset(f.get(), "errors");
    io::Handle type{H5Dget_type(ds.get()), H5Tclose};
    EXPECT_TRUE(no_vlen(type.get())) << "/errors holds no strings";
    EXPECT_EQ(io::dataset_length(io::open_dataset(f.get(), "error_messages").get()), 5u + 0u + 9u);
  }
  io::RunFile run = io::read_run_file(file);
  EXPECT_EQ(run.finished, "");
  ASSERT_EQ(run.errors.size(), 3u);
  for (std::size_t k = 0; k < errors.size(); ++k) {
    EXPECT_EQ(run.errors[k].id, errors[k].id);
    EXPECT_EQ(run.errors[k].attempt, errors[k].attempt);
    EXPECT_EQ(run.errors[k].message, errors[k].message);
  }
  // A file of format 1.5: /errors with a variable-length message, variable-length string attributes.
  {
    io::Handle f{H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose};
    ASSERT_TRUE(f.valid());
    H5Ldelete(f.get(), "errors", H5P_DEFAULT);
    H5Ldelete(f.get(), "error_messages", H5P_DEFAULT);
    struct Old {
      std::uint64_t id;
      std::uint32_t attempt;
      std::int32_t rank;
      const char* message;
    };
    io::Handle text = io::vlen_string_type();
    io::Handle type{H5Tcreate(H5T_COMPOUND, sizeof(Old)), H5Tclose};
    H5Tinsert(type.get(), "id", HOFFSET(Old, id), H5T_NATIVE_UINT64);
    H5Tinsert(type.get(), "attempt", HOFFSET(Old, attempt), H5T_NATIVE_UINT32);
    H5Tinsert(type.get(), "rank", HOFFSET(Old, rank), H5T_NATIVE_INT32);
    H5Tinsert(type.get(), "message", HOFFSET(Old, message), text.get());
    std::vector<Old> rows{{3, 1, 1, "old message"}, {0, 2, 0, ""}};
    io::Handle ds = io::create_dataset_1d(f.get(), "errors", type.get(), rows.size());
    io::write_range(ds.get(), type.get(), 0, rows.size(), rows.data());
    const char* status = "complete";
    io::write_attr(f.get(), "status", text.get(), {}, &status);
    io::write_attr(f.get(), "format_version", std::vector<std::int64_t>{1, 5});
  }
  run = io::read_run_file(file);
  EXPECT_EQ(run.format_version, (std::vector<std::int64_t>{1, 5}));
  EXPECT_EQ(run.status, "complete");
  ASSERT_EQ(run.errors.size(), 2u);
  EXPECT_EQ(run.errors[0].message, "old message");
  EXPECT_EQ(run.errors[1].message, "");
  EXPECT_EQ(run.errors[1].attempt, 2u);
}

TEST_F(RunFileTest, ADamagedChunkFailsItsChecksumNamingTheDataset) {
  std::string file = path("damaged.h5");
  write_sample(file, 100);
  haddr_t address = 0;
  {
    io::Handle f = io::open_file_read(file);
    io::Handle ds = io::open_dataset(f.get(), "results/value");
    io::Handle space{H5Dget_space(ds.get()), H5Sclose};
    hsize_t offset[1] = {0};
    unsigned mask = 0;
    hsize_t size = 0;
    ASSERT_GE(H5Dget_chunk_info(ds.get(), space.get(), 0, offset, &mask, &address, &size), 0);
    io::Handle plist{H5Dget_create_plist(ds.get()), H5Pclose};
    EXPECT_EQ(H5Pget_nfilters(plist.get()), 1) << "Fletcher-32 only: /results/value is not compressed";
  }
  {
    std::fstream out(file, std::ios::in | std::ios::out | std::ios::binary);
    out.seekg(static_cast<std::streamoff>(address + 8 * 40));
    char byte = 0;
    out.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x04);  // one bit of task 40's value
    out.seekp(static_cast<std::streamoff>(address + 8 * 40));
    out.write(&byte, 1);
  }
  EXPECT_EQ(read_error(file),
            file + ": dataset /results/value is damaged (checksum mismatch): its data is not what was written");
  try {
    io::read_finished_tasks(file, COLUMNS);
    ADD_FAILURE() << "no IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("dataset /results/value is damaged (checksum mismatch)"), std::string::npos)
        << e.what();
  }
}

TEST_F(RunFileTest, HierarchyAndMessageCountsSince17OlderFilesReadAsFlatAndNotRecorded) {
  std::string file = path("leaders.h5");
  write_sample(file, 10);
  {
    // The field descriptions follow the fields as the file orders them.
    io::Handle f = io::open_file_read(file);
    io::Handle ds = io::open_dataset(f.get(), "ranks");
    io::Handle type{H5Dget_type(ds.get()), H5Tclose};
    std::vector<std::string> described = io::read_strings_attr(ds.get(), "field_descriptions");
    ASSERT_EQ(described.size(), 2u * static_cast<std::size_t>(H5Tget_nmembers(type.get())));
    for (int m = 0; m < H5Tget_nmembers(type.get()); ++m) {
      char* name = H5Tget_member_name(type.get(), static_cast<unsigned>(m));
      EXPECT_EQ(described[2 * static_cast<std::size_t>(m)], name);
      EXPECT_NE(described[2 * static_cast<std::size_t>(m) + 1], "") << name;
      H5free_memory(name);
    }
  }
  // A file being written says "": the hierarchy is set when the run knows it.
  {
    io::RunWriter writer(path("unfinished.h5"), metadata(1), COLUMNS);
    io::Handle f = io::open_file_read(writer.temp_path());
    EXPECT_EQ(io::read_string_attr(f.get(), "hierarchy"), "");
    writer.set_hierarchy({sched::HierarchyKind::Auto, 0});  // never what a run used: flat, the dispatch without leaders
    writer.commit("complete", "");
    EXPECT_EQ(io::read_run_file(path("unfinished.h5")).hierarchy, "flat");
  }
  // Format 1.6 and older: no `hierarchy`, /ranks without the five fields.
  {
    io::Handle f{H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose};
    ASSERT_TRUE(f.valid());
    H5Adelete(f.get(), "hierarchy");
    H5Ldelete(f.get(), "ranks", H5P_DEFAULT);
    struct Old {
      std::int32_t rank;
      std::uint64_t tasks;
      double busy;
    };
    io::Handle type{H5Tcreate(H5T_COMPOUND, sizeof(Old)), H5Tclose};
    H5Tinsert(type.get(), "rank", HOFFSET(Old, rank), H5T_NATIVE_INT32);
    H5Tinsert(type.get(), "tasks", HOFFSET(Old, tasks), H5T_NATIVE_UINT64);
    H5Tinsert(type.get(), "busy", HOFFSET(Old, busy), H5T_NATIVE_DOUBLE);
    std::vector<Old> rows{{0, 5, 1.5}, {1, 5, 2.5}};
    io::Handle ds = io::create_dataset_1d(f.get(), "ranks", type.get(), rows.size());
    io::write_range(ds.get(), type.get(), 0, rows.size(), rows.data());
    io::write_attr(f.get(), "format_version", std::vector<std::int64_t>{1, 6});
  }
  io::RunFile run = io::read_run_file(file);
  EXPECT_EQ(run.hierarchy, "flat");
  ASSERT_EQ(run.ranks.size(), 2u);
  EXPECT_EQ(run.ranks[1].busy, 2.5);
  for (const auto& r : run.ranks) {
    EXPECT_EQ(r.leader, 0);
    EXPECT_EQ(r.messages_in + r.messages_out + r.bytes_in + r.bytes_out, 0u) << "rank " << r.rank;
  }
}

TEST_F(RunFileTest, ALeaderOutsideTheRunOrAnUnknownHierarchyIsRefused) {
  auto damage = [&](const std::string& name, const std::function<void(hid_t)>& how) {
    std::string file = path(name);
    write_sample(file, 4);
    io::Handle f{H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose};
    how(f.get());
    return file;
  };
  auto set_leader = [](int rank, std::int32_t leader) {
    return [=](hid_t f) {
      io::Handle ds = io::open_dataset(f, "ranks");
      io::Handle type{H5Tcreate(H5T_COMPOUND, sizeof(std::int32_t)), H5Tclose};
      H5Tinsert(type.get(), "leader", 0, H5T_NATIVE_INT32);
      std::vector<std::int32_t> leaders(2, 0);
      io::read_all(ds.get(), type.get(), leaders.data());
      leaders[static_cast<std::size_t>(rank)] = leader;
      H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, leaders.data());
    };
  };
  std::string file = damage("leader.h5", set_leader(1, 2));
  EXPECT_EQ(read_error(file), file +
                                  ": /ranks row 1: leader: expected 0 to 1 (the attribute n_ranks is 2), found 2 "
                                  "(the file is damaged)");
  file = damage("leader0.h5", set_leader(0, 1));
  EXPECT_EQ(read_error(file), file +
                                  ": /ranks row 0: leader: expected 0 (rank 0 takes work from no one), found 1 "
                                  "(the file is damaged)");
  file = damage("hierarchy.h5", [](hid_t f) { io::write_attr(f, "hierarchy", std::string("auto")); });
  EXPECT_EQ(read_error(file), file +
                                  ": attribute hierarchy: expected flat, node or a group size (a whole number >= "
                                  "1), found \"auto\" (the file is damaged)");
}
