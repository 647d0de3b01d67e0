#include "io/run_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>
#include <type_traits>
#include <variant>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "core/limits.hpp"
#include "core/run_output.hpp"
#include "core/run_status.hpp"
#include "fanout/version.hpp"
#include "io/file_kind.hpp"
#include "io/hdf5.hpp"

namespace fanout::io {
namespace {

#define FANOUT_FIELD(type, Struct, field, h5type) \
  check_status(H5Tinsert(type, #field, HOFFSET(Struct, field), h5type), "H5Tinsert " #field)

Handle status_enum_type() {
  Handle t{check_id(H5Tenum_create(H5T_NATIVE_UINT8), "H5Tenum_create"), H5Tclose};
  std::uint8_t ok = 0, failed = 1, timed_out = 2;
  check_status(H5Tenum_insert(t.get(), "ok", &ok), "H5Tenum_insert");
  check_status(H5Tenum_insert(t.get(), "failed", &failed), "H5Tenum_insert");
  check_status(H5Tenum_insert(t.get(), "timed_out", &timed_out), "H5Tenum_insert");
  return t;
}

// A bool as h5py writes numpy's bool: an enum of int8 {FALSE = 0, TRUE = 1}.
Handle bool_enum_type() {
  Handle t{check_id(H5Tenum_create(H5T_NATIVE_INT8), "H5Tenum_create"), H5Tclose};
  std::int8_t no = 0, yes = 1;
  check_status(H5Tenum_insert(t.get(), "FALSE", &no), "H5Tenum_insert");
  check_status(H5Tenum_insert(t.get(), "TRUE", &yes), "H5Tenum_insert");
  return t;
}

Handle task_type() {
  Handle t{check_id(H5Tcreate(H5T_COMPOUND, sizeof(TaskRecord)), "H5Tcreate"), H5Tclose};
  Handle status = status_enum_type();
  FANOUT_FIELD(t.get(), TaskRecord, id, H5T_NATIVE_UINT64);
  FANOUT_FIELD(t.get(), TaskRecord, rank, H5T_NATIVE_INT32);
  FANOUT_FIELD(t.get(), TaskRecord, thread, H5T_NATIVE_INT32);
  FANOUT_FIELD(t.get(), TaskRecord, status, status.get());
  FANOUT_FIELD(t.get(), TaskRecord, attempt, H5T_NATIVE_UINT32);
  FANOUT_FIELD(t.get(), TaskRecord, session, H5T_NATIVE_UINT16);
  FANOUT_FIELD(t.get(), TaskRecord, t_start, H5T_NATIVE_DOUBLE);
  FANOUT_FIELD(t.get(), TaskRecord, t_end, H5T_NATIVE_DOUBLE);
  FANOUT_FIELD(t.get(), TaskRecord, cpu_user, H5T_NATIVE_DOUBLE);
  FANOUT_FIELD(t.get(), TaskRecord, cpu_sys, H5T_NATIVE_DOUBLE);
  FANOUT_FIELD(t.get(), TaskRecord, cpu_shared, H5T_NATIVE_UINT8);  // since 1.3
  return t;
}

Handle rank_type() {
  Handle t{check_id(H5Tcreate(H5T_COMPOUND, sizeof(RankRecord)), "H5Tcreate"), H5Tclose};
  Handle host = fixed_string_type(HOST_NAME_BYTES);
  FANOUT_FIELD(t.get(), RankRecord, rank, H5T_NATIVE_INT32);
  FANOUT_FIELD(t.get(), RankRecord, host, host.get());
  FANOUT_FIELD(t.get(), RankRecord, node, host.get());
  FANOUT_FIELD(t.get(), RankRecord, pid, H5T_NATIVE_INT64);
  FANOUT_FIELD(t.get(), RankRecord, threads, H5T_NATIVE_INT32);
  FANOUT_FIELD(t.get(), RankRecord, cpus, H5T_NATIVE_INT32);       // since 1.5
  FANOUT_FIELD(t.get(), RankRecord, node_cpus, H5T_NATIVE_INT32);  // since 1.5
  FANOUT_FIELD(t.get(), RankRecord, tasks, H5T_NATIVE_UINT64);
  FANOUT_FIELD(t.get(), RankRecord, busy, H5T_NATIVE_DOUBLE);
  FANOUT_FIELD(t.get(), RankRecord, idle, H5T_NATIVE_DOUBLE);
  FANOUT_FIELD(t.get(), RankRecord, comm, H5T_NATIVE_DOUBLE);
  FANOUT_FIELD(t.get(), RankRecord, cpu_user, H5T_NATIVE_DOUBLE);
  FANOUT_FIELD(t.get(), RankRecord, cpu_sys, H5T_NATIVE_DOUBLE);
  FANOUT_FIELD(t.get(), RankRecord, max_rss, H5T_NATIVE_INT64);
  FANOUT_FIELD(t.get(), RankRecord, leader, H5T_NATIVE_INT32);         // since 1.7
  FANOUT_FIELD(t.get(), RankRecord, messages_in, H5T_NATIVE_UINT64);   // since 1.7
  FANOUT_FIELD(t.get(), RankRecord, messages_out, H5T_NATIVE_UINT64);  // since 1.7
  FANOUT_FIELD(t.get(), RankRecord, bytes_in, H5T_NATIVE_UINT64);      // since 1.7
  FANOUT_FIELD(t.get(), RankRecord, bytes_out, H5T_NATIVE_UINT64);     // since 1.7
  FANOUT_FIELD(t.get(), RankRecord, serve, H5T_NATIVE_DOUBLE);         // since 1.7
  return t;
}

Handle phase_type() {
  Handle t{check_id(H5Tcreate(H5T_COMPOUND, sizeof(PhaseRecord)), "H5Tcreate"), H5Tclose};
  Handle name = fixed_string_type(PHASE_NAME_BYTES);
  FANOUT_FIELD(t.get(), PhaseRecord, name, name.get());
  FANOUT_FIELD(t.get(), PhaseRecord, t_start, H5T_NATIVE_DOUBLE);
  FANOUT_FIELD(t.get(), PhaseRecord, t_end, H5T_NATIVE_DOUBLE);
  return t;
}

// A row of /errors (since 1.6): its message is bytes [message_offset,
// message_offset + message_length) of /error_messages.
struct ErrorRow {
  std::uint64_t id;
  std::uint32_t attempt;
  std::int32_t rank;
  std::uint64_t message_offset;
  std::uint64_t message_length;
};

Handle error_type() {
  Handle t{check_id(H5Tcreate(H5T_COMPOUND, sizeof(ErrorRow)), "H5Tcreate"), H5Tclose};
  FANOUT_FIELD(t.get(), ErrorRow, id, H5T_NATIVE_UINT64);
  FANOUT_FIELD(t.get(), ErrorRow, attempt, H5T_NATIVE_UINT32);
  FANOUT_FIELD(t.get(), ErrorRow, rank, H5T_NATIVE_INT32);
  FANOUT_FIELD(t.get(), ErrorRow, message_offset, H5T_NATIVE_UINT64);
  FANOUT_FIELD(t.get(), ErrorRow, message_length, H5T_NATIVE_UINT64);
  return t;
}

// A row of /errors in files of format 1.5 and older: a variable-length message.
struct OldErrorRow {
  std::uint64_t id;
  std::uint32_t attempt;
  std::int32_t rank;
  const char* message;
};

Handle old_error_type() {
  Handle t{check_id(H5Tcreate(H5T_COMPOUND, sizeof(OldErrorRow)), "H5Tcreate"), H5Tclose};
  Handle text = vlen_string_type();
  FANOUT_FIELD(t.get(), OldErrorRow, id, H5T_NATIVE_UINT64);
  FANOUT_FIELD(t.get(), OldErrorRow, attempt, H5T_NATIVE_UINT32);
  FANOUT_FIELD(t.get(), OldErrorRow, rank, H5T_NATIVE_INT32);
  FANOUT_FIELD(t.get(), OldErrorRow, message, text.get());
  return t;
}

// /errors (and /error_messages) of a file of any format; none without /errors.
std::vector<TaskError> read_errors(hid_t file) {
  std::vector<TaskError> errors;
  if (!link_exists(file, "errors")) return errors;
  Handle ds = open_dataset(file, "errors");
  Handle file_type{check_id(H5Dget_type(ds.get()), "H5Dget_type"), H5Tclose};
  std::uint64_t n = dataset_length(ds.get());
  if (H5Tget_member_index(file_type.get(), "message") >= 0) {  // format 1.5 and older
    H5Eclear2(H5E_DEFAULT);
    Handle type = old_error_type();
    std::vector<OldErrorRow> rows(n, OldErrorRow{0, 1, -1, nullptr});  // 1.0, 1.1: no attempt, rank
    if (!rows.empty()) read_all(ds.get(), type.get(), rows.data());
    for (const auto& r : rows) errors.push_back({r.id, r.attempt, r.rank, r.message ? r.message : ""});
    for (auto& r : rows) H5free_memory(const_cast<char*>(r.message));
    return errors;
  }
  H5Eclear2(H5E_DEFAULT);
  Handle type = error_type();
  std::vector<ErrorRow> rows(n);
  if (!rows.empty()) read_all(ds.get(), type.get(), rows.data());
  std::vector<char> text;
  if (link_exists(file, "error_messages")) {
    Handle messages = open_dataset(file, "error_messages");
    text.resize(dataset_length(messages.get()));
    if (!text.empty()) read_all(messages.get(), H5T_NATIVE_UINT8, text.data());  // bytes as they are (CHAR would clamp)
  }
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const ErrorRow& r = rows[k];
    if (r.message_offset > text.size() || r.message_length > text.size() - r.message_offset)
      throw IoError("/errors row " + std::to_string(k) + ": its message, bytes " + std::to_string(r.message_offset) +
                    " to " + std::to_string(r.message_offset) + " + " + std::to_string(r.message_length) +
                    ", lies beyond the " + std::to_string(text.size()) + " bytes of /error_messages");
    errors.push_back({r.id, r.attempt, r.rank,
                      std::string(text.data() + r.message_offset, static_cast<std::size_t>(r.message_length))});
  }
  return errors;
}

// The file keeps the memory layout minus its padding.
Handle packed(const Handle& mem_type) {
  Handle t = copy_type(mem_type.get());
  check_status(H5Tpack(t.get()), "H5Tpack");
  return t;
}

// The memory (and file) type of a result column; text is null-padded bytes.
Handle column_type(ColumnType type, std::size_t bytes) {
  switch (type) {
    case ColumnType::U8:
      return copy_type(H5T_NATIVE_UINT8);
    case ColumnType::U32:
      return copy_type(H5T_NATIVE_UINT32);
    case ColumnType::I32:
      return copy_type(H5T_NATIVE_INT32);
    case ColumnType::I64:
      return copy_type(H5T_NATIVE_INT64);
    case ColumnType::U64:
      return copy_type(H5T_NATIVE_UINT64);
    case ColumnType::F64:
      return copy_type(H5T_NATIVE_DOUBLE);
    case ColumnType::Text:
      return padded_string_type(bytes);
    case ColumnType::Bool:
      return bool_enum_type();
  }
  throw std::logic_error("unknown column type");
}

// A compound dataset of records, all written at once, with its field units.
template <class Record>
Handle write_records(hid_t loc, const std::string& name, const Handle& mem_type, const std::vector<Record>& records,
                     const std::string& units) {
  Handle file_type = packed(mem_type);
  // Written before, by RunWriter::publish: replaced.
  if (link_exists(loc, name)) check_status(H5Ldelete(loc, name.c_str(), H5P_DEFAULT), "replacing /" + name);
  Handle ds = create_dataset_1d(loc, name, file_type.get(), records.size());
  write_range(ds.get(), mem_type.get(), 0, records.size(), records.data());
  if (!units.empty()) write_attr(ds.get(), "units", units);
  return ds;
}

template <class Record>
std::vector<Record> read_records(hid_t file, const std::string& name, const Handle& mem_type) {
  Handle ds = open_dataset(file, name);
  std::vector<Record> records(dataset_length(ds.get()));
  if (!records.empty()) read_all(ds.get(), mem_type.get(), records.data());
  return records;
}

// Column c of n packed rows, as a contiguous array.
std::vector<std::byte> unpack_column(const RowLayout& layout, const std::vector<std::byte>& rows, std::size_t n,
                                     std::size_t c) {
  std::size_t size = layout.bytes(c);
  std::vector<std::byte> values(n * size);
  for (std::size_t i = 0; i < n; ++i)
    std::memcpy(values.data() + i * size, rows.data() + i * layout.size() + layout.offset(c), size);
  return values;
}

// Positions of `records` in increasing id order. Records mostly arrive in
// blocks of consecutive ids (a worker's take of a chunk): sort the blocks by
// their first id, which is the whole order unless blocks interleave (ids
// scattered by static-cyclic or longest-first); then sort the positions.
std::vector<std::size_t> id_order(const std::vector<TaskRecord>& records) {
  struct Block {
    std::uint64_t first_id;
    std::size_t begin, end;
  };
  std::vector<Block> blocks;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (!blocks.empty() && records[i].id == records[i - 1].id + 1)
      blocks.back().end = i + 1;
    else
      blocks.push_back({records[i].id, i, i + 1});
  }
  std::vector<std::size_t> order;
  order.reserve(records.size());
  auto by_id = [&](std::size_t a, std::size_t b) { return records[a].id < records[b].id; };
  if (blocks.size() * 4 > records.size()) {  // mostly scattered: sort the positions
    for (std::size_t i = 0; i < records.size(); ++i) order.push_back(i);
    std::sort(order.begin(), order.end(), by_id);
    return order;
  }
  std::sort(blocks.begin(), blocks.end(), [](const Block& a, const Block& b) { return a.first_id < b.first_id; });
  for (const auto& b : blocks)
    for (std::size_t i = b.begin; i < b.end; ++i) order.push_back(i);
  if (!std::is_sorted(order.begin(), order.end(), by_id)) std::sort(order.begin(), order.end(), by_id);
  return order;
}

const char* TASK_UNITS = "t_start=s;t_end=s;cpu_user=s;cpu_sys=s";
const char* RANK_UNITS = "busy=s;idle=s;comm=s;cpu_user=s;cpu_sys=s;max_rss=B;bytes_in=B;bytes_out=B;serve=s";
const char* PHASE_UNITS = "t_start=s;t_end=s";

// What each dataset, field and root attribute is: the file's own copy of
// docs/file-format.md (its `description`, `field_descriptions` and
// `attribute_descriptions` attributes, since 1.5), in one line each.
using Descriptions = std::vector<std::pair<std::string, std::string>>;

const char* TASKS_DESCRIPTION = "one row per task, row i = task id i: who ran it, when (run clock), its CPU time";
const Descriptions TASK_FIELDS{
    {"id", "task id, 0 to task_count-1 (equal to the row index)"},
    {"rank", "the rank that ran the task"},
    {"thread", "the worker thread (0 to threads_per_rank-1) within that rank that ran it"},
    {"status", "ok = 0, failed = 1, timed_out = 2 (counted as failed)"},
    {"attempt", "which attempt this row records: 1 for the first run, 2 for the first retry, ...; 0: never ran"},
    {"session", "the fanout run that ran the task: 0 for the first, 1 for the first resume, ..."},
    {"t_start", "start of the task, seconds on the run clock of its session"},
    {"t_end", "end of the task, seconds on the run clock of its session"},
    {"cpu_user", "user CPU time of the worker thread during the task (of its child processes for the command job), s"},
    {"cpu_sys", "system CPU time of the worker thread during the task, s"},
    {"cpu_shared",
     "0: cpu_user and cpu_sys read for this task alone; 1: its share, by wall time, of one reading for "
     "several short tasks"},
};
const char* RANKS_DESCRIPTION =
    "one row per rank, row r = rank r: where it ran, its CPUs, its time and memory, whom "
    "it took work from and its messages";
const Descriptions RANK_FIELDS{
    {"rank", "the rank"},
    {"host", "host name (gethostname)"},
    {"node", "the Slurm node name (SLURMD_NODENAME) inside a Slurm job step, else the host name"},
    {"pid", "process id"},
    {"threads", "worker threads in this rank"},
    {"cpus",
     "CPUs this rank's threads could run on: its CPU affinity (sched_getaffinity) at the start of the run, "
     "as mpirun or Slurm bound it"},
    {"node_cpus",
     "CPUs the ranks on this node could use together: the union of their affinities and their "
     "launchers' (mpirun, its daemon, slurmstepd)"},
    {"tasks", "number of tasks this rank ran"},
    {"busy", "sum of the wall times of the tasks this rank's worker threads ran, s"},
    {"idle",
     "threads x (wall time from the start of this rank's task loop until every rank had finished its task "
     "loop) - busy, s"},
    {"comm", "wall time the rank's coordinating thread spent in MPI calls during the task loop, s"},
    {"cpu_user",
     "user CPU time of the whole process (and the child processes it waited for), from the start of "
     "fanout run until every rank had finished its task loop, s"},
    {"cpu_sys", "system CPU time of the whole process, same span, s"},
    {"max_rss", "peak resident memory of the process, bytes"},
    {"leader",
     "the rank this one took work from and sent its tasks to: 0 under flat dispatch and for a leader; "
     "0 for rank 0 itself"},
    {"messages_in",
     "messages the runner received on this rank during the task loop (rank 0's: the dispatcher's "
     "load); 0: not recorded"},
    {"messages_out", "messages the runner sent from this rank during the task loop; 0: not recorded"},
    {"bytes_in", "bytes of the messages received (messages_in), bytes"},
    {"bytes_out", "bytes of the messages sent (messages_out), bytes"},
    {"serve",
     "wall time the coordinating thread spent serving the messages it received (receiving, booking, "
     "answering; not the polls that found none): rank 0's serve / messages_in is its time per message, s"},
};
const char* PHASES_DESCRIPTION =
    "the run's five phases in order (setup, distribute, compute, collect, write), on "
    "rank 0's run clock; the end of write is the wall time";
const Descriptions PHASE_FIELDS{
    {"name", "the phase: setup, distribute, compute, collect or write"},
    {"t_start", "start of the phase, seconds on the run clock"},
    {"t_end", "end of the phase, seconds on the run clock"},
};
const char* ERRORS_DESCRIPTION = "one row per failed attempt of a task, by task id and attempt";
const Descriptions ERROR_FIELDS{
    {"id", "the id of the failed task (as in /tasks)"},
    {"attempt", "which attempt failed: 1, 2, ..."},
    {"rank", "the rank it failed on"},
    {"message_offset", "where the message starts in /error_messages, bytes"},
    {"message_length", "the length of the message in /error_messages, bytes"},
};
const char* ERROR_MESSAGES_DESCRIPTION =
    "the messages of /errors (the exceptions the job threw), UTF-8, back to "
    "back in row order without separators: row k's is bytes [message_offset, "
    "message_offset + message_length)";

// The root attributes fanout itself writes (a job's finish step describes its own).
const Descriptions ROOT_ATTRIBUTES{
    {"format", "always fanout: the file is a fanout run file (docs/file-format.md)"},
    {"format_version", "[major, minor] of the file format; readers check the major number only"},
    {"fanout_version", "version of the fanout that wrote the file"},
    {"git_sha", "short git commit of the fanout source (unknown outside a git checkout)"},
    {"job", "the job kind (job.kind)"},
    {"status", "how the run ended: complete, failed or partial"},
    {"config", "the resolved config as TOML text, defaults filled in, --set and --output applied"},
    {"command_line", "the fanout command line of rank 0 (not the mpirun part), quoted for a shell"},
    {"created", "UTC time (ISO 8601) when fanout run started on rank 0"},
    {"finished", "UTC time (ISO 8601) when the file was completed"},
    {"wall_time",
     "the run's wall time in seconds: from its start to the end of the write phase (of the last "
     "session, in a resumed file)"},
    {"n_ranks", "number of MPI ranks (processes)"},
    {"threads_per_rank", "worker threads in each rank (run.threads_per_rank)"},
    {"task_count", "number of tasks: the length of /tasks and of every /results dataset"},
    {"scheduler", "the scheduling policy (schedule.policy)"},
    {"chunk", "the chunk setting: block, 1, or the configured schedule.chunk (a number or auto)"},
    {"order", "the hand-out order used: given or longest-first"},
    {"hierarchy",
     "who dispatched work to whom: flat (rank 0 to every rank), node (rank 0 to one leader per node, "
     "each to its node's ranks) or N (leaders of groups of N ranks); empty while being written"},
    {"costs", "where longest-first task costs came from: an earlier run file, job, or empty when order is given"},
    {"mpi_library", "the MPI library (MPI_Get_library_version up to its first comma)"},
    {"job_hash", "FNV-1a 64-bit digest of the [job] keys and values; resume checks it"},
    {"sessions", "how many fanout run invocations made the file: 1, plus one per resume"},
    {"inputs",
     "the files the run read (a command job's file, a sweep's CSV, a python job's module): rows of [key, "
     "path, SHA-256 of its bytes]; resume refuses a file that changed"},
    {"slurm_job_id", "the Slurm job id (SLURM_JOB_ID)"},
    {"slurm_array_task_id", "the index within a Slurm job array (SLURM_ARRAY_TASK_ID); empty outside an array"},
    {"slurm_nodelist", "the allocation's nodes in Slurm's notation (SLURM_JOB_NODELIST)"},
    {"slurm_partition", "the Slurm partition (SLURM_JOB_PARTITION)"},
    {"slurm_cpus_per_task", "CPUs per task (SLURM_CPUS_PER_TASK); empty when the job did not ask for them"},
    {"slurm_time_limit",
     "the job's time limit as squeue reports it, HH:MM:SS or D-HH:MM:SS; empty when squeue did "
     "not answer"},
    {"attribute_descriptions", "what each root attribute means: rows of [name, description]"},
};
const char* JOB_DESCRIPTION =
    "the [job] table of the config, one attribute per key (nested tables flattened with "
    "dots); attribute_descriptions gives the job's help text for each";

// The description attributes of a compound dataset: what it is, and each field's meaning in the order of
// the fields in the file (H5Tpack orders them by offset in the record, not as they were inserted).
void describe_fields(hid_t dataset, const char* description, const Descriptions& fields) {
  write_attr(dataset, "description", std::string(description));
  Handle type{check_id(H5Dget_type(dataset), "H5Dget_type"), H5Tclose};
  const int members = H5Tget_nmembers(type.get());
  check_status(members, "H5Tget_nmembers");
  std::vector<std::string> rows;
  for (int m = 0; m < members; ++m) {
    char* raw = H5Tget_member_name(type.get(), static_cast<unsigned>(m));
    if (raw == nullptr) throw IoError("H5Tget_member_name failed");
    std::string field(raw);
    H5free_memory(raw);
    auto known = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == field; });
    rows.push_back(field);
    rows.push_back(known == fields.end() ? std::string() : known->second);
  }
  write_attr(dataset, "field_descriptions", rows, 2);
}

