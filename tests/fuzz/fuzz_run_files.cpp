// libFuzzer target for fanout's readers of damaged run files and checkpoint
// journals (tests/fuzz/CMakeLists.txt builds it with clang; run.sh runs it).
// Every reader must give a fanout::Error (a message naming the file) or
// succeed; a crash, a sanitizer report, a hang (-timeout), another exception
// or an allocation beyond -malloc_limit_mb is a bug.
//
// At start it writes a real run file and a real journal with fanout's own
// writers (RunWriter, JournalWriter) of a small sweep of the command job:
// text, array and numeric results, /params, /errors, two ranks, two sessions.
// The first byte of an input chooses what the rest damages:
//   even: the journal. The rest is the journal's bytes (run.sh's seeds are
//         the real one); it is read as given, then again with every block's
//         CRC recomputed, so that damage inside blocks reaches the decoder
//         and the readers rather than stopping at the CRC.
//   odd:  the run file. The rest is a list of edits, 13 bytes each, made
//         through HDF5 on a copy of the real file: which attribute, dataset
//         field or dataset (byte 0), which row (byte 1..4), what value
//         (byte 5..12). libhdf5's own parsing of damaged bytes is not the
//         target: fanout's checks of what a well-formed file claims are.
// Then: status, stored_config and resume's preparation of the journal;
// report (summary, results, --by, --tasks), predict, compare, status,
// --costs durations and resume's read of finished tasks on the run file.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <hdf5.h>
#include <zlib.h>

#include "cli/status.hpp"
#include "config/config.hpp"
#include "core/batch.hpp"
#include "core/error.hpp"
#include "core/job.hpp"
#include "core/records.hpp"
#include "io/journal.hpp"
#include "io/run_file.hpp"
#include "report/answers.hpp"
#include "report/by_param.hpp"
#include "report/compare.hpp"
#include "report/predict.hpp"
#include "report/report.hpp"
#include "report/tasks.hpp"
#include "run/resume.hpp"

namespace fs = std::filesystem;
using namespace fanout;

namespace {

const char* CONFIG = R"(
[job]
kind = "command"
command = "true {a} {b}"
[job.results]
x = "float64"
t = "text[4]"
arr = "int32[2]"
[params]
a = [1, 2, 3]
b = ["u", "v"]
[run]
threads_per_rank = 2
)";

struct Base {
  fs::path dir;
  std::string run_path;       // the real run file
  std::string journal_bytes;  // the real journal
  config::LoadedConfig loaded;
  io::RunFile run;  // the real run file as read
};

Base* base = nullptr;

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_run_files: %s: %s\n", what, detail.c_str());
  std::abort();
}

// Records of the 6 tasks: two sessions, two ranks of two threads; task 5 failed once, then ran ok.
void make_tasks(std::vector<TaskRecord>& records, std::vector<std::byte>& rows, std::vector<TaskError>& errors,
                const std::vector<Column>& columns) {
  RowLayout layout(columns);
  const std::uint64_t n = base->loaded.job->task_count();
  rows.assign(n * layout.size(), std::byte{0});
  for (std::uint64_t id = 0; id < n; ++id) {
    TaskRecord t;
    t.id = id;
    t.session = id < 2 ? 0 : 1;
    t.rank = static_cast<std::int32_t>(id % 2);
    t.thread = static_cast<std::int32_t>((id / 2) % 2);
    t.t_start = 0.1 * static_cast<double>(id);
    t.t_end = t.t_start + 0.05 + 0.01 * static_cast<double>(id);
    t.cpu_user = 0.04;
    t.cpu_sys = 0.001;
    t.attempt = id == 5 ? 2 : 1;
    t.status = TaskStatus::Ok;
    records.push_back(t);
  }
  errors.push_back({5, 1, 1, "exit status 1"});
}

