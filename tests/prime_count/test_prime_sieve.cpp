// The prime_count kernel against oracles: trial division on every tiny range,
// the primesieve CLI (an independent implementation) on edge and random
// ranges up to 10^13; and the job through its config.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "core/error.hpp"
#include "core/job.hpp"
#include "prime_sieve.hpp"

using fanout::jobs::sieve::count_primes;
using fanout::jobs::sieve::MAX_STOP;
using fanout::jobs::sieve::SEGMENT_BYTES;
using fanout::jobs::sieve::SievingPrimes;

namespace {

bool is_prime(std::uint64_t n) {
  if (n < 2) return false;
  for (std::uint64_t d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

// primesieve counts a closed interval: [lo, hi) is "lo hi-1".
std::uint64_t primesieve_count(std::uint64_t lo, std::uint64_t hi) {
  std::string command = std::string(FANOUT_PRIMESIEVE) + " " + std::to_string(lo) + " " + std::to_string(hi - 1) +
                        " --count --quiet --threads=1 --no-status";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run: " + command);
  unsigned long long count = 0;
  int fields = std::fscanf(pipe, "%llu", &count);
  int status = pclose(pipe);
  if (fields != 1 || status != 0)
    throw std::runtime_error("primesieve failed (is primesieve-bin installed?): " + command);
  return count;
}

// Checks count_primes(lo, hi) against primesieve, with a message naming the range.
void expect_primesieve(std::uint64_t lo, std::uint64_t hi, const SievingPrimes& primes) {
  EXPECT_EQ(count_primes(lo, hi, primes), primesieve_count(lo, hi)) << "range [" << lo << ", " << hi << ")";
}

const SievingPrimes& primes_to_max() {
  static const SievingPrimes primes(MAX_STOP);
  return primes;
}

std::string error_of(const std::string& text) {
  try {
    fanout::config::load_config(text, "test.toml");
  } catch (const fanout::ConfigError& e) {
    EXPECT_EQ(e.exit_code(), 2);
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError for:\n" << text;
  return "";
}

}  // namespace

TEST(PrimeSieve, EveryTinyRangeMatchesTrialDivision) {
  SievingPrimes primes(400);
  std::vector<std::uint64_t> below(401, 0);  // below[n]: primes < n
  for (std::uint64_t n = 1; n <= 400; ++n) below[n] = below[n - 1] + (is_prime(n - 1) ? 1 : 0);
  for (std::uint64_t lo = 0; lo < 400; ++lo)
    for (std::uint64_t hi = lo; hi <= 400; ++hi)
      ASSERT_EQ(count_primes(lo, hi, primes), below[hi] - below[lo]) << "range [" << lo << ", " << hi << ")";
}

TEST(PrimeSieve, EdgeRangesMatchPrimesieve) {
  const auto& primes = primes_to_max();
  const std::uint64_t segment = 30 * SEGMENT_BYTES;  // numbers per segment
  const std::uint64_t pattern = 30ULL * 7 * 11 * 13 * 17 * 19;  // the pre-sieve pattern's period
  // The largest prime whose square is below 10^13: its square is the last composite it crosses off.
  std::uint64_t p = 3162277;
  while (!is_prime(p)) --p;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges{
      {0, 1}, {0, 2}, {0, 3}, {0, 6}, {0, 30}, {0, 31}, {1, 2}, {1, 3}, {1, 100}, {2, 3}, {2, 4}, {2, 100000},
      {7, 8}, {6, 20}, {19, 24}, {29, 31}, {0, 1000000}, {0, segment}, {0, segment + 1}, {segment - 1, segment + 1},
      {segment - 29, segment + 31}, {1, 3 * segment + 7}, {2 * segment + 1, 5 * segment - 1},
      {pattern - 100, pattern + 100}, {3 * pattern - 1, 3 * pattern + segment}, {p * p - 40, p * p + 40},
      {p * p, p * p + 1}, {p * p - 1, p * p}, {MAX_STOP - 1, MAX_STOP}, {MAX_STOP - 100, MAX_STOP - 50},
      {MAX_STOP - 1000000, MAX_STOP}, {MAX_STOP - 2 * segment - 5, MAX_STOP}, {999999999989, 1000000000000},
      {10000000000 - 33, 10000000000 + 7}};
  for (auto [lo, hi] : ranges) expect_primesieve(lo, hi, primes);
}

TEST(PrimeSieve, RandomRangesMatchPrimesieve) {
  const auto& primes = primes_to_max();
  std::mt19937_64 random(20261122);
  for (int i = 0; i < 160; ++i) {
    // Ends spread over the magnitudes up to 10^13, lengths from 1 to 10^8, log-uniform.
    double end_exponent = std::uniform_real_distribution<double>(1, 13)(random);
    double length_exponent = std::uniform_real_distribution<double>(0, 8)(random);
    auto hi = std::min(MAX_STOP, static_cast<std::uint64_t>(std::pow(10.0, end_exponent)) + random() % 1000);
    auto length = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::pow(10.0, length_exponent)));
    std::uint64_t lo = length >= hi ? random() % hi : hi - length;
    expect_primesieve(lo, hi, primes);
  }
}

TEST(PrimeSieve, BlocksAddUpAcrossTheirBoundaries) {
  // Tiny and odd block sizes put boundaries inside bytes, larger ones at and
  // near segment ends; near 10^13 too. (A block costs a setup of its sieving
  // primes, 227,000 of them near 10^13, so tiny blocks cover short ranges.)
  const auto& primes = primes_to_max();
  std::mt19937_64 random(7);
  const std::vector<std::uint64_t> starts{0, 1, 2, 1000003, 123456789012, MAX_STOP - 30000000};
  for (std::uint64_t lo : starts) {
    for (auto [length, blocks] :
         {std::pair{std::uint64_t{600}, std::vector<std::uint64_t>{1, 7, 30, 1 + random() % 97}},
          std::pair{std::uint64_t{30000000}, std::vector<std::uint64_t>{30 * SEGMENT_BYTES - 1, 4000000, 999983}}}) {
      std::uint64_t hi = lo + length;
      std::uint64_t whole = primesieve_count(lo, hi);
      for (std::uint64_t block : blocks) {
        std::uint64_t sum = 0;
        for (std::uint64_t a = lo; a < hi; a += block) sum += count_primes(a, std::min(hi, a + block), primes);
        EXPECT_EQ(sum, whole) << "[" << lo << ", " << hi << ") in blocks of " << block;
      }
    }
  }
}

TEST(PrimeSieve, ThreadsShareTheSievingPrimes) {
  SievingPrimes primes(2'000'000'000);
  const std::uint64_t expected = primesieve_count(1'000'000'000, 2'000'000'000);
  std::vector<std::uint64_t> counts(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < counts.size(); ++t)
    threads.emplace_back([&, t] { counts[t] = count_primes(1'000'000'000, 2'000'000'000, primes); });
  for (auto& thread : threads) thread.join();
  for (auto count : counts) EXPECT_EQ(count, expected);
}

TEST(PrimeSieve, RefusesRangesBeyondItsSievingPrimes) {
  SievingPrimes primes(1000);
  EXPECT_THROW(count_primes(0, 1001, primes), std::invalid_argument);
  EXPECT_THROW(SievingPrimes(MAX_STOP + 1), std::invalid_argument);
  EXPECT_EQ(count_primes(500, 400, primes), 0u);
}

TEST(PrimeCountJob, BlocksAreTasksAndTheLastMayBeShort) {
  auto loaded = fanout::config::load_config("[job]\nkind = \"prime_count\"\nstart = 10\nstop = 1000\nblock = 300\n",
                                            "test.toml");
  ASSERT_EQ(loaded.job->task_count(), 4u);
  fanout::RowLayout layout(loaded.info->columns);
  std::vector<std::byte> bytes(layout.size());
  std::uint64_t bounds[] = {10, 310, 610, 910, 1000};
  for (std::uint64_t task = 0; task < 4; ++task) {
    fanout::Row row(layout, bytes);
    loaded.job->run(task, row);
    std::uint64_t expected = 0;
    for (std::uint64_t n = bounds[task]; n < bounds[task + 1]; ++n) expected += is_prime(n) ? 1 : 0;
    EXPECT_EQ(row.get<std::uint64_t>(0), expected) << "task " << task;
    EXPECT_TRUE(loaded.job->has_costs());
    EXPECT_EQ(loaded.job->cost(task), static_cast<double>(bounds[task + 1] - bounds[task]));
  }
}

TEST(PrimeCountJob, BadRangesAreConfigErrors) {
  const std::string head = "[job]\nkind = \"prime_count\"\n";
  EXPECT_EQ(error_of(head + "start = 100\nstop = 100\n"),
            "test.toml:4: job.stop: expected a whole number greater than start = 100, found 100");
  EXPECT_EQ(error_of(head + "start = 100\nstop = 50\n"),
            "test.toml:4: job.stop: expected a whole number greater than start = 100, found 50");
  EXPECT_EQ(error_of(head + "stop = 10000000000001\n"),
            "test.toml:3: job.stop: expected a whole number from 1 to 10000000000000, found 10000000000001");
  EXPECT_EQ(error_of(head + "stop = 1000\nblock = 0\n"),
            "test.toml:4: job.block: expected a whole number from 1 to 10000000000000, found 0");
  EXPECT_EQ(error_of(head + "start = -1\nstop = 1000\n"),
            "test.toml:3: job.start: expected a whole number from 0 to 9999999999999, found -1");
  EXPECT_EQ(error_of(head + "start = 0\n"), "test.toml:1: job.stop: missing; expected a whole number from 1 to 10000000000000");
}
