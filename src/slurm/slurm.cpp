#include "slurm/slurm.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <regex>

#include <fmt/format.h>
#include <boost/mpi/collectives/gather.hpp>
#include <boost/mpi/communicator.hpp>

#include "core/clock.hpp"

extern char** environ;

namespace fanout::slurm {

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

// One field of this job from squeue ("" when squeue fails).
std::string squeue_field(const std::string& format) {
  std::string job = env("SLURM_JOB_ID");
  if (job.empty()) return "";
  CommandResult r = run_command({"squeue", "--noheader", "--jobs=" + job, "--format=" + format});
  return r.status == 0 ? trim(r.out) : "";
}

// The job's time limit as D-HH:MM:SS or HH:MM:SS (squeue prints 5:00 for five
// minutes), UNLIMITED, or "" when squeue does not say.
std::string time_limit() {
  std::string text = squeue_field("%l");
  std::optional<double> seconds = parse_duration(text);
  if (!seconds) return text;
  auto s = static_cast<long long>(*seconds);
  std::string clock = fmt::format("{:02}:{:02}:{:02}", s / 3600 % 24, s / 60 % 60, s % 60);
  return s >= 86400 ? fmt::format("{}-{}", s / 86400, clock) : clock;
}

}  // namespace

bool in_allocation() { return !env("SLURM_JOB_ID").empty(); }

std::vector<std::pair<std::string, std::string>> context_attributes() {
  if (!in_allocation()) return {};  // outside Slurm the file has none of them (since format 1.5)
  return {
      {"slurm_job_id", env("SLURM_JOB_ID")},
      {"slurm_array_task_id", env("SLURM_ARRAY_TASK_ID")},
      {"slurm_nodelist", env("SLURM_JOB_NODELIST")},
      {"slurm_partition", env("SLURM_JOB_PARTITION")},
      {"slurm_cpus_per_task", env("SLURM_CPUS_PER_TASK")},
      {"slurm_time_limit", time_limit()},
  };
}

std::string node_name() {
  std::string node = env("SLURMD_NODENAME");
  if (!node.empty()) return node;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

void record_nodes(const boost::mpi::communicator& comm, std::vector<RankRecord>& ranks) {
  std::vector<std::string> nodes;
  boost::mpi::gather(comm, node_name(), nodes, 0);
  if (comm.rank() != 0) return;
  for (std::size_t r = 0; r < ranks.size() && r < nodes.size(); ++r)
    std::snprintf(ranks[r].node, sizeof ranks[r].node, "%s", nodes[r].c_str());
}

std::optional<double> parse_duration(const std::string& text) {
  static const std::regex with_days(R"((\d+)-(\d+)(?::(\d+))?(?::(\d+))?)");
  static const std::regex clock(R"((\d+)(?::(\d+))?(?::(\d+))?)");
  std::smatch m;
  auto num = [&](int i) { return m[i].matched ? std::stod(m[i].str()) : 0.0; };
  if (std::regex_match(text, m, with_days)) return num(1) * 86400 + num(2) * 3600 + num(3) * 60 + num(4);
  if (std::regex_match(text, m, clock)) {
    if (m[3].matched) return num(1) * 3600 + num(2) * 60 + num(3);  // HH:MM:SS
    if (m[2].matched) return num(1) * 60 + num(2);                  // MM:SS
    return num(1) * 60;                                             // MM
  }
  return std::nullopt;
}

std::optional<double> seconds_left() {
  if (!in_allocation()) return std::nullopt;
  return parse_duration(squeue_field("%L"));
}

std::optional<double> allocation_end() {
  double now = steady_seconds();
  std::optional<double> left = seconds_left();
  if (!left) return std::nullopt;
  return now + *left;
}

std::function<std::string(double longest_task)> time_limit_stop_check(double margin) {
  std::optional<double> end = allocation_end();
  if (!end) return {};
  return [end = *end, margin](double longest_task) -> std::string {
    double left = end - steady_seconds();
    if (left > margin + longest_task) return "";
    return fmt::format(
        "the Slurm time limit is {:.0f} s away: a task may take {:.3g} s, writing the file needs up "
        "to {:.0f} s",
        std::max(0.0, left), longest_task, margin);
  };
}

CommandResult run_command(const std::vector<std::string>& argv) {
  CommandResult result;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    result.err = std::strerror(errno);
    return result;
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.err = std::strerror(errno);
    close(out_pipe[0]);
    close(out_pipe[1]);
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  std::vector<std::string> args = argv;
  std::vector<char*> c_args;
  for (auto& a : args) c_args.push_back(a.data());
  c_args.push_back(nullptr);
  pid_t pid = 0;
  int error = posix_spawnp(&pid, c_args[0], &actions, nullptr, c_args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (error != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    result.err = "cannot run " + argv[0] + ": " + std::strerror(error);
    return result;
  }
  // Read both pipes until both close, so that neither can fill up and stall the child.
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace fanout::slurm