void make_base() {
  base = new Base;
  char pattern[] = "/tmp/fuzz_run_files.XXXXXX";
  if (const char* tmp = std::getenv("TMPDIR")) {
    static std::string p;
    p = std::string(tmp) + "/fuzz_run_files.XXXXXX";
    if (!mkdtemp(p.data())) fail("mkdtemp", p);
    base->dir = p;
  } else {
    if (!mkdtemp(pattern)) fail("mkdtemp", pattern);
    base->dir = pattern;
  }
  base->run_path = (base->dir / "base.h5").string();
  base->loaded = config::load_config(CONFIG, "fuzz.toml", {"output.path=" + base->run_path}, true);
  const auto& cfg = base->loaded;
  io::RunMetadata meta;
  meta.job = cfg.run.job_kind;
  meta.config = cfg.run.resolved_toml;
  meta.command_line = "fanout run fuzz.toml";
  meta.created = "2026-01-01T00:00:00Z";
  meta.scheduler = cfg.run.policy_name;
  meta.order = "given";
  meta.mpi_library = "none";
  meta.job_hash = run::job_hash(cfg.run.resolved_toml);
  meta.sessions = 2;
  meta.n_ranks = 2;
  meta.threads_per_rank = 2;
  meta.task_count = cfg.job->task_count();
  meta.job_attributes = config::job_attributes(cfg.run.resolved_toml);
  std::vector<TaskRecord> records;
  std::vector<std::byte> rows;
  std::vector<TaskError> errors;
  make_tasks(records, rows, errors, cfg.columns);
  {
    io::RunWriter writer(base->run_path, meta, cfg.columns);
    writer.store(records, rows);
    writer.set_attribute("chunk", "2");
    writer.flush();
    writer.write_params(*cfg.sweep);
    std::vector<RankRecord> ranks(2);
    for (int r = 0; r < 2; ++r) {
      ranks[r].rank = r;
      ranks[r].threads = 2;
      ranks[r].busy = 0.2;
      std::strcpy(ranks[r].host, "host");
      std::strcpy(ranks[r].node, "host");
    }
    writer.write_ranks(ranks);
    writer.write_errors(errors);
    std::vector<PhaseRecord> phases(5);
    const char* names[] = {"setup", "distribute", "compute", "collect", "write"};
    for (int k = 0; k < 5; ++k) {
      std::strncpy(phases[k].name, names[k], sizeof phases[k].name - 1);
      phases[k].t_start = 0.2 * k;
      phases[k].t_end = 0.2 * (k + 1);
    }
    writer.write_phases(phases);
    writer.commit("partial", "2026-01-01T00:00:01Z");
  }
  base->run = io::read_run_file(base->run_path);
  // The journal of the same run: its header, then the tasks in two blocks.
  const fs::path journal = base->dir / "base.h5.journal";
  {
    io::JournalHeader header{cfg.run.job_kind,     meta.job_hash, meta.task_count, RowLayout(cfg.columns).size(), 2,
                             cfg.run.resolved_toml};
    io::JournalWriter writer(journal.string(), header, 0, 1000);
    const std::size_t row = RowLayout(cfg.columns).size();
    writer.carry(std::span(records).first(3), std::span(rows).first(3 * row), {});
    writer.start();
    writer.add(std::span(records).subspan(3), std::span(rows).subspan(3 * row), errors);
    writer.checkpoint();
  }
  base->journal_bytes = read_bytes(journal);
  fs::remove(journal);
  std::atexit([] {
    std::error_code ec;
    fs::remove_all(base->dir, ec);
  });
  // The readers print reports and status on std::cout: into nothing.
  static std::ostringstream sink;
  std::cout.rdbuf(sink.rdbuf());
}

// Runs `read`; a fanout::Error is an answer, anything else a bug.
template <class F>
void expect_error_or_success(const char* what, F&& read) {
  try {
    read();
  } catch (const Error&) {
  } catch (const std::exception& e) {
    fail(what, std::string("not a fanout::Error: ") + e.what());
  }
}

// Recomputes every block's CRC that the block headers frame (a block of
// another length than its header says ends the walk).
std::string with_crcs_fixed(std::string bytes) {
  std::size_t at = 16 + 4 + 24;
  for (int k = 0; k < 3; ++k) {  // job, job_hash, config
    std::uint64_t n = 0;
    if (at + 8 > bytes.size()) return bytes;
    std::memcpy(&n, bytes.data() + at, 8);
    if (n > bytes.size() - at - 8) return bytes;
    at += 8 + n;
  }
  while (at + 16 <= bytes.size()) {
    std::uint64_t size = 0;
    std::memcpy(&size, bytes.data() + at + 8, 8);
    if (size > bytes.size() - at - 16) break;
    auto crc = static_cast<std::uint32_t>(
        crc32(0L, reinterpret_cast<const Bytef*>(bytes.data() + at + 16), static_cast<uInt>(size)));
    std::memcpy(bytes.data() + at + 4, &crc, 4);
    at += 16 + size;
  }
  return bytes;
}