void write_descriptions(hid_t loc, const std::string& name, const Descriptions& described) {
  std::vector<std::string> rows;
  for (const auto& [key, meaning] : described) {
    rows.push_back(key);
    rows.push_back(meaning);
  }
  write_attr(loc, name, rows, 2);
}

// The /job group: each [job] key as an attribute of its own type.
void write_job_group(hid_t file, const std::vector<JobAttribute>& attributes) {
  Handle group = create_group(file, "job");
  write_attr(group.get(), "description", std::string(JOB_DESCRIPTION));
  Descriptions described;
  for (const auto& a : attributes) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, bool>) {
            std::int8_t byte = v ? 1 : 0;
            write_attr(group.get(), a.key, bool_enum_type().get(), {}, &byte);
          } else if constexpr (std::is_same_v<T, std::vector<bool>>) {
            std::vector<std::int8_t> bytes(v.begin(), v.end());
            write_attr(group.get(), a.key, bool_enum_type().get(), {bytes.size()}, bytes.data());
          } else {
            write_attr(group.get(), a.key, v);
          }
        },
        a.value);
    described.emplace_back(a.key, a.description);
  }
  described.emplace_back("description", "what this group is");
  described.emplace_back("attribute_descriptions", "what each attribute means: rows of [name, description]");
  write_descriptions(group.get(), "attribute_descriptions", described);
  group.close("closing /job");
}

}  // namespace

