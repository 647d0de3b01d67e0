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

// Tiny primes (at least 4 multiples per KiB) cross off an L1-sized chunk of
// the segment at a time, so that their many crossings hit the L1 cache.
constexpr std::uint64_t CHUNK = 32 * 1024;
constexpr std::uint64_t TINY = 8192;

// Large primes (at most 64 multiples per segment) wait in buckets for the
// segments they have a multiple in, instead of being visited in every one.
constexpr std::uint64_t LARGE_PRIME = SEGMENT_BYTES / 8;

// A large prime waiting for the segment of its next multiple: wheel = a << 3
// | c for p = 30a + WHEEL[c]; place = byte in that segment << 3 | k.
struct Bucketed {
  std::uint32_t wheel;
  std::uint32_t place;
};

// From multiple k of a turn to the next (k = 7: to multiple 0 of the next
// turn), the byte advances by a * GAP[k] + STEP_CARRY[c][k].
constexpr std::array<std::uint32_t, 8> GAP{6, 4, 2, 4, 2, 4, 6, 2};
constexpr std::array<std::array<std::uint32_t, 8>, 8> step_carry_table() {
  std::array<std::array<std::uint32_t, 8>, 8> table{};
  for (std::uint32_t c = 0; c < 8; ++c) {
    for (std::uint32_t k = 0; k < 7; ++k) table[c][k] = carry(c, k + 1) - carry(c, k);
    table[c][7] = WHEEL[c] + carry(c, 0) - carry(c, 7);
  }
  return table;
}
constexpr auto STEP_CARRY = step_carry_table();
constexpr std::array<std::array<std::uint8_t, 8>, 8> mask_table() {
  std::array<std::array<std::uint8_t, 8>, 8> table{};
  for (std::uint32_t c = 0; c < 8; ++c)
    for (std::uint32_t k = 0; k < 8; ++k) table[c][k] = mask(c, k);
  return table;
}
constexpr auto MASK = mask_table();

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

  // Bytes [first, last) hold every number of [lo, hi) that is coprime to 30,
  // in `segments` segments of SEGMENT_BYTES (the last may be shorter).
  const std::uint64_t first = lo / 30, last = (hi + 29) / 30;
  const std::uint64_t segments = (last - first + SEGMENT_BYTES - 1) / SEGMENT_BYTES;

  // The primes that matter (p*p < hi): tiny ones sieve every L1 chunk, small
  // ones every segment, large ones (fewer than 64 multiples per segment) wait
  // in buckets.
  auto all = primes.primes();
  auto end_of = [&](std::uint64_t bound) {
    return static_cast<std::size_t>(
        std::partition_point(all.begin(), all.end(), [bound](std::uint64_t p) { return p < bound; }) - all.begin());
  };
  const std::size_t used = static_cast<std::size_t>(
      std::partition_point(all.begin(), all.end(), [hi](std::uint64_t p) { return p * p < hi; }) - all.begin());
  const std::size_t small = std::min(used, end_of(LARGE_PRIME));
  const std::size_t tiny = std::min(small, end_of(TINY));

  // Each prime's first multiple p*q >= max(p*p, 30*first), q coprime to 30:
  // q = 30t + WHEEL[k], in byte p*t + offset[k].
  auto first_multiple = [first](std::uint64_t p, std::uint64_t& t, std::uint32_t& k) {
    std::uint64_t q = (std::max(p * p, 30 * first) + p - 1) / p;
    t = q / 30;
    k = 0;
    while (WHEEL[k] < q % 30) ++k;  // WHEEL[7] = 29 >= q % 30 always
  };
  thread_local std::vector<Crossing> next;
  next.resize(small);
  for (std::size_t i = 0; i < small; ++i) {
    std::uint64_t t;
    std::uint32_t k;
    first_multiple(all[i], t, k);
    next[i] = {static_cast<std::int64_t>(all[i] * t) - static_cast<std::int64_t>(first), k};
  }

  // A large prime's next multiple is at most p/5 + 6 bytes on, so a ring of
  // buckets, one per segment, that many segments long holds them all. Primes
  // whose square lies beyond the first segment join when their segment comes.
  const std::uint64_t largest = used > 0 ? all[used - 1] : 0;
  const std::uint64_t ring_size = (largest / 5 + 6) / SEGMENT_BYTES + 2;
  thread_local std::vector<std::vector<Bucketed>> ring;
  if (ring.size() < ring_size) ring.resize(ring_size);
  for (auto& bucket : ring) bucket.clear();
  auto enqueue = [&](std::uint64_t p, std::uint64_t byte, std::uint32_t k) {  // byte: from `first`
    if (byte < last - first)
      ring[(byte / SEGMENT_BYTES) % ring_size].push_back(
          {static_cast<std::uint32_t>((p / 30) << 3 | BIT_OF[p % 30]),
           static_cast<std::uint32_t>((byte % SEGMENT_BYTES) << 3 | k)});
  };
  std::size_t waiting = small;  // the first large prime not yet in a bucket
  auto square = [&](std::size_t i) { return std::uint64_t{all[i]} * all[i]; };
  for (; waiting < used && square(waiting) < 30 * first; ++waiting) {
    std::uint64_t p = all[waiting], t;
    std::uint32_t k;
    first_multiple(p, t, k);
    enqueue(p, p * t + (p / 30) * WHEEL[k] + carry(BIT_OF[p % 30], k) - first, k);
  }

  thread_local std::vector<std::uint8_t> segment(SEGMENT_BYTES + 8);
  for (std::uint64_t n = 0; n < segments; ++n) {
    const std::uint64_t start = first + n * SEGMENT_BYTES;
    const std::uint64_t len = std::min(SEGMENT_BYTES, last - start);
    std::uint8_t* s = segment.data();
    copy_pattern(s, start, len);
    std::memset(s + len, 0, 8);
    if (start == 0) s[0] = 0xFE;  // 1 is not prime; 7..29 are (the pattern crossed off 7..19)
    for (std::uint64_t chunk = 0; chunk < len; chunk += CHUNK) {
      std::uint64_t chunk_len = std::min<std::uint64_t>(CHUNK, len - chunk);
      for (std::size_t i = 0; i < tiny; ++i) {
        std::uint32_t p = all[i];
        CROSS_OFF[BIT_OF[p % 30]](s + chunk, static_cast<std::int64_t>(chunk_len), p, next[i]);
      }
    }
    for (std::size_t i = tiny; i < small; ++i) {
      std::uint32_t p = all[i];
      CROSS_OFF[BIT_OF[p % 30]](s, static_cast<std::int64_t>(len), p, next[i]);
    }
    // Large primes whose square is in this segment start there (q = p).
    for (; waiting < used && square(waiting) / 30 < start + len; ++waiting) {
      std::uint64_t p = all[waiting];
      enqueue(p, p * p / 30 - first, BIT_OF[p % 30]);
    }
    auto& bucket = ring[n % ring_size];
    for (const Bucketed& entry : bucket) {
      std::uint64_t a = entry.wheel >> 3, byte = entry.place >> 3;
      std::uint32_t c = entry.wheel & 7, k = entry.place & 7;
      do {
        s[byte] &= MASK[c][k];
        byte += a * GAP[k] + STEP_CARRY[c][k];
        k = (k + 1) & 7;
      } while (byte < len);
      std::uint64_t p = 30 * a + WHEEL[c];
      enqueue(p, (n + 1) * SEGMENT_BYTES + byte - len, k);
    }
    bucket.clear();
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
