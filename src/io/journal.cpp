#include "io/journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <zlib.h>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace fanout::io {
namespace {

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

JournalWriter::JournalWriter(std::string path, const JournalHeader& header, double interval,
                             std::uint64_t tasks_per_checkpoint)
    : path_(std::move(path)), interval_(interval), tasks_per_checkpoint_(tasks_per_checkpoint) {
  temp_path_ = path_ + ".new-" + std::to_string(getpid());
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw IoError("cannot create the checkpoint journal " + temp_path_ + ": " + std::strerror(errno), errno);
  buffer_.reserve(128 + header.job.size() + header.job_hash.size() + header.config.size());
  for (char c : JOURNAL_MAGIC) buffer_.push_back(c);
  put<std::uint32_t>(buffer_, JOURNAL_VERSION);
  put<std::uint64_t>(buffer_, header.task_count);
  put<std::uint64_t>(buffer_, header.row_size);
  put<std::uint64_t>(buffer_, header.sessions);
  put_string(buffer_, header.job);
  put_string(buffer_, header.job_hash);
  put_string(buffer_, header.config);
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
  std::vector<char> bytes(sizeof JOURNAL_MAGIC);
  if (!read(bytes.data(), sizeof JOURNAL_MAGIC) || !is_journal_start({bytes.data(), bytes.size()}))
    throw IoError(path + ": not a fanout checkpoint journal");
  std::uint32_t version = 0;
  if (!read(&version, sizeof version) || version != JOURNAL_VERSION)
    throw IoError(path + ": checkpoint journal version " + std::to_string(version) + ", this fanout reads version " +
                  std::to_string(JOURNAL_VERSION));
  JournalScan out;
  auto& h = out.header;
  auto read_string = [&](std::string& s) {
    std::uint64_t n = 0;
    if (!read(&n, sizeof n) || n > left) return false;
    s.resize(n);
    return read(s.data(), n);
  };
  if (!read(&h.task_count, 8) || !read(&h.row_size, 8) || !read(&h.sessions, 8) || !read_string(h.job) ||
      !read_string(h.job_hash) || !read_string(h.config))
    throw IoError(path + ": the checkpoint journal's header is cut short");
  if (!visit) return out;
  while (left > 0) {
    std::uint32_t magic = 0, crc = 0;
    std::uint64_t size = 0;
    if (!read(&magic, 4) || !read(&crc, 4) || !read(&size, 8) || magic != BLOCK_MAGIC || size > left) {
      out.torn = true;
      break;
    }
    bytes.resize(size);
    if (!read(bytes.data(), size) || crc32(bytes.data(), size) != crc) {
      out.torn = true;
      break;
    }
    std::uint64_t flags = 0;
    Batch block;
    try {
      block = decode(bytes.data(), size, h.row_size, flags);
    } catch (const std::exception&) {
      out.torn = true;
      break;
    }
    ++out.blocks;
    visit(block);
  }
  return out;
}

}  // namespace fanout::io