struct RunWriter::Impl {
  Handle file;
  Handle tasks;
  std::vector<Handle> columns;
  std::vector<Handle> column_types;  // memory types, by column
  RowLayout layout;
  Handle task_mem_type;
  std::vector<TaskRecord> pending;  // stored, not yet written
  std::vector<std::byte> pending_rows;
  std::vector<Column> column_specs;
  std::uint64_t task_count = 0;
  std::vector<std::pair<std::string, std::string>> job_attribute_descriptions;  // root attributes Job::finish set
  explicit Impl(const std::vector<Column>& cols) : layout(cols), column_specs(cols) {}
};

namespace {

// Job::finish's view of the file: result columns by name, root attributes, /output.
class FileOutput : public RunOutput {
 public:
  explicit FileOutput(RunWriter::Impl& impl) : impl_(impl) {}
  std::uint64_t task_count() const override { return impl_.task_count; }
  std::uint64_t column_length(const std::string& column) const override {
    return impl_.column_specs[index(column)].length;
  }
  void set_attribute(const std::string& name, const AttributeValue& value, const std::string& description) override {
    write_attribute(impl_.file.get(), name, value);
    impl_.job_attribute_descriptions.emplace_back(name, description);
  }
  std::unique_ptr<OutputDataset> create_dataset(const std::string& name, ColumnType type, std::uint64_t rows,
                                                std::uint64_t columns) override {
    if (!output_.valid())
      output_ = link_exists(impl_.file.get(), "output") ? open_group(impl_.file.get(), "output")
                                                        : create_group(impl_.file.get(), "output");
    return std::make_unique<Dataset>(create_dataset_2d(output_.get(), name, column_type(type, 0).get(), rows, columns),
                                     type);
  }

