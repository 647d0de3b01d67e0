#!/usr/bin/python3
"""A user's own job against the installed package: `cmake --install` this
build into a temporary prefix, build examples/user-job with
find_package(fanout) and fanout_add_executable, run its runner under mpirun
and check its file with h5py against a numpy oracle.

Case:
  user_job   install, build, `my_runner jobs`, run at 1, 2, 3 and 4 ranks
             (longest-first from the job's cost hints), check results, totals
             and hand-out order
"""
import math
import os
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

LIMIT, BLOCK = 30000, 1000


def extra_args(parser):
    parser.add_argument("--cmake", required=True)
    parser.add_argument("--build-dir", required=True, help="the fanout build tree to install")
    parser.add_argument("--cxx", required=True, help="the C++ compiler of that build")
    parser.add_argument("--launcher", default="", help="its compiler launcher (ccache), if any")


def step(argv, what, cwd=None):
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600)
    expect(proc.returncode == 0, f"{what} failed ({proc.returncode}): {' '.join(argv)}\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def oracle():
    """(perfect, abundant) per block of BLOCK numbers from 1, by a divisor-sum sieve."""
    sums = np.zeros(LIMIT, dtype=np.int64)
    for d in range(1, LIMIT // 2 + 1):
        sums[2 * d::d] += d
    n = np.arange(LIMIT)
    tasks = (LIMIT - 1 + BLOCK - 1) // BLOCK
    perfect, abundant = np.zeros(tasks, np.uint64), np.zeros(tasks, np.uint64)
    for t in range(tasks):
        lo, hi = 1 + t * BLOCK, min(LIMIT, 1 + (t + 1) * BLOCK)
        perfect[t] = np.sum(sums[lo:hi] == n[lo:hi])
        abundant[t] = np.sum(sums[lo:hi] > n[lo:hi])
    return perfect, abundant


def case_user_job(tools, args):
    with e2e.Workdir("user-job") as w:
        prefix, build = w("prefix"), w("build")
        step([args.cmake, "--install", args.build_dir, "--prefix", prefix], "cmake --install")
        for path in ("lib/cmake/fanout/fanoutConfig.cmake", "include/fanout/core/job.hpp", "bin/fanout"):
            expect(os.path.exists(os.path.join(prefix, path)), f"the installed package has no {path}")
        configure = [args.cmake, "-S", os.path.join(tools.source_dir, "examples", "user-job"), "-B", build,
                     f"-DCMAKE_PREFIX_PATH={prefix}", f"-DCMAKE_CXX_COMPILER={args.cxx}"]
        if args.launcher:
            configure.append(f"-DCMAKE_CXX_COMPILER_LAUNCHER={args.launcher}")
        step(configure, "configuring examples/user-job against the installed package")
        step([args.cmake, "--build", build], "building examples/user-job")
        runner = os.path.join(build, "my_runner")
        expect(os.access(runner, os.X_OK), f"no runner {runner}")
        tools.fanout = runner

        listing = e2e.run_ok(tools, ["jobs"]).out
        for kind in ("perfect", "logistic", "primes", "spin", "mandelbrot", "monte_carlo_pi"):
            expect(f"\n{kind}: " in listing, f"my_runner jobs does not list {kind}:\n{listing}")

        perfect, abundant = oracle()
        expect_eq(int(perfect.sum()), 4, "the oracle's perfect numbers below 30000 (6, 28, 496, 8128)")
        for n in (1, 2, 3, 4):
            check_run(tools, w, n, perfect, abundant)
        check_sweep_job(tools, w)


def logistic_oracle(r, steps):
    """x_final and the Lyapunov exponent, as sweep_job.cpp computes them."""
    x, lyapunov = 0.2, 0.0
    for _ in range(steps):
        lyapunov += math.log(abs(r * (1 - 2 * x)))
        x = r * x * (1 - x)
    return x, lyapunov / steps


def check_sweep_job(tools, w):
    """examples/user-job/sweep_job.cpp: a C++ job of the user's driven by
    [params], its parameters and rank from the TaskContext, at 2 ranks."""
    path = w("logistic.h5")
    config = os.path.join(tools.source_dir, "examples", "user-job", "logistic.toml")
    e2e.run_ok(tools, ["run", config, "--output", path, "--set", "params.r={ from = 2.5, to = 4.0, num = 7 }",
                       "--set", "params.steps=[10, 300]"], np_=2, cwd=w.path)
    data = e2e.check_run_file(path, n_ranks=2, job="logistic", task_count=14, policy="dynamic",
                              columns=["x_final", "lyapunov", "rank"])
    with h5py.File(path, "r") as f:
        r, steps = f["params/r"][()], f["params/steps"][()]
    expect_eq(r.tolist(), [2.5 + 0.25 * (i // 2) for i in range(14)], f"{path}: /params/r (r outer, steps fastest)")
    expect_eq(steps.tolist(), [10, 300] * 7, f"{path}: /params/steps")
    for t in range(14):
        x, lyapunov = logistic_oracle(float(r[t]), int(steps[t]))
        expect(math.isclose(data["results"]["x_final"][t], x, rel_tol=1e-9, abs_tol=1e-12) and
               math.isclose(data["results"]["lyapunov"][t], lyapunov, rel_tol=1e-9, abs_tol=1e-12),
               f"{path}: task {t} (r={r[t]}, steps={steps[t]}): {data['results']['x_final'][t]}, "
               f"{data['results']['lyapunov'][t]} against {x}, {lyapunov}")
    expect_eq(data["results"]["rank"].tolist(), data["tasks"]["rank"].tolist(),
              f"{path}: the rank the task saw (TaskContext) is the rank /tasks records")


def check_run(tools, w, n, perfect, abundant):
    path = w(f"perfect-np{n}.h5")
    config = os.path.join(tools.source_dir, "examples", "user-job", "perfect.toml")
    e2e.run_ok(tools, ["run", config, "--output", path, "--set", f"job.limit={LIMIT}", "--set",
                       f"job.block={BLOCK}"], np_=n, cwd=w.path)
    tasks = (LIMIT - 1 + BLOCK - 1) // BLOCK
    data = e2e.check_run_file(path, n_ranks=n, job="perfect", task_count=tasks, policy="dynamic",
                              columns=["perfect", "abundant"])
    expect_eq(data["results"]["perfect"].tolist(), perfect.tolist(), f"{path}: /results/perfect")
    expect_eq(data["results"]["abundant"].tolist(), abundant.tolist(), f"{path}: /results/abundant")
    a = data["attrs"]
    expect_eq(int(a["perfect_total"]), 4, f"{path}: perfect_total attribute (finish)")
    expect_eq(int(a["abundant_total"]), int(abundant.sum()), f"{path}: abundant_total attribute (finish)")
    expect_eq(e2e.attr_str(a, "order"), "longest-first", f"{path}: order")
    expect_eq(e2e.attr_str(a, "costs"), "job", f"{path}: costs (the job's cost hints)")
    if n == 1:  # one worker takes the tasks in hand-out order: the largest numbers first
        starts = data["tasks"]["t_start"]
        expect(np.all(np.diff(starts) <= 0), f"{path}: the tasks did not start last block first: {starts}")

if __name__ == "__main__":
    sys.exit(e2e.main({"user_job": case_user_job}, extra_args))
