#pragma once
// Fixed-layout records: what ranks send to rank 0 and what /tasks, /ranks and
// /phases store (src/io/run_file.cpp builds the HDF5 compound types from them).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/run_status.hpp"

namespace fanout {

enum class TaskStatus : std::uint8_t { Ok = 0, Failed = 1, TimedOut = 2 };

struct TaskRecord {
  std::uint64_t id = 0;
  std::int32_t rank = -1;
  std::int32_t thread = -1;
  double t_start = 0;  // s since run start, run clock
  double t_end = 0;
  double cpu_user = 0;  // s of the thread that ran the task
  double cpu_sys = 0;
  std::uint32_t attempt = 0;  // 1 for the first attempt; 0: never ran
  TaskStatus status = TaskStatus::Ok;
  // 0: cpu_user and cpu_sys were read for this task alone. 1: for a span of
  // consecutive short tasks on its thread, read together (one reading per
  // CPU_SPAN seconds) and shared out by wall time (since format 1.3).
  std::uint8_t cpu_shared = 0;
  std::uint16_t session = 0;  // 0 for the first `fanout run`, 1 for the first resume, ...
};
// TaskRecords travel as raw bytes (core/batch.hpp: the messages to rank 0 and
// the journal's blocks) and are /tasks' compound type: a change of layout is a
// change of both formats (docs/file-format.md), so it must be deliberate.
static_assert(std::is_trivially_copyable_v<TaskRecord> && std::is_standard_layout_v<TaskRecord>);
static_assert(sizeof(TaskRecord) == 56 && alignof(TaskRecord) == 8, "TaskRecord's layout is part of the file format");
static_assert(offsetof(TaskRecord, t_start) == 16 && offsetof(TaskRecord, attempt) == 48 &&
                  offsetof(TaskRecord, status) == 52 && offsetof(TaskRecord, cpu_shared) == 53 &&
                  offsetof(TaskRecord, session) == 54,
              "no padding inside TaskRecord: every byte is written");

// A worker reads its thread's CPU time (a system call of about 0.4 us, with
// 1 us resolution) once the tasks since the last reading took this long, and
// at the end of the tasks it took at once; a task that long is measured alone.
inline constexpr double CPU_SPAN = 100e-6;

// Shares a CPU reading of `user` and `sys` seconds out over the tasks that ran
// in its span, in proportion to their wall times (equally when they took no
// measurable time); one task keeps the reading as it is.
void share_cpu(std::span<TaskRecord> span, double user, double sys);

inline constexpr std::size_t HOST_NAME_BYTES = 64;

struct RankRecord {
  std::int32_t rank = 0;
  std::int32_t threads = 0;
  // CPUs this rank's threads could run on (its affinity mask at the start of
  // the run), and CPUs the ranks on its node could use together (the union of
  // their masks and of their launchers'); 0: not recorded (before format 1.5).
  std::int32_t cpus = 0;
  std::int32_t node_cpus = 0;
  char host[HOST_NAME_BYTES] = {};
  char node[HOST_NAME_BYTES] = {};  // the Slurm node name (SLURMD_NODENAME), else the host name
  std::int64_t pid = 0;
  double busy = 0;      // s: sum of task wall times on this rank's threads
  double idle = 0;      // s: threads x compute-phase wall - busy
  double comm = 0;      // s: in MPI calls on the coordinating thread
  double cpu_user = 0;  // s: whole process
  double cpu_sys = 0;
  std::int64_t max_rss = 0;  // bytes
  std::uint64_t tasks = 0;
  // The rank this one takes work from and sends its tasks to (0 for flat
  // dispatch; itself for rank 0; a node or group leader's own leader is 0),
  // and the runner's messages this rank received and sent, with their bytes
  // (since format 1.7): rank 0's messages_in is the load on the dispatcher.
  std::int32_t leader = 0;
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  // s: the coordinating thread's time serving the messages it received
  // (receiving, booking, answering; not the polls that found none): rank
  // 0's serve / messages_in is its time per message (since format 1.7).
  double serve = 0;

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& rank& threads& cpus& node_cpus& host& node& pid& busy& idle& comm& cpu_user& cpu_sys& max_rss& tasks;
    ar& leader& messages_in& messages_out& bytes_in& bytes_out& serve;
  }
};
// /ranks' compound type is built from these offsets (io/run_file.cpp); ranks
// send RankRecords serialized field by field, so the 4 bytes of padding after
// `leader` never travel.
static_assert(std::is_trivially_copyable_v<RankRecord> && std::is_standard_layout_v<RankRecord>);
static_assert(sizeof(RankRecord) == 256 && offsetof(RankRecord, host) == 16 && offsetof(RankRecord, pid) == 144 &&
                  offsetof(RankRecord, leader) == 208 && offsetof(RankRecord, messages_in) == 216,
              "RankRecord's layout changed: update /ranks (io/run_file.cpp, docs/file-format.md) and these checks");

inline constexpr std::size_t PHASE_NAME_BYTES = 16;

struct PhaseRecord {
  char name[PHASE_NAME_BYTES] = {};
  double t_start = 0;
  double t_end = 0;
};
static_assert(std::is_trivially_copyable_v<PhaseRecord> && sizeof(PhaseRecord) == 32 &&
                  offsetof(PhaseRecord, t_start) == PHASE_NAME_BYTES,
              "/phases' compound type");
// The phase a /phases row names (null-padded); nullopt for a name fanout does not write.
inline std::optional<Phase> phase_of(const PhaseRecord& record) {
  return parse_phase(std::string_view(record.name, strnlen(record.name, sizeof record.name)));
}

// One failed attempt of a task (a task retried n times can have n of them).
struct TaskError {
  std::uint64_t id = 0;
  std::uint32_t attempt = 1;
  std::int32_t rank = -1;
  std::string message;
};

}  // namespace fanout
