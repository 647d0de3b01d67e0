#include "run/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

namespace fanout::run {

namespace {
std::string duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto s = static_cast<long long>(std::llround(seconds));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
}
}  // namespace

Progress::Mode Progress::choose(const std::string& flag, bool terminal, double interval) {
  if (flag == "never") return Mode::Off;
  if (flag == "always" || terminal) return Mode::Live;
  return interval > 0 ? Mode::Lines : Mode::Off;
}

std::string Progress::line(double elapsed, std::uint64_t done, std::uint64_t failed, double task_cpu) const {
  double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  double percent = total_ ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0;
  std::string eta = "?";
  if (done > 0 && done < total_) {
    // The rate when the count last changed, and the time left then, counted down.
    double changed = done == last_done_ ? last_change_ : elapsed;
    double left = static_cast<double>(total_ - done) * changed / static_cast<double>(done) - (elapsed - changed);
    eta = left >= 0 ? duration(left) : "unknown (no task finished for " + duration(elapsed - changed) + ")";
  } else if (done == total_) {
    eta = duration(0);
  }
  return fmt::format("fanout: {}/{} tasks ({:.1f}%), {} failed, {:.1f} tasks/s, ETA {}, {:.2f} cores busy", done,
                     total_, percent, failed, rate, eta, elapsed > 0 ? task_cpu / elapsed : 0.0);
}

void Progress::update(double elapsed, std::uint64_t done, std::uint64_t failed, double task_cpu) {
  if (done != last_done_) {
    last_done_ = done;
    last_change_ = elapsed;
  }
  if (mode_ == Mode::Off || elapsed < QUIET_SECONDS) return;
  std::string text = line(elapsed, done, failed, task_cpu);
  if (mode_ == Mode::Live) {
    std::fprintf(out_, "\r\033[K%s", text.c_str());
    drawn_ = true;
  } else {
    std::fprintf(out_, "%s\n", text.c_str());
  }
  std::fflush(out_);
}

bool Progress::stderr_reaches_terminal() {
  if (isatty(STDERR_FILENO) == 1) return true;
  if (!std::getenv("OMPI_COMM_WORLD_RANK")) return false;
  std::error_code ec;
  auto target = std::filesystem::read_symlink("/proc/" + std::to_string(getppid()) + "/fd/2", ec);
  if (ec) return false;
  std::string t = target.string();
  return t.rfind("/dev/pts/", 0) == 0 || t.rfind("/dev/tty", 0) == 0;
}

void Progress::finish() {
  if (drawn_) {
    std::fputc('\n', out_);
    std::fflush(out_);
    drawn_ = false;
  }
}

}  // namespace fanout::run