  static void write_attribute(hid_t loc, const std::string& name, const AttributeValue& value) {
    std::visit([&](const auto& v) { write_attr(loc, name, v); }, value);
  }

 protected:
  void read_column(const std::string& column, ColumnType type, std::uint64_t first, std::uint64_t count,
                   void* values) override {
    std::size_t c = index(column);
    if (impl_.column_specs[c].type != type)
      throw std::logic_error("RunOutput::read: column " + column + " holds " +
                             column_type_name(impl_.column_specs[c].type) + ", not " + column_type_name(type));
    if (first + count > impl_.task_count) throw std::logic_error("RunOutput::read: tasks beyond the last one");
    read_range(impl_.columns[c].get(), column_type(type, 0).get(), first, count, values);
  }

 private:
  class Dataset : public OutputDataset {
   public:
    Dataset(Handle ds, ColumnType type) : ds_(std::move(ds)), type_(type) {}
    void set_attribute(const std::string& name, const AttributeValue& value) override {
      write_attribute(ds_.get(), name, value);
    }

   protected:
    void write(ColumnType type, std::uint64_t first, std::uint64_t count, const void* values) override {
      if (type != type_) throw std::logic_error("OutputDataset::write_rows: wrong value type");
      write_range(ds_.get(), column_type(type, 0).get(), first, count, values);
    }

   private:
    Handle ds_;
    ColumnType type_;
  };

  std::size_t index(const std::string& column) const {
    for (std::size_t c = 0; c < impl_.column_specs.size(); ++c)
      if (impl_.column_specs[c].name == column) return c;
    throw std::logic_error("RunOutput: the job has no result column " + column);
  }

  RunWriter::Impl& impl_;
  Handle output_;
};

}  // namespace

RunWriter::RunWriter(std::string path, const RunMetadata& meta, const std::vector<Column>& columns)
    : impl_(std::make_unique<Impl>(columns)), path_(std::move(path)) {
  quiet_hdf5_errors();
  std::filesystem::path p(path_);
  std::string name = ".";  // built step by step: g++ 12 warns (-Wrestrict) about a + b + c here
  name += p.filename().string();
  name += ".partial-";
  name += std::to_string(getpid());
  temp_path_ = (p.parent_path() / name).string();
  try {
    create(meta, columns);
  } catch (...) {  // the destructor does not run: remove the file here
    impl_.reset();
    std::remove(temp_path_.c_str());
    throw;
  }
}

void RunWriter::create(const RunMetadata& meta, const std::vector<Column>& columns) {
  impl_->file = create_file(temp_path_);
  hid_t f = impl_->file.get();
  write_attr(f, "format", std::string(FORMAT_NAME));
  write_attr(f, "format_version", std::vector<std::int64_t>{FORMAT_MAJOR, FORMAT_MINOR});
  write_attr(f, "fanout_version", std::string(VERSION));
  write_attr(f, "git_sha", std::string(GIT_SHA));
  write_attr(f, "job", meta.job);
  write_attr(f, "status", std::string(status_name(RunStatus::Partial)));
  write_attr(f, "config", meta.config);
  write_attr(f, "command_line", meta.command_line);
  write_attr(f, "created", meta.created);
  write_attr(f, "finished", std::string(""));
  write_attr(f, "n_ranks", meta.n_ranks);
  write_attr(f, "threads_per_rank", meta.threads_per_rank);
  write_attr(f, "task_count", static_cast<std::int64_t>(meta.task_count));
  write_attr(f, "scheduler", meta.scheduler);
  write_attr(f, "chunk", meta.chunk);
  write_attr(f, "order", meta.order);
  write_attr(f, "costs", meta.costs);
  write_attr(f, "hierarchy", std::string(""));  // set_hierarchy: what the run used
  write_attr(f, "mpi_library", meta.mpi_library);
  write_attr(f, "job_hash", meta.job_hash);
  write_attr(f, "sessions", meta.sessions);
  if (!meta.inputs.empty()) {
    std::vector<std::string> rows;
    for (const auto& input : meta.inputs) rows.insert(rows.end(), {input.key, input.path, input.sha256});
    write_attr(f, "inputs", rows, 3);
  }

  impl_->task_mem_type = task_type();
  Handle file_type = packed(impl_->task_mem_type);
  impl_->tasks = create_dataset_1d(f, "tasks", file_type.get(), meta.task_count, /*compress=*/false);
  write_attr(impl_->tasks.get(), "units", std::string(TASK_UNITS));
  describe_fields(impl_->tasks.get(), TASKS_DESCRIPTION, TASK_FIELDS);
  write_job_group(f, meta.job_attributes);
  impl_->task_count = meta.task_count;
  Handle results = create_group(f, "results");
  for (const auto& c : columns) {
    // The type of one value: a text's bytes, or one element of an array.
    Handle type = column_type(c.type, c.type == ColumnType::Text ? column_bytes(c) : 0);
    // Text values are mostly padding: compress them (they are written in
    // few, large batches, so chunks are seldom rewritten).
    bool compress = c.type == ColumnType::Text;
    Handle ds = c.type == ColumnType::Text || c.length == 1
                    ? create_dataset_1d(results.get(), c.name, type.get(), meta.task_count, compress)
                    : create_dataset_2d(results.get(), c.name, type.get(), meta.task_count, c.length,
                                        /*compress=*/false);
    if (!c.units.empty()) write_attr(ds.get(), "units", c.units);
    write_attr(ds.get(), "description", c.description);
    impl_->columns.push_back(std::move(ds));
    impl_->column_types.push_back(std::move(type));
  }
  results.close("closing /results");
}

RunWriter::~RunWriter() {
  if (!committed_) {
    // Unlinked first: its space is freed as soon as HDF5 lets go of it, even
    // when closing fails (on a full disk).
    std::remove(temp_path_.c_str());
    impl_.reset();
  }
}

void RunWriter::write_tasks(std::uint64_t first, const std::vector<TaskRecord>& records,
                            const std::vector<std::byte>& rows, std::uint64_t stride) {
  const RowLayout& layout = impl_->layout;
  if (rows.size() != records.size() * layout.size()) throw std::logic_error("write_tasks: rows do not match records");
  write_range(impl_->tasks.get(), impl_->task_mem_type.get(), first, records.size(), records.data(), stride);
  for (std::size_t c = 0; c < layout.count(); ++c) {
    auto values = unpack_column(layout, rows, records.size(), c);
    write_range(impl_->columns[c].get(), impl_->column_types[c].get(), first, records.size(), values.data(), stride);
  }
}

void RunWriter::store(std::span<const TaskRecord> records, std::span<const std::byte> rows) {
  if (impl_->pending.capacity() == 0) {
    std::size_t expected =
        std::min(FLUSH_RECORDS, FLUSH_BYTES / std::max<std::size_t>(1, impl_->layout.size())) + 65536;
    impl_->pending.reserve(expected);
    impl_->pending_rows.reserve(expected * impl_->layout.size());
  }
  impl_->pending.insert(impl_->pending.end(), records.begin(), records.end());
  impl_->pending_rows.insert(impl_->pending_rows.end(), rows.begin(), rows.end());
  if (impl_->pending.size() >= FLUSH_RECORDS || impl_->pending_rows.size() >= FLUSH_BYTES) flush();
}

void RunWriter::flush() {
  auto& pending = impl_->pending;
  if (pending.empty()) return;
  const std::size_t row_size = impl_->layout.size();
  std::vector<std::size_t> order = id_order(pending);
  // Write runs of ids with a constant stride, one call per dataset and run:
  // contiguous blocks (dynamic, static-block) and one rank's share under
  // static-cyclic (stride = ranks) are each one run.
  // Scattered ids (longest-first order): if they are dense enough, read the
  // span they cover, lay them over it, and write the span back in one piece.
  std::uint64_t first = pending[order.front()].id;
  std::uint64_t span = pending[order.back()].id - first + 1;
  std::size_t breaks = 0;
  for (std::size_t k = 1; k < order.size(); ++k)
    if (pending[order[k]].id != pending[order[k - 1]].id + 1) ++breaks;
  if (breaks > order.size() / 8 + 16 && span <= 8 * order.size()) {
    rewrite_span(first, span, order);
    pending.clear();
    impl_->pending_rows.clear();
    return;
  }
  std::vector<TaskRecord> run;
  std::vector<std::byte> run_rows;
  std::uint64_t stride = 1;
  auto write_run = [&] {
    if (run.empty()) return;
    write_tasks(run.front().id, run, run_rows, stride);
    run.clear();
    run_rows.clear();
  };
  for (std::size_t i : order) {
    const TaskRecord& r = pending[i];
    if (run.size() == 1) {
      stride = r.id - run.back().id;
    } else if (run.size() > 1 && r.id - run.back().id != stride) {
      write_run();
    }
    if (run.empty()) stride = 1;
    run.push_back(r);
    run_rows.insert(run_rows.end(), impl_->pending_rows.begin() + static_cast<std::ptrdiff_t>(i * row_size),
                    impl_->pending_rows.begin() + static_cast<std::ptrdiff_t>((i + 1) * row_size));
  }
  write_run();
  pending.clear();
  impl_->pending_rows.clear();
}

