#!/usr/bin/python3
"""Python baselines of benchmark 10 (fanout's python job), 2 worker processes,
the same functions as fanout calls:

  py_python_job.py executor TASKS CHUNKSIZE   ProcessPoolExecutor(2).map(trivial.double, range(TASKS))
  mpirun -n 3 --oversubscribe python3 -m mpi4py.futures py_python_job.py mpi4py TASKS CHUNKSIZE
                                              MPIPoolExecutor (2 workers).map(trivial.double, ...)
  py_python_job.py pool-primes [N...]         multiprocessing.Pool(2).map(primes.is_prime, NUMBERS)
                                              (examples/python/primes.py; default chunksize)

trivial is bench/baselines/trivial.py and primes examples/python/primes.py;
this script puts both directories on sys.path (for mpi4py.futures, whose
workers unpickle trivial.double, bench.py also sets PYTHONPATH). Prints one
JSON line: wall is the map alone, after the pool has started and warmed up
(executor, mpi4py), or for pool-primes the map alone and whole, the pool's
start and end included ("wall_pool"); the whole process is timed by the
caller.
"""
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent.parent / "examples" / "python")]

import trivial  # noqa: E402

WORKERS = 2


def main(argv):
    if not argv:
        sys.exit(__doc__)
    mode = argv[0]
    out = {"baseline": "python-job-" + mode}
    if mode == "executor":
        import concurrent.futures
        tasks, chunk = int(argv[1]), int(argv[2])
        with concurrent.futures.ProcessPoolExecutor(WORKERS) as pool:
            list(pool.map(trivial.double, range(WORKERS * 4)))  # warm up: workers started
            t0 = time.perf_counter()
            results = list(pool.map(trivial.double, range(tasks), chunksize=chunk))
            wall = time.perf_counter() - t0
        out.update(workers=WORKERS, tasks=tasks, chunk=chunk, ok=results == [2 * i for i in range(tasks)])
    elif mode == "mpi4py":
        from mpi4py import MPI
        from mpi4py.futures import MPIPoolExecutor
        tasks, chunk = int(argv[1]), int(argv[2])
        with MPIPoolExecutor() as pool:
            workers = MPI.COMM_WORLD.Get_size() - 1
            list(pool.map(trivial.double, range(workers * 4)))  # warm up: every worker connected
            t0 = time.perf_counter()
            results = list(pool.map(trivial.double, range(tasks), chunksize=chunk))
            wall = time.perf_counter() - t0
        out.update(workers=workers, tasks=tasks, chunk=chunk, ok=results == [2 * i for i in range(tasks)])
    elif mode == "pool-primes":
        import multiprocessing
        import primes
        numbers = [int(x) for x in argv[1:]] or primes.NUMBERS
        t_pool = time.perf_counter()
        with multiprocessing.Pool(WORKERS) as pool:
            t0 = time.perf_counter()
            results = pool.map(primes.is_prime, numbers)
            wall = time.perf_counter() - t0
        out.update(workers=WORKERS, tasks=len(numbers), wall_pool=time.perf_counter() - t_pool,
                   is_prime=[bool(r) for r in results], ok=len(results) == len(numbers))
    else:
        sys.exit(__doc__)
    out.update(wall=wall, tasks_per_s=out["tasks"] / wall if wall > 0 else 0.0)
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
