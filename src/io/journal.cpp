#include "io/journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include <zlib.h>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace fanout::io {
namespace {

constexpr char MAGIC[16] = {'F', 'A', 'N', 'O', 'U', 'T', ' ', 'J', 'O', 'U', 'R', 'N', 'A', 'L', '\n', '\0'};
constexpr std::uint32_t JOURNAL_VERSION = 1;
constexpr std::uint32_t BLOCK_MAGIC = 0x4b4c424a;  // "JBLK"
constexpr std::size_t WRITE_BYTES = 1 << 20;
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

// Reads from a byte range; false when it is too short.
struct Reader {
  const char* p;
  const char* end;
  template <class T>
  bool get(T& value) {
    if (static_cast<std::size_t>(end - p) < sizeof(T)) return false;
    std::memcpy(&value, p, sizeof(T));
    p += sizeof(T);
    return true;
  }
  bool get_string(std::string& s) {
    std::uint64_t n = 0;
    if (!get(n) || static_cast<std::uint64_t>(end - p) < n) return false;
    s.assign(p, n);
    p += n;
    return true;
  }
};

void write_all(int fd, const char* data, std::size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw IoError("cannot write the checkpoint journal " + path + ": " + std::strerror(errno));
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

// A block header (magic, CRC, length) and the encoded batch, appended to out.
void append_block(std::vector<char>& out, std::span<const TaskRecord> records, std::span<const std::byte> rows,
                  std::span<const TaskError> errors) {
  const std::size_t head = out.size();
  out.resize(head + 16);
  encode_into(out, records, rows, errors);
  const std::size_t start = head + 16;
  const std::uint64_t size = out.size() - start;
  const std::uint32_t magic = BLOCK_MAGIC, crc = crc32(out.data() + start, size);
  std::memcpy(out.data() + head, &magic, 4);
  std::memcpy(out.data() + head + 4, &crc, 4);
  std::memcpy(out.data() + head + 8, &size, 8);
}

}  // namespace

std::string journal_path(const std::string& output_path) { return output_path + ".journal"; }

JournalWriter::JournalWriter(std::string path, const JournalHeader& header, const Batch& carried, double interval,
                             std::uint64_t tasks_per_checkpoint)
    : path_(std::move(path)), interval_(interval), tasks_per_checkpoint_(tasks_per_checkpoint) {
  std::string temp = path_ + ".new-" + std::to_string(getpid());
  fd_ = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw IoError("cannot create the checkpoint journal " + temp + ": " + std::strerror(errno));
  std::vector<char> head;
  head.reserve(128 + header.job.size() + header.job_hash.size() + header.config.size());
  for (char c : MAGIC) head.push_back(c);
  put<std::uint32_t>(head, JOURNAL_VERSION);
  put<std::uint64_t>(head, header.task_count);
  put<std::uint64_t>(head, header.row_size);
  put<std::uint64_t>(head, header.sessions);
  put_string(head, header.job);
  put_string(head, header.job_hash);
  put_string(head, header.config);
  if (!carried.empty()) append_block(head, carried.records, carried.rows, carried.errors);
  try {
    write_all(fd_, head.data(), head.size(), temp);
    if (::fdatasync(fd_) != 0) throw IoError("cannot sync the checkpoint journal " + temp + ": " + std::strerror(errno));
  } catch (...) {
    ::close(fd_);
    ::unlink(temp.c_str());
    throw;
  }
  if (std::rename(temp.c_str(), path_.c_str()) != 0) {
    int err = errno;
    ::close(fd_);
    ::unlink(temp.c_str());
    throw IoError("cannot rename " + temp + " to " + path_ + ": " + std::strerror(err));
  }
  last_write_ = last_sync_ = steady_seconds();
}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) ::close(fd_);
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
    throw IoError("cannot sync the checkpoint journal " + path_ + ": " + std::strerror(errno));
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

JournalContents read_journal(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open: " + std::strerror(errno));
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  JournalContents out;
  Reader r{bytes.data(), bytes.data() + bytes.size()};
  std::uint32_t version = 0;
  if (bytes.size() < sizeof MAGIC || std::memcmp(bytes.data(), MAGIC, sizeof MAGIC) != 0)
    throw IoError(path + ": not a fanout checkpoint journal");
  r.p += sizeof MAGIC;
  if (!r.get(version) || version != JOURNAL_VERSION)
    throw IoError(path + ": checkpoint journal version " + std::to_string(version) + ", this fanout reads version " +
                  std::to_string(JOURNAL_VERSION));
  auto& h = out.header;
  if (!r.get(h.task_count) || !r.get(h.row_size) || !r.get(h.sessions) || !r.get_string(h.job) || !r.get_string(h.job_hash) ||
      !r.get_string(h.config))
    throw IoError(path + ": the checkpoint journal's header is cut short");
  while (r.p < r.end) {
    std::uint32_t magic = 0, crc = 0;
    std::uint64_t size = 0;
    if (!r.get(magic) || !r.get(crc) || !r.get(size) || magic != BLOCK_MAGIC ||
        static_cast<std::uint64_t>(r.end - r.p) < size || crc32(r.p, size) != crc) {
      out.torn = true;
      break;
    }
    std::uint64_t flags = 0;
    Batch block;
    try {
      block = decode(r.p, size, h.row_size, flags);
    } catch (const std::exception&) {
      out.torn = true;
      break;
    }
    r.p += size;
    ++out.blocks;
    out.batch.records.insert(out.batch.records.end(), block.records.begin(), block.records.end());
    out.batch.rows.insert(out.batch.rows.end(), block.rows.begin(), block.rows.end());
    for (auto& e : block.errors) out.batch.errors.push_back(std::move(e));
  }
  return out;
}

}  // namespace fanout::io
