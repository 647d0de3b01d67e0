// The job registry and the built-in jobs, run through the Job interface.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "config/config.hpp"
#include "core/error.hpp"
#include "core/job.hpp"

using fanout::ColumnType;
using fanout::JobRegistry;
using fanout::Row;
using fanout::RowLayout;

namespace {

// Runs every task of a config's job and returns column `column` as doubles.
template <class T>
std::vector<T> run_column(const std::string& toml, std::size_t column) {
  auto loaded = fanout::config::load_config(toml, "test.toml");
  RowLayout layout(loaded.info->columns);
  std::vector<std::byte> bytes(layout.size());
  std::vector<T> values;
  for (std::uint64_t task = 0; task < loaded.job->task_count(); ++task) {
    Row row(layout, bytes);
    fanout::TaskContext context(task, 0, 0, loaded.sweep.get());
    loaded.job->run(context, row);
    values.push_back(row.get<T>(column));
  }
  return values;
}

}  // namespace

TEST(Registry, HoldsTheBuiltInJobs) {
  auto kinds = JobRegistry::instance().kinds();
  EXPECT_EQ(kinds, (std::vector<std::string>{"command", "mandelbrot", "monte_carlo_pi", "prime_count", "primes",
                                             "python", "spin"}));
  const auto* primes = JobRegistry::instance().find("primes");
  ASSERT_NE(primes, nullptr);
  ASSERT_EQ(primes->columns.size(), 2u);
  EXPECT_EQ(primes->columns[0].name, "number");
  EXPECT_EQ(primes->columns[0].type, ColumnType::U64);
  EXPECT_EQ(primes->columns[1].name, "is_prime");
  EXPECT_EQ(primes->columns[1].type, ColumnType::U8);
  EXPECT_EQ(JobRegistry::instance().find("nope"), nullptr);
}

TEST(Registry, RefusesADuplicateKind) {
  fanout::JobInfo info{"primes", "again", {}, nullptr};
  EXPECT_THROW(JobRegistry::instance().add(info), std::logic_error);
}

TEST(Registry, DescribesEveryParameter) {
  auto params = fanout::config::describe_job(*JobRegistry::instance().find("spin"));
  std::vector<std::string> keys;
  for (const auto& p : params) keys.push_back(p.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"tasks", "duration", "distribution", "sigma", "seed", "mode", "fail_every",
                                            "fail_on"}));
  for (const auto& p : params) EXPECT_FALSE(p.help.empty()) << p.key;
}

TEST(Row, RefusesTheWrongType) {
  std::vector<fanout::Column> columns{{"a", ColumnType::U8, "", ""}, {"b", ColumnType::F64, "s", ""}};
  RowLayout layout(columns);
  EXPECT_EQ(layout.size(), 9u);
  std::vector<std::byte> bytes(layout.size());
  Row row(layout, bytes);
  row.set<double>(1, 2.5);
  EXPECT_EQ(row.get<double>(1), 2.5);
  EXPECT_THROW(row.set<std::uint64_t>(1, 3), std::logic_error);
  EXPECT_THROW(row.set<std::uint8_t>(2, 3), std::logic_error);
}

TEST(Row, TextColumnsAreNullPaddedAndCut) {
  std::vector<fanout::Column> columns{{"n", ColumnType::I32, "", ""}, {"t", ColumnType::Text, "", "", 5}};
  RowLayout layout(columns);
  EXPECT_EQ(layout.size(), 9u);
  EXPECT_EQ(layout.bytes(1), 5u);
  EXPECT_EQ(fanout::column_type_text(columns[1]), "text[5]");
  std::vector<std::byte> bytes(layout.size(), std::byte{0x55});
  Row row(layout, bytes);
  row.set_text(1, "ab");
  EXPECT_EQ(row.text(1), "ab");
  EXPECT_EQ(bytes[4 + 2], std::byte{0});
  EXPECT_EQ(bytes[4 + 4], std::byte{0}) << "padded to the end";
  row.set_text(1, "abcdefgh");
  EXPECT_EQ(row.text(1), "abcde");
  EXPECT_THROW(row.set_text(0, "x"), std::logic_error);
  EXPECT_THROW(row.set<double>(1, 1.0), std::logic_error);
  std::vector<fanout::Column> unsized{{"t", ColumnType::Text, "", "", 0}};
  EXPECT_THROW(RowLayout{unsized}, std::logic_error);
}

