// Config parsing and every validation message, asserted verbatim: error text
// is part of the interface.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.hpp"
#include "core/error.hpp"

using fanout::ConfigError;
using fanout::config::load_config;
using fanout::sched::Policy;

namespace {

const std::string SPIN = R"([job]
kind = "spin"
tasks = 10
duration = 0
)";

// The message of the ConfigError that loading `text` throws.
std::string error_of(const std::string& text, const std::vector<std::string>& sets = {}) {
  try {
    load_config(text, "test.toml", sets);
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.exit_code(), 2);
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError for:\n" << text;
  return "";
}

}  // namespace

TEST(Config, DefaultsFillTheResolvedConfig) {
  auto loaded = load_config(SPIN, "test.toml");
  EXPECT_EQ(loaded.run.job_kind, "spin");
  EXPECT_EQ(loaded.run.policy, Policy::Dynamic);
  EXPECT_EQ(loaded.run.policy_name, "dynamic");
  EXPECT_FALSE(loaded.run.chunk.has_value());
  EXPECT_EQ(loaded.run.threads_per_rank, 1u);
  EXPECT_EQ(loaded.run.output_path, "results/spin.h5");
  EXPECT_EQ(loaded.job->task_count(), 10u);
  const std::string& resolved = loaded.run.resolved_toml;
  for (const char* line : {"policy = 'dynamic'", "chunk = 'auto'", "threads_per_rank = 1", "distribution = 'constant'",
                           "path = 'results/spin.h5'", "seed = 1", "mode = 'cpu'"})
    EXPECT_NE(resolved.find(line), std::string::npos) << line << " not in:\n" << resolved;
}

TEST(Config, ResolvedConfigLoadsToItself) {
  auto first = load_config(SPIN, "test.toml", {"schedule.policy=static-cyclic", "run.threads_per_rank=3"});
  auto second = load_config(first.run.resolved_toml, "resolved");
  EXPECT_EQ(first.run.resolved_toml, second.run.resolved_toml);
  EXPECT_EQ(second.run.policy, Policy::StaticCyclic);
  EXPECT_EQ(second.run.threads_per_rank, 3u);
}

TEST(Config, OverridesParseTomlAndBareWords) {
  auto loaded = load_config(
      SPIN, "test.toml",
      {"schedule.policy=static-block", "job.tasks=7", "schedule.chunk=5", "output.path=out/x.h5", "job.duration=0.5"});
  EXPECT_EQ(loaded.run.policy, Policy::StaticBlock);
  EXPECT_EQ(loaded.job->task_count(), 7u);
  EXPECT_EQ(loaded.run.chunk, 5u);
  EXPECT_EQ(loaded.run.output_path, "out/x.h5");
}

TEST(Config, OverrideCreatesAMissingSection) {
  auto loaded = load_config(SPIN, "test.toml", {"run.threads_per_rank=2"});
  EXPECT_EQ(loaded.run.threads_per_rank, 2u);
}

TEST(ConfigErrors, SyntaxError) {
  EXPECT_EQ(
      error_of("[job]\nkind = \"spin\nseed = 1\n"),
      "test.toml:2:13: TOML syntax error: Error while parsing string: unescaped control characters other than TAB "
      "(U+0009) are explicitly prohibited");
}

TEST(ConfigErrors, UnknownKeySuggestsTheClosest) {
  EXPECT_EQ(error_of(SPIN + "taks = 5\n"),
            "test.toml:5: job.taks: unknown key; expected one of: kind, tasks, duration, distribution, sigma, seed, "
            "mode, fail_every, fail_on (did you mean \"tasks\"?)");
}

TEST(ConfigErrors, WrongType) {
  EXPECT_EQ(error_of("[job]\nkind = \"spin\"\ntasks = \"ten\"\n"),
            "test.toml:3: job.tasks: expected a whole number from 1 to 10000000000, found \"ten\" (a string)");
}

TEST(ConfigErrors, OutOfRange) {
  EXPECT_EQ(error_of("[job]\nkind = \"spin\"\ntasks = 0\n"),
            "test.toml:3: job.tasks: expected a whole number from 1 to 10000000000, found 0");
  EXPECT_EQ(error_of("[job]\nkind = \"spin\"\nduration = -1.5\n"),
            "test.toml:3: job.duration: expected a number from 0 to 86400, found -1.5");
}

