#pragma once
// What the jobs that run child processes share (command, python): file
// descriptors that close themselves, signal names, a node-local scratch
// directory, and starting a child with only the descriptors it needs.
#include <spawn.h>
#include <sys/types.h>

#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace fanout::jobs {

// CLOCK_MONOTONIC in seconds: steady_seconds() and Python's time.monotonic().
double now_seconds();

// "9 (SIGKILL)" (sigabbrev_np would need glibc 2.32).
std::string signal_text(int sig);

// "exit code 3" or "killed by signal 9 (SIGKILL)", from a wait status.
std::string wait_status_text(int status);

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset();

 private:
  int fd_ = -1;
};

// Initialises `attr` for a child in a process group of its own (Ctrl-C at a
// terminal is fanout's to handle, and the group can be killed whole), with
// no signal blocked and every signal at its default disposition.
void start_in_own_group(posix_spawnattr_t& attr);

// A process of process group `group` that is stopped (state T: SIGSTOP,
// SIGTSTP, SIGTTIN or SIGTTOU), as "process PID (NAME)", or "" when none is.
// Scans /proc; a stopped process would never finish, and without a timeout
// its task would hold the run for ever.
std::string stopped_in_group(pid_t group);

// A pipe, both ends close-on-exec: {read end, write end}. Throws std::runtime_error.
std::pair<Fd, Fd> make_pipe(bool nonblocking_read = false);

// A directory of this process's on the node itself ($TMPDIR, else /dev/shm or /tmp),
// named PREFIX-XXXXXX, made when first needed and removed with what is in it
// at the end.
class ScratchDirectory {
 public:
  explicit ScratchDirectory(std::string prefix) : prefix_(std::move(prefix)) {}
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  ~ScratchDirectory();
  // The path of `name` in the directory (made on first use). Throws std::runtime_error.
  std::string file(const std::string& name);
  // The path of task `task`'s result file (not yet existing).
  std::string file_for(std::uint64_t task) { return file("task-" + std::to_string(task)); }

 private:
  std::string prefix_;
  std::once_flag made_;
  std::string path_;
};

}  // namespace fanout::jobs
