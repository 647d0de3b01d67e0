#include "io/journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <type_traits>

#include <zlib.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/limits.hpp"

namespace fanout::io {
namespace {

// The layouts of docs/file-format.md#the-checkpoint-journal, in the machine's byte order.
// Version 1: JOURNAL_MAGIC, u32 version, then the header fields with no length or CRC.
// Version 2: JournalStart, then header_length bytes of header fields (HeaderCounts,
// three strings, the inputs), then blocks.
// Version 3: as 2, with u64 record_size after HeaderCounts: the bytes of a
// TaskRecord in the blocks (versions 1 and 2 were written with 56).
constexpr std::uint32_t JOURNAL_VERSION = 3;
constexpr std::uint32_t OLDEST_JOURNAL_VERSION = 1;
constexpr std::uint64_t RECORD_SIZE_BEFORE_VERSION_3 = 56;
struct JournalStart {
  char magic[16];
  std::uint32_t version;
  std::uint32_t header_crc;  // CRC-32 of the header_length bytes that follow
  std::uint64_t header_length;
};
static_assert(sizeof(JournalStart) == 32 && offsetof(JournalStart, version) == sizeof JOURNAL_MAGIC);
struct HeaderCounts {
  std::uint64_t task_count;
  std::uint64_t row_size;
  std::uint64_t sessions;
};
static_assert(sizeof(HeaderCounts) == 24);
// Each block: this, then `length` bytes of payload (core/batch.hpp's encoding).
struct BlockHead {
  std::uint32_t magic;
  std::uint32_t crc;     // CRC-32 of the payload
  std::uint64_t length;  // of the payload
};
static_assert(sizeof(BlockHead) == 16);
static_assert(std::is_trivially_copyable_v<JournalStart> && std::is_trivially_copyable_v<HeaderCounts> &&
                  std::is_trivially_copyable_v<BlockHead>,
              "written and read as raw bytes");
constexpr std::uint32_t BLOCK_MAGIC = 0x4b4c424a;  // "JBLK"
// The payload's start: u64 flags, u64 n_records, u64 n_errors.
constexpr std::size_t PAYLOAD_COUNTS = BATCH_HEAD_BYTES;
constexpr std::size_t WRITE_BYTES = 1 << 20;
// A block longer than this is checked (CRC-32, read piece by piece) before it is read whole.
constexpr std::uint64_t CHECK_BEFORE_READING = std::uint64_t{4} << 20;
constexpr double WRITE_SECONDS = 1.0;

std::uint32_t crc32(const char* data, std::size_t size) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  while (size > 0) {  // zlib takes uInt lengths
    auto n = static_cast<uInt>(std::min<std::size_t>(size, 1u << 30));
    crc = ::crc32(crc, reinterpret_cast<const Bytef*>(data), n);
    data += n;
    size -= n;
  }
  return static_cast<std::uint32_t>(crc);
}

template <class T>
void put(std::vector<char>& out, const T& value) {
  const auto* p = reinterpret_cast<const char*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

void put_string(std::vector<char>& out, const std::string& s) {
  put<std::uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

// Appends all of data at fd's offset. When that fails (a full disk), the
// file is cut back to where it was, so that it still ends with a whole
// block (a later write, or a resume, carries on from there), and the file
// offset goes back there too.
void write_all(int fd, const char* data, std::size_t size, const std::string& path) {
  const off_t start = ::lseek(fd, 0, SEEK_CUR);
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      if (start >= 0 && ::ftruncate(fd, start) == 0) ::lseek(fd, start, SEEK_SET);
      throw IoError("cannot write the checkpoint journal " + path + ": " + std::strerror(error), error);
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

// A block header (magic, CRC, length) and the encoded batch, appended to out.
void append_block(std::vector<char>& out, std::span<const TaskRecord> records, std::span<const std::byte> rows,
                  std::span<const TaskError> errors) {
  const std::size_t head = out.size();
  out.resize(head + sizeof(BlockHead));
  encode_into(out, records, rows, errors);
  const std::size_t start = head + sizeof(BlockHead);
  BlockHead h{BLOCK_MAGIC, 0, out.size() - start};
  h.crc = crc32(out.data() + start, h.length);
  std::memcpy(out.data() + head, &h, sizeof h);
}

// Reads header fields from memory; false once a field runs past the end.
struct Cursor {
  const char* p;
  const char* end;
  template <class T>
  bool get(T& value) {
    if (static_cast<std::size_t>(end - p) < sizeof(T)) return false;
    std::memcpy(&value, p, sizeof(T));
    p += sizeof(T);
    return true;
  }
  bool get(std::string& s) {
    std::uint64_t n = 0;
    if (!get(n) || n > static_cast<std::size_t>(end - p)) return false;
    s.assign(p, n);
    p += n;
    return true;
  }
};

std::string with_commas(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

std::string journal_path(const std::string& output_path) { return output_path + ".journal"; }

JournalWriter::JournalWriter(std::string path, const JournalHeader& header, double interval,
                             std::uint64_t tasks_per_checkpoint)
    : path_(std::move(path)), interval_(interval), tasks_per_checkpoint_(tasks_per_checkpoint) {
  temp_path_ = path_ + ".new-" + std::to_string(getpid());
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw IoError("cannot create the checkpoint journal " + temp_path_ + ": " + std::strerror(errno), errno);
  std::size_t reserve = 128 + header.job.size() + header.job_hash.size() + header.config.size();
  for (const auto& input : header.inputs) reserve += 24 + input.key.size() + input.path.size() + input.sha256.size();
  buffer_.reserve(reserve);
  buffer_.resize(sizeof(JournalStart));
  put(buffer_, HeaderCounts{header.task_count, header.row_size, header.sessions});
  put<std::uint64_t>(buffer_, sizeof(TaskRecord));
  put_string(buffer_, header.job);
  put_string(buffer_, header.job_hash);
  put_string(buffer_, header.config);
  put<std::uint64_t>(buffer_, header.inputs.size());
  for (const auto& input : header.inputs) {
    put_string(buffer_, input.key);
    put_string(buffer_, input.path);
    put_string(buffer_, input.sha256);
  }
  JournalStart start{};
  std::memcpy(start.magic, JOURNAL_MAGIC, sizeof start.magic);
  start.version = JOURNAL_VERSION;
  start.header_length = buffer_.size() - sizeof start;
  start.header_crc = crc32(buffer_.data() + sizeof start, start.header_length);
  std::memcpy(buffer_.data(), &start, sizeof start);
}

void JournalWriter::carry(std::span<const TaskRecord> records, std::span<const std::byte> rows,
                          std::span<const TaskError> errors) {
  if (records.empty() && errors.empty()) return;
  append_block(buffer_, records, rows, errors);
  if (buffer_.size() >= WRITE_BYTES) {
    write_all(fd_, buffer_.data(), buffer_.size(), temp_path_);
    buffer_.clear();
  }
}

void JournalWriter::start() {
  try {
    write_all(fd_, buffer_.data(), buffer_.size(), temp_path_);
    buffer_.clear();
    if (::fdatasync(fd_) != 0)
      throw IoError("cannot sync the checkpoint journal " + temp_path_ + ": " + std::strerror(errno), errno);
    if (std::rename(temp_path_.c_str(), path_.c_str()) != 0)
      throw IoError("cannot rename " + temp_path_ + " to " + path_ + ": " + std::strerror(errno), errno);
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    ::unlink(temp_path_.c_str());
    throw;
  }
  temp_path_.clear();
  last_write_ = last_sync_ = steady_seconds();
}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());  // never started
}

void JournalWriter::add(std::span<const TaskRecord> records, std::span<const std::byte> rows,
                        std::span<const TaskError> errors) {
  if (records.empty() && errors.empty()) return;
  append_block(buffer_, records, rows, errors);
  buffered_tasks_ += records.size();
  if (buffer_.size() >= WRITE_BYTES || buffered_tasks_ >= tasks_per_checkpoint_) poll();
}

void JournalWriter::write_block() {
  if (buffer_.empty()) return;
  write_all(fd_, buffer_.data(), buffer_.size(), path_);
  buffer_.clear();
  unsynced_ = true;
  last_write_ = steady_seconds();
}

void JournalWriter::poll() {
  if (fd_ < 0) return;
  double now = steady_seconds();
  bool sync_due = buffered_tasks_ >= tasks_per_checkpoint_ || (interval_ > 0 && now - last_sync_ >= interval_);
  if (sync_due && (unsynced_ || !buffer_.empty())) {
    checkpoint();
  } else if (!buffer_.empty() && (buffer_.size() >= WRITE_BYTES || now - last_write_ >= WRITE_SECONDS)) {
    write_block();
  }
}

void JournalWriter::checkpoint() {
  if (fd_ < 0) return;
  write_block();
  if (unsynced_ && ::fdatasync(fd_) != 0)
    throw IoError("cannot sync the checkpoint journal " + path_ + ": " + std::strerror(errno), errno);
  unsynced_ = false;
  buffered_tasks_ = 0;
  last_sync_ = steady_seconds();
  ++checkpoints_;
}

void JournalWriter::remove() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(path_.c_str());
}

JournalScan scan_journal(const std::string& path, const std::function<void(Batch& block)>& visit) {
  // Opening a FIFO (or a device) would block until a writer comes, or read forever.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    throw IoError(path + ": not a regular file (" +
                  (S_ISFIFO(st.st_mode)  ? "a FIFO"
                   : S_ISDIR(st.st_mode) ? "a directory"
                                         : "a device or socket") +
                  "); a checkpoint journal is a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open: " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<std::uint64_t>(std::max<std::streamoff>(0, in.tellg()));
  in.seekg(0);
  std::uint64_t left = file_size;  // bytes not read yet
  // Reads exactly n bytes into out; false when the file has fewer left.
  auto read = [&](void* out, std::uint64_t n) {
    if (n > left) return false;
    in.read(static_cast<char*>(out), static_cast<std::streamsize>(n));
    if (static_cast<std::uint64_t>(in.gcount()) != n) return false;
    left -= n;
    return true;
  };
  auto seek = [&](std::uint64_t offset) {
    in.clear();
    in.seekg(static_cast<std::streamoff>(offset));
    left = file_size - offset;
  };
  std::vector<char> bytes(sizeof JOURNAL_MAGIC);
  if (!read(bytes.data(), sizeof JOURNAL_MAGIC) || !is_journal_start({bytes.data(), bytes.size()}))
    throw IoError(path + ": not a fanout checkpoint journal");
  JournalScan out;
  std::uint32_t& version = out.version;
  if (!read(&version, sizeof version) || version < OLDEST_JOURNAL_VERSION || version > JOURNAL_VERSION)
    throw IoError(path + ": checkpoint journal version " + std::to_string(version) + ", this fanout reads versions " +
                  std::to_string(OLDEST_JOURNAL_VERSION) + " to " + std::to_string(JOURNAL_VERSION) +
                  ": the journal is damaged, or was written by a newer fanout");
  auto& h = out.header;
  auto header_damaged = [&](const std::string& why) {
    return IoError(path + ": the checkpoint journal's header is damaged (" + why +
                   "), so the job, config and task count it records cannot be trusted and its finished tasks cannot "
                   "be resumed; to start over, run without --resume and with --force (which discards it)");
  };
  // Whether the next n bytes, read piece by piece, have this CRC-32 (for
  // what is long: a damaged length must not take memory); then back to them.
  auto crc_ahead_matches = [&](std::uint64_t n, std::uint32_t expected) {
    const std::uint64_t at = file_size - left;
    uLong crc = ::crc32(0L, Z_NULL, 0);
    bytes.resize(CHECK_BEFORE_READING);
    for (std::uint64_t done = 0; done < n;) {
      const auto piece = static_cast<uInt>(std::min<std::uint64_t>(bytes.size(), n - done));
      if (!read(bytes.data(), piece)) return false;
      crc = ::crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()), piece);
      done += piece;
    }
    seek(at);
    return static_cast<std::uint32_t>(crc) == expected;
  };
  HeaderCounts counts{};
  std::uint64_t record_size = RECORD_SIZE_BEFORE_VERSION_3;
  if (version == 1) {  // no length, no CRC, no inputs
    h.inputs_recorded = false;
    auto read_string = [&](std::string& s) {
      std::uint64_t n = 0;
      if (!read(&n, sizeof n) || n > left) return false;
      s.resize(n);
      return read(s.data(), n);
    };
    if (!read(&counts, sizeof counts) || !read_string(h.job) || !read_string(h.job_hash) || !read_string(h.config))
      throw IoError(path + ": the checkpoint journal's header is cut short");
  } else {
    JournalStart start{};
    seek(0);
    if (!read(&start, sizeof start) || start.header_length > left)
      throw header_damaged("its length runs past the end of the file");
    if (start.header_length > CHECK_BEFORE_READING && !crc_ahead_matches(start.header_length, start.header_crc))
      throw header_damaged("its CRC-32 check fails");
    bytes.resize(start.header_length);
    if (!read(bytes.data(), bytes.size())) throw header_damaged("it cannot be read whole");
    if (crc32(bytes.data(), bytes.size()) != start.header_crc) throw header_damaged("its CRC-32 check fails");
    Cursor c{bytes.data(), bytes.data() + bytes.size()};
    std::uint64_t n_inputs = 0;
    bool ok = c.get(counts) && (version < 3 || c.get(record_size)) && c.get(h.job) && c.get(h.job_hash) &&
              c.get(h.config) && c.get(n_inputs) && n_inputs <= bytes.size();
    for (std::uint64_t i = 0; ok && i < n_inputs; ++i) {
      InputFile input;
      ok = c.get(input.key) && c.get(input.path) && c.get(input.sha256);
      h.inputs.push_back(std::move(input));
    }
    if (!ok || c.p != c.end) throw header_damaged("its fields do not fill its length");
  }
  // The blocks hold TaskRecords as raw bytes: another layout cannot be read.
  if (record_size != sizeof(TaskRecord))
    throw IoError(path + ": the checkpoint journal's task records are " + std::to_string(record_size) +
                  " bytes, this fanout's are " + std::to_string(sizeof(TaskRecord)) +
                  ": it was written by another version of fanout; resume it with that version, or run without "
                  "--resume and with --force to start over (which discards it)");
  h.task_count = counts.task_count;
  h.row_size = counts.row_size;
  h.sessions = counts.sessions;
  // Readers size their per-task state by task_count: a damaged header must not claim more than a run may have.
  if (h.task_count > MAX_TASKS)
    throw IoError(path + ": the checkpoint journal's header claims " + std::to_string(h.task_count) +
                  " tasks; a run has at most " + MAX_TASKS_TEXT + " (the journal is damaged)");
  if (h.sessions < 1 || h.sessions > static_cast<std::uint64_t>(MAX_SESSIONS))
    throw IoError(path + ": the checkpoint journal's header claims " + std::to_string(h.sessions) +
                  " sessions; expected 1 to " + std::to_string(MAX_SESSIONS) + " (the journal is damaged)");
  if (!visit) return out;