TEST(ConfigErrors, UnknownPolicySuggestsTheClosest) {
  EXPECT_EQ(error_of(SPIN + "[schedule]\npolicy = \"dynamc\"\n"),
            "test.toml:6: schedule.policy: expected one of \"static-block\", \"static-cyclic\", \"dynamic\", "
            "\"guided\", found "
            "\"dynamc\" (did you mean \"dynamic\"?)");
}

TEST(ConfigErrors, UnknownJobKind) {
  EXPECT_EQ(error_of("[job]\nkind = \"prime\"\n"),
            "test.toml:2: job.kind: expected one of \"command\", \"mandelbrot\", \"monte_carlo_pi\", \"prime_count\", "
            "\"primes\", \"python\", \"spin\", found \"prime\" (did you mean \"primes\"?)");
}

TEST(ConfigErrors, MissingJob) {
  EXPECT_EQ(error_of("[run]\nthreads_per_rank = 1\n"), "test.toml: job: missing; expected a [job] table with a kind");
  EXPECT_EQ(error_of("[job]\nnumbers = [3]\n"),
            "test.toml:1: job.kind: missing; expected one of \"command\", \"mandelbrot\", \"monte_carlo_pi\", "
            "\"prime_count\", \"primes\", \"python\", \"spin\"");
}

TEST(ConfigErrors, MissingRequiredJobKey) {
  EXPECT_EQ(error_of("[job]\nkind = \"primes\"\n"),
            "test.toml:1: job.numbers: missing; expected a non-empty array of whole numbers >= 0");
}

TEST(ConfigErrors, BadListItemNamesItsIndex) {
  EXPECT_EQ(error_of("[job]\nkind = \"primes\"\nnumbers = [2, 3, -5]\n"),
            "test.toml:3: job.numbers[2]: expected a whole number >= 0, found -5");
  EXPECT_EQ(error_of("[job]\nkind = \"primes\"\nnumbers = [2, 3.5]\n"),
            "test.toml:3: job.numbers[1]: expected a whole number >= 0, found 3.5 (a float)");
}

TEST(ConfigErrors, UnknownSection) {
  EXPECT_EQ(error_of(SPIN + "[schedul]\npolicy = \"dynamic\"\n"),
            "test.toml:5: [schedul]: unknown section; expected the tables [job], [params], [sweep], [schedule], [run], "
            "[checkpoint], [output] (did you "
            "mean [schedule]?)");
}

TEST(ConfigErrors, ChunkMustBeAutoOrPositive) {
  EXPECT_EQ(error_of(SPIN + "[schedule]\nchunk = 0\n"),
            "test.toml:6: schedule.chunk: expected \"auto\" or a whole number >= 1, found 0");
  EXPECT_EQ(error_of(SPIN + "[schedule]\nchunk = \"big\"\n"),
            "test.toml:6: schedule.chunk: expected \"auto\" or a whole number >= 1, found \"big\"");
}

TEST(ConfigErrors, OverrideErrorsNameTheOverride) {
  EXPECT_EQ(error_of(SPIN, {"schedule.policy=dynamc"}),
            "--set schedule.policy=dynamc: schedule.policy: expected one of \"static-block\", \"static-cyclic\", "
            "\"dynamic\", \"guided\", found \"dynamc\" (did you mean \"dynamic\"?)");
  EXPECT_EQ(error_of(SPIN, {"policy"}), "--set policy: expected KEY=VALUE (for example schedule.policy=dynamic)");
  EXPECT_EQ(error_of(SPIN, {"policy=dynamic"}),
            "--set policy=dynamic: expected a dotted key SECTION.KEY (for example run.threads_per_rank), found "
            "\"policy\"");
  EXPECT_EQ(error_of(SPIN, {"run.threads_per_rank=0"}),
            "--set run.threads_per_rank=0: run.threads_per_rank: expected a whole number from 1 to 1024, found 0");
  EXPECT_EQ(error_of(SPIN, {"job.tasks=[1,"}).rfind("--set job.tasks=[1,: the value is not valid TOML: ", 0), 0u);
}

TEST(ConfigErrors, EmptyOutputPath) {
  EXPECT_EQ(error_of(SPIN + "[output]\npath = \"\"\n"),
            "test.toml:6: output.path: expected a non-empty string, found \"\"");
}

TEST(ConfigErrors, UnreadableFile) {
  try {
    fanout::config::load_config_file("/nonexistent/dir/x.toml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/dir/x.toml: cannot read the config file: No such file or directory");
  }
}