void read_journal(const std::string& bytes) {
  const fs::path output = base->dir / "j.h5";
  const fs::path journal = base->dir / "j.h5.journal";
  fs::remove(output);
  write_bytes(journal, bytes);
  expect_error_or_success("scan_journal", [&] {
    io::scan_journal(journal.string(), [](Batch& block) {
      for (const auto& r : block.records) (void)r.id;
    });
  });
  expect_error_or_success("status of a journal", [&] { cli::print_status(journal.string()); });
  expect_error_or_success("stored_config of a journal", [&] { run::stored_config(journal.string()); });
  expect_error_or_success("resume from a journal", [&] {
    config::LoadedConfig loaded =
        config::load_config(CONFIG, "fuzz.toml", {"output.path=" + output.string()}, /*checked_elsewhere=*/true);
    run::prepare_output(loaded, "fuzz.toml", /*resume=*/true, /*force=*/false);
  });
  fs::remove(journal);
}

// One edit of the run file through HDF5: an attribute, a field of a row of a
// compound dataset, or a dataset replaced by one of another length.
struct Field {
  const char* dataset;
  const char* field;  // nullptr: a root attribute named `dataset`; "": the dataset itself, resized
  bool real;
};
const Field FIELDS[] = {
    {"n_ranks", nullptr, false},
    {"threads_per_rank", nullptr, false},
    {"sessions", nullptr, false},
    {"task_count", nullptr, false},
    {"format_version", nullptr, false},
    {"tasks", "id", false},
    {"tasks", "rank", false},
    {"tasks", "thread", false},
    {"tasks", "status", false},
    {"tasks", "attempt", false},
    {"tasks", "session", false},
    {"tasks", "t_start", true},
    {"tasks", "t_end", true},
    {"tasks", "cpu_user", true},
    {"ranks", "rank", false},
    {"ranks", "threads", false},
    {"ranks", "busy", true},
    {"ranks", "tasks", false},
    {"errors", "id", false},
    {"errors", "rank", false},
    {"errors", "attempt", false},
    {"phases", "t_end", true},
    {"tasks", "", false},
    {"ranks", "", false},
    {"results/x", "", false},
    {"results/arr", "", false},
    {"results/t", "", false},
    {"params/a", "", false},
    {"params/b", "", false},
    {"errors", "", false},
    {"scheduler", nullptr, false},
    {"chunk", nullptr, false},
    {"status", nullptr, false},
};
constexpr std::size_t EDIT_BYTES = 13;
constexpr std::size_t MAX_EDITS = 8;

void edit(hid_t file, const Field& f, std::uint32_t row, std::uint64_t bits) {
  double real = 0;
  std::memcpy(&real, &bits, 8);
  const auto value = static_cast<std::int64_t>(bits);
  if (!f.field) {  // a root attribute, replaced
    if (H5Aexists(file, f.dataset) > 0) H5Adelete(file, f.dataset);
    if (std::strcmp(f.dataset, "scheduler") == 0 || std::strcmp(f.dataset, "chunk") == 0 ||
        std::strcmp(f.dataset, "status") == 0) {
      std::string text = std::to_string(value % 1000);
      if (bits & 1) text = (bits & 2) ? "guided" : "";
      hid_t type = H5Tcopy(H5T_C_S1);
      H5Tset_size(type, text.size() + 1);
      hid_t space = H5Screate(H5S_SCALAR);
      hid_t a = H5Acreate2(file, f.dataset, type, space, H5P_DEFAULT, H5P_DEFAULT);
      H5Awrite(a, type, text.c_str());
      H5Aclose(a);
      H5Sclose(space);
      H5Tclose(type);
      return;
    }
    hsize_t n = (row % 3);  // 0: a scalar; 1, 2: an array of that many
    hid_t space = n == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr);
    hid_t a = H5Acreate2(file, f.dataset, H5T_NATIVE_INT64, space, H5P_DEFAULT, H5P_DEFAULT);
    std::int64_t values[2] = {value, 5};
    H5Awrite(a, H5T_NATIVE_INT64, values);
    H5Aclose(a);
    H5Sclose(space);
    return;
  }
  if (H5Lexists(file, f.dataset, H5P_DEFAULT) <= 0) return;
  if (*f.field == '\0') {  // the dataset, replaced by one of another length (and as many columns)
    hid_t ds = H5Dopen2(file, f.dataset, H5P_DEFAULT);
    hid_t type = H5Dget_type(ds);
    hid_t space = H5Dget_space(ds);
    hsize_t dims[2] = {0, 0};
    int rank = H5Sget_simple_extent_ndims(space);
    H5Sget_simple_extent_dims(space, dims, nullptr);
    H5Sclose(space);
    H5Dclose(ds);
    H5Ldelete(file, f.dataset, H5P_DEFAULT);
    dims[0] = row % 64;
    if (rank == 2 && (bits & 1)) dims[1] = (bits >> 1) % 8;
    space = H5Screate_simple(rank, dims, nullptr);
    ds = H5Dcreate2(file, f.dataset, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(ds);
    H5Sclose(space);
    H5Tclose(type);
    return;
  }
  // One field of one row, through a memory type of that field alone.
  hid_t ds = H5Dopen2(file, f.dataset, H5P_DEFAULT);
  hid_t space = H5Dget_space(ds);
  hsize_t dims = 0;
  H5Sget_simple_extent_dims(space, &dims, nullptr);
  if (dims > 0) {
    hsize_t start = row % dims, count = 1;
    H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, nullptr, &count, nullptr);
    hid_t mem_space = H5Screate_simple(1, &count, nullptr);
    hid_t mem = H5Tcreate(H5T_COMPOUND, 8);
    std::uint64_t buffer = bits;
    if (std::strcmp(f.field, "status") == 0) {
      // The file's own enum type: no conversion, so a value outside the enum goes in as it is.
      hid_t file_type = H5Dget_type(ds);
      hid_t status_type =
          H5Tget_member_type(file_type, static_cast<unsigned>(H5Tget_member_index(file_type, "status")));
      H5Tinsert(mem, f.field, 0, status_type);
      H5Tclose(status_type);
      H5Tclose(file_type);
    } else {
      H5Tinsert(mem, f.field, 0, f.real ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64);
    }
    H5Dwrite(ds, mem, mem_space, space, H5P_DEFAULT, &buffer);
    H5Tclose(mem);
    H5Sclose(mem_space);
  }
  H5Sclose(space);
  H5Dclose(ds);
}

