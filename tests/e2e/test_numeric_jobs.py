#!/usr/bin/python3
"""mandelbrot and monte_carlo_pi end to end: correct against independent
oracles (a numpy Mandelbrot doing the same IEEE operations; the direct sum
of /results/inside) and bit-identical at every rank count, thread count and
policy, read back with h5py.

Cases:
  mandelbrot_numpy     (--np N) two small regions, under a policy chosen by N:
                       /results/iterations (the image, stored once: no /output) equals
                       numpy's counts exactly
  mandelbrot_identical 1-4 ranks, every policy, 2 threads: the same bits
  pi_direct_sum        (--np N) the pi attributes are the direct sum of /results/inside
  pi_identical         1-4 ranks, every policy, 2 threads: the same bits
"""
import itertools
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

# Small regions: the whole set, and a zoom on its edge where most pixels
# need many iterations and rounding differences would show.
REGIONS = {
    "whole": dict(width=96, height=64, x_min=-2.25, x_max=0.75, y_min=-1.0, y_max=1.0, max_iter=200),
    "edge": dict(width=80, height=60, x_min=-0.7485, x_max=-0.7425, y_min=0.1, y_max=0.1045, max_iter=700),
}


def mandelbrot_numpy(width, height, x_min, x_max, y_min, y_max, max_iter):
    """Escape-time counts, row 0 at y_max, pixel centres; the operations of
    jobs/mandelbrot.cpp, in the same order, on whole arrays."""
    cx = x_min + (x_max - x_min) * ((np.arange(width, dtype=np.float64) + 0.5) / float(width))
    cy = y_max - (y_max - y_min) * ((np.arange(height, dtype=np.float64) + 0.5) / float(height))
    cx, cy = np.meshgrid(cx, cy)
    zx = np.zeros_like(cx)
    zy = np.zeros_like(cx)
    counts = np.zeros(cx.shape, dtype=np.uint32)
    active = np.ones(cx.shape, dtype=bool)
    with np.errstate(all="ignore"):
        for _ in range(max_iter):
            zx2 = zx * zx
            zy2 = zy * zy
            active &= ~(zx2 + zy2 > 4.0)
            if not active.any():
                break
            new_zy = 2.0 * zx * zy + cy
            new_zx = zx2 - zy2 + cx
            zx = np.where(active, new_zx, zx)
            zy = np.where(active, new_zy, zy)
            counts += active
    return counts


def sets_for(params):
    return [f"job.{k}={v!r}" if isinstance(v, float) else f"job.{k}={v}" for k, v in params.items()]


def run_job(tools, w, config, name, n, sets):
    path = w(name)
    argv = ["run", tools.config(config), "--output", path]
    for s in sets:
        argv += ["--set", s]
    e2e.run_ok(tools, argv, np_=n, cwd=w.path)
    return path


def read_mandelbrot(path, params, n, policy, threads=1):
    data = e2e.check_run_file(path, n_ranks=n, job="mandelbrot", task_count=params["height"], policy=policy,
                              threads=threads, columns=["iterations"])
    with h5py.File(path, "r") as f:
        # The counts are stored once: the rows are the image, no copy in /output.
        expect("output" not in f, f"{path}: a mandelbrot file has /output (a second copy of the counts?): "
               f"{list(f['output']) if 'output' in f else ''}")
        ds = f["results/iterations"]
        expect_eq(ds.dtype, np.dtype(np.uint32), f"{path}: /results/iterations dtype")
        image = ds[()]
    expect_eq(image.shape, (params["height"], params["width"]), f"{path}: /results/iterations shape")
    for key in ("x_min", "x_max", "y_min", "y_max", "max_iter"):
        expect_eq(data["config"]["job"][key], params[key], f"{path}: job.{key} in the stored config (the region)")
    return data, image


def case_mandelbrot_numpy(tools, args):
    n = args.np
    policy = e2e.POLICIES[(n - 1) % len(e2e.POLICIES)]
    with e2e.Workdir(f"mandelbrot-np{n}") as w:
        for name, params in REGIONS.items():
            expected = mandelbrot_numpy(**params)
            inside = int((expected == params["max_iter"]).sum())
            expect(0 < inside < expected.size, f"region {name}: numpy finds all or no pixels inside: no test")
            path = run_job(tools, w, "mandelbrot.toml", f"m-{name}.h5", n,
                           sets_for(params) + [f"schedule.policy={policy}"])
            _, image = read_mandelbrot(path, params, n, policy)
            wrong = np.argwhere(image != expected)
            expect(len(wrong) == 0, f"region {name} at {n} ranks ({policy}): {len(wrong)} pixels differ from numpy, "
                   f"first (row, column) {wrong[:5].tolist()}: fanout {[int(image[tuple(p)]) for p in wrong[:5]]}, "
                   f"numpy {[int(expected[tuple(p)]) for p in wrong[:5]]}")


