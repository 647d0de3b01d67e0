#!/usr/bin/python3
"""prime_count end to end: the real binary under mpirun, /results/count read
back with h5py, every block's count checked against the primesieve CLI
(Debian's primesieve-bin; $FANOUT_PRIMESIEVE or the one on PATH).

Cases:
  np       (--np N) five ranges (from 0, 1 and 2, mid-range, below 10^15,
           above the hand-written sieve's old limit of 10^13), odd block
           sizes and a short last block, policies and threads varied: each
           block matches
  top      [2^64 - 1000, 2^64 - 1) in two blocks (the last one short), its
           ends given as strings of digits (TOML integers stop at 2^63 - 1),
           each block against primesieve; the one-number range of the
           largest prime below 2^64; an empty range (start = stop): no tasks,
           total 0
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

MAX = 2**64 - 1  # the largest stop

# (start, stop, block, --set overrides): odd block sizes, a short last block,
# start 0, 1 and 2, mid-range, and past 10^13 (each block there first makes
# the sieving primes up to 3.2 x 10^7: keep the blocks few).
RUNS = [
    (0, 200_000_017, 9_999_991, ["schedule.order=longest-first", "schedule.chunk=1"]),
    (1, 3_000_001, 30_001, ["schedule.policy=static-cyclic"]),
    (2, 1_000_000, 7_777, ["run.threads_per_rank=2"]),
    (123_456_789_011, 123_506_789_012, 3_333_333, ["schedule.policy=guided"]),
    (10**15 - 40_000_017, 10**15, 4_345_678, ["schedule.policy=static-block"]),
]


def primesieve():
    path = os.environ.get("FANOUT_PRIMESIEVE") or shutil.which("primesieve")
    expect(path and os.access(path, os.X_OK), "primesieve not found: apt-get install primesieve-bin")
    return path


def primesieve_command(path, lo, hi):
    """The command that counts the primes in [lo, hi); primesieve's interval is closed."""
    return [path, str(lo), str(hi - 1), "--count", "--quiet", "--threads=1", "--no-status"]


def primesieve_count(path, lo, hi):
    out = subprocess.run(primesieve_command(path, lo, hi), capture_output=True, text=True, check=True).stdout
    return int(out.strip())