  // The intact block at `offset` into `block` (and the offset after it);
  // false when it fails a check.
  auto read_block = [&](std::uint64_t offset, Batch& block, std::uint64_t& next) {
    seek(offset);
    BlockHead head{};
    if (!read(&head, sizeof head) || head.magic != BLOCK_MAGIC || head.length > left) return false;
    if (head.length > CHECK_BEFORE_READING && !crc_ahead_matches(head.length, head.crc)) return false;
    bytes.resize(head.length);
    if (!read(bytes.data(), head.length) || crc32(bytes.data(), head.length) != head.crc) return false;
    std::uint64_t flags = 0;
    try {
      block = decode(bytes.data(), head.length, h.row_size, flags);
    } catch (const std::exception&) {
      return false;
    }
    next = offset + sizeof head + head.length;
    return true;
  };
  // The first intact block after `from`: found by its magic, then its
  // length and CRC; file_size when there is none.
  auto find_block = [&](std::uint64_t from) {
    std::vector<char> window(1 << 16);
    Batch ignored;
    std::uint64_t next = 0;
    for (std::uint64_t at = from; at + sizeof(BlockHead) <= file_size;) {
      seek(at);
      const std::uint64_t n = std::min<std::uint64_t>(window.size(), left);
      if (!read(window.data(), n)) break;
      for (std::uint64_t i = 0; i + 4 <= n; ++i)
        if (std::memcmp(window.data() + i, &BLOCK_MAGIC, 4) == 0 && read_block(at + i, ignored, next)) return at + i;
      if (n < window.size()) break;
      at += n - 3;  // a magic may straddle two windows
    }
    return file_size;
  };

