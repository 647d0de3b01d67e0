// command: a task farm of shell command lines. Task i runs command line i
// (of `commands` or `file`), or the `command` template filled in with task
// i's [params], with /bin/sh -c in a child process of its own process group,
// and records how it ended, the CPU time and peak memory of the child
// (wait4), the last 4 KiB of its stdout and stderr, and the results it wrote
// to $FANOUT_RESULT ([job.results]).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "config/params.hpp"
#include "config/results.hpp"
#include "core/job.hpp"
#include "core/result_file.hpp"
#include "core/sweep.hpp"
#include "process.hpp"

extern char** environ;

namespace fanout::jobs {
namespace {

constexpr std::size_t TAIL_BYTES = 4096;
constexpr double KILL_GRACE = 2.0;  // s between SIGTERM and SIGKILL after a timeout

enum ColumnIndex : std::size_t { EXIT_CODE, SIGNAL, CPU_USER, CPU_SYS, MAX_RSS, STDOUT_TAIL, STDERR_TAIL };

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
  Deadline(std::optional<double> timeout, pid_t group) : at_(timeout ? now_seconds() + *timeout : -1), group_(group) {}
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
  std::string stopped;  // a process of the command that was stopped, and so killed; "" if none
};

// A running command is looked at this often for a stopped process (one
// that stopped itself, or got SIGSTOP or SIGTSTP): such a process never
// finishes, so without a timeout its task would hold the run for ever.
// Seen stopped at two looks in a row, the command's group is killed and the
// task fails.
constexpr int STOPPED_LOOK_MS = 1000;

// A value as one shell word: bare when it is plain, else in single quotes
// (a ' inside becomes '\''), so spaces, quotes, $(...), ; and newlines arrive
// as one argument and are never executed.
std::string shell_quote(const std::string& value) {
  auto plain = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_-.,:/+=@%").find(c) != std::string_view::npos;
  };
  if (!value.empty() && std::all_of(value.begin(), value.end(), plain)) return value;
  std::string out = "'";
  for (char c : value) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// `command = "python3 sim.py --x {x}"`: literal text and parameter slots.
// {name} is a slot; {{ and }} are literal braces; ${...} and any other brace
// stay as written (shell variables, awk programs).
class CommandTemplate {
 public:
  CommandTemplate() = default;
  CommandTemplate(const std::string& text, const Sweep& sweep, config::Section& params) : text_(text) {
    std::string literal;
    // The shell's quoting at this point of the template: a value quoted by
    // fanout inside the user's own quotes would not be one word any more
    // (inside "...", a $(...) in it would even run).
    enum class Quoting { None, Single, Double } quoting = Quoting::None;
    for (std::size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (c == '\\' && quoting != Quoting::Single && i + 1 < text.size()) {
        literal += c;
        literal += text[++i];
        continue;
      }
      if (c == '\'' && quoting != Quoting::Double)
        quoting = quoting == Quoting::Single ? Quoting::None : Quoting::Single;
      if (c == '"' && quoting != Quoting::Single)
        quoting = quoting == Quoting::Double ? Quoting::None : Quoting::Double;
      if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
        literal += c;
        ++i;
        continue;
      }
      std::size_t close = c == '{' ? text.find('}', i) : std::string::npos;
      if (close != std::string::npos && (i == 0 || text[i - 1] != '$')) {
        std::string name = text.substr(i + 1, close - i - 1);
        if (config::is_identifier(name)) {
          if (quoting != Quoting::None)
            params.fail("command", fmt::format("{{{}}} is inside {} quotes; write it bare: fanout quotes each value "
                                               "for the shell itself, so that it arrives as one argument",
                                               name, quoting == Quoting::Single ? "single" : "double"));
          auto index = sweep.find(name);
          if (!index) {
            std::string names;
            for (const auto& p : sweep.params()) names += (names.empty() ? "" : ", ") + p.name;
            params.fail("command", fmt::format("{{{}}} names no parameter; the parameters are {} (write {{{{ and }}}} "
                                               "for literal braces)",
                                               name, names));
          }
          parts_.push_back({std::move(literal), *index});
          literal.clear();
          i = close;
          continue;
        }
      }
      literal += c;
    }
    tail_ = std::move(literal);
  }
  // The command line of `task`: every slot filled with its value, quoted.
  std::string resolve(const TaskContext& task) const {
    std::string out;
    for (const auto& [literal, param] : parts_)
      out += literal + shell_quote(param_text(task.sweep()->value(task.id(), param)));
    return out + tail_;
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::vector<std::pair<std::string, std::size_t>> parts_;  // literal text, then the parameter's value
  std::string tail_;
};

constexpr std::size_t OWN_COLUMNS = STDERR_TAIL + 1;

class Command : public Job {
 public:
  Command(std::vector<std::string> commands, std::optional<double> timeout, std::vector<Column> results)
      : commands_(std::move(commands)), timeout_(timeout), results_(std::move(results)) {
    for (char** e = environ; *e; ++e) {
      std::string_view entry(*e);
      if (entry.rfind("FANOUT_TASK_ID=", 0) != 0 && entry.rfind("FANOUT_RANK=", 0) != 0 &&
          entry.rfind("FANOUT_RESULT=", 0) != 0 && entry.rfind("FANOUT_PARAM_", 0) != 0)
        environment_.emplace_back(entry);
    }
  }
  // One task per combination of the sweep's parameters.
  Command(CommandTemplate command, const Sweep* sweep, std::optional<double> timeout, std::vector<Column> results)
      : Command(std::vector<std::string>{}, timeout, std::move(results)) {
    template_ = std::move(command);
    sweep_ = sweep;
  }

