// The segmented mod-30 wheel sieve of prime_sieve.hpp.
#include "prime_sieve.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace fanout::jobs::sieve {
namespace {

// The residues mod 30 that bits 0..7 of a byte stand for.
constexpr std::array<std::uint32_t, 8> WHEEL{1, 7, 11, 13, 17, 19, 23, 29};

// bit_of[r]: the bit of residue r (coprime to 30), 8 for the others.
constexpr std::array<std::uint8_t, 30> bit_table() {
  std::array<std::uint8_t, 30> bits{};
  for (auto& b : bits) b = 8;
  for (std::uint8_t k = 0; k < 8; ++k) bits[WHEEL[k]] = k;
  return bits;
}
constexpr auto BIT_OF = bit_table();

// Prime p = 30a + WHEEL[c] crosses off p * (30t + WHEEL[k]), which lies in
// byte p*t + a*WHEEL[k] + CARRY[c][k] at the bit of residue (WHEEL[c] * WHEEL[k]) mod 30.
constexpr std::uint32_t carry(std::uint32_t c, std::uint32_t k) { return WHEEL[c] * WHEEL[k] / 30; }
constexpr std::uint8_t mask(std::uint32_t c, std::uint32_t k) {
  return static_cast<std::uint8_t>(~(1U << BIT_OF[WHEEL[c] * WHEEL[k] % 30]));
}

// Multiples of 7, 11, 13, 17 and 19 repeat every 7*11*13*17*19 bytes: this
// pattern is copied into each segment instead of sieving them.
constexpr std::uint64_t PATTERN_BYTES = 7 * 11 * 13 * 17 * 19;

const std::vector<std::uint8_t>& presieve_pattern() {
  static const std::vector<std::uint8_t> pattern = [] {
    std::vector<std::uint8_t> bytes(PATTERN_BYTES, 0xFF);
    for (std::uint32_t p : {7U, 11U, 13U, 17U, 19U}) {
      // Each residue class of multiples is a progression with a stride of p bytes.
      for (std::uint32_t k = 0; k < 8; ++k) {
        auto c = BIT_OF[p % 30];
        for (std::uint64_t j = (p / 30) * WHEEL[k] + carry(c, k); j < PATTERN_BYTES; j += p)
          bytes[j] &= mask(c, k);
      }
    }
    return bytes;
  }();
  return pattern;
}

void copy_pattern(std::uint8_t* segment, std::uint64_t first_byte, std::uint64_t len) {
  const auto& pattern = presieve_pattern();
  std::uint64_t from = first_byte % PATTERN_BYTES;
  for (std::uint64_t done = 0; done < len;) {
    std::uint64_t n = std::min(len - done, PATTERN_BYTES - from);
    std::memcpy(segment + done, pattern.data() + from, n);
    done += n;
    from = 0;
  }
}

// Where a sieving prime's next multiple is: the byte p*t of its current
// wheel turn, relative to the segment start (possibly negative), and the
// index k of the next multiple p * (30t + WHEEL[k]) in that turn.
struct Crossing {
  std::int64_t turn;
  std::uint32_t k;
};

// Crosses off the multiples of p = 30a + WHEEL[C] in segment[0, len) and
// leaves `at` relative to the next segment.
template <std::uint32_t C>
void cross_off(std::uint8_t* segment, std::int64_t len, std::uint32_t p, Crossing& at) {
  const std::int64_t a = p / 30;
  const std::int64_t o0 = a * WHEEL[0] + carry(C, 0), o1 = a * WHEEL[1] + carry(C, 1),
                     o2 = a * WHEEL[2] + carry(C, 2), o3 = a * WHEEL[3] + carry(C, 3),
                     o4 = a * WHEEL[4] + carry(C, 4), o5 = a * WHEEL[5] + carry(C, 5),
                     o6 = a * WHEEL[6] + carry(C, 6), o7 = a * WHEEL[7] + carry(C, 7);
  const std::array<std::int64_t, 8> offset{o0, o1, o2, o3, o4, o5, o6, o7};
  constexpr std::array<std::uint8_t, 8> m{mask(C, 0), mask(C, 1), mask(C, 2), mask(C, 3),
                                          mask(C, 4), mask(C, 5), mask(C, 6), mask(C, 7)};
  std::int64_t turn = at.turn;
  std::uint32_t k = at.k;
  // The rest of the current turn.
  for (; k < 8; ++k) {
    std::int64_t byte = turn + offset[k];
    if (byte >= len) {
      at = {turn - len, k};
      return;
    }
    segment[byte] &= m[k];
  }
  turn += p;
  // Whole turns: eight crossings each.
  for (; turn + o7 < len; turn += p) {
    std::uint8_t* s = segment + turn;
    s[o0] &= m[0];
    s[o1] &= m[1];
    s[o2] &= m[2];
    s[o3] &= m[3];
    s[o4] &= m[4];
    s[o5] &= m[5];
    s[o6] &= m[6];
    s[o7] &= m[7];
  }
  // The start of the last turn (k stays below 8: the whole turn did not fit).
  for (k = 0; turn + offset[k] < len; ++k) segment[turn + offset[k]] &= m[k];
  at = {turn - len, k};
}

using CrossOff = void (*)(std::uint8_t*, std::int64_t, std::uint32_t, Crossing&);
constexpr std::array<CrossOff, 8> CROSS_OFF{cross_off<0>, cross_off<1>, cross_off<2>, cross_off<3>,
                                            cross_off<4>, cross_off<5>, cross_off<6>, cross_off<7>};

// One compiled version with the popcnt instruction, chosen at load time
// where the CPU has it (a Release build targets plain x86-64).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("popcnt", "default")))
#endif
std::uint64_t count_bits(const std::uint8_t* bytes, std::uint64_t words) {
  std::uint64_t n = 0;
  for (std::uint64_t i = 0; i < words; ++i) {
    std::uint64_t w;
    std::memcpy(&w, bytes + 8 * i, 8);
    n += static_cast<std::uint64_t>(__builtin_popcountll(w));
  }
  return n;
}

std::uint64_t isqrt(std::uint64_t n) {
  auto r = static_cast<std::uint64_t>(std::sqrt(static_cast<double>(n)));
  while (r * r > n) --r;
  while ((r + 1) * (r + 1) <= n) ++r;
  return r;
}

}  // namespace

