// The prime_count job through its config, its tasks run in-process: known
// values of pi(x), blocks that add up, one-number and empty ranges, block
// arithmetic up to 2^64 - 1, and every kind of bad range (exact messages).
// Ranges near 2^64 are counted in the e2e test (tests/prime_count/
// test_prime_count.py), against the primesieve command: each block there
// costs about 4 CPU-seconds of sieving primes up to 2^32.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "core/error.hpp"
#include "core/job.hpp"

namespace {

using fanout::config::LoadedConfig;

constexpr std::uint64_t MAX = 18446744073709551615ULL;  // 2^64 - 1

LoadedConfig load(const std::string& keys) {
  return fanout::config::load_config("[job]\nkind = \"prime_count\"\n" + keys, "test.toml");
}

std::string error_of(const std::string& keys) {
  try {
    load(keys);
  } catch (const fanout::ConfigError& e) {
    EXPECT_EQ(e.exit_code(), 2);
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError for:\n" << keys;
  return "";
}

std::uint64_t run_task(const LoadedConfig& loaded, std::uint64_t task) {
  fanout::RowLayout layout(loaded.columns);
  std::vector<std::byte> bytes(layout.size());
  fanout::Row row(layout, bytes);
  loaded.job->run(task, row);
  return row.get<std::uint64_t>(0);
}

// Every task's count, and their sum.
std::vector<std::uint64_t> run_all(const LoadedConfig& loaded) {
  std::vector<std::uint64_t> counts;
  for (std::uint64_t task = 0; task < loaded.job->task_count(); ++task) counts.push_back(run_task(loaded, task));
  return counts;
}

std::uint64_t sum(const std::vector<std::uint64_t>& counts) {
  std::uint64_t total = 0;
  for (auto c : counts) total += c;
  return total;
}

bool is_prime(std::uint64_t n) {
  if (n < 2) return false;
  for (std::uint64_t d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

}  // namespace

TEST(PrimeCountJob, KnownValuesOfPi) {
  // pi(10^k): the number of primes below 10^k (10^k itself is not prime).
  const std::vector<std::uint64_t> pi{0, 4, 25, 168, 1229, 9592, 78498, 664579, 5761455, 50847534};
  std::uint64_t power = 1;
  for (std::size_t k = 0; k < pi.size(); ++k, power *= 10) {
    auto whole = load("stop = " + std::to_string(power) + "\n");
    EXPECT_EQ(whole.job->task_count(), 1u) << "10^" << k << " in the default block of 10^9";
    EXPECT_EQ(sum(run_all(whole)), pi[k]) << "pi(10^" << k << ")";
    // The same in 7 uneven blocks (the last one shorter).
    auto blocks = load("stop = " + std::to_string(power) + "\nblock = " + std::to_string(power / 7 + 1) + "\n");
    EXPECT_EQ(sum(run_all(blocks)), pi[k]) << "pi(10^" << k << ") in blocks of " << power / 7 + 1;
  }
}

TEST(PrimeCountJob, BlocksAreTasksAndTheLastMayBeShort) {
  auto loaded = load("start = 10\nstop = 1000\nblock = 300\n");
  ASSERT_EQ(loaded.job->task_count(), 4u);
  EXPECT_TRUE(loaded.job->has_costs());
  const std::uint64_t bounds[] = {10, 310, 610, 910, 1000};
  for (std::uint64_t task = 0; task < 4; ++task) {
    std::uint64_t expected = 0;
    for (std::uint64_t n = bounds[task]; n < bounds[task + 1]; ++n) expected += is_prime(n) ? 1 : 0;
    EXPECT_EQ(run_task(loaded, task), expected) << "task " << task;
    EXPECT_EQ(loaded.job->cost(task), static_cast<double>(bounds[task + 1] - bounds[task])) << "task " << task;
  }
}

TEST(PrimeCountJob, OneNumberRangesAndBlocksOfOne) {
  // [n, n + 1) holds one prime exactly when n is prime.
  for (std::uint64_t n = 0; n < 200; ++n) {
    auto loaded = load("start = " + std::to_string(n) + "\nstop = " + std::to_string(n + 1) + "\n");
    ASSERT_EQ(loaded.job->task_count(), 1u);
    EXPECT_EQ(run_task(loaded, 0), is_prime(n) ? 1u : 0u) << "[" << n << ", " << n + 1 << ")";
  }
  // Blocks of one number: each task says whether its number is prime.
  auto ones = load("start = 999900\nstop = 1000000\nblock = 1\n");
  ASSERT_EQ(ones.job->task_count(), 100u);
  auto counts = run_all(ones);
  for (std::uint64_t task = 0; task < 100; ++task)
    EXPECT_EQ(counts[task], is_prime(999900 + task) ? 1u : 0u) << "the number " << 999900 + task;
}

TEST(PrimeCountJob, EmptyRangeHasNoTasks) {
  EXPECT_EQ(load("start = 0\nstop = 0\n").job->task_count(), 0u);
  EXPECT_EQ(load("start = 97\nstop = 97\nblock = 5\n").job->task_count(), 0u);
  EXPECT_EQ(load("start = \"18446744073709551615\"\nstop = \"18446744073709551615\"\n").job->task_count(), 0u);
}

TEST(PrimeCountJob, BlockArithmeticUpTo2To64) {
  // The last block ends at 2^64 - 1 exactly, however the blocks fall.
  auto near = load("start = \"18446744073709551000\"\nstop = \"18446744073709551615\"\nblock = 300\n");
  ASSERT_EQ(near.job->task_count(), 3u);
  EXPECT_EQ(near.job->cost(0), 300.0);
  EXPECT_EQ(near.job->cost(2), 15.0);

  // Blocks of 2^63 - 1 over [0, 2^64 - 1): two full blocks and one of a single number.
  auto halves = load("start = 0\nstop = \"18446744073709551615\"\nblock = 9223372036854775807\n");
  ASSERT_EQ(halves.job->task_count(), 3u);
  EXPECT_EQ(halves.job->cost(1), 9223372036854775807.0);
  EXPECT_EQ(halves.job->cost(2), 1.0);

  // The default block over the whole range: 64 x floor(sqrt(2^64 - 1)) = 64 x (2^32 - 1).
  auto all = load("stop = \"18446744073709551615\"\n");
  const std::uint64_t block = 64 * 4294967295ULL;
  const std::uint64_t tasks = MAX / block + 1;  // block does not divide 2^64 - 1
  ASSERT_EQ(all.job->task_count(), tasks);
  EXPECT_EQ(all.job->cost(0), static_cast<double>(block));
  EXPECT_EQ(all.job->cost(tasks - 1), static_cast<double>(MAX - (tasks - 1) * block));
  EXPECT_LT(MAX - (tasks - 1) * block, block);
}

TEST(PrimeCountJob, DefaultBlockIsTenToTheNineOr64SqrtStop) {
  EXPECT_EQ(load("stop = 10_000_000_000\n").job->task_count(), 10u);  // blocks of 10^9
  // 64 x sqrt(10^16) = 6.4 x 10^9 > 10^9: [10^16 - 6.4 x 10^10, 10^16) in ten blocks.
  EXPECT_EQ(load("start = 9_999_936_000_000_000\nstop = 10_000_000_000_000_000\n").job->task_count(), 10u);
  // The resolved config (kept in the run file) records the block used.
  auto loaded = load("stop = 10_000_000_000_000_000\n");
  EXPECT_NE(loaded.run.resolved_toml.find("block = 6400000000\n"), std::string::npos) << loaded.run.resolved_toml;
}

TEST(PrimeCountJob, StringsOfDigitsAndTheResolvedConfig) {
  // A string of digits means the same as the integer.
  auto as_string = load("start = \"1000\"\nstop = \"2000\"\nblock = 250\n");
  auto as_integer = load("start = 1000\nstop = 2000\nblock = 250\n");
  EXPECT_EQ(run_all(as_string), run_all(as_integer));
  EXPECT_NE(as_string.run.resolved_toml.find("start = 1000\nstop = 2000\n"), std::string::npos)
      << as_string.run.resolved_toml;
  // Above 2^63 - 1 the resolved config keeps the string (TOML has no larger integer).
  auto big = load("start = \"18446744073709551000\"\nstop = \"18446744073709551615\"\nblock = 300\n");
  EXPECT_NE(big.run.resolved_toml.find("start = '18446744073709551000'\nstop = '18446744073709551615'\n"),
            std::string::npos)
      << big.run.resolved_toml;
  // ... which loads again to the same job.
  auto again = fanout::config::load_config(big.run.resolved_toml, "resolved.toml");
  EXPECT_EQ(again.job->task_count(), 3u);
  EXPECT_EQ(again.job->cost(2), 15.0);
}

TEST(PrimeCountJob, ThreadsCountAtTheSameTime) {
  auto loaded = load("start = 100_000_000\nstop = 200_000_000\nblock = 25_000_000\n");
  ASSERT_EQ(loaded.job->task_count(), 4u);
  const auto alone = run_all(loaded);
  EXPECT_EQ(sum(alone), 5317482u);  // pi(2 x 10^8) - pi(10^8) = 11078937 - 5761455
  std::vector<std::uint64_t> counts(4);
  std::vector<std::thread> threads;
  for (std::uint64_t t = 0; t < 4; ++t) threads.emplace_back([&, t] { counts[t] = run_task(loaded, t); });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counts, alone);
}

TEST(PrimeCountJob, BadRangesAreConfigErrors) {
  const std::string range = "a whole number from 0 to 18446744073709551615 (an integer or a string of digits)";
  EXPECT_EQ(error_of("start = 100\nstop = 50\n"),
            "test.toml:4: job.stop: expected a whole number at least start = 100, found 50");
  EXPECT_EQ(error_of("start = \"18446744073709551615\"\nstop = \"18446744073709551614\"\n"),
            "test.toml:4: job.stop: expected a whole number at least start = 18446744073709551615, found "
            "18446744073709551614");
  EXPECT_EQ(error_of("start = -1\nstop = 1000\n"), "test.toml:3: job.start: expected " + range + ", found -1");
  EXPECT_EQ(error_of("stop = \"18446744073709551616\"\n"),
            "test.toml:3: job.stop: expected " + range + ", found \"18446744073709551616\" (a string)");
  EXPECT_EQ(error_of("stop = \"99999999999999999999999\"\n"),
            "test.toml:3: job.stop: expected " + range + ", found \"99999999999999999999999\" (a string)");
  EXPECT_EQ(error_of("stop = \"-5\"\n"), "test.toml:3: job.stop: expected " + range + ", found \"-5\" (a string)");
  EXPECT_EQ(error_of("stop = \"1e10\"\n"), "test.toml:3: job.stop: expected " + range + ", found \"1e10\" (a string)");
  EXPECT_EQ(error_of("stop = \" 10\"\n"), "test.toml:3: job.stop: expected " + range + ", found \" 10\" (a string)");
  EXPECT_EQ(error_of("stop = \"\"\n"), "test.toml:3: job.stop: expected " + range + ", found \"\" (a string)");
  EXPECT_EQ(error_of("stop = \"1_000\"\n"),
            "test.toml:3: job.stop: expected " + range + ", found \"1_000\" (a string)");
  EXPECT_EQ(error_of("stop = 1e10\n"), "test.toml:3: job.stop: expected " + range + ", found 10000000000 (a float)");
  EXPECT_EQ(error_of("stop = [10]\n"), "test.toml:3: job.stop: expected " + range + ", found [10] (an array)");
  EXPECT_EQ(error_of("stop = 1000\nblock = 0\n"), "test.toml:4: job.block: expected a whole number >= 1, found 0");
  EXPECT_EQ(error_of("start = 0\n"), "test.toml:1: job.stop: missing; expected " + range);
}

TEST(PrimeCountJob, OverridesTakeDigitsBeyondTomlIntegers) {
  // --set job.stop=18446744073709551615 is not a TOML integer: it arrives as a string.
  auto loaded =
      fanout::config::load_config("[job]\nkind = \"prime_count\"\nstop = 10\n", "test.toml",
                                  {"job.start=18446744073709551000", "job.stop=18446744073709551615", "job.block=300"});
  EXPECT_EQ(loaded.job->task_count(), 3u);
  try {
    fanout::config::load_config("[job]\nkind = \"prime_count\"\n", "test.toml", {"job.stop=18446744073709551616"});
    ADD_FAILURE() << "no ConfigError for stop = 2^64";
  } catch (const fanout::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "--set job.stop=18446744073709551616: job.stop: expected a whole number from 0 to 18446744073709551615 "
              "(an integer or a string of digits), found \"18446744073709551616\" (a string)");
  }
}
