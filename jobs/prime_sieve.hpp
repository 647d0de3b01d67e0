#pragma once
// The kernel of the prime_count job: a segmented sieve of Eratosthenes on a
// mod-30 wheel. One bit per number coprime to 30 (8 per byte: byte j holds
// 30j + 1, 7, 11, 13, 17, 19, 23, 29), so a segment of 256 KiB (in L2)
// covers 7.9 million numbers. Multiples of 7..19 come from a pre-sieved
// pattern copied into each segment. Every larger sieving prime p crosses off
// its multiples p*q (q coprime to 30) eight per wheel turn of p bytes, with
// the byte offsets and bit masks of its residue class unrolled: primes below
// 8192 a 32 KiB (L1) chunk at a time, primes up to 32768 over the whole
// segment, and larger ones (fewer than 64 multiples per segment) from
// buckets that hold each prime only for the segments it has a multiple in.
// Counting is popcount.
#include <cstdint>
#include <span>
#include <vector>

namespace fanout::jobs::sieve {

// The largest stop the kernel supports (its sieving primes fit 32 bits with
// room to spare; the job's tests cover ranges up to here).
inline constexpr std::uint64_t MAX_STOP = 10'000'000'000'000ULL;

// The sieving primes for every range that ends at or below `stop`: the
// primes p >= 23 with p * p < stop (7..19 are pre-sieved). Built once per
// rank and then only read, so any number of threads may share one.
class SievingPrimes {
 public:
  explicit SievingPrimes(std::uint64_t stop);
  std::uint64_t stop() const { return stop_; }
  std::span<const std::uint32_t> primes() const { return primes_; }

 private:
  std::uint64_t stop_;
  std::vector<std::uint32_t> primes_;
};

// The number of primes in [lo, hi). Requires hi <= primes.stop().
// Thread-safe: each thread sieves in its own buffer.
std::uint64_t count_primes(std::uint64_t lo, std::uint64_t hi, const SievingPrimes& primes);

// The sieve's segment size in bytes (each byte covers 30 numbers).
inline constexpr std::uint64_t SEGMENT_BYTES = 256 * 1024;

}  // namespace fanout::jobs::sieve
