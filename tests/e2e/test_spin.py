#!/usr/bin/python3
"""spin (configs/spin.toml, shrunk with --set) end to end: CPU-bound tasks
spend their wall time on the CPU, sleeping tasks do not, the drawn
durations are the same bits at every rank count, policy and thread count.

Cases:
  cpu_bound     (--np N) 20 CPU tasks of 0.05 s: CPU close to wall
  sleep         (--np N) 20 sleeping tasks of 0.05 s: CPU near zero
  identical     1-4 ranks x 3 policies: /results/duration bit-identical
  threads       (--np N) run.threads_per_rank=2: both threads work, same results
"""
import os
import statistics
import sys
import tomllib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

COLUMNS = ["duration"]


def spin(tools, w, name, n, sets, threads=1, policy="dynamic"):
    """Runs configs/spin.toml with the overrides; returns the checked data."""
    path = e2e.run_spin(tools, w, n, name, sets)
    tasks = int(next(s.split("=", 1)[1] for s in sets if s.startswith("job.tasks=")))
    return e2e.check_run_file(path, n_ranks=n, job="spin", task_count=tasks, policy=policy, threads=threads,
                              columns=COLUMNS)


def cpu_and_wall(data):
    t = data["tasks"]
    return t["cpu_user"] + t["cpu_sys"], t["t_end"] - t["t_start"]


def case_cpu_bound(tools, args):
    n, tasks, duration = args.np, 20, 0.05
    with e2e.Workdir(f"spin-cpu-np{n}") as w:
        d = spin(tools, w, "cpu.h5", n, [f"job.tasks={tasks}", f"job.duration={duration}",
                                         "job.distribution=constant", "job.mode=cpu"])
        cpu, wall = cpu_and_wall(d)
        expect(np.all(d["results"]["duration"] == duration), f"planned durations {d['results']['duration']} != {duration}")
        # A CPU task burns its duration of CPU time (measured by the task's own thread clock).
        expect(np.all(cpu >= 0.9 * duration), f"task CPU times {cpu} below 0.9 x {duration} s")
        ratio = cpu / wall
        share = float(np.mean(ratio > 0.5))
        expect(cpu.sum() / wall.sum() > 0.5, f"CPU/wall over all tasks {cpu.sum() / wall.sum():.2f} <= 0.5: {ratio}")
        expect(statistics.median(ratio) > 0.5, f"median per-task CPU/wall {statistics.median(ratio):.2f} <= 0.5: {ratio}")
        expect(share >= 0.5, f"only {share:.0%} of CPU tasks have CPU/wall > 0.5: {ratio}")
        expect(np.all(ratio <= 1.1), f"a task used more CPU than wall time on one thread: {ratio}")


def case_sleep(tools, args):
    n, tasks, duration = args.np, 20, 0.05
    with e2e.Workdir(f"spin-sleep-np{n}") as w:
        d = spin(tools, w, "sleep.h5", n, [f"job.tasks={tasks}", f"job.duration={duration}",
                                           "job.distribution=constant", "job.mode=sleep"])
        cpu, wall = cpu_and_wall(d)
        expect(np.all(wall >= 0.95 * duration), f"sleeping tasks returned early: {wall}")
        ratio = cpu / wall
        expect(np.all(ratio < 0.2), f"a sleeping task has CPU/wall >= 0.2: {ratio}")
        expect(cpu.sum() / wall.sum() < 0.2, f"CPU/wall over sleeping tasks {cpu.sum() / wall.sum():.2f} >= 0.2")


