#pragma once
// The run file, format "fanout" 1.x (docs/file-format.md): writer and reader.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/batch.hpp"
#include "core/inputs.hpp"
#include "core/job.hpp"
#include "core/job_attribute.hpp"
#include "core/records.hpp"
#include "core/sink.hpp"
#include "core/sweep.hpp"
#include "sched/hierarchy.hpp"

namespace fanout::io {

inline constexpr const char* FORMAT_NAME = "fanout";
inline constexpr std::int64_t FORMAT_MAJOR = 1;
inline constexpr std::int64_t FORMAT_MINOR = 7;  // 1.1: order, costs; 1.2-1.7: see docs/file-format.md

struct RunMetadata {
  std::string job;
  std::string config;  // resolved TOML
  std::string command_line;
  std::string created;  // UTC ISO 8601
  std::string scheduler;
  std::string chunk;
  std::string order;  // "given" or "longest-first"
  std::string costs;  // where longest-first costs came from: an earlier file, "job", or ""
  std::string mpi_library;
  std::string job_hash;       // hex digest of the [job] table: resume checks it
  std::int64_t sessions = 1;  // fanout runs that made the file: 1 + resumes
  std::int64_t n_ranks = 1;
  std::int64_t threads_per_rank = 1;
  std::uint64_t task_count = 0;
  std::vector<JobAttribute> job_attributes;  // the [job] table, for the /job group (since 1.5)
  std::vector<InputFile> inputs;  // the files the run read: root attribute `inputs` when there are any (since 1.6)
};

class Handle;

// Writes a run file under a temporary name beside `path` (".NAME.partial-PID")
// and renames it to `path` in commit(), so a file at `path` is always
// complete. Destroyed without commit(), it removes the temporary file.
// As a TaskSink it takes finished tasks in any order during the run and
// writes them by task id in batches, so memory stays bounded.
class RunWriter : public TaskSink {
 public:
  RunWriter(std::string path, const RunMetadata& meta, const std::vector<Column>& columns);
  RunWriter(const RunWriter&) = delete;
  RunWriter& operator=(const RunWriter&) = delete;
  ~RunWriter() override;

  // Buffers; writes when the buffer holds FLUSH_RECORDS tasks.
  void store(std::span<const TaskRecord> records, std::span<const std::byte> rows) override;
  // Writes what store() buffered.
  void flush();
  static constexpr std::size_t FLUSH_RECORDS = 1 << 18;
  static constexpr std::size_t FLUSH_BYTES = std::size_t{64} << 20;  // ...or when the rows take this much
  // Flushes, then runs the job's finish step (Job::finish) on the file.
  void finish_job(const Job& job);
  // Sets (or replaces) a string attribute of the root group.
  void set_attribute(const std::string& name, const std::string& value);
  // The root attribute `hierarchy` (since 1.7): the hierarchy the run used.
  // It is "" from create() until this is called; Auto, which a run resolves
  // before it dispatches, is written as "flat".
  void set_hierarchy(const sched::Hierarchy& used);

  // Tasks first, first + stride, ... (records.size() of them): their records and packed rows.
  void write_tasks(std::uint64_t first, const std::vector<TaskRecord>& records, const std::vector<std::byte>& rows,
                   std::uint64_t stride = 1);
  void write_ranks(const std::vector<RankRecord>& ranks);
  void write_phases(const std::vector<PhaseRecord>& phases);
  void write_errors(const std::vector<TaskError>& errors);
  // /params: one dataset per sweep parameter, indexed by task id, computed
  // range by range (memory bounded whatever the task count), with the
  // sweep's definition as attributes.
  void write_params(const Sweep& sweep);
  // Flushes, sets status and finished, closes (checked) and renames into place.
  void commit(const std::string& status, const std::string& finished);
  // A commit that goes on: the file goes into place at once (a run being
  // stopped puts what has finished at the output path), and the writer
  // carries on with a copy of it under the temporary name; a later commit
  // or publish replaces the file at the path in one rename. /ranks, /phases
  // and /errors written before are replaced when written again.
  void publish(const std::string& status, const std::string& finished);
  bool published() const { return published_; }
  const std::string& temp_path() const { return temp_path_; }

  struct Impl;