  std::uint64_t task_count() const override { return sweep_ ? sweep_->size() : commands_.size(); }

  std::vector<Column> columns(std::vector<Column> registered) const override {
    registered.insert(registered.end(), results_.begin(), results_.end());
    return registered;
  }

  // The run gives up on running tasks: kill their process groups.
  void cancel() const override {
    std::lock_guard lock(groups_mutex_);
    for (pid_t group : groups_) kill(-group, SIGKILL);
  }

  void run(TaskContext& task, Row& row) const override {
    row.set<std::int32_t>(EXIT_CODE, -1);
    const std::string command = sweep_ ? template_.resolve(task) : commands_.at(task.id());
    std::string result_file = results_.empty() ? "" : results_dir_.file_for(task.id());
    if (!result_file.empty()) unlink(result_file.c_str());  // nothing left from an earlier attempt
    Tail out, err;
    Ended ended = execute(command, task, result_file, out, err);
    int exit_code = WIFEXITED(ended.status) ? WEXITSTATUS(ended.status) : -1;
    int sig = WIFSIGNALED(ended.status) ? WTERMSIG(ended.status) : 0;
    double cpu_user = seconds(ended.usage.ru_utime), cpu_sys = seconds(ended.usage.ru_stime);
    task.report_cpu(cpu_user, cpu_sys);
    row.set<std::int32_t>(EXIT_CODE, exit_code);
    row.set<std::int32_t>(SIGNAL, sig);
    row.set<double>(CPU_USER, cpu_user);
    row.set<double>(CPU_SYS, cpu_sys);
    row.set<std::int64_t>(MAX_RSS, static_cast<std::int64_t>(ended.usage.ru_maxrss) * 1024);
    row.set_text(STDOUT_TAIL, out.text());
    row.set_text(STDERR_TAIL, err.text());
    std::string results_problem;
    if (!result_file.empty()) {
      results_problem = read_results(result_file, row);
      unlink(result_file.c_str());
    }
    // A template's tasks say their command line, so that a failed one can be run again by hand.
    std::string rerun = sweep_ ? "; command: " + command : "";
    std::string how = sig ? "killed by signal " + signal_text(sig) : "exit code " + std::to_string(exit_code);
    if (ended.timed_out) throw TaskTimedOut(fmt::format("timed out after {} s; {}{}", *timeout_, how, rerun));
    if (!ended.stopped.empty())
      throw std::runtime_error(
          fmt::format("{} of the command was stopped (SIGSTOP, SIGTSTP, SIGTTIN or SIGTTOU) and "
                      "would never have finished: the command was killed{}",
                      ended.stopped, rerun));
    if (sig || exit_code != 0) throw std::runtime_error(how + rerun);
    if (!results_problem.empty()) throw std::runtime_error(results_problem + rerun);
  }

