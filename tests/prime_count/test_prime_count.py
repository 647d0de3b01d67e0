#!/usr/bin/python3
"""prime_count end to end: the real binary under mpirun, /results/count read
back with h5py, every block's count checked against the primesieve CLI
(Debian's primesieve-bin; $FANOUT_PRIMESIEVE or the one on PATH).

Cases:
  np       (--np N) three ranges (from 0, mid-range with odd block sizes,
           ending at 10^13), policies and threads varied: each block matches
  errors   bad ranges: exit 2, one message naming file:line and key, no file
"""
import os
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402
from test_errors import expect_nothing_written, expect_one_error  # noqa: E402

MAX_STOP = 10**13

# (start, stop, block, --set overrides): block boundaries inside wheel bytes
# and sieve segments, a short last block, start 0, 1 and 2, the top of the range.
RUNS = [
    (0, 200_000_017, 9_999_991, ["schedule.order=longest-first", "schedule.chunk=1"]),
    (1, 3_000_001, 30_001, ["schedule.policy=static-cyclic"]),
    (2, 1_000_000, 7_777, ["run.threads_per_rank=2"]),
    (123_456_789_011, 123_506_789_012, 3_333_333, ["schedule.policy=guided"]),
    (MAX_STOP - 40_000_017, MAX_STOP, 2_345_678, ["schedule.policy=static-block"]),
]


def primesieve():
    path = os.environ.get("FANOUT_PRIMESIEVE") or shutil.which("primesieve")
    expect(path and os.access(path, os.X_OK), "primesieve not found: apt-get install primesieve-bin")
    return path


def primesieve_count(path, lo, hi):
    """Primes in [lo, hi); primesieve's interval is closed."""
    out = subprocess.run([path, str(lo), str(hi - 1), "--count", "--quiet", "--threads=1", "--no-status"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())


def config_text(start, stop, block):
    return f'[job]\nkind = "prime_count"\nstart = {start}\nstop = {stop}\nblock = {block}\n'


def case_np(tools, args):
    n = args.np
    expect(n is not None and n >= 1, "--np N is required")
    oracle = primesieve()
    with e2e.Workdir(f"prime-count-np{n}") as w:
        for i, (start, stop, block, sets) in enumerate(RUNS):
            config = w.write(f"range{i}.toml", config_text(start, stop, block))
            out = w(f"range{i}.h5")
            argv = ["run", config, "--output", out]
            for s in sets:
                argv += ["--set", s]
            e2e.run_ok(tools, argv, np_=n, cwd=w.path, timeout=150)
            policy = next((s.split("=")[1] for s in sets if s.startswith("schedule.policy=")), "dynamic")
            threads = 2 if "run.threads_per_rank=2" in sets else 1
            tasks = (stop - start + block - 1) // block
            data = e2e.check_run_file(out, n_ranks=n, job="prime_count", task_count=tasks, policy=policy,
                                      threads=threads, config_path=config, columns=["count"])
            counts = data["results"]["count"]
            where = f"np {n} [{start}, {stop}) in blocks of {block}"
            expect_eq(str(counts.dtype), "uint64", f"{where}: /results/count dtype")
            expect_eq(len(counts), tasks, f"{where}: /results/count length")
            wrong = []
            for task in range(tasks):
                lo, hi = start + task * block, min(stop, start + (task + 1) * block)
                want = primesieve_count(oracle, lo, hi)
                if int(counts[task]) != want:
                    wrong.append((task, lo, hi, int(counts[task]), want))
            expect(not wrong, f"{where}: blocks that disagree with primesieve (task, lo, hi, fanout, primesieve): {wrong}")
            total = primesieve_count(oracle, start, stop)
            expect_eq(int(np.sum(counts, dtype=np.uint64)), total, f"{where}: the sum of the blocks")
            expect_eq(int(data["attrs"]["total"]), total, f"{where}: the root attribute total")


def case_errors(tools, args):
    n = args.np
    with e2e.Workdir("prime-count-errors") as w:
        outdir = w.mkdir("out")
        bad = [
            (config_text(100, 100, 10), "range0.toml:4: job.stop: expected a whole number greater than start = 100, found 100"),
            (config_text(5000, 10, 10), "range1.toml:4: job.stop: expected a whole number greater than start = 5000, found 10"),
            (config_text(0, 1000, 0), "range2.toml:5: job.block: expected a whole number from 1 to 10000000000000, found 0"),
            (config_text(0, MAX_STOP + 1, 10**9),
             "range3.toml:4: job.stop: expected a whole number from 1 to 10000000000000, found 10000000000001"),
        ]
        for i, (text, message) in enumerate(bad):
            config = w.write(f"range{i}.toml", text)
            result = e2e.run(tools, ["run", config, "--output", os.path.join(outdir, "x.h5")], np_=n, cwd=w.path)
            expect_one_error(result, w(message.split(":", 1)[0]) + ":" + message.split(":", 1)[1], f"range{i}.toml")
            expect_nothing_written(outdir, f"range{i}.toml")


if __name__ == "__main__":
    sys.exit(e2e.main({"np": case_np, "errors": case_errors}))
