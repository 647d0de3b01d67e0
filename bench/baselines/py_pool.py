#!/usr/bin/python3
"""Python baselines on 2 worker processes (Debian python3, standard library).

  py_pool.py pool-map TASKS [CHUNKSIZE]      multiprocessing.Pool.map over empty tasks
  py_pool.py executor TASKS CHUNKSIZE        concurrent.futures.ProcessPoolExecutor.map
  py_pool.py spin DURATIONS_FILE [CHUNKSIZE] Pool.imap_unordered: CPU-bound tasks that
                                             burn the given seconds of thread CPU time

Prints one JSON line. wall is the time of the map alone (the pool is started
and warmed up first); for spin, cpu is the sum of the tasks' own CPU times.
"""
import concurrent.futures
import json
import multiprocessing
import sys
import time

WORKERS = 2


def empty(i):
    return i


def spin(seconds):
    """Burn `seconds` of this thread's CPU time, as fanout's spin job does."""
    c0 = time.thread_time()
    end = c0 + seconds
    x = 0
    while time.thread_time() < end:
        for _ in range(200):
            x += 1
    return time.thread_time() - c0


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    mode = argv[0]
    out = {"baseline": "python-" + mode, "workers": WORKERS}
    if mode == "pool-map":
        tasks = int(argv[1])
        chunk = int(argv[2]) if len(argv) > 2 else None
        with multiprocessing.Pool(WORKERS) as pool:
            pool.map(empty, range(WORKERS * 4))  # warm up: workers started
            t0 = time.perf_counter()
            results = pool.map(empty, range(tasks), chunk)
            wall = time.perf_counter() - t0
        out.update(tasks=tasks, chunk=chunk if chunk else "default", ok=results == list(range(tasks)))
    elif mode == "executor":
        tasks, chunk = int(argv[1]), int(argv[2])
        with concurrent.futures.ProcessPoolExecutor(WORKERS) as pool:
            list(pool.map(empty, range(WORKERS * 4)))
            t0 = time.perf_counter()
            results = list(pool.map(empty, range(tasks), chunksize=chunk))
            wall = time.perf_counter() - t0
        out.update(tasks=tasks, chunk=chunk, ok=results == list(range(tasks)))
    elif mode == "spin":
        with open(argv[1]) as f:
            durations = [float(line) for line in f if line.strip()]
        chunk = int(argv[2]) if len(argv) > 2 else 1
        with multiprocessing.Pool(WORKERS) as pool:
            pool.map(empty, range(WORKERS * 4))
            t0 = time.perf_counter()
            cpus = list(pool.imap_unordered(spin, durations, chunk))
            wall = time.perf_counter() - t0
        out.update(tasks=len(durations), chunk=chunk, cpu=sum(cpus), planned=sum(durations), ok=len(cpus) == len(durations))
    else:
        sys.exit(__doc__)
    out.update(wall=wall, tasks_per_s=out["tasks"] / wall if wall > 0 else 0.0)
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