// The command job in this process (the e2e tier runs it under mpirun).
TEST(Command, RecordsExitSignalAndTails) {
  auto loaded = fanout::config::load_config(
      "[job]\nkind = \"command\"\ncommands = [\"printf out; printf err >&2\", \"exit 7\", \"kill -USR1 $$\", "
      "\"head -c 10000 /dev/zero | tr '\\\\0' x; printf END\", \"echo $FANOUT_TASK_ID\"]\n",
      "test.toml");
  RowLayout layout(loaded.info->columns);
  std::vector<std::byte> bytes(layout.size());
  auto run = [&](std::uint64_t task) -> std::string {
    Row row(layout, bytes);
    try {
      fanout::TaskContext context(task, 0, 0, loaded.sweep.get());
      loaded.job->run(context, row);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  };
  Row row(layout, bytes);
  EXPECT_EQ(run(0), "");
  EXPECT_EQ(row.get<std::int32_t>(0), 0);
  EXPECT_EQ(row.text(5), "out");
  EXPECT_EQ(row.text(6), "err");
  EXPECT_EQ(run(1), "exit code 7");
  EXPECT_EQ(row.get<std::int32_t>(0), 7);
  EXPECT_EQ(run(2), "killed by signal 10 (SIGUSR1)");
  EXPECT_EQ(row.get<std::int32_t>(0), -1);
  EXPECT_EQ(row.get<std::int32_t>(1), 10);
  EXPECT_EQ(run(3), "");
  EXPECT_EQ(row.text(5), std::string(4093, 'x') + "END");
  EXPECT_EQ(row.text(6), "");
  EXPECT_EQ(run(4), "");
  EXPECT_EQ(row.text(5), "4\n");
}

TEST(Command, TimeoutKillsTheProcessGroup) {
  auto loaded = fanout::config::load_config(
      "[job]\nkind = \"command\"\ntimeout = 0.2\ncommands = [\"sleep 30 & sleep 31; echo never\"]\n", "test.toml");
  RowLayout layout(loaded.info->columns);
  std::vector<std::byte> bytes(layout.size());
  Row row(layout, bytes);
  fanout::TaskContext context(0, 0, 0, nullptr);
  EXPECT_THROW(loaded.job->run(context, row), fanout::TaskTimedOut);
  EXPECT_EQ(row.get<std::int32_t>(1), 15);
  EXPECT_EQ(row.text(5), "");
}

TEST(Row, ArrayColumnsTakeExactlyTheirLength) {
  std::vector<fanout::Column> columns{{"a", ColumnType::U8, "", ""}, {"pixels", ColumnType::U32, "", "", 3}};
  RowLayout layout(columns);
  EXPECT_EQ(layout.size(), 13u);
  EXPECT_EQ(layout.bytes(1), 12u);
  EXPECT_EQ(fanout::column_type_text(columns[1]), "uint32[3]");
  std::vector<std::byte> bytes(layout.size());
  Row row(layout, bytes);
  std::vector<std::uint32_t> three{7, 8, 9};
  row.set<std::uint32_t>(1, three);
  std::uint32_t second = 0;
  std::memcpy(&second, bytes.data() + 1 + 4, 4);
  EXPECT_EQ(second, 8u);
  std::vector<std::uint32_t> two{1, 2};
  EXPECT_THROW(row.set<std::uint32_t>(1, two), std::logic_error);
  EXPECT_THROW(row.set<std::uint32_t>(1, 5u), std::logic_error);  // one value into an array column
  columns[1].length = 0;                                          // never set by the job
  EXPECT_THROW(RowLayout{columns}, std::logic_error);
}

TEST(Mandelbrot, RowLengthIsTheWidth) {
  auto loaded = fanout::config::load_config("[job]\nkind = \"mandelbrot\"\nwidth = 37\nheight = 5\n", "test.toml");
  EXPECT_EQ(loaded.job->task_count(), 5u);
  ASSERT_EQ(loaded.columns.size(), 1u);
  EXPECT_EQ(loaded.columns[0].length, 37u);
  EXPECT_EQ(loaded.info->columns[0].length, 0u);  // registered as "set by the job"
  RowLayout layout(loaded.columns);
  std::vector<std::byte> bytes(layout.size());
  Row row(layout, bytes);
  fanout::TaskContext context(2, 0, 0, nullptr);
  loaded.job->run(context, row);  // the middle row crosses the set: the centre pixels never escape
  std::vector<std::uint32_t> counts(37);
  std::memcpy(counts.data(), bytes.data(), bytes.size());
  EXPECT_EQ(counts[24], 500u);
  EXPECT_EQ(counts[0], 1u);
}

TEST(Mandelbrot, RefusesAnEmptyRegion) {
  try {
    fanout::config::load_config("[job]\nkind = \"mandelbrot\"\nx_min = 1.0\nx_max = 0.5\n", "m.toml");
    FAIL() << "no error";
  } catch (const fanout::ConfigError& e) {
    EXPECT_STREQ(e.what(), "m.toml:4: job.x_max: must be greater than x_min");
  }
}

TEST(MonteCarloPi, RefusesMoreThan2To64Points) {
  try {
    fanout::config::load_config("[job]\nkind = \"monte_carlo_pi\"\ntasks = 1000000000\nsamples = 1000000000000\n",
                                "p.toml");
    FAIL() << "no error";
  } catch (const fanout::ConfigError& e) {
    EXPECT_STREQ(e.what(), "p.toml:4: job.samples: tasks x samples must be below 2^64");
  }
}

TEST(MonteCarloPi, TasksDrawDifferentPoints) {
  auto inside = run_column<std::uint64_t>("[job]\nkind = \"monte_carlo_pi\"\ntasks = 8\nsamples = 100000\n", 0);
  ASSERT_EQ(inside.size(), 8u);
  for (std::size_t i = 0; i < inside.size(); ++i) {
    EXPECT_NEAR(static_cast<double>(inside[i]) / 100000, M_PI / 4, 0.01) << "task " << i;
    for (std::size_t j = 0; j < i; ++j) EXPECT_NE(inside[i], inside[j]) << "tasks " << i << " and " << j;
  }
}

TEST(Primes, AgreeWithASieve) {
  constexpr std::uint64_t LIMIT = 20000;
  std::vector<bool> composite(LIMIT, false);
  composite[0] = composite[1] = true;
  for (std::uint64_t i = 2; i * i < LIMIT; ++i)
    if (!composite[i])
      for (std::uint64_t j = i * i; j < LIMIT; j += i) composite[j] = true;
  std::string numbers;
  for (std::uint64_t n = 0; n < LIMIT; ++n) numbers += (n ? ", " : "") + std::to_string(n);
  auto is_prime = run_column<std::uint8_t>("[job]\nkind = \"primes\"\nnumbers = [" + numbers + "]\n", 1);
  ASSERT_EQ(is_prime.size(), LIMIT);
  for (std::uint64_t n = 0; n < LIMIT; ++n) EXPECT_EQ(is_prime[n] == 1, !composite[n]) << n;
}

TEST(Primes, LargeNumbersNearTheSquareRootBoundary) {
  // The square of the prime 1000003 and the product of the primes 1000003
  // and 1000033 have no divisor below the square root but one: they test the
  // isqrt bound exactly.
  auto is_prime = run_column<std::uint8_t>(
      "[job]\nkind = \"primes\"\nnumbers = [1000003, 1000006000009, 1000036000099, "
      "9999999999999917, 9999999999999999, 142702110479723]\n",
      1);
  EXPECT_EQ(is_prime, (std::vector<std::uint8_t>{1, 0, 0, 1, 0, 1}));
}

TEST(Spin, DurationsDependOnSeedAndTaskOnly) {
  std::string base = "[job]\nkind = \"spin\"\ntasks = 50\nduration = 1e-6\ndistribution = \"uniform\"\n";
  auto a = run_column<double>(base + "seed = 7\n", 0);
  auto b = run_column<double>(base + "seed = 7\n", 0);
  auto c = run_column<double>(base + "seed = 8\n", 0);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (double d : a) {
    EXPECT_GE(d, 0);
    EXPECT_LE(d, 2e-6);
  }
}

TEST(Spin, LognormalMeanIsTheDuration) {
  auto d = run_column<double>(
      "[job]\nkind = \"spin\"\ntasks = 20000\nduration = 1e-6\ndistribution = \"lognormal\"\nsigma = 1.0\n", 0);
  double sum = 0;
  for (double x : d) sum += x;
  EXPECT_NEAR(sum / static_cast<double>(d.size()), 1e-6, 0.05e-6);
}

TEST(Spin, ZeroDurationGivesEmptyTasks) {
  auto durations = run_column<double>("[job]\nkind = \"spin\"\ntasks = 5\nduration = 0\n", 0);
  EXPECT_EQ(durations, (std::vector<double>(5, 0.0)));
}