 private:
  static double seconds(const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
  }

  // The results the command wrote, into the row after the job's own
  // columns; "" or what was wrong with them.
  std::string read_results(const std::string& path, Row& row) const {
    Fd file(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (file.get() < 0)
      return fmt::format("no results: the command wrote nothing to $FANOUT_RESULT (expected {})", result_names());
    struct stat st {};
    if (fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) return "$FANOUT_RESULT is not a regular file";
    if (static_cast<std::size_t>(st.st_size) > MAX_RESULT_FILE_BYTES)
      return fmt::format("the result file is larger than {} MiB", MAX_RESULT_FILE_BYTES >> 20);
    std::string text(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (got < text.size()) {
      ssize_t n = read(file.get(), text.data() + got, text.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    text.resize(got);
    return parse_result_file(text, results_, row, OWN_COLUMNS);
  }

  std::string result_names() const {
    std::string names;
    for (const auto& c : results_) names += (names.empty() ? "" : ", ") + c.name;
    return names;
  }

  // Starts `/bin/sh -c command` in a new process group with stdin from
  // /dev/null and stdout, stderr into pipes; reads both pipes until it ends.
  Ended execute(const std::string& command, const TaskContext& task, const std::string& result_file, Tail& out,
                Tail& err) const {
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
      throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
    Fd out_read(out_pipe[0]), out_write(out_pipe[1]);
    if (pipe2(err_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
      throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
    Fd err_read(err_pipe[0]), err_write(err_pipe[1]);
    // The child's ends block, as a program expects of its stdout.
    fcntl(out_write.get(), F_SETFL, 0);
    fcntl(err_write.get(), F_SETFL, 0);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
    // Only stdin, stdout and stderr: not the run file, its lock or MPI's sockets.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    posix_spawnattr_t attr;
    start_in_own_group(attr);

    std::vector<std::string> task_env{"FANOUT_TASK_ID=" + std::to_string(task.id()),
                                      "FANOUT_RANK=" + std::to_string(task.rank())};
    if (!result_file.empty()) task_env.push_back("FANOUT_RESULT=" + result_file);
    if (sweep_)
      for (std::size_t p = 0; p < sweep_->params().size(); ++p)
        task_env.push_back("FANOUT_PARAM_" + sweep_->params()[p].name + "=" + param_text(sweep_->value(task.id(), p)));
    std::vector<char*> env;
    env.reserve(environment_.size() + task_env.size() + 1);
    for (const auto& e : environment_) env.push_back(const_cast<char*>(e.c_str()));
    for (auto& e : task_env) env.push_back(e.data());
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
    Ended ended;
    int stopped_looks = 0;
    double next_look = now_seconds() + STOPPED_LOOK_MS * 1e-3;
    while (!exited && (out_read.get() >= 0 || err_read.get() >= 0 || exit_fd.get() >= 0)) {
      pollfd fds[3] = {{out_read.get(), POLLIN, 0}, {err_read.get(), POLLIN, 0}, {exit_fd.get(), POLLIN, 0}};
      int wait = deadline.wait_ms();
      int ready = poll(fds, 3, wait < 0 ? STOPPED_LOOK_MS : std::min(wait, STOPPED_LOOK_MS));
      if (ready < 0 && errno != EINTR) break;
      if (fds[0].revents && !out.read_from(out_read.get())) out_read.reset();
      if (fds[1].revents && !err.read_from(err_read.get())) err_read.reset();
      if (fds[2].revents) exited = true;
      deadline.check();
      if (!exited && ended.stopped.empty() && now_seconds() >= next_look) {
        next_look = now_seconds() + STOPPED_LOOK_MS * 1e-3;
        std::string stopped = stopped_in_group(pid);
        stopped_looks = stopped.empty() ? 0 : stopped_looks + 1;
        if (stopped_looks >= 2) {
          ended.stopped = stopped;
          kill(-pid, SIGKILL);
        }
      }
    }
    if (out_read.get() >= 0) out.read_from(out_read.get());  // what the shell wrote before it ended
    if (err_read.get() >= 0) err.read_from(err_read.get());

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

  std::vector<std::string> commands_;  // without a sweep: one command line per task
  CommandTemplate template_;           // with a sweep: one command line per combination
  const Sweep* sweep_ = nullptr;
  std::optional<double> timeout_;
  std::vector<Column> results_;  // declared in [job.results]
  mutable ScratchDirectory results_dir_{"fanout-results"};
  std::vector<std::string> environment_;  // inherited, without FANOUT_* task variables
  mutable std::mutex groups_mutex_;
  mutable std::set<pid_t> groups_;  // process groups of the commands running now
};

// One command per line; blank lines and lines starting with # are skipped.
std::vector<std::string> read_commands(config::Section& params, const std::string& path) {
  std::string why;
  auto text = config::read_small_file(path, std::size_t{256} << 20, why);
  if (!text) params.fail("file", fmt::format("cannot read {}: {}", path, why));
  params.add_input("file", path, *text);
  std::istringstream in(*text);
  std::vector<std::string> commands;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    commands.push_back(line);
  }
  if (commands.empty()) params.fail("file", fmt::format("{} has no commands (only blank lines and # comments)", path));
  return commands;
}

// The job's own columns; declared results follow them.
const std::vector<Column> OWN = {
    {"exit_code", ColumnType::I32, "", "the command's exit status; -1 when it was killed (see signal)"},
    {"signal", ColumnType::I32, "", "the number of the terminating signal; 0 when the command exited"},
    {"cpu_user", ColumnType::F64, "s", "user CPU time of the command and the processes it waited for"},
    {"cpu_sys", ColumnType::F64, "s", "system CPU time of the command and the processes it waited for"},
    {"max_rss", ColumnType::I64, "B", "peak resident memory of the largest of those processes"},
    {"stdout_tail", ColumnType::Text, "", "the last 4096 bytes of the command's stdout", TAIL_BYTES},
    {"stderr_tail", ColumnType::Text, "", "the last 4096 bytes of the command's stderr", TAIL_BYTES}};

const RegisterJob registered{{
    "command",
    "a task farm of shell command lines: each task runs one line with /bin/sh -c, or a command template over [params]",
    OWN,
    [](config::Section& params) -> std::unique_ptr<Job> {
      auto commands =
          params.optional_text_list("commands", "the command lines, one task each (or give file or command)");
      auto file = params.optional_path(
          "file", "a file of command lines, one per line, # comments; relative to the config file's directory");
      auto command = params.optional_text(
          "command",
          "a command template, one task per combination of [params]: {name} is replaced by the task's value of "
          "parameter name, quoted for the shell ({{ and }} are literal braces); FANOUT_PARAM_name holds it too");
      auto timeout = params.optional_number("timeout", 0.001, 31'536'000,
                                            "seconds a task may run; then its process group is killed (TERM, then "
                                            "KILL 2 s later) and the task is timed_out");
      auto results = config::read_result_columns(
          params, OWN, "the command writes them to the file $FANOUT_RESULT as one JSON object or name=value lines");
      const Sweep* sweep = params.sweep();
      if (params.describing()) return std::make_unique<Command>(std::vector<std::string>{}, timeout, results);
      int given = (commands ? 1 : 0) + (file ? 1 : 0) + (command ? 1 : 0);
      if (given > 1)
        params.fail(command ? "command" : "file",
                    "give only one of commands, file and command (a template over [params])");
      if (given == 0)
        params.fail("commands",
                    "missing; expected commands = [\"...\", ...], file = \"PATH\" (one command per line) "
                    "or command = \"prog --x {x}\" with [params]");
      if (command) {
        if (!sweep)
          params.fail("command",
                      "a command template runs once per combination of [params], and the config has no "
                      "[params] (for example [params] x = [1, 2, 3]); for fixed command lines use commands");
        CommandTemplate parsed(*command, *sweep, params);
        return std::make_unique<Command>(std::move(parsed), sweep, timeout, std::move(results));
      }
      if (sweep)
        params.fail(commands ? "commands" : "file",
                    "[params] makes one task per combination, and commands and file have their own task list; give "
                    "a command template instead (command = \"prog --x {x}\")");
      return std::make_unique<Command>(commands ? std::move(*commands) : read_commands(params, *file), timeout,
                                       std::move(results));
    },
}};

}  // namespace
}  // namespace fanout::jobs
