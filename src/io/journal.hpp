#pragma once
// The checkpoint journal: rank 0 appends finished tasks to OUTPUT.journal as
// they arrive and makes them durable (fdatasync) every checkpoint interval,
// so that a run killed at any moment (kill -9, a crash, a time limit) can be
// resumed without redoing more than one interval of work. Appending costs the
// same however large the journal is: nothing written is ever rewritten.
//
// Layout (docs/file-format.md#the-checkpoint-journal): a header, then blocks.
// The header (since version 2) and each block are self-checking (length +
// CRC-32): a block cut short by a kill is recognised as a torn tail and
// ignored; a damaged block before intact ones is skipped and said so.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/batch.hpp"
#include "core/inputs.hpp"

namespace fanout::io {

std::string journal_path(const std::string& output_path);
// A journal is written under JOURNAL.new-PID until it is complete (JournalWriter).
inline constexpr const char* JOURNAL_TEMP_INFIX = ".new-";

struct JournalHeader {
  std::string job;       // job kind
  std::string job_hash;  // of the [job] table: a resume must match it
  std::uint64_t task_count = 0;
  std::uint64_t row_size = 0;
  std::uint64_t sessions = 1;     // fanout runs that wrote to this output, the journal's own included
  std::string config;             // the resolved config TOML of the run that made the journal
  std::vector<InputFile> inputs;  // the files the run read, with their digests (since version 2)
  bool inputs_recorded = true;    // false for a version 1 journal, which has no list of them
};

class JournalWriter {
 public:
  // Creates the journal under a temporary name beside `path`, with its
  // header; carry() then adds the tasks done in earlier sessions, and start()
  // makes it all durable and renames it to `path`, replacing any journal there.
  // Destroyed before start(), it removes the temporary file.
  JournalWriter(std::string path, const JournalHeader& header, double interval, std::uint64_t tasks_per_checkpoint);
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;
  ~JournalWriter();

  // Before start(): appends tasks of earlier sessions (written out every MiB).
  void carry(std::span<const TaskRecord> records, std::span<const std::byte> rows, std::span<const TaskError> errors);
  // Syncs the temporary file and renames it into place.
  void start();
  // Buffers; written out at least every second (or 1 MiB), made durable at
  // each checkpoint (interval seconds or tasks_per_checkpoint tasks).
  void add(std::span<const TaskRecord> records, std::span<const std::byte> rows, std::span<const TaskError> errors);
  // Call often: writes and syncs what is due.
  void poll();
  // Writes out and syncs everything now.
  void checkpoint();
  // Writes out what is buffered, without syncing: enough for the journal to
  // survive the death of this process (not of the machine).
  void write_out() { write_block(); }
  // After the run file is committed: the journal is no longer needed.
  void remove();
  const std::string& path() const { return path_; }
  std::uint64_t checkpoints() const { return checkpoints_; }

 private:
  void write_block();
  std::string path_;
  std::string temp_path_;  // until start()
  int fd_ = -1;
  std::vector<char> buffer_;
  std::uint64_t buffered_tasks_ = 0;  // in blocks not yet synced
  double interval_;
  std::uint64_t tasks_per_checkpoint_;
  double last_write_ = 0;
  double last_sync_ = 0;
  bool unsynced_ = false;
  std::uint64_t checkpoints_ = 0;
};

// A stretch of the journal that failed its checks and was skipped.
struct JournalDamage {
  std::uint64_t offset = 0;  // from the start of the file
  std::uint64_t bytes = 0;
  // Task records in it: by the count in its own block when it is one block
  // whose length and count agree, else -1 (unknown).
  std::int64_t records = -1;
};

struct JournalScan {
  JournalHeader header;
  std::uint32_t version = 0;
  std::uint64_t blocks = 0;   // intact blocks
  std::uint64_t records = 0;  // task records in them
  bool torn = false;          // the last block was cut short (a kill while it was written): ignored
  std::uint64_t torn_bytes = 0;
  // Damage: stretches that fail their checks but are not a torn tail (more
  // bytes follow them, or a last block of its full length with a bad CRC).
  // The intact blocks after a damaged stretch are read (found again by their
  // magic, length and CRC) and counted here.
  std::vector<JournalDamage> damaged;
  std::uint64_t blocks_after_damage = 0;
  std::uint64_t records_after_damage = 0;
};

// Reads the journal block by block, in the order written, and hands each
// intact block to `visit` (when given): memory holds one block at a time,
// however many tasks the journal has. Throws IoError (naming the file) when
// it is missing, has no valid header, or its header is damaged.
JournalScan scan_journal(const std::string& path, const std::function<void(Batch& block)>& visit = {});

// What a scan with damage found, in a sentence naming `path` ("" when it
// found none): the stretches skipped, their task records, the blocks kept
// after them, and that the tasks recorded only there run again.
std::string describe_damage(const std::string& path, const JournalScan& scan);

// The journal's first 16 bytes. Does `bytes` (a file's first bytes) begin with them?
inline constexpr char JOURNAL_MAGIC[16] = {'F', 'A', 'N', 'O', 'U', 'T', ' ',  'J',
                                           'O', 'U', 'R', 'N', 'A', 'L', '\n', '\0'};
inline bool is_journal_start(std::string_view bytes) {
  return bytes.size() >= sizeof JOURNAL_MAGIC &&
         bytes.substr(0, sizeof JOURNAL_MAGIC) == std::string_view(JOURNAL_MAGIC, sizeof JOURNAL_MAGIC);
}

}  // namespace fanout::io