void read_run(const std::uint8_t* data, std::size_t size) {
  const fs::path path = base->dir / "r.h5";
  fs::copy_file(base->run_path, path, fs::copy_options::overwrite_existing);
  fs::remove(base->dir / "r.h5.journal");
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (file < 0) fail("H5Fopen", path.string());
  for (std::size_t k = 0; k < MAX_EDITS && (k + 1) * EDIT_BYTES <= size; ++k) {
    const std::uint8_t* e = data + k * EDIT_BYTES;
    std::uint32_t row = 0;
    std::uint64_t bits = 0;
    std::memcpy(&row, e + 1, 4);
    std::memcpy(&bits, e + 5, 8);
    edit(file, FIELDS[e[0] % std::size(FIELDS)], row, bits);
  }
  H5Fclose(file);
  const std::string p = path.string();
  expect_error_or_success("report", [&] {
    io::RunFile run = io::read_run_file(p);
    report::Summary s = report::summarize(run);
    (void)report::format_text(run, s);
    (void)report::format_json(run, s);
    report::ResultsSummary r = report::summarize_results(run);
    (void)report::format_results_text(r);
    (void)report::format_results_json(run, r);
    (void)report::format_text(report::group_by_param(run, "a"));
    (void)report::format_text(report::compare({base->run, run}));
    (void)io::task_durations(run, base->loaded.job->task_count());
  });
  expect_error_or_success("predict", [&] {
    io::RunFile run = io::read_run_file(p);
    report::PredictOptions options;
    options.ranks = 3;
    (void)report::format_text(report::predict(run, options));
  });
  expect_error_or_success("report --tasks", [&] {
    std::ostringstream out;
    report::export_tasks(p, "csv", out);
  });
  expect_error_or_success("status", [&] { cli::print_status(p); });
  expect_error_or_success("resume's finished tasks", [&] { io::read_finished_tasks(p, base->loaded.columns); });
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  try {
    make_base();
  } catch (const std::exception& e) {
    fail("making the real files", e.what());
  }
  // run.sh: FANOUT_FUZZ_SEEDS=DIR writes the seed inputs (the real journal, an edit-free run file) and exits.
  if (const char* seeds = std::getenv("FANOUT_FUZZ_SEEDS")) {
    write_bytes(fs::path(seeds) / "journal", std::string(1, '\0') + base->journal_bytes);
    write_bytes(fs::path(seeds) / "run-file", std::string(1, '\1'));
    std::string one_edit = std::string(1, '\1') + std::string(1, '\5') + std::string(12, '\1');  // a /tasks id
    write_bytes(fs::path(seeds) / "run-file-id", one_edit);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  if (data[0] % 2 == 0) {
    std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
    read_journal(bytes);
    read_journal(with_crcs_fixed(bytes));
  } else {
    read_run(data + 1, size - 1);
  }
  return 0;
}
