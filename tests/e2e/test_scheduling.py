#!/usr/bin/python3
"""Scheduling end to end: longest-first ordering with costs from an earlier
run (--costs) or from the job, guided chunks, and the per-rank busy time
that the report's balance figures rest on.

Cases:
  costs         (--np N) primes, then primes --costs first.h5: longest task first, same results
  job_costs     (--np N) spin with schedule.order = "longest-first": costs from the job
  auto_order    (--np N) the default order, "auto": longest-first for dynamic with uneven job costs, else given
  costs_errors  bad --costs uses: exit 2 or 3 with a clear message, no file
  busy          (--np N) /ranks busy equals the sum of that rank's task times
  cpu_shares    (--np N) /tasks cpu_shared: long tasks measured alone, empty ones sharing readings
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402


def durations(data):
    t = data["tasks"]
    return t["t_end"] - t["t_start"]


def case_costs(tools, args):
    n = args.np
    with e2e.Workdir(f"costs-np{n}") as w:
        first = w("first.h5")
        e2e.run_ok(tools, ["run", tools.config("primes.toml"), "--output", first], np_=n, cwd=w.path)
        d1 = e2e.read_file(first)
        expect_eq(e2e.attr_str(d1["attrs"], "order"), "given", "order of a run without --costs")
        second = w("second.h5")
        e2e.run_ok(tools, ["run", tools.config("primes.toml"), "--output", second, "--costs", first], np_=n, cwd=w.path)
        d2 = e2e.check_run_file(second, n_ranks=n, job="primes", task_count=20, policy="dynamic",
                                columns=["is_prime", "number"])
        expect_eq(e2e.attr_str(d2["attrs"], "order"), "longest-first", "order with --costs")
        expect_eq(e2e.attr_str(d2["attrs"], "costs"), first, "costs attribute names the file")
        expect(e2e.results_bytes(d1) == e2e.results_bytes(d2), "--costs changed the results")
        costs = durations(d1)
        ranked = list(np.argsort(-costs, kind="stable"))
        started = list(np.argsort(d2["tasks"]["t_start"], kind="stable"))
        if n == 1:
            # One worker runs the tasks exactly in hand-out order.
            expect_eq([int(i) for i in started], [int(i) for i in ranked], "start order on 1 rank (longest first)")
            return
        # Each rank holds one task running and one fetched ahead, and the ranks
        # start in any order: the longest task starts among the first n + 1,
        # the two longest among the first 2n + 1, whatever the timing.
        first = [int(i) for i in started[:n + 1]]
        expect(int(ranked[0]) in first, f"the longest task {ranked[0]} is not among the first started {first}")
        window = [int(i) for i in started[:2 * n + 1]]
        expect(set(int(i) for i in ranked[:2]) <= set(window),
               f"the two longest tasks {ranked[:2]} are not among the first started {window}")


def case_job_costs(tools, args):
    n = args.np
    with e2e.Workdir(f"job-costs-np{n}") as w:
        path = w("spin.h5")
        e2e.run_ok(tools, ["run", tools.config("spin.toml"), "--output", path, "--set", "job.tasks=40",
                           "--set", "job.duration=0.002", "--set", "schedule.order=longest-first",
                           "--set", "schedule.policy=guided"], np_=n, cwd=w.path)
        d = e2e.check_run_file(path, n_ranks=n, job="spin", task_count=40, policy="guided", columns=["duration"])
        expect_eq(e2e.attr_str(d["attrs"], "order"), "longest-first", "order attribute")
        expect_eq(e2e.attr_str(d["attrs"], "costs"), "job", "costs attribute")
        planned = d["results"]["duration"]
        started = [int(i) for i in np.argsort(d["tasks"]["t_start"], kind="stable")[:n + 1]]
        expect(int(np.argmax(planned)) in started,
               f"the longest planned task {int(np.argmax(planned))} is not among the first started {started}")


def case_auto_order(tools, args):
    n = args.np
    with e2e.Workdir(f"auto-order-np{n}") as w:
        spin = ["--set", "job.tasks=30", "--set", "job.duration=0.001", "--set", "job.distribution=\"lognormal\""]
        # (extra --set, expected order attribute, expected costs attribute, policy)
        variants = [
            ("uneven", [], "longest-first", "job", "dynamic"),
            ("constant", ["--set", "job.distribution=\"constant\""], "given", "", "dynamic"),
            ("guided", ["--set", "schedule.policy=\"guided\""], "given", "", "guided"),
            ("given", ["--set", "schedule.order=\"given\""], "given", "", "dynamic"),
        ]
        files = {}
        for name, extra, order, costs, policy in variants:
            path = w(f"{name}.h5")
            e2e.run_ok(tools, ["run", tools.config("spin.toml"), "--output", path] + spin + extra, np_=n, cwd=w.path)
            d = e2e.check_run_file(path, n_ranks=n, job="spin", task_count=30, policy=policy, columns=["duration"])
            expect_eq(e2e.attr_str(d["attrs"], "order"), order, f"{name}: order attribute")
            expect_eq(e2e.attr_str(d["attrs"], "costs"), costs, f"{name}: costs attribute")
            expect_eq(d["config"]["schedule"]["order"], "given" if name == "given" else "auto",
                      f"{name}: schedule.order in the stored config")
            files[name] = d
        # Hand-out order: the longest planned task is among the first started
        # (one per worker), and the results do not depend on the order.
        d = files["uneven"]
        planned = d["results"]["duration"]
        started = [int(i) for i in np.argsort(d["tasks"]["t_start"], kind="stable")[:n]]
        expect(int(np.argmax(planned)) in started,
               f"the longest planned task {int(np.argmax(planned))} is not among the first started {started}")
        expect(e2e.results_bytes(d) == e2e.results_bytes(files["given"]), "the order changed the results")


def case_costs_errors(tools, args):
    with e2e.Workdir("costs-errors") as w:
        spin_file = w("spin.h5")
        e2e.run_ok(tools, ["run", tools.config("spin.toml"), "--output", spin_file, "--set", "job.tasks=4",
                           "--set", "job.duration=0"], np_=2, cwd=w.path)
        out = w("out.h5")
        r = e2e.run(tools, ["run", tools.config("primes.toml"), "--output", out, "--costs", spin_file], np_=2, cwd=w.path,
                    refused=True)
        e2e.expect_code(r, 2)
        expect_eq(r.err.count("fanout: error:"), 1, "the error is printed once")
        expect(f'--costs {spin_file}: a run of job "spin", but this config runs job "primes"' in r.err, r.describe())
        r = e2e.run(tools, ["run", tools.config("primes.toml"), "--output", out, "--costs", w("missing.h5")],
                    np_=2, cwd=w.path, refused=True)
        e2e.expect_code(r, 2)
        expect(f"--costs {w('missing.h5')}: cannot open: No such file or directory" in r.err, r.describe())
        r = e2e.run(tools, ["run", tools.config("primes.toml"), "--output", out, "--set", "schedule.order=longest-first"],
                    np_=2, cwd=w.path, refused=True)
        e2e.expect_code(r, 2)
        expect('schedule.order: "longest-first" needs task costs, and job "primes" does not estimate them; '
               "pass an earlier run of this config with --costs FILE" in r.err, r.describe())
        r = e2e.run(tools, ["run", tools.config("spin.toml"), "--output", out, "--set", "schedule.order=longest-first",
                            "--set", "schedule.policy=static-block"], np_=2, cwd=w.path, refused=True)
        e2e.expect_code(r, 2)
        expect('"longest-first" does not combine with policy "static-block"' in r.err, r.describe())
        expect_eq(e2e.listing(w.path), ["spin.h5"], "files after the refused runs")


def run_spin(tools, w, name, n, sets, task_count, threads=1):
    """Runs configs/spin.toml at n ranks with --set overrides; returns the checked file's data."""
    path = w(name)
    args = ["run", tools.config("spin.toml"), "--output", path]
    for s in sets:
        args += ["--set", s]
    e2e.run_ok(tools, args, np_=n, cwd=w.path)
    return e2e.check_run_file(path, n_ranks=n, job="spin", task_count=task_count, policy="dynamic", threads=threads,
                              columns=["duration"])