  std::uint64_t offset = file_size - left;
  while (offset < file_size) {
    Batch block;
    std::uint64_t next = 0;
    if (read_block(offset, block, next)) {
      ++out.blocks;
      out.records += block.records.size();
      if (!out.damaged.empty()) {
        ++out.blocks_after_damage;
        out.records_after_damage += block.records.size();
      }
      visit(block);
      offset = next;
      continue;
    }
    // A bad block: what its head says, if it has one.
    seek(offset);
    BlockHead head{};
    const bool has_head = read(&head, sizeof head) && head.magic == BLOCK_MAGIC;
    const bool runs_past_end = file_size - offset < sizeof head || (has_head && head.length > left);
    const std::uint64_t resume_at = find_block(offset + 1);
    if (resume_at == file_size && runs_past_end) {
      out.torn = true;  // cut short at the end of the file: a kill while it was written
      out.torn_bytes = file_size - offset;
      break;
    }
    JournalDamage damage{offset, resume_at - offset, -1};
    std::uint64_t n_records = 0;
    if (has_head && offset + sizeof head + head.length == resume_at && head.length >= PAYLOAD_COUNTS) {
      seek(offset + sizeof head + 8);
      if (read(&n_records, sizeof n_records) &&
          n_records <= (head.length - PAYLOAD_COUNTS) / (sizeof(TaskRecord) + h.row_size))
        damage.records = static_cast<std::int64_t>(n_records);
    }
    out.damaged.push_back(damage);
    offset = resume_at;
  }
  return out;
}

