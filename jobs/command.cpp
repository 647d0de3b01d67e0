// command: a task farm of shell command lines. Task i runs command line i
// with /bin/sh -c in a child process of its own process group, and records
// how it ended, the CPU time and peak memory of the child (wait4), and the
// last 4 KiB of its stdout and stderr.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "cli/cli.hpp"
#include "config/params.hpp"
#include "core/job.hpp"

extern char** environ;

namespace fanout::jobs {
namespace {

constexpr std::size_t TAIL_BYTES = 4096;
constexpr double KILL_GRACE = 2.0;  // s between SIGTERM and SIGKILL after a timeout

enum ColumnIndex : std::size_t { EXIT_CODE, SIGNAL, CPU_USER, CPU_SYS, MAX_RSS, STDOUT_TAIL, STDERR_TAIL };

double now_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// "9 (SIGKILL)" (sigabbrev_np would need glibc 2.32).
std::string signal_text(int sig) {
  static const std::pair<int, const char*> NAMES[] = {
      {SIGHUP, "HUP"},   {SIGINT, "INT"},   {SIGQUIT, "QUIT"}, {SIGILL, "ILL"},   {SIGTRAP, "TRAP"},
      {SIGABRT, "ABRT"}, {SIGBUS, "BUS"},   {SIGFPE, "FPE"},   {SIGKILL, "KILL"}, {SIGUSR1, "USR1"},
      {SIGSEGV, "SEGV"}, {SIGUSR2, "USR2"}, {SIGPIPE, "PIPE"}, {SIGALRM, "ALRM"}, {SIGTERM, "TERM"},
      {SIGXCPU, "XCPU"}, {SIGXFSZ, "XFSZ"}, {SIGSYS, "SYS"}};
  for (const auto& [number, name] : NAMES)
    if (number == sig) return fmt::format("{} (SIG{})", sig, name);
  return std::to_string(sig);
}

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// The last TAIL_BYTES bytes read from one pipe.
class Tail {
 public:
  // Reads what the pipe has now. Returns false at end of file (or on an error).
  bool read_from(int fd) {
    char buffer[65536];
    for (;;) {
      ssize_t n = read(fd, buffer, sizeof buffer);
      if (n > 0) {
        add(buffer, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return n < 0 && errno == EAGAIN;
    }
  }
  const std::string& text() const { return text_; }

 private:
  void add(const char* p, std::size_t n) {
    if (n >= TAIL_BYTES) {
      text_.assign(p + n - TAIL_BYTES, TAIL_BYTES);
      return;
    }
    text_.append(p, n);
    if (text_.size() > TAIL_BYTES) text_.erase(0, text_.size() - TAIL_BYTES);
  }
  std::string text_;
};

// After a timeout: SIGTERM to the process group, SIGKILL after KILL_GRACE.
class Deadline {
 public:
  Deadline(std::optional<double> timeout, pid_t group)
      : at_(timeout ? now_seconds() + *timeout : -1), group_(group) {}
  // Milliseconds until the next step, for poll (-1: none).
  int wait_ms() const {
    if (at_ < 0) return -1;
    return static_cast<int>(std::ceil(std::max(0.0, at_ - now_seconds()) * 1000));
  }
  // Takes the next step if its time has come.
  void check() {
    if (at_ < 0 || now_seconds() < at_) return;
    if (!expired_) {
      expired_ = true;
      kill(-group_, SIGTERM);
      at_ = now_seconds() + KILL_GRACE;
    } else {
      kill(-group_, SIGKILL);
      at_ = -1;
    }
  }
  bool expired() const { return expired_; }

 private:
  double at_;
  pid_t group_;
  bool expired_ = false;
};

struct Ended {
  int status = 0;
  rusage usage{};
  bool timed_out = false;
};

class Command : public Job {
 public:
  Command(std::vector<std::string> commands, std::optional<double> timeout)
      : commands_(std::move(commands)), timeout_(timeout), rank_(cli::launched_rank()) {
    for (char** e = environ; *e; ++e) {
      std::string_view entry(*e);
      if (entry.rfind("FANOUT_TASK_ID=", 0) != 0 && entry.rfind("FANOUT_RANK=", 0) != 0) environment_.emplace_back(entry);
    }
  }

  std::uint64_t task_count() const override { return commands_.size(); }

  // The run gives up on running tasks: kill their process groups.
  void cancel() const override {
    std::lock_guard lock(groups_mutex_);
    for (pid_t group : groups_) kill(-group, SIGKILL);
  }

  void run(std::uint64_t task, Row& row) const override {
    row.set<std::int32_t>(EXIT_CODE, -1);
    Tail out, err;
    Ended ended = execute(commands_.at(task), task, out, err);
    int exit_code = WIFEXITED(ended.status) ? WEXITSTATUS(ended.status) : -1;
    int sig = WIFSIGNALED(ended.status) ? WTERMSIG(ended.status) : 0;
    row.set<std::int32_t>(EXIT_CODE, exit_code);
    row.set<std::int32_t>(SIGNAL, sig);
    row.set<double>(CPU_USER, seconds(ended.usage.ru_utime));
    row.set<double>(CPU_SYS, seconds(ended.usage.ru_stime));
    row.set<std::int64_t>(MAX_RSS, static_cast<std::int64_t>(ended.usage.ru_maxrss) * 1024);
    row.set_text(STDOUT_TAIL, out.text());
    row.set_text(STDERR_TAIL, err.text());
    std::string how = sig ? "killed by signal " + signal_text(sig) : "exit code " + std::to_string(exit_code);
    if (ended.timed_out) throw TaskTimedOut(fmt::format("timed out after {} s; {}", *timeout_, how));
    if (sig || exit_code != 0) throw std::runtime_error(how);
  }

 private:
  static double seconds(const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
  }

  // Starts `/bin/sh -c command` in a new process group with stdin from
  // /dev/null and stdout, stderr into pipes; reads both pipes until it ends.
  Ended execute(const std::string& command, std::uint64_t task, Tail& out, Tail& err) const {
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
    Fd out_read(out_pipe[0]), out_write(out_pipe[1]);
    if (pipe2(err_pipe, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
    Fd err_read(err_pipe[0]), err_write(err_pipe[1]);
    // The child's ends block, as a program expects of its stdout.
    fcntl(out_write.get(), F_SETFL, 0);
    fcntl(err_write.get(), F_SETFL, 0);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::string task_id = "FANOUT_TASK_ID=" + std::to_string(task);
    std::string rank = "FANOUT_RANK=" + std::to_string(rank_);
    std::vector<char*> env;
    env.reserve(environment_.size() + 3);
    for (const auto& e : environment_) env.push_back(const_cast<char*>(e.c_str()));
    env.push_back(task_id.data());
    env.push_back(rank.data());
    env.push_back(nullptr);
    char sh[] = "/bin/sh", dash_c[] = "-c";
    char* argv[] = {sh, dash_c, const_cast<char*>(command.c_str()), nullptr};

    pid_t pid = -1;
    int failed = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, env.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (failed != 0) throw std::runtime_error(fmt::format("cannot start /bin/sh: {}", std::strerror(failed)));
    out_write.reset();
    err_write.reset();
    {
      std::lock_guard lock(groups_mutex_);
      groups_.insert(pid);
    }
    struct Forget {
      const Command& job;
      pid_t pid;
      ~Forget() {
        std::lock_guard lock(job.groups_mutex_);
        job.groups_.erase(pid);
      }
    } forget{*this, pid};

    Deadline deadline(timeout_, pid);
    // A pidfd tells when the shell has ended even if something it left in
    // the background still holds the pipes; without one (Linux < 5.3) we
    // read to end of file.
    Fd exit_fd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
    bool exited = false;
    while (!exited && (out_read.get() >= 0 || err_read.get() >= 0 || exit_fd.get() >= 0)) {
      pollfd fds[3] = {{out_read.get(), POLLIN, 0}, {err_read.get(), POLLIN, 0}, {exit_fd.get(), POLLIN, 0}};
      int ready = poll(fds, 3, deadline.wait_ms());
      if (ready < 0 && errno != EINTR) break;
      if (fds[0].revents && !out.read_from(out_read.get())) out_read.reset();
      if (fds[1].revents && !err.read_from(err_read.get())) err_read.reset();
      if (fds[2].revents) exited = true;
      deadline.check();
    }
    if (out_read.get() >= 0) out.read_from(out_read.get());  // what the shell wrote before it ended
    if (err_read.get() >= 0) err.read_from(err_read.get());

    Ended ended;
    for (;;) {
      // Without a pidfd the shell may still run after closing its output.
      pid_t got = wait4(pid, &ended.status, exit_fd.get() >= 0 || !timeout_ ? 0 : WNOHANG, &ended.usage);
      if (got == pid) break;
      if (got < 0 && errno != EINTR) throw std::runtime_error(fmt::format("wait4: {}", std::strerror(errno)));
      if (got == 0) {
        deadline.check();
        timespec pause{0, 2'000'000};
        nanosleep(&pause, nullptr);
      }
    }
    ended.timed_out = deadline.expired();
    // What a timed-out command started goes too, even if it outlived the shell.
    if (ended.timed_out) kill(-pid, SIGKILL);
    return ended;
  }

  std::vector<std::string> commands_;
  std::optional<double> timeout_;
  int rank_;
  std::vector<std::string> environment_;  // inherited, without FANOUT_* task variables
  mutable std::mutex groups_mutex_;
  mutable std::set<pid_t> groups_;  // process groups of the commands running now
};

// One command per line; blank lines and lines starting with # are skipped.
std::vector<std::string> read_commands(config::Section& params, const std::string& path) {
  std::ifstream in(path);
  if (!in) params.fail("file", fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  std::vector<std::string> commands;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    commands.push_back(line);
  }
  if (in.bad()) params.fail("file", fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  if (commands.empty()) params.fail("file", fmt::format("{} has no commands (only blank lines and # comments)", path));
  return commands;
}

const RegisterJob registered{{
    "command",
    "a task farm of shell command lines: each task runs one line with /bin/sh -c",
    {{"exit_code", ColumnType::I32, "", "the command's exit status; -1 when it was killed (see signal)"},
     {"signal", ColumnType::I32, "", "the number of the terminating signal; 0 when the command exited"},
     {"cpu_user", ColumnType::F64, "s", "user CPU time of the command and the processes it waited for"},
     {"cpu_sys", ColumnType::F64, "s", "system CPU time of the command and the processes it waited for"},
     {"max_rss", ColumnType::I64, "B", "peak resident memory of the largest of those processes"},
     {"stdout_tail", ColumnType::Text, "", "the last 4096 bytes of the command's stdout", TAIL_BYTES},
     {"stderr_tail", ColumnType::Text, "", "the last 4096 bytes of the command's stderr", TAIL_BYTES}},
    [](config::Section& params) -> std::unique_ptr<Job> {
      auto commands = params.optional_text_list("commands", "the command lines, one task each (or give file)");
      auto file = params.optional_path(
          "file", "a file of command lines, one per line, # comments; relative to the config file's directory");
      auto timeout = params.optional_number("timeout", 0.001, 31'536'000,
                                            "seconds a task may run; then its process group is killed (TERM, then "
                                            "KILL 2 s later) and the task is timed_out");
      if (params.describing()) return std::make_unique<Command>(std::vector<std::string>{}, timeout);
      if (commands && file) params.fail("file", "give either commands or file, not both");
      if (!commands && !file)
        params.fail("commands", "missing; expected commands = [\"...\", ...] or file = \"PATH\" (one command per line)");
      return std::make_unique<Command>(commands ? std::move(*commands) : read_commands(params, *file), timeout);
    },
}};

}  // namespace
}  // namespace fanout::jobs