void RunWriter::rewrite_span(std::uint64_t first, std::uint64_t span, const std::vector<std::size_t>& order) {
  const RowLayout& layout = impl_->layout;
  const std::size_t row_size = layout.size();
  std::vector<TaskRecord> records(span);
  std::vector<std::byte> rows(span * row_size);
  read_range(impl_->tasks.get(), impl_->task_mem_type.get(), first, span, records.data());
  for (std::size_t c = 0; c < layout.count(); ++c) {
    std::size_t size = layout.bytes(c);
    std::vector<std::byte> values(span * size);
    read_range(impl_->columns[c].get(), impl_->column_types[c].get(), first, span, values.data());
    for (std::uint64_t i = 0; i < span; ++i)
      std::memcpy(rows.data() + i * row_size + layout.offset(c), values.data() + i * size, size);
  }
  for (std::size_t k : order) {
    std::uint64_t i = impl_->pending[k].id - first;
    records[i] = impl_->pending[k];
    std::memcpy(rows.data() + i * row_size, impl_->pending_rows.data() + k * row_size, row_size);
  }
  write_tasks(first, records, rows);
}

void RunWriter::set_attribute(const std::string& name, const std::string& value) {
  write_attr(impl_->file.get(), name, value);
}

void RunWriter::set_hierarchy(const sched::Hierarchy& used) {
  write_attr(impl_->file.get(), "hierarchy",
             used.kind == sched::HierarchyKind::Auto ? std::string("flat") : used.name());
}

void RunWriter::finish_job(const Job& job) {
  flush();
  FileOutput output(*impl_);
  job.finish(output);
}

void RunWriter::write_ranks(const std::vector<RankRecord>& ranks) {
  Handle ds = write_records(impl_->file.get(), "ranks", rank_type(), ranks, RANK_UNITS);
  describe_fields(ds.get(), RANKS_DESCRIPTION, RANK_FIELDS);
  ds.close("closing ranks");
}

void RunWriter::write_phases(const std::vector<PhaseRecord>& phases) {
  Handle ds = write_records(impl_->file.get(), "phases", phase_type(), phases, PHASE_UNITS);
  describe_fields(ds.get(), PHASES_DESCRIPTION, PHASE_FIELDS);
  ds.close("closing phases");
  // The end of the last phase (write) is the run's wall time, as fanout report gives it.
  if (!phases.empty()) write_attr(impl_->file.get(), "wall_time", phases.back().t_end);
}

void RunWriter::write_errors(const std::vector<TaskError>& errors) {
  std::vector<ErrorRow> rows;
  std::vector<std::uint8_t> text;
  for (const auto& e : errors) {
    rows.push_back({e.id, e.attempt, e.rank, text.size(), e.message.size()});
    text.insert(text.end(), e.message.begin(), e.message.end());
  }
  Handle ds = write_records(impl_->file.get(), "errors", error_type(), rows, "");
  describe_fields(ds.get(), ERRORS_DESCRIPTION, ERROR_FIELDS);
  ds.close("closing errors");
  // Written before, by RunWriter::publish: replaced, as /errors is.
  if (link_exists(impl_->file.get(), "error_messages"))
    check_status(H5Ldelete(impl_->file.get(), "error_messages", H5P_DEFAULT), "replacing /error_messages");
  Handle messages = create_dataset_1d(impl_->file.get(), "error_messages", H5T_STD_U8LE, text.size());
  write_range(messages.get(), H5T_NATIVE_UINT8, 0, text.size(), text.data());
  write_attr(messages.get(), "description", std::string(ERROR_MESSAGES_DESCRIPTION));
  messages.close("closing error_messages");
}

namespace {

// The file type of a sweep parameter's dataset.
Handle param_type(const SweepParam& p) {
  switch (p.type) {
    case ParamType::Bool:
      return bool_enum_type();
    case ParamType::Int:
      return copy_type(H5T_NATIVE_INT64);
    case ParamType::Float:
      return copy_type(H5T_NATIVE_DOUBLE);
    case ParamType::Text:
      return padded_string_type(std::max<std::size_t>(1, p.text_bytes));
  }
  throw std::logic_error("unknown parameter type");
}

// Tasks [first, first + count) of parameter `param`, packed as its memory type.
std::vector<std::byte> param_values(const Sweep& sweep, std::size_t param, std::uint64_t first, std::uint64_t count) {
  const SweepParam& p = sweep.params()[param];
  const std::size_t size = p.type == ParamType::Text   ? std::max<std::size_t>(1, p.text_bytes)
                           : p.type == ParamType::Bool ? 1
                                                       : 8;
  std::vector<std::byte> out(count * size, std::byte{0});
  for (std::uint64_t k = 0; k < count; ++k) {
    ParamValue v = sweep.value(first + k, param);
    std::byte* at = out.data() + k * size;
    if (const auto* b = std::get_if<bool>(&v)) {
      std::int8_t byte = *b ? 1 : 0;
      std::memcpy(at, &byte, 1);
    } else if (const auto* i = std::get_if<std::int64_t>(&v)) {
      std::memcpy(at, i, 8);
    } else if (const auto* d = std::get_if<double>(&v)) {
      std::memcpy(at, d, 8);
    } else {
      const auto& text = std::get<std::string>(v);
      std::memcpy(at, text.data(), std::min(size, text.size()));
    }
  }
  return out;
}

}  // namespace

void RunWriter::write_params(const Sweep& sweep) {
  constexpr std::uint64_t RANGE = 1 << 20;
  hid_t f = impl_->file.get();
  if (link_exists(f, "params")) return;  // written by publish(): it holds the same values
  Handle group = create_group(f, "params");
  write_attr(group.get(), "description",
             std::string("one dataset per sweep parameter ([params], [sweep]), indexed by task id like /results"));
  write_attr(group.get(), "mode", std::string(sweep.mode() == SweepMode::Zip ? "zip" : "product"));
  write_attr(group.get(), "repeat", static_cast<std::int64_t>(sweep.repeat()));
  write_attr(group.get(), "file", sweep.file);
  std::string names;
  for (const auto& p : sweep.params()) names += (names.empty() ? "" : ",") + p.name;
  write_attr(group.get(), "names", names);
  std::vector<std::int64_t> sizes(sweep.axes().begin(), sweep.axes().end());
  write_attr(group.get(), "axis_sizes", sizes);
  write_attr(group.get(), "describe", sweep.describe());
  const std::uint64_t n = sweep.size();
  for (std::size_t i = 0; i < sweep.params().size(); ++i) {
    const SweepParam& p = sweep.params()[i];
    Handle type = param_type(p);
    // Written whole, range by range: compression is cheap here.
    Handle ds = create_dataset_1d(group.get(), p.name, type.get(), n, /*compress=*/true);
    for (std::uint64_t first = 0; first < n; first += RANGE) {
      std::uint64_t count = std::min(RANGE, n - first);
      auto values = param_values(sweep, i, first, count);
      write_range(ds.get(), type.get(), first, count, values.data());
    }
    write_attr(ds.get(), "type", std::string(param_type_name(p.type)));
    write_attr(ds.get(), "source", std::string(param_source_name(p.source)));
    write_attr(ds.get(), "axis", static_cast<std::int64_t>(p.axis));
    write_attr(ds.get(), "axis_size", static_cast<std::int64_t>(p.size));
    write_attr(ds.get(), "definition", p.definition);
    ds.close("closing /params/" + p.name);
  }
  group.close("closing /params");
}

