#!/usr/bin/python3
"""A stop signal to mpirun itself (Ctrl-C, or kill), the usual way to stop a
run: Open MPI 4.1's mpirun passes SIGINT or SIGTERM on to the ranks as
SIGTERM odls_base_sigkill_timeout (1) s later and SIGKILLs them 1 s after
that, long before run.grace (10 s) ends. Rank 0 must put the tasks finished
so far at the output path at the first signal, so the kill loses only the
tasks still running.

Cases:
  int_and_term  2 ranks x 2 threads of sleeping tasks (up to 3 s each); once
                the journal shows 4 finished, SIGINT to mpirun (then, in a
                second run, SIGTERM). While the run ends, the output path is
                either absent or a whole partial file (h5py opens it every
                few ms); at the end it is a partial file (h5py) holding at
                least the tasks finished before the signal, each run in full,
                which fanout report reads; fanout resume completes it with
                the results of an uninterrupted run.
"""
import os
import signal
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect  # noqa: E402
from test_resume import check_partial, finish, resume_and_compare, start, status_done, wait_until_running  # noqa: E402

TASKS = 24
# Sleeping tasks of 0 to 3 s (uniform, mean 1.5 s): tasks are still running
# when mpirun kills the ranks 2 s after the signal, and tasks are left.
SETS = [f"job.tasks={TASKS}", "job.duration=1.5", "job.distribution=uniform", "job.mode=sleep", "job.seed=11",
        "schedule.chunk=1", "run.threads_per_rank=2", "checkpoint.interval=0.2"]


def finished_in(path):
    """Tasks run in the file at path (h5py), or None while there is none; a
    file there that is not a whole partial file fails the test."""
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        return None
    with f:
        status = f.attrs["status"]
        status = status.decode() if isinstance(status, bytes) else status
        expect(status == "partial", f"{path}: status {status!r} while the run stops")
        for name in ("tasks", "ranks", "phases", "errors", "results/duration"):
            expect(name in f, f"{path}: no /{name} in the file published at the stop")
        return int((f["tasks"]["attempt"][()] > 0).sum())


def stop_through_mpirun(tools, w, signo, reference):
    name = signal.Signals(signo).name
    path = w(f"{name}.h5")
    proc = start(tools, w, 2, path, SETS)
    try:
        wait_until_running(tools, proc, 2, path, 4)
        before = status_done(tools, path)
        os.kill(proc.pid, signo)
        # Until mpirun is gone: the output path holds nothing or a whole file.
        seen = []
        t0 = time.monotonic()
        while proc.poll() is None and time.monotonic() - t0 < 60:
            n = finished_in(path)
            if n is not None:
                seen.append(n)
            time.sleep(0.005)
    finally:
        code, out = finish(proc)
    expect(code != 0, f"mpirun exit code 0 after {name}\n{out}")
    for sign in e2e.CRASH_SIGNS:
        expect(sign not in out, f"output contains {sign!r}\n{out}")
    expect(f"wrote {path} (status partial): " in out and "updated as the running tasks finish" in out,
           f"no message of the file written at the stop\n{out}")
    expect("under mpirun: mpirun passes a SIGINT or SIGTERM on as SIGTERM after" in out and "kill -USR1" in out,
           f"no word on what mpirun does\n{out}")
    expect(seen, f"no file at {path} while the run stopped\n{out}")
    expect(seen == sorted(seen), f"the file at {path} lost tasks while the run stopped: {seen}")
    done = check_partial(path, TASKS)
    expect(done >= before, f"{path}: {done} tasks in the file, {before} were finished before {name}\n{out}")
    report = e2e.run(tools, ["report", path])
    e2e.expect_code(report, 0)
    # Resumed at another rank count: the results of an uninterrupted run.
    resume_and_compare(tools, w, path, 4, reference)


def case_int_and_term(tools, args):
    with e2e.Workdir("stop-mpirun") as w:
        # Sleeping tasks: an uninterrupted run in one wave of 24 threads.
        reference = e2e.run_spin(tools, w, 1, "clean.h5", SETS[:-2] + ["run.threads_per_rank=24"])
        with h5py.File(reference, "r") as f:
            expect(np.all(f["tasks"]["attempt"][()] == 1), "the reference run is not complete")
        for signo in (signal.SIGINT, signal.SIGTERM):
            stop_through_mpirun(tools, w, signo, reference)


if __name__ == "__main__":
    sys.exit(e2e.main({"int_and_term": case_int_and_term}))
