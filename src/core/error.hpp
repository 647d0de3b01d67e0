#pragma once
// Error classes and the exit codes they map to (documented in README.md).
#include <stdexcept>
#include <string>

namespace fanout {

enum ExitCode : int {
  EXIT_OK = 0,
  EXIT_TASKS_FAILED = 1,
  EXIT_USAGE = 2,  // usage or config error
  EXIT_IO = 3,
  EXIT_INTERRUPTED = 4,
};

class Error : public std::runtime_error {
 public:
  Error(int exit_code, const std::string& message) : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

// A bad config or command line: every rank sees the same input, so rank 0
// reports it once and all ranks exit 2.
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& message) : Error(EXIT_USAGE, message) {}
};

// A file could not be read or written (HDF5 errors included).
class IoError : public Error {
 public:
  explicit IoError(const std::string& message, int os_error = 0) : Error(EXIT_IO, message), os_error_(os_error) {}
  // The system's error number behind it (ENOSPC, EDQUOT, EIO, ...), or 0 when none is known.
  int os_error() const noexcept { return os_error_; }

 private:
  int os_error_;
};

}  // namespace fanout
