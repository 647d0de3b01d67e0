// Baseline for bench 3: the primes demo as a plain MPI program. Rank 0
// scatters a static partition of the numbers (contiguous blocks, as many per
// rank, padded with zeros), every rank tests its block by the same trial
// division as jobs/primes.cpp, and MPI_Gather brings the answers back.
//
//   mpirun -n 2 mpi_scatter_gather N1 N2 ...
//
// Prints one JSON line: numbers, ranks, primes (how many are prime), is_prime
// (0/1 per number, in order), wall (s, from a barrier after MPI_Init to the
// end of the gather) and busy (each rank's seconds of trial division).
#include <mpi.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

// Same as jobs/primes.cpp.
std::uint64_t isqrt(std::uint64_t n) {
  auto r = static_cast<std::uint64_t>(std::sqrt(static_cast<double>(n)));
  while (r * r > n) --r;
  while ((r + 1) * (r + 1) <= n) ++r;
  return r;
}

bool is_prime(std::uint64_t n) {
  if (n < 2) return false;
  if (n == 2) return true;
  if (n % 2 == 0) return false;
  std::uint64_t root = isqrt(n);
  for (std::uint64_t d = 3; d <= root; d += 2)
    if (n % d == 0) return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::vector<std::uint64_t> numbers;
  for (int i = 1; i < argc; ++i) numbers.push_back(std::strtoull(argv[i], nullptr, 10));
  const auto n = static_cast<int>(numbers.size());
  const int per_rank = (n + size - 1) / size;  // the block of every rank
  numbers.resize(static_cast<std::size_t>(per_rank) * size, 0);

  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  std::vector<std::uint64_t> mine(per_rank);
  MPI_Scatter(numbers.data(), per_rank, MPI_UINT64_T, mine.data(), per_rank, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  double c0 = MPI_Wtime();
  std::vector<std::uint8_t> answers(per_rank);
  for (int i = 0; i < per_rank; ++i) answers[i] = is_prime(mine[i]) ? 1 : 0;
  double busy = MPI_Wtime() - c0;
  std::vector<std::uint8_t> all(static_cast<std::size_t>(per_rank) * size);
  MPI_Gather(answers.data(), per_rank, MPI_UINT8_T, all.data(), per_rank, MPI_UINT8_T, 0, MPI_COMM_WORLD);
  double wall = MPI_Wtime() - t0;
  std::vector<double> busy_all(size);
  MPI_Gather(&busy, 1, MPI_DOUBLE, busy_all.data(), 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);

  if (rank == 0) {
    int primes = 0;
    std::string flags, busies;
    for (int i = 0; i < n; ++i) {
      primes += all[i];
      flags += (i ? ", " : "") + std::to_string(all[i]);
    }
    for (int r = 0; r < size; ++r) busies += (r ? ", " : "") + std::to_string(busy_all[r]);
    std::printf(
        "{\"baseline\": \"mpi-scatter-gather\", \"numbers\": %d, \"ranks\": %d, \"primes\": %d, "
        "\"is_prime\": [%s], \"wall\": %.6f, \"busy\": [%s]}\n",
        n, size, primes, flags.c_str(), wall, busies.c_str());
  }
  MPI_Finalize();
  return 0;
}
