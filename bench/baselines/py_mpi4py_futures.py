#!/usr/bin/python3
"""mpi4py.futures baseline: MPIPoolExecutor.map over empty tasks.

  mpirun -n 3 --oversubscribe /usr/bin/python3 -m mpi4py.futures py_mpi4py_futures.py TASKS CHUNKSIZE

Rank 0 runs this script and the other ranks are the pool's workers (so -n 3
gives 2 workers). Prints one JSON line; wall is the time of the map alone.
"""
import json
import sys
import time

from mpi4py import MPI
from mpi4py.futures import MPIPoolExecutor


def empty(i):
    return i


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    tasks, chunk = int(argv[0]), int(argv[1])
    with MPIPoolExecutor() as pool:
        workers = MPI.COMM_WORLD.Get_size() - 1
        list(pool.map(empty, range(workers * 4)))  # warm up: every worker connected
        t0 = time.perf_counter()
        results = list(pool.map(empty, range(tasks), chunksize=chunk))
        wall = time.perf_counter() - t0
    ok = results == list(range(tasks))
    print(json.dumps({"baseline": "mpi4py-futures", "workers": workers, "tasks": tasks, "chunk": chunk,
                      "mpi": MPI.Get_library_version().split(",")[0], "ok": ok, "wall": wall,
                      "tasks_per_s": tasks / wall if wall > 0 else 0.0}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