def identical(tools, config, name, sets, read):
    """Runs at 1-4 ranks under every policy (and 2 threads): every file
    gives the same bits as the first."""
    with e2e.Workdir(f"{name}-identical") as w:
        first = None
        runs = [(n, policy, 1) for n, policy in itertools.product((1, 2, 3, 4), e2e.POLICIES)]
        runs += [(2, "dynamic", 2), (1, "guided", 3)]
        for n, policy, threads in runs:
            path = run_job(tools, w, config, f"{name}-np{n}-{policy}-t{threads}.h5", n,
                           sets + [f"schedule.policy={policy}", f"run.threads_per_rank={threads}"])
            bits = read(path, n, policy, threads)
            if first is None:
                first = (n, policy, threads, bits)
            expect(bits == first[3], f"{name}: the run at {n} ranks, {policy}, {threads} threads differs from the "
                   f"run at {first[0]} ranks, {first[1]}, {first[2]} threads")
            os.remove(path)


def case_mandelbrot_identical(tools, args):
    params = REGIONS["edge"] | dict(width=64, height=48)

    def read(path, n, policy, threads):
        data, image = read_mandelbrot(path, params, n, policy, threads)
        return e2e.results_bytes(data), image.tobytes()

    identical(tools, "mandelbrot.toml", "mandelbrot", sets_for(params), read)


PI_SETS = ["job.tasks=37", "job.samples=20000", "job.seed=7"]


def read_pi(path, n, policy, threads=1):
    data = e2e.check_run_file(path, n_ranks=n, job="monte_carlo_pi", task_count=37, policy=policy, threads=threads,
                              columns=["inside"])
    a = data["attrs"]
    inside = data["results"]["inside"]
    expect_eq(inside.dtype, np.dtype(np.uint64), f"{path}: /results/inside dtype")
    expect(np.all(inside <= 20000) and np.all(inside > 0), f"{path}: /results/inside outside (0, samples]: {inside}")
    total = int(inside.sum(dtype=np.uint64))
    samples = 37 * 20000
    expect_eq(int(a["samples"]), samples, f"{path}: samples attribute")
    expect_eq(int(a["inside"]), total, f"{path}: inside attribute against the sum of /results/inside")
    pi = 4.0 * float(total) / float(samples)
    expect_eq(float(a["pi"]), pi, f"{path}: pi attribute against 4 x sum(/results/inside) / samples")
    p = float(total) / float(samples)
    stderr = 4.0 * np.sqrt(p * (1.0 - p) / float(samples))
    expect(abs(float(a["pi_stderr"]) - stderr) <= 1e-15, f"{path}: pi_stderr {a['pi_stderr']} != {stderr}")
    expect(abs(pi - np.pi) < 5 * stderr, f"{path}: pi {pi} more than 5 standard errors ({stderr}) from pi")
    # Each task's count is binomial(samples, pi/4): none may be wildly off.
    sd = np.sqrt(20000 * (np.pi / 4) * (1 - np.pi / 4))
    expect(np.all(np.abs(inside - 20000 * np.pi / 4) < 6 * sd), f"{path}: a task's count is off by > 6 sd: {inside}")
    expect(len(set(inside.tolist())) > 20, f"{path}: tasks repeat each other's counts (same stream?): {inside}")
    return e2e.results_bytes(data), [np.asarray(a[k]).tobytes() for k in ("samples", "inside", "pi", "pi_stderr")]


def case_pi_direct_sum(tools, args):
    n = args.np
    policy = e2e.POLICIES[n % len(e2e.POLICIES)]
    with e2e.Workdir(f"pi-np{n}") as w:
        read_pi(run_job(tools, w, "monte_carlo_pi.toml", "pi.h5", n, PI_SETS + [f"schedule.policy={policy}"]),
                n, policy)


def case_pi_identical(tools, args):
    identical(tools, "monte_carlo_pi.toml", "pi", PI_SETS, read_pi)


if __name__ == "__main__":
    sys.exit(e2e.main({"mandelbrot_numpy": case_mandelbrot_numpy, "mandelbrot_identical": case_mandelbrot_identical,
                       "pi_direct_sum": case_pi_direct_sum, "pi_identical": case_pi_identical}))
