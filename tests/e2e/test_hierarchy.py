#!/usr/bin/python3
"""Node and group leaders ([schedule] hierarchy) end to end: the same results
as flat dispatch, stops, retries, checkpoints, and a rank lost to SIGKILL.

Every run is the spin job (sleeping tasks of a few ms, so 8 ranks on 2 busy
cores stay cheap) under a real mpiexec; "node" hierarchies get several node
names on this one machine from SLURMD_NODENAME, set per rank by mpiexec's
MPMD form (`-n 3 env SLURMD_NODENAME=na fanout ... : -n 2 env ... fanout ...`).

Cases:
  identical  one flat run (3 ranks) as the reference, then one run per row
             of MATRIX: 1, 2, 3, 5, 6, 7 and 8 ranks (4 left out to save a
             launch: 3 and 7 already give a last group smaller than the rest,
             6 and 8 several full groups, 1 and 2 a hierarchy wider than the
             ranks), hierarchies 2, 3, 4, "node" on one node name and "node"
             on 2 and 3 node names; every policy and both orders (longest-first
             where the policy allows it) under a non-flat hierarchy, 2 threads
             twice. Each file complete with /results and task ids equal to the
             flat run's; static policies place the tasks as docs/jobs.md says;
             /ranks node as set; /ranks leader, once the file has it, as
             records.hpp defines it. Then retries under groups: tasks that fail
             on rank 0 only succeed on another rank; tasks that fail everywhere
             fail for good after 1 + retries attempts, each a row of /errors.
  stop       SIGTERM to a group leader (groups of 2, 5 ranks) and SIGUSR1 to
             mpirun (groups of 3, 6 ranks): exit 4, a partial file with no task
             cut short; resume at another rank count and hierarchy completes
             it with the results of an uninterrupted run.
  lost_rank  SIGKILL of rank 0 (groups of 3, 6 ranks), of a leader (rank 2,
             groups of 2, 5 ranks) and of a plain member (rank 3, groups of 2,
             5 ranks) after a few checkpoints: mpiexec ends the run (non-zero)
             without hanging, the journal holds the checkpointed tasks
             (status reads them), and resume at another rank count and
             hierarchy completes the file with the results of an
             uninterrupted run (two sessions).
"""
import os
import signal
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import test_resume as resume  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

TASKS = 150
BASE = [f"job.tasks={TASKS}", "job.duration=0.004", "job.distribution=uniform", "job.mode=sleep", "job.seed=11"]

# (ranks: a count on this host, or [(node name, ranks), ...]; hierarchy; policy; order; threads)
MATRIX = [
    (1, "2", "static-block", "given", 1),
    (2, '"node"', "dynamic", "longest-first", 2),
    (3, "2", "static-cyclic", "longest-first", 1),
    ([("na", 3), ("nb", 2)], '"node"', "static-cyclic", "given", 1),
    (6, "3", "guided", "given", 1),
    (7, "4", "dynamic", "given", 1),
    (8, "2", "static-block", "given", 1),
    ([("na", 3), ("nb", 3), ("nc", 2)], '"node"', "guided", "longest-first", 2),
]


def layout(ranks):
    return [(None, ranks)] if isinstance(ranks, int) else ranks