std::string describe_damage(const std::string& path, const JournalScan& scan) {
  if (scan.damaged.empty()) return "";
  std::uint64_t bytes = 0, records = 0;
  bool all_counted = true;
  for (const auto& d : scan.damaged) {
    bytes += d.bytes;
    if (d.records < 0)
      all_counted = false;
    else
      records += static_cast<std::uint64_t>(d.records);
  }
  const JournalDamage& first = scan.damaged.front();
  std::string where = scan.damaged.size() == 1
                          ? "a stretch of " + with_commas(bytes) + " bytes at byte " + with_commas(first.offset)
                          : std::to_string(scan.damaged.size()) + " stretches of " + with_commas(bytes) +
                                " bytes in all, the first at byte " + with_commas(first.offset);
  std::string lost = all_counted
                         ? with_commas(records) + " task record" + (records == 1 ? "" : "s") + " by its own count"
                         : "task records that cannot be counted";
  std::string kept = scan.blocks_after_damage == 0 ? "nothing intact follows it"
                                                   : "the " + with_commas(scan.blocks_after_damage) + " intact block" +
                                                         (scan.blocks_after_damage == 1 ? "" : "s") + " after it (" +
                                                         with_commas(scan.records_after_damage) + " task record" +
                                                         (scan.records_after_damage == 1 ? "" : "s") + ") are kept";
  return path + " is damaged: " + where + " fails its checks (length and CRC-32) and is skipped, with " + lost + "; " +
         kept + "; the tasks recorded only there are not done and run again";
}

}  // namespace fanout::io