void RunWriter::commit(const std::string& status, const std::string& finished) {
  flush();
  hid_t f = impl_->file.get();
  write_attr(f, "status", status);
  write_attr(f, "finished", finished);
  Descriptions described;
  for (const auto& name : attr_names(f)) {
    if (name == "attribute_descriptions") continue;
    std::string meaning;
    for (const auto& [known, text] : ROOT_ATTRIBUTES)
      if (known == name) meaning = text;
    for (const auto& [job_attr, text] : impl_->job_attribute_descriptions)
      if (job_attr == name) meaning = text;
    described.emplace_back(name, meaning);
  }
  described.emplace_back("attribute_descriptions", ROOT_ATTRIBUTES.back().second);
  write_descriptions(f, "attribute_descriptions", described);
  impl_->tasks.close("closing /tasks");
  for (auto& c : impl_->columns) c.close("closing a results dataset");
  check_status(H5Fflush(f, H5F_SCOPE_GLOBAL), "flushing " + temp_path_);
  impl_->file.close("closing " + temp_path_);
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0)
    throw IoError("cannot rename " + temp_path_ + " to " + path_ + ": " + std::strerror(errno));
  committed_ = true;
}

void RunWriter::publish(const std::string& status, const std::string& finished) {
  commit(status, finished);
  published_ = true;
  std::error_code ec;
  std::filesystem::copy_file(path_, temp_path_, std::filesystem::copy_options::overwrite_existing, ec);
  if (ec)
    throw IoError("cannot copy " + path_ + " to " + temp_path_ + " to go on writing it: " + ec.message() +
                  "; tasks that finish from now on are kept in the journal only");
  committed_ = false;  // from here on the destructor removes the copy
  impl_->file = open_file_write(temp_path_);
  hid_t f = impl_->file.get();
  impl_->tasks = open_dataset(f, "tasks");
  for (std::size_t c = 0; c < impl_->column_specs.size(); ++c)
    impl_->columns[c] = open_dataset(f, "results/" + impl_->column_specs[c].name);
}

namespace {

// What the root attributes say the datasets hold. Every number a reader
// later uses as an index or a size is checked against them (and they against
// fanout's limits) before anything is sized by it: a flipped bit must give a
// message naming the file and the field, never a crash or a huge allocation.
struct Claims {
  std::int64_t n_ranks = 1;
  std::int64_t threads_per_rank = 1;
  std::int64_t sessions = 1;
  std::optional<std::uint64_t> task_count;  // the attribute, when the file has it
};

std::string damaged(const std::string& what) { return what + " (the file is damaged)"; }

// A root attribute of one whole number from low to high.
std::int64_t int_attr_in(hid_t f, const char* name, std::int64_t low, std::int64_t high) {
  std::vector<std::int64_t> v = read_int_attr(f, name);
  if (v.size() != 1 || v[0] < low || v[0] > high)
    throw IoError(damaged(fmt::format("attribute {}: expected a whole number from {} to {}, found {}", name, low, high,
                                      v.size() == 1 ? std::to_string(v[0]) : std::to_string(v.size()) + " values")));
  return v[0];
}

Claims read_claims(hid_t f) {
  Claims c;
  c.n_ranks = int_attr_in(f, "n_ranks", 1, MAX_RANKS);
  c.threads_per_rank = int_attr_in(f, "threads_per_rank", 1, MAX_THREADS_PER_RANK);
  if (attr_exists(f, "sessions")) c.sessions = int_attr_in(f, "sessions", 1, MAX_SESSIONS);  // since 1.2
  if (attr_exists(f, "task_count"))
    c.task_count = static_cast<std::uint64_t>(int_attr_in(f, "task_count", 0, static_cast<std::int64_t>(MAX_TASKS)));
  return c;
}

// The rows /tasks may have: task_count, at most MAX_TASKS.
void check_task_rows(std::uint64_t rows, const Claims& c) {
  if (c.task_count && rows != *c.task_count)
    throw IoError(damaged(fmt::format("/tasks has {} rows, but the attribute task_count is {}", rows, *c.task_count)));
  if (rows > MAX_TASKS)
    throw IoError(damaged(fmt::format("/tasks has {} rows; a run has at most {} tasks", rows, MAX_TASKS_TEXT)));
}

// A /tasks row that ran (a row never written holds zeros): its id is the row
// index, its status one of three, its session, rank and thread within the
// root attributes' counts (rank and thread of an earlier session, which may
// have had other counts, within fanout's limits), its times finite.
void check_task(const TaskRecord& t, std::uint64_t row, const Claims& c) {
  if (t.attempt == 0) return;
  auto bad = [&](const char* field, const std::string& expected, const std::string& found) {
    return IoError(damaged(fmt::format("/tasks row {}: {}: expected {}, found {}", row, field, expected, found)));
  };
  if (t.id != row) throw bad("id", fmt::format("{} (the row index)", row), std::to_string(t.id));
  const auto status = static_cast<unsigned>(t.status);
  if (status > 2) throw bad("status", "0 (ok), 1 (failed) or 2 (timed_out)", std::to_string(status));
  if (t.session >= c.sessions)
    throw bad("session", fmt::format("0 to {} (the attribute sessions is {})", c.sessions - 1, c.sessions),
              std::to_string(t.session));
  const bool last = t.session == c.sessions - 1;
  const std::int64_t ranks = last ? c.n_ranks : MAX_RANKS;
  const std::int64_t threads = last ? c.threads_per_rank : MAX_THREADS_PER_RANK;
  if (t.rank < 0 || t.rank >= ranks)
    throw bad(
        "rank",
        fmt::format("0 to {}{}", ranks - 1, last ? " (the attribute n_ranks is " + std::to_string(ranks) + ")" : ""),
        std::to_string(t.rank));
  if (t.thread < 0 || t.thread >= threads)
    throw bad("thread",
              fmt::format("0 to {}{}", threads - 1,
                          last ? " (the attribute threads_per_rank is " + std::to_string(threads) + ")" : ""),
              std::to_string(t.thread));
  if (!std::isfinite(t.t_start) || !std::isfinite(t.t_end) || t.t_end < t.t_start)
    throw bad("t_start, t_end", "finite times, t_end >= t_start", fmt::format("{} and {}", t.t_start, t.t_end));
  if (!std::isfinite(t.cpu_user) || !std::isfinite(t.cpu_sys) || t.cpu_user < 0 || t.cpu_sys < 0)
    throw bad("cpu_user, cpu_sys", "finite times >= 0", fmt::format("{} and {}", t.cpu_user, t.cpu_sys));
}

// /tasks, read whole and checked.
std::vector<TaskRecord> read_tasks(hid_t f, const Claims& c) {
  Handle ds = open_dataset(f, "tasks");
  const std::uint64_t rows = dataset_length(ds.get());
  check_task_rows(rows, c);
  std::vector<TaskRecord> tasks(rows);
  if (!tasks.empty()) read_all(ds.get(), task_type().get(), tasks.data());
  for (std::uint64_t i = 0; i < rows; ++i) check_task(tasks[i], i, c);
  return tasks;
}

// /ranks: n_ranks rows, row r for rank r.
std::vector<RankRecord> read_ranks(hid_t f, const Claims& c) {
  Handle ds = open_dataset(f, "ranks");
  const std::uint64_t rows = dataset_length(ds.get());
  if (rows != static_cast<std::uint64_t>(c.n_ranks))
    throw IoError(damaged(fmt::format("/ranks has {} rows, but the attribute n_ranks is {}", rows, c.n_ranks)));
  std::vector<RankRecord> ranks(rows);
  if (!ranks.empty()) read_all(ds.get(), rank_type().get(), ranks.data());
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    const RankRecord& k = ranks[r];
    auto bad = [&](const char* field, const std::string& expected, const std::string& found) {
      return IoError(damaged(fmt::format("/ranks row {}: {}: expected {}, found {}", r, field, expected, found)));
    };
    if (k.rank != static_cast<std::int64_t>(r))
      throw bad("rank", fmt::format("{} (the row index)", r), std::to_string(k.rank));
    if (k.threads < 0 || k.threads > MAX_THREADS_PER_RANK)
      throw bad("threads", fmt::format("0 to {}", MAX_THREADS_PER_RANK), std::to_string(k.threads));
    for (double v : {k.busy, k.idle, k.comm, k.cpu_user, k.cpu_sys, k.serve})
      if (!std::isfinite(v))
        throw bad("busy, idle, comm, cpu_user, cpu_sys, serve", "finite times", fmt::format("{}", v));
    // leader (since 1.7; 0 in older files): a rank of the run, and 0 for rank 0.
    if (k.leader < 0 || k.leader >= c.n_ranks || (r == 0 && k.leader != 0))
      throw bad("leader",
                r == 0 ? std::string("0 (rank 0 takes work from no one)")
                       : fmt::format("0 to {} (the attribute n_ranks is {})", c.n_ranks - 1, c.n_ranks),
                std::to_string(k.leader));
  }
  return ranks;
}

