// Baseline for bench 1: a minimal hand-written MPI master-worker over empty
// tasks. Rank 0 (the master) hands out chunks of consecutive task ids on
// request; every other rank (a worker) asks for a chunk, runs it, and sends
// the chunk's results back with its next request. Each task's result (one
// uint64) is stored by task id on rank 0; no timing records are kept or
// written. With --master-works the master also runs chunks itself whenever no
// request is waiting, as fanout's rank 0 does.
//
//   mpirun -n 2 mpi_master_worker TASKS CHUNK [--master-works]
//
// Prints one JSON line: tasks, chunk, ranks, wall (s, from a barrier after
// MPI_Init to rank 0 holding every result) and tasks_per_s. Exits 1 if a
// result is missing or wrong.
#include <mpi.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

constexpr int TAG_REQUEST = 1;  // worker -> 0: [first, count, results...]
constexpr int TAG_WORK = 2;     // 0 -> worker: [first, count]; count 0 = stop

// The empty task: a result that depends on the id, so nothing is optimised away.
inline std::uint64_t task(std::uint64_t id) { return id * 0x9e3779b97f4a7c15ULL; }

void run_chunk(std::uint64_t first, std::uint64_t count, std::uint64_t* out) {
  for (std::uint64_t i = 0; i < count; ++i) out[i] = task(first + i);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const bool master_works = argc == 4 && std::string(argv[3]) == "--master-works";
  if (argc != 3 && !master_works) {
    if (rank == 0) std::fprintf(stderr, "usage: mpi_master_worker TASKS CHUNK [--master-works]\n");
    MPI_Finalize();
    return 2;
  }
  const std::uint64_t tasks = std::strtoull(argv[1], nullptr, 10);
  const std::uint64_t chunk = std::max<std::uint64_t>(1, std::strtoull(argv[2], nullptr, 10));

  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  int status = 0;
  if (rank == 0) {
    std::vector<std::uint64_t> results(tasks, 0);
    std::vector<std::uint64_t> message(2 + chunk);
    std::uint64_t next = 0;
    int active = size - 1;
    auto serve = [&](const MPI_Status& st) {
      int n = 0;
      MPI_Get_count(&st, MPI_UINT64_T, &n);
      MPI_Recv(message.data(), n, MPI_UINT64_T, st.MPI_SOURCE, TAG_REQUEST, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      for (std::uint64_t i = 0; i < message[1]; ++i) results[message[0] + i] = message[2 + i];
      std::uint64_t work[2] = {next, std::min(chunk, tasks - next)};
      next += work[1];
      if (work[1] == 0) --active;
      MPI_Send(work, 2, MPI_UINT64_T, st.MPI_SOURCE, TAG_WORK, MPI_COMM_WORLD);
    };
    while (active > 0 || next < tasks) {
      int flag = 0;
      MPI_Status st;
      if (active > 0) MPI_Iprobe(MPI_ANY_SOURCE, TAG_REQUEST, MPI_COMM_WORLD, &flag, &st);
      if (flag) {
        serve(st);
      } else if (next < tasks && (master_works || size == 1)) {
        std::uint64_t count = std::min(chunk, tasks - next);
        run_chunk(next, count, results.data() + next);
        next += count;
      } else if (active > 0) {
        MPI_Probe(MPI_ANY_SOURCE, TAG_REQUEST, MPI_COMM_WORLD, &st);
        serve(st);
      }
    }
    double wall = MPI_Wtime() - t0;
    for (std::uint64_t i = 0; i < tasks; ++i)
      if (results[i] != task(i)) {
        std::fprintf(stderr, "mpi_master_worker: wrong result for task %llu\n", static_cast<unsigned long long>(i));
        status = 1;
        break;
      }
    std::printf(
        "{\"baseline\": \"mpi-master-worker\", \"tasks\": %llu, \"chunk\": %llu, \"ranks\": %d, "
        "\"master_works\": %s, \"wall\": %.6f, \"tasks_per_s\": %.1f}\n",
        static_cast<unsigned long long>(tasks), static_cast<unsigned long long>(chunk), size,
        master_works ? "true" : "false", wall, wall > 0 ? static_cast<double>(tasks) / wall : 0.0);
  } else {
    std::vector<std::uint64_t> message(2 + chunk, 0);  // first request: no results
    std::uint64_t work[2];
    for (;;) {
      MPI_Send(message.data(), static_cast<int>(2 + message[1]), MPI_UINT64_T, 0, TAG_REQUEST, MPI_COMM_WORLD);
      MPI_Recv(work, 2, MPI_UINT64_T, 0, TAG_WORK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      if (work[1] == 0) break;
      message[0] = work[0];
      message[1] = work[1];
      run_chunk(work[0], work[1], message.data() + 2);
    }
  }
  MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Finalize();
  return status;
}