def case_idle_coordinators(tools, args):
    """While every worker waits on a long task, the ranks' coordinating
    threads sleep: each rank's whole CPU stays a few percent of the wall.
    (A pause deadline that stayed in the past once had a rank with a "later"
    answer wake 15,000 times a second: 10-14% of its core, taken from the
    task bound to the same core.)"""
    n = args.np
    with e2e.Workdir(f"spin-idle-np{n}") as w:
        d = spin(tools, w, "idle.h5", n, [f"job.tasks={2 * n}", "job.duration=1.2", "job.distribution=constant",
                                         "job.mode=sleep", "run.progress_interval=0"])
        phases = {p["name"].decode(): p for p in d["phases"]}
        compute = phases["compute"]["t_end"] - phases["compute"]["t_start"]
        for r in d["ranks"]:
            share = (r["cpu_user"] + r["cpu_sys"]) / compute
            expect(share < 0.05, f"rank {r['rank']} used {share:.1%} of a core while its tasks slept "
                                 f"({r['cpu_user'] + r['cpu_sys']:.3f} s over {compute:.2f} s)")


def durations_of(d):
    return (str(d["results_dtype"]["duration"]), d["results"]["duration"].tobytes())


def case_identical(tools, args):
    with open(tools.config("spin.toml"), "rb") as f:
        seed = tomllib.load(f)["job"]["seed"]
    sets = ["job.tasks=16", "job.duration=0.002"]  # lognormal, seed from the config
    with e2e.Workdir("spin-identical") as w:
        reference = None
        for n in (1, 2, 3, 4):
            for policy in e2e.POLICIES:
                d = spin(tools, w, f"spin-np{n}-{policy}.h5", n, sets + [f"schedule.policy={policy}"], policy=policy)
                expect_eq(d["config"]["job"]["seed"], seed, f"np {n} {policy}: seed in the stored config")
                got = durations_of(d)
                if reference is None:
                    reference = got
                    values = d["results"]["duration"]
                    expect(np.all(values > 0) and len(set(values.tolist())) == len(values),
                           f"lognormal durations are not all positive and distinct: {values}")
                    expect_eq(got[0], "float64", "dtype of /results/duration")
                else:
                    expect(got == reference, f"/results/duration at np {n} {policy} differs from np 1 "
                           f"{e2e.POLICIES[0]}: {d['results']['duration']}")
        # The comparison can fail: another seed draws other durations.
        other = spin(tools, w, "spin-other-seed.h5", 2, sets + [f"job.seed={seed + 1}"])
        expect(durations_of(other) != reference, "a different seed gave the same durations")


def case_threads(tools, args):
    n = args.np
    sets = ["job.tasks=24", "job.duration=0.02"]  # lognormal, mean 0.02 s
    with e2e.Workdir(f"spin-threads-np{n}") as w:
        one = spin(tools, w, "threads1.h5", n, sets)
        expect(np.all(one["tasks"]["thread"] == 0), "thread column not 0 with one thread per rank")
        for policy in ("dynamic", "static-cyclic"):
            two = spin(tools, w, f"threads2-{policy}.h5", n, sets + ["run.threads_per_rank=2", f"schedule.policy={policy}"],
                       threads=2, policy=policy)
            threads = sorted(set(int(x) for x in two["tasks"]["thread"]))
            expect_eq(threads, [0, 1], f"{policy}: thread values used across the tasks with 2 threads per rank")
            expect_eq(two["config"]["run"]["threads_per_rank"], 2, f"{policy}: threads_per_rank in the stored config")
            expect(durations_of(two) == durations_of(one),
                   f"{policy}: /results/duration with 2 threads per rank differ from those with 1")
            # Two threads of a rank may overlap, but each thread runs one task at a time.
            t = two["tasks"]
            for r in range(n):
                for th in (0, 1):
                    mine = np.sort(t[(t["rank"] == r) & (t["thread"] == th)], order="t_start")
                    expect(np.all(mine["t_start"][1:] >= mine["t_end"][:-1] - 1e-9),
                           f"{policy}: rank {r} thread {th} ran two tasks at once")


if __name__ == "__main__":
    sys.exit(e2e.main({"cpu_bound": case_cpu_bound, "sleep": case_sleep, "identical": case_identical,
                       "idle_coordinators": case_idle_coordinators,
                       "threads": case_threads}))