SievingPrimes::SievingPrimes(std::uint64_t stop) : stop_(stop) {
  if (stop > MAX_STOP) throw std::invalid_argument("SievingPrimes: stop above MAX_STOP");
  std::uint64_t limit = stop == 0 ? 0 : isqrt(stop - 1);  // the primes p with p*p < stop
  std::vector<std::uint8_t> composite(limit + 1, 0);
  for (std::uint64_t i = 2; i * i <= limit; ++i)
    if (!composite[i])
      for (std::uint64_t j = i * i; j <= limit; j += i) composite[j] = 1;
  for (std::uint64_t i = 23; i <= limit; ++i)
    if (!composite[i]) primes_.push_back(static_cast<std::uint32_t>(i));
}

std::uint64_t count_primes(std::uint64_t lo, std::uint64_t hi, const SievingPrimes& primes) {
  if (hi > primes.stop()) throw std::invalid_argument("count_primes: hi above the sieving primes' stop");
  if (hi <= lo) return 0;
  std::uint64_t count = 0;
  for (std::uint64_t p : {2, 3, 5})
    if (lo <= p && p < hi) ++count;

  // Bytes [first, last) hold every number of [lo, hi) that is coprime to 30.
  const std::uint64_t first = lo / 30, last = (hi + 29) / 30;

  // The primes that matter (p*p < hi), each at its first multiple >= max(p*p, 30*first).
  auto all = primes.primes();
  auto used = static_cast<std::size_t>(
      std::partition_point(all.begin(), all.end(), [hi](std::uint64_t p) { return p * p < hi; }) - all.begin());
  std::vector<Crossing> next(used);
  for (std::size_t i = 0; i < used; ++i) {
    std::uint64_t p = all[i];
    std::uint64_t from = std::max(p * p, 30 * first);
    std::uint64_t q = (from + p - 1) / p;
    std::uint64_t t = q / 30, r = q % 30;
    std::uint32_t k = 0;
    while (WHEEL[k] < r) ++k;  // WHEEL[7] = 29 >= r always
    next[i] = {static_cast<std::int64_t>(p * t) - static_cast<std::int64_t>(first), k};
  }

  thread_local std::vector<std::uint8_t> segment(SEGMENT_BYTES + 8);
  for (std::uint64_t start = first; start < last; start += SEGMENT_BYTES) {
    const std::uint64_t len = std::min(SEGMENT_BYTES, last - start);
    std::uint8_t* s = segment.data();
    copy_pattern(s, start, len);
    std::memset(s + len, 0, 8);
    if (start == 0) s[0] = 0xFE;  // 1 is not prime; 7..29 are (the pattern crossed off 7..19)
    for (std::size_t i = 0; i < used; ++i) {
      std::uint32_t p = all[i];
      CROSS_OFF[BIT_OF[p % 30]](s, static_cast<std::int64_t>(len), p, next[i]);
    }
    // Numbers below lo and at or above hi do not count.
    if (start == first)
      for (std::uint32_t k = 0; k < 8; ++k)
        if (30 * first + WHEEL[k] < lo) s[0] &= static_cast<std::uint8_t>(~(1U << k));
    if (start + len == last)
      for (std::uint32_t k = 0; k < 8; ++k)
        if (30 * (last - 1) + WHEEL[k] >= hi) s[len - 1] &= static_cast<std::uint8_t>(~(1U << k));
    count += count_bits(s, (len + 7) / 8);
  }
  return count;
}

}  // namespace fanout::jobs::sieve