def primesieve_primes(path, lo, hi):
    """The primes in [lo, hi), printed by primesieve."""
    out = subprocess.run([path, str(lo), str(hi - 1), "--print", "--threads=1", "--no-status"],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    return [int(x) for x in out.split()]


def toml_whole(n):
    """An integer when TOML has one that large, else a string of digits."""
    return str(n) if n < 2**63 else f'"{n}"'


def config_text(start, stop, block):
    return (f'[job]\nkind = "prime_count"\nstart = {toml_whole(start)}\nstop = {toml_whole(stop)}\n'
            f'block = {block}\n')


def run_range(tools, w, name, start, stop, block, n, sets=(), timeout=150):
    """Runs [start, stop) in blocks and returns its counts, after the checks
    every run file passes and those of the layout: one uint64 per block, the
    root attribute total their sum."""
    config = w.write(f"{name}.toml", config_text(start, stop, block))
    out = w(f"{name}.h5")
    argv = ["run", config, "--output", out]
    for s in sets:
        argv += ["--set", s]
    e2e.run_ok(tools, argv, np_=n, cwd=w.path, timeout=timeout)
    policy = next((s.split("=")[1] for s in sets if s.startswith("schedule.policy=")), "dynamic")
    threads = 2 if "run.threads_per_rank=2" in sets else 1
    tasks = (stop - start + block - 1) // block
    data = e2e.check_run_file(out, n_ranks=n, job="prime_count", task_count=tasks, policy=policy,
                              threads=threads, config_path=config, columns=["count"])
    counts = data["results"]["count"]
    where = f"np {n} [{start}, {stop}) in blocks of {block}"
    expect_eq(str(counts.dtype), "uint64", f"{where}: /results/count dtype")
    expect_eq(len(counts), tasks, f"{where}: /results/count length")
    total = data["attrs"]["total"]
    expect_eq(str(np.asarray(total).dtype), "uint64", f"{where}: the root attribute total's dtype")
    expect_eq(int(total), int(np.sum(counts, dtype=np.uint64)), f"{where}: the root attribute total")
    return [int(c) for c in counts]


def case_np(tools, args):
    n = args.np
    expect(n is not None and n >= 1, "--np N is required")
    oracle = primesieve()
    with e2e.Workdir(f"prime-count-np{n}") as w:
        for i, (start, stop, block, sets) in enumerate(RUNS):
            counts = run_range(tools, w, f"range{i}", start, stop, block, n, sets)
            where = f"np {n} [{start}, {stop}) in blocks of {block}"
            wrong = []
            for task, count in enumerate(counts):
                lo, hi = start + task * block, min(stop, start + (task + 1) * block)
                want = primesieve_count(oracle, lo, hi)
                if count != want:
                    wrong.append((task, lo, hi, count, want))
            expect(not wrong, f"{where}: blocks that disagree with primesieve (task, lo, hi, fanout, primesieve): {wrong}")
            expect_eq(sum(counts), primesieve_count(oracle, start, stop), f"{where}: the sum of the blocks")


def case_top(tools, args):
    n = args.np
    oracle = primesieve()
    with e2e.Workdir(f"prime-count-top-np{n}") as w:
        # Two blocks: [2^64 - 1000, 2^64 - 400) and the short [2^64 - 400, 2^64 - 1).
        start, stop, block = MAX - 999, MAX, 600
        counts = run_range(tools, w, "top", start, stop, block, n, timeout=170)
        # One primesieve run for both blocks: near 2^64 each run takes about
        # 4 CPU-seconds, making the sieving primes up to 2^32.
        primes = primesieve_primes(oracle, start, stop)
        want = [sum(1 for p in primes if lo <= p < min(stop, lo + block)) for lo in (start, start + block)]
        expect_eq(counts, want, f"[2^64 - 1000, 2^64 - 1) in blocks of {block}: fanout against primesieve {primes}")
        # The ten primes of [2^64 - 400, 2^64 - 1) are known: 2^64 - 363, 353, 323, 279, 257, 189, 179, 95, 83, 59.
        expect_eq(counts[1], 10, "[2^64 - 400, 2^64 - 1): the primes known there")
        # The largest prime below 2^64 alone.
        expect_eq(primes[-1], MAX - 58, "the largest prime below 2^64 as primesieve prints it")
        expect_eq(run_range(tools, w, "largest", MAX - 58, MAX - 57, 1, n), [1], "[2^64 - 59, 2^64 - 58)")
        # start = stop: an empty range is no task, and its total is 0.
        expect_eq(run_range(tools, w, "empty", MAX, MAX, 10, n), [], "[2^64 - 1, 2^64 - 1)")


def case_errors(tools, args):
    n = args.np
    with e2e.Workdir("prime-count-errors") as w:
        outdir = w.mkdir("out")
        head = '[job]\nkind = "prime_count"\n'
        rng = "a whole number from 0 to 18446744073709551615 (an integer or a string of digits)"
        bad = [
            (config_text(5000, 10, 10), "range0.toml:4: job.stop: expected a whole number at least start = 5000, found 10"),
            (config_text(0, 1000, 0), "range1.toml:5: job.block: expected a whole number >= 1, found 0"),
            (head + 'stop = "18446744073709551616"\n',
             f'range2.toml:3: job.stop: expected {rng}, found "18446744073709551616" (a string)'),
            (head + "start = -1\nstop = 10\n", f"range3.toml:3: job.start: expected {rng}, found -1"),
            (head + 'stop = "1e19"\n', f'range4.toml:3: job.stop: expected {rng}, found "1e19" (a string)'),
            (head + 'start = "18446744073709551615"\nstop = "18446744073709551614"\n',
             "range5.toml:4: job.stop: expected a whole number at least start = 18446744073709551615,"
             " found 18446744073709551614"),
        ]
        for i, (text, message) in enumerate(bad):
            config = w.write(f"range{i}.toml", text)
            result = e2e.run(tools, ["run", config, "--output", os.path.join(outdir, "x.h5")], np_=n, cwd=w.path,
                             refused=True)
            expect_one_error(result, w(message.split(":", 1)[0]) + ":" + message.split(":", 1)[1], f"range{i}.toml")
            expect_nothing_written(outdir, f"range{i}.toml")
        # An override beyond TOML's integers arrives as a string of digits, checked the same way.
        config = w.write("over.toml", head + "stop = 10\n")
        result = e2e.run(tools, ["run", config, "--output", os.path.join(outdir, "x.h5"),
                                 "--set", "job.stop=18446744073709551616"], np_=n, cwd=w.path, refused=True)
        expect_one_error(result, f'--set job.stop=18446744073709551616: job.stop: expected {rng},'
                         ' found "18446744073709551616" (a string)', "--set job.stop=2^64")
        expect_nothing_written(outdir, "--set job.stop=2^64")


if __name__ == "__main__":
    sys.exit(e2e.main({"np": case_np, "top": case_top, "errors": case_errors}))