// /errors rows name tasks of /tasks.
void check_errors(const std::vector<TaskError>& errors, std::uint64_t tasks) {
  for (std::size_t i = 0; i < errors.size(); ++i) {
    const TaskError& e = errors[i];
    if (e.id >= tasks)
      throw IoError(damaged(fmt::format("/errors row {}: id: expected a task id from 0 to {}, found {}", i,
                                        tasks == 0 ? 0 : tasks - 1, e.id)));
    if (e.rank < -1 || e.rank >= MAX_RANKS)  // -1: files of format 1.0 and 1.1 have no rank
      throw IoError(damaged(fmt::format("/errors row {}: rank: expected 0 to {}, found {}", i, MAX_RANKS - 1, e.rank)));
  }
}

}  // namespace

Batch read_finished_tasks(const std::string& path, const std::vector<Column>& columns) {
  quiet_hdf5_errors();
  Batch out;
  try {
    Handle file = open_file_read(path);
    hid_t f = file.get();
    std::vector<TaskRecord> tasks = read_tasks(f, read_claims(f));  // every id checked: keep[k] indexes /results
    std::vector<std::uint64_t> keep;
    for (const auto& t : tasks)
      if (t.attempt > 0 && t.status == TaskStatus::Ok) keep.push_back(t.id);
    RowLayout layout(columns);
    out.rows.resize(keep.size() * layout.size());
    for (std::size_t c = 0; c < columns.size(); ++c) {
      Handle ds = open_dataset(f, "results/" + columns[c].name);
      // read_all fills `values` whole: the dataset must be exactly tasks x the column's length.
      std::vector<std::uint64_t> shape{tasks.size()};
      if (columns[c].type != ColumnType::Text && columns[c].length > 1) shape.push_back(columns[c].length);
      if (dataset_shape(ds.get()) != shape)
        throw IoError(fmt::format("/results/{}: expected {} rows of {} value{}, found the shape [{}]", columns[c].name,
                                  shape[0], shape.size() == 2 ? shape[1] : 1, shape.size() == 2 ? "s" : "",
                                  fmt::join(dataset_shape(ds.get()), ", ")));
      std::size_t size = column_bytes(columns[c]);
      std::vector<std::byte> values(tasks.size() * size);
      Handle type = column_type(columns[c].type, columns[c].type == ColumnType::Text ? size : 0);
      if (!values.empty()) read_all(ds.get(), type.get(), values.data());
      for (std::size_t k = 0; k < keep.size(); ++k)
        std::memcpy(out.rows.data() + k * layout.size() + layout.offset(c), values.data() + keep[k] * size, size);
    }
    for (std::uint64_t id : keep) out.records.push_back(tasks[id]);
    for (auto& e : read_errors(f))
      if (e.id < tasks.size() && tasks[e.id].attempt > 0 && tasks[e.id].status == TaskStatus::Ok)
        out.errors.push_back(std::move(e));
  } catch (const IoError& e) {
    throw IoError(path + ": cannot read its finished tasks: " + e.what());
  } catch (const std::bad_alloc&) {
    throw IoError(path + ": cannot read its finished tasks: they do not fit in memory");
  }
  return out;
}

namespace {

// The kind of a /results or /params dataset, from its HDF5 type; nullopt for
// a dataset of more than 2 dimensions (not a column).
std::optional<ColumnSpec> inspect_column(hid_t ds, const std::string& where) {
  std::vector<std::uint64_t> shape = dataset_shape(ds);
  if (shape.empty() || shape.size() > 2) return std::nullopt;
  ColumnSpec spec;
  spec.width = shape.size() == 2 ? static_cast<std::size_t>(shape[1]) : 0;
  Handle file_type{check_id(H5Dget_type(ds), "H5Dget_type"), H5Tclose};
  switch (H5Tget_class(file_type.get())) {
    case H5T_STRING:  // a text column (since 1.2)
      if (H5Tis_variable_str(file_type.get()) > 0)
        throw IoError(where + ": variable-length strings; a text column is fixed-length");
      spec.kind = ColumnSpec::Kind::Text;
      spec.value_bytes = H5Tget_size(file_type.get());
      break;
    case H5T_ENUM:  // a bool (since 1.4): HDF5 converts no enum to a number
      spec.kind = ColumnSpec::Kind::Bool;
      spec.value_bytes = 1;
      break;
    case H5T_FLOAT:
      spec.kind = ColumnSpec::Kind::Float;
      break;
    default:
      spec.kind = H5Tget_sign(file_type.get()) == H5T_SGN_NONE ? ColumnSpec::Kind::UInt : ColumnSpec::Kind::Int;
  }
  return spec;
}

// The memory type values of a column are read as.
Handle memory_type(const ColumnSpec& spec) {
  switch (spec.kind) {
    case ColumnSpec::Kind::Int:
      return copy_type(H5T_NATIVE_INT64);
    case ColumnSpec::Kind::UInt:
      return copy_type(H5T_NATIVE_UINT64);
    case ColumnSpec::Kind::Float:
      return copy_type(H5T_NATIVE_DOUBLE);
    case ColumnSpec::Kind::Bool:
      return bool_enum_type();
    case ColumnSpec::Kind::Text:
      return padded_string_type(spec.value_bytes);
  }
  throw std::logic_error("unknown column kind");
}

// The names of a group's datasets, in HDF5's name order.
std::vector<std::string> dataset_names(hid_t group) {
  H5G_info_t info{};
  check_status(H5Gget_info(group, &info), "H5Gget_info");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    char name[256] = {};
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT);
    names.emplace_back(name);
  }
  return names;
}

// The 1-D datasets of a group (/results, /params) as columns: numbers as
// doubles, bools (enums) as 0 and 1, text without its padding.
std::vector<ResultColumn> read_columns(hid_t file, const std::string& group_name, std::uint64_t rows) {
  std::vector<ResultColumn> columns;
  Handle group = open_group(file, group_name);
  for (const auto& name : dataset_names(group.get())) {
    Handle ds = open_dataset(group.get(), name);
    auto spec = inspect_column(ds.get(), "/" + group_name + "/" + name);
    if (spec && dataset_shape(ds.get())[0] != rows)
      throw IoError(fmt::format("/{}/{} has {} rows for {} tasks (the file is damaged)", group_name, name,
                                dataset_shape(ds.get())[0], rows));
    if (!spec || spec->width != 0) continue;  // array columns: not read for reports
    ResultColumn column;
    column.name = name;
    std::uint64_t n = dataset_length(ds.get());
    Handle type = memory_type(*spec);
    switch (spec->kind) {
      case ColumnSpec::Kind::Text: {
        std::size_t size = spec->value_bytes;
        std::vector<char> bytes(n * size);
        if (n > 0) read_all(ds.get(), type.get(), bytes.data());
        column.type = "text";
        for (std::uint64_t k = 0; k < n; ++k) {
          std::string_view value(bytes.data() + k * size, size);
          column.texts.emplace_back(value.substr(0, value.find_last_not_of('\0') + 1));
        }
        break;
      }
      case ColumnSpec::Kind::Bool: {
        std::vector<std::int8_t> bytes(n);
        if (n > 0) read_all(ds.get(), type.get(), bytes.data());
        column.type = "bool";
        column.values.assign(bytes.begin(), bytes.end());
        break;
      }
      case ColumnSpec::Kind::UInt:
        column.type = "integer";
        column.unsigned_values.resize(n);
        if (n > 0) read_all(ds.get(), type.get(), column.unsigned_values.data());
        column.values.assign(column.unsigned_values.begin(), column.unsigned_values.end());
        break;
      default:
        column.type = spec->kind == ColumnSpec::Kind::Float ? "float" : "integer";
        column.values.resize(n);
        if (n > 0) read_all(ds.get(), H5T_NATIVE_DOUBLE, column.values.data());
    }
    columns.push_back(std::move(column));
  }
  return columns;
}