 private:
  void create(const RunMetadata& meta, const std::vector<Column>& columns);
  void rewrite_span(std::uint64_t first, std::uint64_t span, const std::vector<std::size_t>& order);
  std::unique_ptr<Impl> impl_;
  std::string path_;
  std::string temp_path_;
  bool committed_ = false;
  bool published_ = false;
};

// A result column as read back: numbers converted to double for reports;
// text columns (type "text") in `texts` instead, without their padding.
struct ResultColumn {
  std::string name;
  std::string type;
  std::vector<double> values;
  std::vector<std::string> texts;
  // Unsigned integer columns only: the values exactly (`values` rounds those above 2^53).
  std::vector<std::uint64_t> unsigned_values;
};

struct RunFile {
  std::string path;
  std::vector<std::int64_t> format_version;
  std::string fanout_version;
  std::string job;
  std::string status;
  std::string config;
  std::string command_line;
  std::string created;
  std::string finished;
  std::string scheduler;
  std::string chunk;
  std::string order;  // "" in files of format 1.0
  std::string costs;
  std::string mpi_library;
  std::string job_hash;  // "" before 1.2
  // `hierarchy` (since 1.7): "flat", "node" or a group size as digits; "flat"
  // in older files (flat dispatch was the only one); "" while being written.
  std::string hierarchy = "flat";
  std::int64_t sessions = 1;
  std::vector<InputFile> inputs;  // `inputs` (since 1.6); empty when the run read no file, or in older files
  std::int64_t n_ranks = 0;
  std::int64_t threads_per_rank = 0;
  std::vector<TaskRecord> tasks;
  std::vector<RankRecord> ranks;
  std::vector<PhaseRecord> phases;
  std::vector<TaskError> errors;
  std::vector<ResultColumn> results;
  // /params (since 1.4): one column per sweep parameter, by task id; empty
  // without a sweep. sweep: the /params group's `describe` attribute.
  std::vector<ResultColumn> params;
  std::string sweep;
};

// Reads a whole run file. Throws IoError, naming the file, when it is
// missing, not HDF5, not a fanout file, or of a newer major format version.
RunFile read_run_file(const std::string& path);
// The root attributes only (tasks, ranks, results... left empty), with the
// same checks: what resume and status need before they read the journal.
RunFile read_run_attributes(const std::string& path);

// A /results or /params dataset as the per-task export reads it.
struct ColumnSpec {
  enum class Kind { Int, UInt, Float, Bool, Text };
  std::string name;
  Kind kind = Kind::Float;
  std::size_t width = 0;        // values per task: 0 for a 1-D dataset, N for a 2-D array column
  std::size_t value_bytes = 8;  // bytes of one value in memory: 8 (int64, uint64, double), 1 (bool), N (text)
  std::size_t values_per_task() const { return width == 0 ? 1 : width; }
};

// Reads a run file's tasks a range at a time, so that an export of 10^7
// tasks never holds the whole file: /tasks records and the values of every
// /params and /results column (array columns too), in memory types
// (int64, uint64, double, int8 for bool, null-padded bytes for text).
class TaskRangeReader {
 public:
  // Checks the file as read_run_file does; throws IoError naming it.
  explicit TaskRangeReader(const std::string& path);
  TaskRangeReader(const TaskRangeReader&) = delete;
  TaskRangeReader& operator=(const TaskRangeReader&) = delete;
  ~TaskRangeReader();
  std::uint64_t task_count() const;
  const std::vector<ColumnSpec>& params() const;   // in the sweep's order (/params `names`)
  const std::vector<ColumnSpec>& results() const;  // by name
  // Tasks [first, first + count): their records; values[c] holds column c's
  // values (params first, then results), values_per_task() x value_bytes per task.
  void read(std::uint64_t first, std::uint64_t count, std::vector<TaskRecord>& records,
            std::vector<std::vector<std::byte>>& values);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The durations (t_end - t_start) of a run's tasks that finished ok, by task
// id, for ids below n; the others get the mean of those (0 when none): the
// costs an earlier run gives longest-first (fanout run --costs).
std::vector<double> task_durations(const RunFile& run, std::uint64_t n);

// The tasks of a run file that finished ok, with their packed rows (for
// `columns`, the job's) and the errors of their earlier failed attempts: what
// a resumed run carries over. Throws IoError.
Batch read_finished_tasks(const std::string& path, const std::vector<Column>& columns);

}  // namespace fanout::io
