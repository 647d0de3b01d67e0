#include "cli/python.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "core/data_files.hpp"
#include "core/error.hpp"
#include "io/file_kind.hpp"

extern char** environ;

namespace fanout::cli {

namespace {

constexpr const char* DEFAULT_PYTHON = "/usr/bin/python3";
constexpr const char* PYTHON_PACKAGES = "python3 python3-h5py python3-numpy python3-pandas python3-matplotlib";

std::string from_env(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

// While the child runs, Ctrl-C reaches it (the same process group) and this
// process only waits, as system() does.
class IgnoreInterrupts {
 public:
  IgnoreInterrupts() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGINT, &ignore, &saved_int_);
    sigaction(SIGQUIT, &ignore, &saved_quit_);
  }
  ~IgnoreInterrupts() {
    sigaction(SIGINT, &saved_int_, nullptr);
    sigaction(SIGQUIT, &saved_quit_, nullptr);
  }
  IgnoreInterrupts(const IgnoreInterrupts&) = delete;
  IgnoreInterrupts& operator=(const IgnoreInterrupts&) = delete;

  // The child starts with the dispositions this process had before.
  void restore_in(posix_spawnattr_t& attr) const {
    sigset_t defaults;
    sigemptyset(&defaults);
    if (saved_int_.sa_handler != SIG_IGN) sigaddset(&defaults, SIGINT);
    if (saved_quit_.sa_handler != SIG_IGN) sigaddset(&defaults, SIGQUIT);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  }

 private:
  struct sigaction saved_int_ {};
  struct sigaction saved_quit_ {};
};

}  // namespace

std::string python_interpreter() { return from_env("FANOUT_PYTHON", DEFAULT_PYTHON); }

int run_python_script(const DataFile& script_file, const std::vector<std::string>& args) {
  const std::string interpreter = python_interpreter();
  const std::string script = std::filesystem::path(script_file.relative).filename().string();
  if (access(interpreter.c_str(), X_OK) != 0)
    throw IoError(
        fmt::format("cannot run {}: it needs Python 3 at {}, which {} (FANOUT_PYTHON names another); "
                    "on Debian: apt-get install {}",
                    script, interpreter, errno == ENOENT ? "does not exist" : std::strerror(errno), PYTHON_PACKAGES));
  const std::string path = find_data_file(script_file);
  if (access(path.c_str(), R_OK) != 0) throw IoError(fmt::format("cannot read {}: {}", path, std::strerror(errno)));

  std::vector<std::string> argv_strings{interpreter, "-B", path};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  IgnoreInterrupts guard;
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  guard.restore_in(attr);
  pid_t pid = 0;
  int error = posix_spawn(&pid, interpreter.c_str(), nullptr, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  if (error != 0) throw IoError(fmt::format("cannot start {}: {}", interpreter, std::strerror(error)));

  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw IoError(fmt::format("waiting for {}: {}", interpreter, std::strerror(errno)));
  }
  if (WIFEXITED(status)) {
    int code = WEXITSTATUS(status);
    if (code == EXIT_OK || code == EXIT_USAGE || code == EXIT_IO || code == EXIT_INTERRUPTED) return code;
    std::cerr << fmt::format("fanout: error: {} {} failed with exit status {}\n", interpreter, path, code);
    return EXIT_IO;
  }
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) return EXIT_INTERRUPTED;
    std::cerr << fmt::format("fanout: error: {} {} was killed by signal {} ({})\n", interpreter, path, sig,
                             strsignal(sig));
  }
  return EXIT_IO;
}

int plot(const PlotOptions& options) {
  for (const auto& file : options.files) io::reject_if_not_run_file(file);  // a config or a journal
  std::vector<std::string> args;
  if (options.scaling) args.emplace_back("--scaling");
  if (options.out) {
    args.push_back("--out=" + *options.out);
  }
  args.emplace_back("--");  // a file named like an option stays a file
  args.insert(args.end(), options.files.begin(), options.files.end());
  return run_python_script(PYTHON_PLOT, args);
}

}  // namespace fanout::cli