TEST(Params, EditDistance) {
  EXPECT_EQ(fanout::config::edit_distance("dynamc", "dynamic"), 1u);
  EXPECT_EQ(fanout::config::edit_distance("", "abc"), 3u);
  EXPECT_EQ(fanout::config::edit_distance("kitten", "sitting"), 3u);
}

TEST(Params, RunSectionsAreDescribed) {
  auto sections = fanout::config::describe_run_sections();
  ASSERT_EQ(sections.size(), 4u);
  EXPECT_EQ(sections[0].first, "schedule");
  EXPECT_EQ(sections[0].second.at(0).key, "policy");
  EXPECT_EQ(sections[1].second.at(0).key, "threads_per_rank");
  EXPECT_EQ(sections[2].first, "checkpoint");
  EXPECT_EQ(sections[2].second.at(0).key, "interval");
  EXPECT_EQ(sections[3].second.at(0).key, "path");
}

TEST(ConfigErrors, LongestFirstNeedsAPolicyThatCanFollowIt) {
  EXPECT_EQ(
      error_of(SPIN + "[schedule]\npolicy = \"static-block\"\norder = \"longest-first\"\n"),
      "test.toml:7: schedule.order: \"longest-first\" does not combine with policy \"static-block\" (it would give "
      "the longest tasks all to rank 0); use dynamic, guided or static-cyclic");
  auto loaded = load_config(SPIN, "test.toml", {"schedule.order=longest-first", "schedule.policy=guided"});
  EXPECT_EQ(loaded.run.order, fanout::config::Order::LongestFirst);
  EXPECT_EQ(loaded.run.policy, Policy::Guided);
}

// The command job's task list: commands or file, exactly one of them.
TEST(CommandConfig, ErrorsNameTheKey) {
  const std::string job = "[job]\nkind = \"command\"\n";
  EXPECT_EQ(error_of(job),
            "test.toml:1: job.commands: missing; expected commands = [\"...\", ...], file = \"PATH\" (one command "
            "per line) or command = \"prog --x {x}\" with [params]");
  EXPECT_EQ(error_of(job + "commands = []\n"),
            "test.toml:3: job.commands: expected a non-empty array of non-empty "
            "strings, found []");
  EXPECT_EQ(error_of(job + "commands = [\"true\", 3]\n"),
            "test.toml:3: job.commands[1]: expected a non-empty string, found 3 (an integer)");
  EXPECT_EQ(error_of(job + "commands = [\"\"]\n"),
            "test.toml:3: job.commands[0]: expected a non-empty string, found \"\"");
  EXPECT_EQ(error_of(job + "commands = [\"true\"]\nfile = \"x.txt\"\n"),
            "test.toml:4: job.file: give only one of commands, file and command (a template over [params])");
  EXPECT_EQ(error_of(job + "file = \"/nonexistent/tasks.txt\"\n"),
            "test.toml:3: job.file: cannot read /nonexistent/tasks.txt: No such file or directory");
  EXPECT_EQ(error_of(job + "commands = [\"true\"]\ntimeout = 0\n"),
            "test.toml:4: job.timeout: expected a number from 0.001 to 31536000, found 0");
}

TEST(CommandConfig, FileIsReadFromTheConfigsDirectory) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("fanout-unit-command-" + std::to_string(getpid()));
  fs::create_directories(dir / "sub");
  std::ofstream(dir / "sub" / "tasks.txt")
      << "# a comment\n\necho one\n   # indented comment\necho two # not a comment\r\n";
  std::ofstream(dir / "sub" / "empty.txt") << "# only\n\n";
  std::ofstream(dir / "sub" / "c.toml") << "[job]\nkind = \"command\"\nfile = \"tasks.txt\"\n";
  auto loaded = fanout::config::load_config_file((dir / "sub" / "c.toml").string());
  EXPECT_EQ(loaded.job->task_count(), 2u);
  std::string resolved = loaded.run.resolved_toml;
  std::string absolute = (fs::absolute(dir) / "sub" / "tasks.txt").lexically_normal().string();
  EXPECT_NE(resolved.find("file = '" + absolute + "'"), std::string::npos) << resolved;
  // The resolved config (what ranks > 0 load) finds the same file from anywhere.
  EXPECT_EQ(load_config(resolved, "elsewhere.toml").job->task_count(), 2u);
  EXPECT_EQ(error_of("[job]\nkind = \"command\"\nfile = \"" + (dir / "sub" / "empty.txt").string() + "\"\n"),
            "test.toml:3: job.file: " + (dir / "sub" / "empty.txt").string() +
                " has no commands (only blank lines and # comments)");
  fs::remove_all(dir);
}