// Opens a run file after checking that it is one: a regular HDF5 file with
// format = "fanout" of a major version this fanout reads. Throws IoError
// naming the file; `version` gets its format_version.
Handle open_run_file(const std::string& path, std::vector<std::int64_t>& version) {
  quiet_hdf5_errors();
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) throw IoError(path + ": cannot open: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw IoError(path + ": not a regular file");
  htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  H5Eclear2(H5E_DEFAULT);
  if (is_hdf5 <= 0) {
    reject_if_not_run_file(path);  // a config or a journal: say which command takes it
    throw IoError(path + ": not an HDF5 file (or truncated)");
  }
  Handle file;
  try {
    file = open_file_read(path);
  } catch (const IoError& e) {
    throw IoError(path + ": cannot open as HDF5: the file is truncated or damaged (or still being written); " +
                  "HDF5 says: " + e.what());
  }
  hid_t f = file.get();
  try {
    if (!attr_exists(f, "format") || read_string_attr(f, "format") != FORMAT_NAME)
      throw IoError(path + ": an HDF5 file, but not a fanout run file (no format = \"fanout\" attribute)");
    version = read_int_attr(f, "format_version");
  } catch (const IoError& e) {
    std::string what = e.what();
    if (what.rfind(path, 0) == 0) throw;
    throw IoError(path + ": " + what);
  }
  if (version.empty() || version[0] > FORMAT_MAJOR)
    throw IoError(path + ": format version " + (version.empty() ? "?" : std::to_string(version[0])) +
                  ".x is newer than this fanout reads (" + std::to_string(FORMAT_MAJOR) + ".x); upgrade fanout");
  return file;
}

RunFile read_run(const std::string& path, bool whole) {
  RunFile run;
  run.path = path;
  Handle file = open_run_file(path, run.format_version);
  try {
    hid_t f = file.get();
    run.fanout_version = read_string_attr(f, "fanout_version");
    run.job = read_string_attr(f, "job");
    run.status = read_string_attr(f, "status");
    run.config = read_string_attr(f, "config");
    run.command_line = read_string_attr(f, "command_line");
    run.created = read_string_attr(f, "created");
    run.finished = read_string_attr(f, "finished");
    run.scheduler = read_string_attr(f, "scheduler");
    run.chunk = read_string_attr(f, "chunk");
    if (attr_exists(f, "order")) run.order = read_string_attr(f, "order");  // since 1.1
    if (attr_exists(f, "costs")) run.costs = read_string_attr(f, "costs");
    if (attr_exists(f, "hierarchy")) {  // since 1.7; flat before
      run.hierarchy = read_string_attr(f, "hierarchy");
      if (!run.hierarchy.empty()) {
        auto h = sched::parse_hierarchy(run.hierarchy);
        if (!h || h->kind == sched::HierarchyKind::Auto)
          throw IoError(
              damaged(fmt::format("attribute hierarchy: expected flat, node or a group size (a whole number "
                                  ">= 1), found \"{}\"",
                                  run.hierarchy)));
      }
    }
    run.mpi_library = read_string_attr(f, "mpi_library");
    if (attr_exists(f, "job_hash")) run.job_hash = read_string_attr(f, "job_hash");  // since 1.2
    const Claims claims = read_claims(f);
    run.sessions = claims.sessions;
    run.n_ranks = claims.n_ranks;
    run.threads_per_rank = claims.threads_per_rank;
    if (attr_exists(f, "inputs")) {  // since 1.6
      std::vector<std::string> rows = read_strings_attr(f, "inputs");
      for (std::size_t i = 0; i + 3 <= rows.size(); i += 3) run.inputs.push_back({rows[i], rows[i + 1], rows[i + 2]});
    }
    if (!whole) return run;
    run.tasks = read_tasks(f, claims);
    if (link_exists(f, "ranks")) run.ranks = read_ranks(f, claims);
    if (link_exists(f, "phases")) run.phases = read_records<PhaseRecord>(f, "phases", phase_type());
    run.errors = read_errors(f);
    check_errors(run.errors, run.tasks.size());
    run.results = read_columns(f, "results", run.tasks.size());
    if (link_exists(f, "params")) {  // since 1.4
      run.params = read_columns(f, "params", run.tasks.size());
      Handle group = open_group(f, "params");
      if (attr_exists(group.get(), "describe")) run.sweep = read_string_attr(group.get(), "describe");
    }
  } catch (const IoError& e) {
    std::string what = e.what();
    if (what.rfind(path, 0) == 0) throw;
    throw IoError(path + ": " + what);
  } catch (const std::bad_alloc&) {
    throw IoError(path + ": does not fit in memory");
  }
  return run;
}

}  // namespace

RunFile read_run_file(const std::string& path) { return read_run(path, true); }

RunFile read_run_attributes(const std::string& path) { return read_run(path, false); }

std::vector<double> task_durations(const RunFile& run, std::uint64_t n) {
  std::vector<double> durations(n, 0.0);
  std::vector<bool> known(n, false);
  double sum = 0;
  std::uint64_t count = 0;
  for (const auto& t : run.tasks) {
    if (t.attempt == 0 || t.status != TaskStatus::Ok || t.id >= n) continue;
    durations[t.id] = t.t_end - t.t_start;
    known[t.id] = true;
    sum += durations[t.id];
    ++count;
  }
  double mean = count ? sum / static_cast<double>(count) : 0;
  for (std::uint64_t i = 0; i < n; ++i)
    if (!known[i]) durations[i] = mean;
  return durations;
}

struct TaskRangeReader::Impl {
  std::string path;
  Handle file;
  Handle tasks;
  Handle task_mem_type;
  std::uint64_t task_count = 0;
  std::vector<ColumnSpec> params, results;
  std::vector<Handle> datasets;  // params, then results
  std::vector<Handle> types;     // their memory types
  Claims claims;
};

TaskRangeReader::TaskRangeReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.path = path;
  std::vector<std::int64_t> version;
  m.file = open_run_file(path, version);
  try {
    hid_t f = m.file.get();
    m.claims = read_claims(f);
    m.tasks = open_dataset(f, "tasks");
    m.task_mem_type = task_type();
    m.task_count = dataset_length(m.tasks.get());
    check_task_rows(m.task_count, m.claims);
    auto add = [&](const std::string& group_name, std::vector<std::string> names, std::vector<ColumnSpec>& specs) {
      Handle group = open_group(f, group_name);
      for (const auto& name : names) {
        Handle ds = open_dataset(group.get(), name);
        auto spec = inspect_column(ds.get(), "/" + group_name + "/" + name);
        if (!spec) continue;
        if (dataset_shape(ds.get())[0] != m.task_count)
          throw IoError("/" + group_name + "/" + name + " has " + std::to_string(dataset_shape(ds.get())[0]) +
                        " rows for " + std::to_string(m.task_count) + " tasks");
        spec->name = name;
        specs.push_back(*spec);
        m.types.push_back(memory_type(*spec));
        m.datasets.push_back(std::move(ds));
      }
    };
    if (link_exists(f, "params")) {
      Handle group = open_group(f, "params");
      std::vector<std::string> names = dataset_names(group.get());
      if (attr_exists(group.get(), "names")) {  // the sweep's order, then any others by name
        std::vector<std::string> ordered;
        std::string list = read_string_attr(group.get(), "names");
        for (std::size_t at = 0; at <= list.size();) {
          std::size_t comma = std::min(list.find(',', at), list.size());
          std::string name = list.substr(at, comma - at);
          if (std::find(names.begin(), names.end(), name) != names.end()) ordered.push_back(name);
          at = comma + 1;
        }
        for (const auto& name : names)
          if (std::find(ordered.begin(), ordered.end(), name) == ordered.end()) ordered.push_back(name);
        names = ordered;
      }
      add("params", names, m.params);
    }
    if (link_exists(f, "results")) {
      Handle group = open_group(f, "results");
      add("results", dataset_names(group.get()), m.results);
    }
  } catch (const IoError& e) {
    std::string what = e.what();
    if (what.rfind(path, 0) == 0) throw;
    throw IoError(path + ": " + what);
  }
}

TaskRangeReader::~TaskRangeReader() = default;
std::uint64_t TaskRangeReader::task_count() const { return impl_->task_count; }
const std::vector<ColumnSpec>& TaskRangeReader::params() const { return impl_->params; }
const std::vector<ColumnSpec>& TaskRangeReader::results() const { return impl_->results; }

void TaskRangeReader::read(std::uint64_t first, std::uint64_t count, std::vector<TaskRecord>& records,
                           std::vector<std::vector<std::byte>>& values) {
  Impl& m = *impl_;
  try {
    records.assign(count, TaskRecord{});
    read_range(m.tasks.get(), m.task_mem_type.get(), first, count, records.data());
    for (std::uint64_t i = 0; i < count; ++i) check_task(records[i], first + i, m.claims);
    values.resize(m.datasets.size());
    for (std::size_t c = 0; c < m.datasets.size(); ++c) {
      const ColumnSpec& spec = c < m.params.size() ? m.params[c] : m.results[c - m.params.size()];
      values[c].assign(count * spec.values_per_task() * spec.value_bytes, std::byte{0});
      read_range(m.datasets[c].get(), m.types[c].get(), first, count, values[c].data());
    }
  } catch (const IoError& e) {
    throw IoError(m.path + ": " + e.what());
  }
}

}  // namespace fanout::io
