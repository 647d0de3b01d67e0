// python: a user's Python function called for every task. Each worker thread
// drives a persistent Python process of its own (python -m fanout_worker,
// python/fanout_worker.py, found by find_data_file), so there is no shared
// GIL and a crash costs one task, not the rank. Tasks go to it in batches; it
// answers each task on its own line with the task's wall times on fanout's
// clock (CLOCK_MONOTONIC), the process's user and system CPU for that call,
// and the results ([job.results]) or the exception. docs/jobs.md, "python",
// has the protocol.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "config/params.hpp"
#include "config/results.hpp"
#include "core/data_files.hpp"
#include "core/job.hpp"
#include "core/result_file.hpp"
#include "core/sweep.hpp"
#include "process.hpp"

extern char** environ;

namespace fanout::jobs {
namespace {

constexpr std::size_t MAX_LINE = std::size_t{64} << 20;  // a reply line longer than this is a broken worker
constexpr std::size_t MAX_BATCH = 256;                   // tasks per request

// What every worker of a run is started with.
struct WorkerSetup {
  std::string python;    // the interpreter, found on PATH when it has no /
  std::string function;  // module:callable
  std::vector<std::string> path;
  std::vector<std::string> results;  // declared result names
  bool by_id = false;                // function(task_id): no [params]
  std::string worker_dir;            // where fanout_worker.py is

