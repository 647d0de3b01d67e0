#include "run/sink.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "io/journal.hpp"
#include "io/run_file.hpp"

namespace fanout::run {

std::string write_failure(const IoError& e, const std::string& file) {
  if (e.os_error() == 0) return fmt::format("cannot write {}: {}", file, e.what());
  std::string what = std::strerror(e.os_error());
  if (!what.empty()) what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
  return fmt::format("{} while writing {}", what, file);
}

std::string retry_when(const IoError& e) {
  return e.os_error() == ENOSPC || e.os_error() == EDQUOT ? "once there is space" : "once that is fixed";
}

void CheckpointingSink::store(std::span<const TaskRecord> records, std::span<const std::byte> rows) {
  guarded(journal_.path(), [&] { journal_.add(records, rows, {}); });
  guarded(output_, [&] { writer_.store(records, rows); });
}

void CheckpointingSink::store_errors(std::span<const TaskError> errors) {
  guarded(journal_.path(), [&] { journal_.add({}, {}, errors); });
}

void CheckpointingSink::poll() {
  guarded(journal_.path(), [&] { journal_.poll(); });
}

std::string CheckpointingSink::failure() const {
  if (!failed_.load()) return "";
  std::lock_guard lock(mutex_);
  return error_ ? write_failure(*error_, file_) : "";
}

}  // namespace fanout::run