def mpmd(tools, ranks, args, timeout=60):
    """`mpiexec` of fanout ARGS at `ranks` (a count, or per-node-name counts); a Result."""
    argv = [tools.mpiexec, "--oversubscribe"]
    for i, (node, count) in enumerate(layout(ranks)):
        argv += ([":"] if i else []) + ["-n", str(count)]
        argv += (["env", f"SLURMD_NODENAME={node}"] if node else []) + [tools.fanout] + list(args)
    t0 = time.monotonic()
    try:
        proc = subprocess.run(argv, env=e2e.mpi_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise e2e.Failure(f"timed out after {timeout} s (a hang or deadlock): {' '.join(argv)}\n"
                          f"stdout: {e.stdout}\nstderr: {e.stderr}")
    return e2e.Result(argv, proc, time.monotonic() - t0)


def sets_args(sets):
    return [a for s in sets for a in ("--set", s)]


def expected_leaders(ranks, hierarchy):
    """/ranks leader as records.hpp defines it: 0 for rank 0, leaders and flat
    dispatch; a member's group leader otherwise (rank 0's own group: its second rank)."""
    nodes = [node for node, count in layout(ranks) for _ in range(count)]
    n = len(nodes)
    if hierarchy == '"node"':
        head = [nodes.index(node) for node in nodes]
    elif hierarchy == '"flat"':
        head = [0] * n
    else:
        head = [r // int(hierarchy) * int(hierarchy) for r in range(n)]
    if hierarchy != '"flat"':
        # Rank 0 serves leaders only: the rest of its group is led by the group's second rank.
        second = next((r for r in range(1, n) if head[r] == 0), None)
        head = [second if r > 0 and head[r] == 0 else head[r] for r in range(n)]
    return [0 if r == 0 or head[r] == r else head[r] for r in range(n)]


def check_static_placement(t, policy, n, what):
    """Static policies in the order given (docs/jobs.md, Policies): static-cyclic
    puts task id i on rank i mod n; static-block gives rank r one contiguous
    block, the blocks in rank order (rank 0 the first), differing in size by at
    most one task. (Under groups the sizes may sit differently from flat
    dispatch's: the contract is the one checked.)"""
    ids, placed = np.arange(TASKS), t["rank"]
    if policy == "static-cyclic":
        wrong = np.nonzero(placed != ids % n)[0]
        expect(len(wrong) == 0, f"{what}: tasks {wrong[:10]} ran on ranks {placed[wrong[:10]]}, not id mod {n}")
        return
    expect(np.all(np.diff(placed) >= 0), f"{what}: the blocks are not contiguous in rank order: {placed}")
    sizes = np.bincount(placed, minlength=n)
    expect(set(sizes.tolist()) <= {TASKS // n, -(-TASKS // n)}, f"{what}: block sizes {sizes}")


def check_complete(path, n, policy, threads=1):
    """A complete file of TASKS tasks at n ranks: every task once, ok, at its id,
    on a rank and thread that exist; /ranks adding up. (Not e2e.check_run_file:
    its field-description check is the format's, not the hierarchy's.)"""
    d = e2e.read_file(path)
    a, t, r = d["attrs"], d["tasks"], d["ranks"]
    expect_eq(e2e.attr_str(a, "status"), "complete", f"{path}: status")
    expect_eq(e2e.attr_str(a, "scheduler"), policy, f"{path}: scheduler")
    expect_eq((e2e.attr_int(a, "n_ranks"), e2e.attr_int(a, "task_count")), (n, TASKS), f"{path}: n_ranks, task_count")
    expect(np.array_equal(t["id"], np.arange(TASKS)), f"{path}: /tasks ids {t['id']}")
    expect(np.all(t["attempt"] == 1) and np.all(t["status"] == 0), f"{path}: attempts or status not 1 and ok")
    expect(np.all((t["rank"] >= 0) & (t["rank"] < n)), f"{path}: /tasks rank outside [0, {n}): {t['rank']}")
    expect(np.all((t["thread"] >= 0) & (t["thread"] < threads)), f"{path}: /tasks thread {t['thread']}")
    expect_eq(len(d["errors"]), 0, f"{path}: rows of /errors")
    expect_eq([int(x) for x in r["rank"]], list(range(n)), f"{path}: /ranks rank")
    expect_eq([int(x) for x in r["tasks"]], [int((t["rank"] == k).sum()) for k in range(n)],
              f"{path}: /ranks tasks against /tasks")
    expect_eq(len(set(int(x) for x in r["pid"])), n, f"{path}: distinct pids in /ranks")
    return d


def case_identical(tools, args):
    with e2e.Workdir("hierarchy-identical") as w:
        reference = w("flat.h5")
        e2e.run_ok(tools, ["run", tools.config("spin.toml"), "--output", reference, "--progress", "never"] +
                   sets_args(BASE + ["schedule.hierarchy=\"flat\""]), np_=3, cwd=w.path)
        want = e2e.results_bytes(check_complete(reference, 3, "dynamic"))
        for i, (ranks, hierarchy, policy, order, threads) in enumerate(MATRIX):
            n = sum(count for _, count in layout(ranks))
            what = f"{n} ranks {layout(ranks)}, hierarchy {hierarchy}, {policy}, {order}, {threads} threads"
            path = w(f"run{i}.h5")
            r = mpmd(tools, ranks, ["run", tools.config("spin.toml"), "--output", path, "--progress", "never"] +
                     sets_args(BASE + [f"schedule.hierarchy={hierarchy}", f"schedule.policy={policy}",
                                       f"schedule.order={order}", f"run.threads_per_rank={threads}"]))
            e2e.expect_code(r, 0)
            d = check_complete(path, n, policy, threads)
            expect_eq(e2e.results_bytes(d), want, f"{what}: /results against the flat run's")
            expect_eq(e2e.text(d["attrs"]["order"]), order, f"{what}: order")
            nodes = [node or "" for node, count in layout(ranks) for _ in range(count)]
            if ranks != n:
                expect_eq(e2e.text(list(d["ranks"]["node"])), nodes, f"{what}: /ranks node")
            if "leader" in (d["ranks"].dtype.names or ()):
                expect_eq([int(x) for x in d["ranks"]["leader"]], expected_leaders(ranks, hierarchy),
                          f"{what}: /ranks leader")
            if policy.startswith("static") and order == "given":
                check_static_placement(d["tasks"], policy, n, what)
            print(f"{what}: identical ({r.seconds:.1f} s)")
        retries(tools, w)


def retries(tools, w):
    # Tasks 4, 9, ... fail on rank 0 only: one retry each, elsewhere, and the run completes.
    path = w("retry.h5")
    sets = BASE + ["job.fail_every=5", "job.fail_on=rank0", "run.retries=1", "schedule.chunk=1",
                   "schedule.hierarchy=2"]
    r = mpmd(tools, 5, ["run", tools.config("spin.toml"), "--output", path, "--progress", "never"] + sets_args(sets))
    e2e.expect_code(r, 0)
    d = e2e.read_file(path)
    t, errors = d["tasks"], d["errors"]
    failing = np.arange(TASKS) % 5 == 4
    expect_eq(e2e.attr_str(d["attrs"], "status"), "complete", "retries on rank 0 only: status")
    expect(np.all(t["status"] == 0), f"a task failed for good: {t[t['status'] != 0]}")
    retried = t["attempt"] == 2
    expect(not np.any(retried & ~failing), f"tasks retried that never fail: {np.nonzero(retried & ~failing)}")
    expect(np.all(t["attempt"][~failing] == 1), "a task that cannot fail was run twice")
    expect(np.all(t["rank"][retried] != 0), f"a retry ran on rank 0, where it fails: {t[retried]}")
    expect_eq(len(errors), int(retried.sum()), "error rows: one per failed first attempt")
    expect(np.all(errors["rank"] == 0) and np.all(errors["attempt"] == 1), f"errors {errors}")
    # Every 7th task fails everywhere: 1 + 2 attempts each, then failed for good (exit 1).
    path = w("fail.h5")
    sets = BASE + ["job.fail_every=7", "run.retries=2", "schedule.hierarchy=3"]
    r = mpmd(tools, [("na", 2), ("nb", 4)], ["run", tools.config("spin.toml"), "--output", path,
                                             "--progress", "never"] + sets_args(sets))
    e2e.expect_code(r, 1)
    d = e2e.read_file(path)
    t, errors = d["tasks"], d["errors"]
    failing = np.arange(TASKS) % 7 == 6
    expect_eq(e2e.attr_str(d["attrs"], "status"), "failed", "tasks failing everywhere: status")
    expect(np.array_equal(t["status"] != 0, failing), f"failed tasks {np.nonzero(t['status'])[0]}")
    expect(np.all(t["attempt"][failing] == 3) and np.all(t["attempt"][~failing] == 1), f"attempts {t['attempt']}")
    expect_eq(sorted((int(i), int(a)) for i, a in zip(errors["id"], errors["attempt"])),
              [(int(i), a) for i in np.nonzero(failing)[0] for a in (1, 2, 3)], "/errors (id, attempt)")
    print("retries under groups of 2 and 3: as flat dispatch")


def rank_pid(mpirun_pid, rank):
    """The pid of MPI rank `rank` among mpirun's children (OMPI_COMM_WORLD_RANK in its environment)."""
    for pid in resume.rank_pids(mpirun_pid):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
        except OSError:
            continue
        if env.get(b"OMPI_COMM_WORLD_RANK") == str(rank).encode():
            return pid
    raise e2e.Failure(f"no rank {rank} among the children of mpirun {mpirun_pid}")


# Tasks in the journal before a stop or a kill: early (the run takes about 2 s at
# 5 or 6 ranks and checkpoints every 0.2 s), to leave time on a loaded machine.
CHECKPOINTED = 20


def interrupted(tools, w, name, n, hierarchy, stop):
    """Starts the spin run of test_resume at n ranks under `hierarchy`, calls
    stop(proc) once CHECKPOINTED tasks are in the journal, waits for mpirun; returns
    (exit code, output, seconds from the stop to mpirun's exit, path) once
    no rank is left."""
    path = w(f"{name}.h5")
    proc = resume.start(tools, w, n, path, resume.SPIN, ["--set", f"schedule.hierarchy={hierarchy}"])
    resume.wait_until_running(tools, proc, n, path, CHECKPOINTED)
    ranks = resume.rank_pids(proc.pid)
    t0 = time.monotonic()
    stop(proc)
    code, out = resume.finish(proc, timeout=60)
    took = time.monotonic() - t0
    resume.wait_for(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in ranks),
                    f"the ranks of the {name} run to end after mpirun", timeout=30)
    return code, out, took, path


def flat_reference(tools, w):
    """test_resume's uninterrupted run, under flat dispatch at 4 ranks (not 1: a quarter of the wait)."""
    sets = [s for s in resume.SPIN if not s.startswith("checkpoint.")] + ["checkpoint.interval=30",
                                                                          'schedule.hierarchy="flat"']
    return e2e.run_spin(tools, w, 4, "clean.h5", sets)


def case_stop(tools, args):
    with e2e.Workdir("hierarchy-stop") as w:
        reference = flat_reference(tools, w)
        for name, n, hierarchy, stop, resume_at in (
                ("term-leader", 5, "2", lambda p: os.kill(rank_pid(p.pid, 2), signal.SIGTERM), (3, '"node"')),
                ("usr1-mpirun", 6, "3", lambda p: os.kill(p.pid, signal.SIGUSR1), (4, "2"))):
            code, out, took, path = interrupted(tools, w, name, n, hierarchy, stop)
            expect_eq(code, 4, f"{name}: exit code after the stop signal\n{out}")
            expect("status partial" in out and "fanout resume" in out, f"{name}: messages:\n{out}")
            done = resume.check_partial(path, 240)
            resume.resume_and_compare(tools, w, path, resume_at[0], reference,
                                      extra=["--set", f"schedule.hierarchy={resume_at[1]}"])
            print(f"{name} ({n} ranks, hierarchy {hierarchy}): exit 4 {took:.1f} s after the signal, "
                  f"{done} of 240 tasks kept; resumed at {resume_at[0]} ranks, hierarchy {resume_at[1]}: identical")


def case_lost_rank(tools, args):
    with e2e.Workdir("hierarchy-lost-rank") as w:
        reference = flat_reference(tools, w)
        for name, n, hierarchy, victim, resume_at in (
                ("rank-0", 6, "3", 0, (4, "2")),
                ("leader", 5, "2", 2, (3, '"flat"')),
                ("member", 5, "2", 3, (6, "3"))):
            code, out, took, path = interrupted(
                tools, w, name, n, hierarchy, lambda p: os.kill(rank_pid(p.pid, victim), signal.SIGKILL))
            what = f"SIGKILL of rank {victim} ({name}, {n} ranks, hierarchy {hierarchy})"
            expect(code != 0, f"{what}: mpirun exit code {code}\n{out}")
            expect(os.path.exists(path + ".journal"), f"{what}: no journal")
            s = e2e.run_ok(tools, ["status", path], cwd=w.path)
            # "partial" when rank 0 outlived the kill long enough to publish the file, else "interrupted".
            expect(("interrupted" in s.out or "partial" in s.out) and "remaining" in s.out,
                   f"{what}: status:\n{s.describe()}")
            journaled = resume.status_done(tools, path)
            expect(journaled >= CHECKPOINTED, f"{what}: status counts {journaled} done; the journal held "
                                              f"{CHECKPOINTED} before the kill")
            resume.resume_and_compare(tools, w, path, resume_at[0], reference,
                                      extra=["--set", f"schedule.hierarchy={resume_at[1]}"])
            print(f"{what}: mpirun exit {code} {took:.1f} s after the kill, {journaled} of 240 tasks journaled; "
                  f"resumed at {resume_at[0]} ranks, hierarchy {resume_at[1]}: identical")


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    sys.exit(e2e.main(CASES))