def case_busy(tools, args):
    n = args.np
    with e2e.Workdir(f"busy-np{n}") as w:
        d = run_spin(tools, w, "spin.h5", n, ["job.tasks=60", "job.duration=0.002", "run.threads_per_rank=2"], 60,
                     threads=2)
        t = d["tasks"]
        for row in d["ranks"]:
            mine = t["rank"] == row["rank"]
            total = float(durations(d)[mine].sum())
            expect(abs(row["busy"] - total) <= 1e-6 * max(1.0, total),
                   f"rank {row['rank']}: busy {row['busy']} != sum of its task times {total}")
            expect_eq(int(row["tasks"]), int(mine.sum()), f"rank {row['rank']}: task count")


def case_cpu_shares(tools, args):
    n = args.np
    with e2e.Workdir(f"cpu-shares-np{n}") as w:
        # CPU-bound tasks of 5 ms (50 x the 100 us span): each one's CPU time is its own.
        d = run_spin(tools, w, "long.h5", n, ["job.tasks=30", "job.duration=0.005", "job.distribution=\"constant\""], 30)
        t = d["tasks"]
        expect(np.all(t["cpu_shared"] == 0), f"5 ms tasks with shared CPU readings: {t['cpu_shared']}")
        cpu = t["cpu_user"] + t["cpu_sys"]
        expect(np.all(cpu >= 0.005 - 2e-6), f"a 5 ms CPU-bound task measured below 5 ms of CPU: {cpu}")
        # Empty tasks: readings are shared, and shares add up to no more than the wall time.
        d = run_spin(tools, w, "empty.h5", n, ["job.tasks=20000", "job.duration=0"], 20000)
        t = d["tasks"]
        shared = int(t["cpu_shared"].sum())
        expect(shared >= 18000, f"only {shared} of 20000 empty tasks share CPU readings")
        cpu = float((t["cpu_user"] + t["cpu_sys"]).sum())
        wall = float((t["t_end"] - t["t_start"]).sum())
        # (getrusage's thread time advances with the scheduler's bookkeeping,
        # so a millisecond of tasks can read as 0.)
        expect(0 <= cpu <= wall + 2e-3, f"empty tasks: CPU {cpu} s against wall {wall} s")


if __name__ == "__main__":
    sys.exit(e2e.main({"costs": case_costs, "job_costs": case_job_costs, "auto_order": case_auto_order,
                       "costs_errors": case_costs_errors, "busy": case_busy, "cpu_shares": case_cpu_shares}))