  std::string json() const {
    return nlohmann::json{
        {"function", function}, {"path", path}, {"results", results}, {"by_id", by_id}, {"parent", getpid()}}
        .dump();
  }
};

// Where fanout_worker.py is ($FANOUT_PYTHON_DIR, else the install's or the source tree's python/).
std::string worker_dir() { return std::filesystem::path(find_data_file(PYTHON_WORKER)).parent_path().string(); }

// The file of `module` ("pkg.mod") in the first of `dirs` that holds it, as
// Python looks there: DIR/pkg/mod/__init__.py (a package), else
// DIR/pkg/mod.py; nullopt when none does (an installed module, found
// elsewhere on sys.path, or a compiled one).
std::optional<std::string> module_file(const std::string& module, const std::vector<std::string>& dirs) {
  std::string relative = module;
  std::replace(relative.begin(), relative.end(), '.', '/');
  std::error_code ec;
  for (const auto& dir : dirs) {
    std::filesystem::path base = std::filesystem::path(dir) / relative;
    for (auto candidate : {base / "__init__.py", std::filesystem::path(base.string() + ".py")})
      if (std::filesystem::is_regular_file(candidate, ec)) return candidate.lexically_normal().string();
  }
  return std::nullopt;
}

// The last lines of a file (a worker's own stdout and stderr), at most `bytes`.
std::string file_tail(const std::string& path, std::size_t bytes) {
  std::string why;
  auto text = config::read_small_file(path, std::size_t{256} << 20, why);
  if (!text) return "";
  std::string tail = text->size() > bytes ? text->substr(text->size() - bytes) : *text;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
  return tail;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  for (std::size_t start = 0;;) {
    std::size_t tab = line.find('\t', start);
    fields.push_back(line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
    if (tab == std::string_view::npos) return fields;
    start = tab + 1;
  }
}

bool parse_double(std::string_view text, double& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && std::isfinite(out);
}

bool parse_whole(std::string_view text, std::uint64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// One Python process: requests to its stdin (a socket, so that writing to a
// dead one fails with EPIPE instead of raising SIGPIPE), replies from its fd 3.
class Worker {
 public:
  enum class Read { Line, Died, TimedOut };

  Worker(const WorkerSetup& setup, std::string log_path) : log_path_(std::move(log_path)) {
    int sockets[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0)
      throw std::runtime_error(fmt::format("socketpair: {}", std::strerror(errno)));
    Fd ours(sockets[0]), theirs(sockets[1]);
    auto [reply_read, reply_write] = make_pipe();
    Fd log(open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (log.get() < 0) throw std::runtime_error(fmt::format("cannot open {}: {}", log_path_, std::strerror(errno)));

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, theirs.get(), 0);
    posix_spawn_file_actions_adddup2(&actions, log.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, log.get(), 2);
    posix_spawn_file_actions_adddup2(&actions, reply_write.get(), 3);
    posix_spawn_file_actions_addclosefrom_np(&actions, 4);
    posix_spawnattr_t attr;
    start_in_own_group(attr);

    std::vector<std::string> env_storage;
    const char* old = std::getenv("PYTHONPATH");
    env_storage.push_back("PYTHONPATH=" + setup.worker_dir + (old && *old ? ":" + std::string(old) : ""));
    for (char** e = environ; *e; ++e)
      if (std::strncmp(*e, "PYTHONPATH=", 11) != 0) env_storage.emplace_back(*e);
    std::vector<char*> env;
    for (auto& e : env_storage) env.push_back(e.data());
    env.push_back(nullptr);
    std::string setup_json = setup.json();
    std::string python = setup.python, dash_m = "-m", module = "fanout_worker";
    char* argv[] = {python.data(), dash_m.data(), module.data(), setup_json.data(), nullptr};
    int failed = posix_spawnp(&pid_, setup.python.c_str(), &actions, &attr, argv, env.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (failed != 0) {
      pid_ = -1;
      throw std::runtime_error(fmt::format("cannot start {}: {}", setup.python, std::strerror(failed)));
    }
    requests_ = std::move(ours);
    replies_ = std::move(reply_read);
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker() { kill_now(); }

  // Waits for the worker's first line: its import time, or Python's own
  // message when the function cannot be imported or called (thrown).
  double ready() {
    std::string line;
    Read got = read_line(line, -1);
    if (got != Read::Line) throw std::runtime_error(died("before it was ready"));
    auto fields = split_fields(line);
    double seconds = 0;
    if (fields.size() == 2 && fields[0] == "ready" && parse_double(fields[1], seconds)) return seconds;
    if (fields.size() == 2 && fields[0] == "error") {
      auto message = nlohmann::json::parse(fields[1], nullptr, false);
      if (message.is_string()) throw std::runtime_error(message.get<std::string>());
    }
    throw std::runtime_error("the worker's first line is not ready or error: " + line.substr(0, 200));
  }

  // Writes a request line; false when the worker is gone.
  bool send(const std::string& line) {
    std::size_t done = 0;
    while (done < line.size()) {
      ssize_t n = ::send(requests_.get(), line.data() + done, line.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  // The next reply line, waiting until `deadline` (now_seconds(); < 0: for ever).
  Read read_line(std::string& line, double deadline) {
    for (;;) {
      std::size_t end = buffer_.find('\n', scanned_);
      if (end != std::string::npos) {
        line.assign(buffer_, start_, end - start_);
        start_ = scanned_ = end + 1;
        return Read::Line;
      }
      // Keep only the unfinished line (not after every line: a read brings hundreds).
      buffer_.erase(0, start_);
      start_ = 0;
      scanned_ = buffer_.size();
      if (buffer_.size() > MAX_LINE) return Read::Died;
      int wait_ms = -1;
      if (deadline >= 0) {
        double left = deadline - now_seconds();
        if (left <= 0) return Read::TimedOut;
        wait_ms = static_cast<int>(std::ceil(left * 1000));
      }
      pollfd fd{replies_.get(), POLLIN, 0};
      int ready = poll(&fd, 1, wait_ms);
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) continue;  // the deadline is checked above
      char chunk[65536];
      ssize_t n = read(replies_.get(), chunk, sizeof chunk);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) return Read::Died;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // How the worker ended ("killed by signal 11 (SIGSEGV)"), with the last
  // lines it wrote to its own stderr; reaps it.
  std::string died(const std::string& when) {
    std::string how = "it is gone";
    if (pid_ > 0) {
      int status = 0;
      kill(-pid_, SIGKILL);  // it may only have closed its end
      if (waitpid(pid_, &status, 0) == pid_) how = wait_status_text(status);
      pid_ = -1;
    }
    std::string tail = file_tail(log_path_, 1000);
    return fmt::format("the Python worker died {}: {}{}", when, how, tail.empty() ? "" : "; its last output:\n" + tail);
  }

  // Closes its input, so that it leaves its loop, and waits for it (at most
  // 2 s, then SIGKILL).
  void finish() {
    if (pid_ <= 0) return;
    requests_.reset();
    int status = 0;
    for (int i = 0; i < 200; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      usleep(10000);
    }
    kill_now();
  }

  void kill_now() {
    if (pid_ <= 0) return;
    kill(-pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  pid_t pid() const { return pid_; }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  Fd requests_, replies_;
  std::string buffer_;
  std::size_t start_ = 0;    // where the next line begins in buffer_
  std::size_t scanned_ = 0;  // buffer_ has no newline between start_ and here
};

class Python : public Job {
 public:
  Python(WorkerSetup setup, const Sweep* sweep, std::uint64_t tasks, std::optional<double> timeout,
         std::vector<Column> results)
      : setup_(std::move(setup)), sweep_(sweep), tasks_(tasks), timeout_(timeout), results_(std::move(results)) {}

  std::uint64_t task_count() const override { return sweep_ ? sweep_->size() : tasks_; }
  std::vector<Column> columns(std::vector<Column> /*registered*/) const override { return results_; }
  const WorkerSetup& setup() const { return setup_; }
  ScratchDirectory& scratch() const { return scratch_; }
  // A worker started (and ready) before the run: it serves thread 0.
  void adopt(std::unique_ptr<Worker> worker) {
    std::lock_guard lock(mutex_);
    running_.insert(worker->pid());
    workers_[0] = std::move(worker);
  }
  bool runs_batches() const override { return true; }

  // The run gives up on running tasks: kill every worker (run_batch then fails their tasks).
  void cancel() const override {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
    for (pid_t pid : running_) kill(-pid, SIGKILL);
  }

  // Starts every worker thread's Python process, all at once, so that the
  // imports happen in the run's setup phase and side by side.
  void prepare(unsigned threads) const override {
    std::vector<std::unique_ptr<Worker>> started(threads);
    for (unsigned t = 0; t < threads; ++t) {
      {
        std::lock_guard lock(mutex_);
        if (workers_.count(static_cast<int>(t))) continue;  // the worker that checked the function
      }
      try {
        started[t] = std::make_unique<Worker>(setup_, scratch_.file(fmt::format("worker-{}.log", t)));
      } catch (const std::exception&) {
        continue;  // run_batch tries again and fails the tasks with the reason
      }
    }
    for (unsigned t = 0; t < threads; ++t) {
      if (!started[t]) continue;
      try {
        started[t]->ready();
      } catch (const std::exception&) {
        continue;
      }
      std::lock_guard lock(mutex_);
      running_.insert(started[t]->pid());
      workers_[static_cast<int>(t)] = std::move(started[t]);
    }
  }

  // The run's tasks are done: end every worker (they see end of input and
  // exit) and reap it, so that its CPU time counts in /ranks.
  void release() const override {
    std::map<int, std::unique_ptr<Worker>> workers;
    {
      std::lock_guard lock(mutex_);
      workers.swap(workers_);
      running_.clear();
    }
    for (auto& [thread, worker] : workers) worker->finish();
  }

  void run_batch(std::span<TaskContext> tasks, std::span<Row> rows) const override {
    std::size_t next = 0;
    // After a worker died amid several tasks, the rest go one at a time: a
    // worker answers tasks up to a millisecond late, so only then is the task
    // it died on known.
    bool one_at_a_time = timeout_.has_value();
    while (next < tasks.size()) {
      Worker* worker = nullptr;
      try {
        worker = &worker_for(tasks[next].thread());
      } catch (const std::exception& e) {
        for (; next < tasks.size(); ++next)
          tasks[next].fail(fmt::format("cannot start the Python worker: {}", e.what()));
        return;
      }
      std::size_t count = one_at_a_time ? 1 : std::min(tasks.size() - next, MAX_BATCH);
      double sent = now_seconds();
      if (!worker->send(request(tasks.subspan(next, count)))) {
        tasks[next].report_wall(sent, now_seconds());
        tasks[next].fail(worker->died("before it took the task"));
        forget(tasks[next].thread());
        ++next;
        continue;
      }
      for (std::size_t k = 0; k < count; ++k, ++next) {
        TaskContext& task = tasks[next];
        std::string line;
        Worker::Read got = worker->read_line(line, timeout_ ? sent + *timeout_ : -1);
        if (got == Worker::Read::Line) {
          if (take_reply(line, task, rows[next])) {
            sent = task.reported_wall() ? task.reported_wall()->second : now_seconds();
            continue;
          }
          got = Worker::Read::Died;  // a garbled reply: the worker is no use any more
        }
        if (got == Worker::Read::Died && count > 1 && !was_cancelled()) {
          // Which of the unanswered tasks it died on is not known yet: start
          // a new worker and send them again, one at a time.
          worker->died("");
          forget(task.thread());
          one_at_a_time = true;
          break;
        }
        task.report_wall(sent, now_seconds());
        if (got == Worker::Read::TimedOut)
          task.fail(fmt::format("timed out after {} s; the Python worker was killed (and is started again for the next "
                                "task)",
                                *timeout_),
                    TaskContext::Outcome::TimedOut);
        else
          task.fail(worker->died("while running this task") + (was_cancelled() ? " (the run gave up on it)" : ""));
        forget(task.thread());
        ++next;
        break;  // the rest of the batch goes to a new worker
      }
    }
  }

 private:
  std::string request(std::span<const TaskContext> tasks) const {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& task : tasks) {
      nlohmann::json params = nullptr;
      if (sweep_) {
        params = nlohmann::json::object();
        for (std::size_t p = 0; p < sweep_->params().size(); ++p)
          std::visit([&](const auto& v) { params[sweep_->params()[p].name] = v; }, sweep_->value(task.id(), p));
      }
      list.push_back({task.id(), std::move(params)});
    }
    return nlohmann::json{{"tasks", std::move(list)}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
           "\n";
  }

  // One task's reply: id ok t_start t_end cpu_user cpu_sys payload stdout stderr, tab-separated
  // (python/fanout_worker.py). False when the line is not one.
  bool take_reply(const std::string& line, TaskContext& task, Row& row) const {
    auto f = split_fields(line);
    std::uint64_t id = 0;
    double t0 = 0, t1 = 0, user = 0, sys = 0;
    if (f.size() != 9 || !parse_whole(f[0], id) || id != task.id() || (f[1] != "1" && f[1] != "0") ||
        !parse_double(f[2], t0) || !parse_double(f[3], t1) || !parse_double(f[4], user) || !parse_double(f[5], sys))
      return false;
    task.report_wall(t0, t1);
    task.report_cpu(std::max(0.0, user), std::max(0.0, sys));
    std::string problem;
    if (f[1] == "1") {
      problem = parse_result_file(f[6], results_, row, 0);
    } else {
      auto message = nlohmann::json::parse(f[6], nullptr, false);
      problem = message.is_string() ? message.get<std::string>() : "the function failed (an unreadable message)";
    }
    if (!problem.empty()) {
      std::string tails;
      for (auto [name, field] : {std::pair{"stdout", f[7]}, std::pair{"stderr", f[8]}}) {
        auto text = nlohmann::json::parse(field, nullptr, false);
        if (text.is_string() && !text.get_ref<const std::string&>().empty())
          tails += fmt::format("\n{} (last lines):\n{}", name, last_lines(text.get<std::string>()));
      }
      task.fail(problem + tails);
    }
    return true;
  }

  static std::string last_lines(const std::string& text) {
    std::size_t start = text.size();
    for (int lines = 0; lines < 6 && start > 0;) {
      --start;
      if (text[start] == '\n' && start + 1 < text.size()) ++lines;
    }
    std::string tail = text.substr(start);
    while (!tail.empty() && tail.front() == '\n') tail.erase(0, 1);
    while (!tail.empty() && tail.back() == '\n') tail.pop_back();
    return tail;
  }

  Worker& worker_for(int thread) const {
    std::unique_lock lock(mutex_);
    if (cancelled_) throw std::runtime_error("the run is stopping");
    auto& slot = workers_[thread];
    if (slot) return *slot;
    std::string log = scratch_.file(fmt::format("worker-{}.log", thread));
    lock.unlock();
    auto worker = std::make_unique<Worker>(setup_, log);
    {
      std::lock_guard relock(mutex_);
      running_.insert(worker->pid());
    }
    try {
      worker->ready();
    } catch (...) {
      std::lock_guard relock(mutex_);
      running_.erase(worker->pid());
      throw;
    }
    lock.lock();
    slot = std::move(worker);
    return *slot;
  }

  void forget(int thread) const {
    std::unique_ptr<Worker> gone;
    {
      std::lock_guard lock(mutex_);
      auto it = workers_.find(thread);
      if (it == workers_.end()) return;
      gone = std::move(it->second);
      workers_.erase(it);
      if (gone) running_.erase(gone->pid());
    }
  }

  bool was_cancelled() const {
    std::lock_guard lock(mutex_);
    return cancelled_;
  }

  WorkerSetup setup_;
  const Sweep* sweep_;
  std::uint64_t tasks_;
  std::optional<double> timeout_;
  std::vector<Column> results_;
  mutable ScratchDirectory scratch_{"fanout-python"};
  mutable std::mutex mutex_;
  mutable std::map<int, std::unique_ptr<Worker>> workers_;  // by worker thread
  mutable std::set<pid_t> running_;
  mutable bool cancelled_ = false;
};

// The function must import and be callable: start a worker and wait for its
// first line (Python's own message otherwise). The worker, ready, serves the
// run's first worker thread.
std::unique_ptr<Worker> check_function(config::Section& params, const WorkerSetup& setup, ScratchDirectory& scratch) {
  try {
    auto worker = std::make_unique<Worker>(setup, scratch.file("worker-0.log"));
    worker->ready();
    return worker;
  } catch (const std::exception& e) {
    params.fail("function", fmt::format("cannot call {} with {}: {}", setup.function, setup.python, e.what()));
  }
}

const RegisterJob registered{{
    "python",
    "a Python function of yours called for every task (function(**params) over [params], or function(task_id)), "
    "each worker thread driving a Python process of its own",
    {},
    [](config::Section& params) -> std::unique_ptr<Job> {
      WorkerSetup setup;
      setup.function =
          params.text("function", std::nullopt, "the function to call, module:callable (the module found on path)");
      auto path = params.optional_text_list(
          "path",
          "directories put first on sys.path; relative ones from the config file's directory (default: the "
          "config file's directory)");
      setup.python =
          params.text("python", "python3", "the Python interpreter (a virtualenv's python works, with its packages)");
      auto tasks = params.whole("tasks", 0, 0, Sweep::MAX_TASKS,
                                "without [params]: the number of tasks, function(task_id) for task_id = 0 .. tasks-1");
      auto timeout = params.optional_number("timeout", 0.001, 31'536'000,
                                            "seconds a task may run; then its worker is killed (and started again "
                                            "for the next task) and the task is timed_out");
      auto results = config::read_result_columns(
          params, {}, "the function returns a dict of them, or a bare value when one is declared");
      const Sweep* sweep = params.sweep();
      if (params.describing()) return nullptr;
      auto colon = setup.function.find(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == setup.function.size())
        params.fail("function", fmt::format("expected module:callable (for example \"primes:is_prime\"), found \"{}\"",
                                            setup.function));
      if (sweep && tasks)
        params.fail("tasks", "[params] makes one task per combination; give either tasks or [params]");
      if (!sweep && !tasks)
        params.fail("tasks",
                    "missing; expected tasks = N (function(task_id) for each id) or [params] axes "
                    "(function(**params) for each combination)");
      // Relative directories are taken from the config file's directory.
      const std::string here = params.location_of("kind");
      std::string origin_dir = ".";
      if (auto colon_at = here.rfind(':'); colon_at != std::string::npos && here.rfind("--set", 0) != 0)
        origin_dir = std::filesystem::path(here.substr(0, colon_at)).parent_path().string();
      if (origin_dir.empty()) origin_dir = ".";
      for (const auto& p : path.value_or(std::vector<std::string>{"."})) {
        std::filesystem::path dir(p);
        if (dir.is_relative()) dir = std::filesystem::path(origin_dir) / dir;
        setup.path.push_back(std::filesystem::absolute(dir).lexically_normal().string());
      }
      if (auto file = module_file(setup.function.substr(0, colon), setup.path)) {
        std::string why;
        auto text = config::read_small_file(*file, std::size_t{256} << 20, why);
        if (!text) params.fail("function", fmt::format("cannot read {}: {}", *file, why));
        params.add_input("function", *file, *text);
      }
      for (const auto& c : results) setup.results.push_back(c.name);
      setup.by_id = sweep == nullptr;
      setup.worker_dir = worker_dir();
      auto job = std::make_unique<Python>(std::move(setup), sweep, tasks, timeout, std::move(results));
      // Rank 0 imports the function to check it; the other ranks load the
      // config it checked (and so start their workers a worker's start-up sooner).
      if (!params.checked_elsewhere()) job->adopt(check_function(params, job->setup(), job->scratch()));
      return job;
    },
}};

}  // namespace
}  // namespace fanout::jobs
