#!/usr/bin/python3
"""Interrupted runs end to end: signals, kill -9, resume, retries, max_failures,
status. Runs are started under a real mpiexec, signalled or killed from
outside like a user, a batch system or a crash would, and their files read
back with h5py.

Cases:
  signal_rank     (--np N) SIGTERM to one rank: exit 4, status partial, no
                  task cut short; resume (at another rank count) completes
                  with results identical to an uninterrupted run
  usr1_mpirun     SIGUSR1 to mpirun (forwarded to the ranks): exit 4, partial, resumable
  term_mpirun     SIGTERM to mpirun: partial file (mpirun's own exit code is 1)
  second_signal   two SIGTERMs: stops at once, leaving the long tasks; resumable
  kill9           (--np N) SIGKILL of mpirun at three points: the journal keeps
                  the checkpointed tasks, status reads it, resume completes
                  with identical results and redoes at most one interval of work
  kill9_rank      SIGKILL of one rank (mpirun then ends the job): resumable
  kill9_redone    (--np N) a command farm whose tasks log each run to a file,
                  killed with SIGKILL and resumed: the log counts the tasks run
                  twice, at most about one checkpoint interval of work
  command_stop    a stop signal with commands still running: after run.grace
                  their process groups are killed, nothing outlives fanout
  retries         (--np N) run.retries = 1 with tasks that fail on rank 0 only
  max_failures    run.max_failures stops the run early: partial, exit 1
  refusals        resume of other job parameters, run over a journal, resume of
                  a complete file, status of nothing
  large_journal   resume and status of journals of 1e6 and 3e6 near-empty tasks
                  (stopped by run.max_failures): their peak RSS grows by well under
                  the journals' growth (they stream it; loading it whole took about
                  3.5 times the journal), and the results equal an uninterrupted run's
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

# 240 sleeping tasks of 40 ms on average: a few seconds at any rank count,
# long enough to interrupt in the middle, no CPU needed (ranks may share cores).
SPIN = ["job.tasks=240", "job.duration=0.04", "job.distribution=uniform", "job.mode=sleep", "job.seed=7",
        "schedule.chunk=1", "checkpoint.interval=0.2"]


def sets_args(sets):
    out = []
    for s in sets:
        out += ["--set", s]
    return out


def start(tools, w, n, output, sets, extra=()):
    """Starts `mpiexec -n n fanout run spin.toml` in its own session; returns the Popen."""
    argv = [tools.mpiexec, "-n", str(n), "--oversubscribe", tools.fanout, "run", tools.config("spin.toml"),
            "--output", output, "--progress", "never"] + sets_args(sets) + list(extra)
    return subprocess.Popen(argv, cwd=w.path, env=e2e.mpi_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def finish(proc, timeout=90):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise e2e.Failure(f"the run did not end within {timeout} s after the signal\n{out}\n{err}")
    return proc.returncode, out + err


def rank_pids(mpirun_pid):
    """The fanout processes mpirun started (its children), by pid."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == mpirun_pid and comm == "fanout":
            pids.append(int(entry))
    return sorted(pids)


def wait_for(predicate, what, timeout=60):
    t0 = time.monotonic()
    while not predicate():
        expect(time.monotonic() - t0 < timeout, f"timed out waiting for {what}")
        time.sleep(0.01)


def status_done(tools, path):
    """Tasks done as `fanout status` reads them (from the journal while the run goes on)."""
    r = e2e.run(tools, ["status", path])
    if r.code != 0 or " done (" not in r.out:
        return 0
    return int(r.out.split(" done (")[0].split()[-1])


def wait_until_running(tools, proc, n, path, tasks):
    wait_for(lambda: len(rank_pids(proc.pid)) == n or proc.poll() is not None, f"{n} ranks to start")
    wait_for(lambda: status_done(tools, path) >= tasks or proc.poll() is not None, f"{tasks} checkpointed tasks")
    if proc.poll() is not None or not rank_pids(proc.pid):
        raise e2e.Failure(f"the run ended before it could be interrupted:\n{proc.communicate()}")


def planned(path):
    with h5py.File(path, "r") as f:
        return f["results"]["duration"][()]


def check_partial(path, total):
    """A partial file: valid, every task either never run or run in full."""
    d = e2e.read_file(path)
    a = d["attrs"]
    expect_eq(e2e.attr_str(a, "status"), "partial", f"{path}: status")
    t = d["tasks"]
    ran = t["attempt"] > 0
    done = int(ran.sum())
    expect(0 < done < total, f"{path}: {done} of {total} tasks done; expected an interrupted run")
    expect(np.all(t["id"][ran] == np.nonzero(ran)[0]), f"{path}: rows of run tasks are not at their ids")
    wall = (t["t_end"] - t["t_start"])[ran]
    want = d["results"]["duration"][ran]
    expect(np.all(wall >= 0.9 * want), f"{path}: a task was cut short: wall {wall[wall < 0.9 * want]} "
                                        f"< planned {want[wall < 0.9 * want]}")
    expect(np.all(d["results"]["duration"][~ran] == 0), f"{path}: tasks never run have results")
    return done


def clean_reference(tools, w, sets):
    return e2e.run_spin(tools, w, 1, "clean.h5", [s for s in sets if not s.startswith("checkpoint.")] +
                        ["checkpoint.interval=30"])


def resume_and_compare(tools, w, path, n, reference, sessions=2, extra=()):
    """`fanout resume path EXTRA...` at n ranks: complete, with the results of the uninterrupted `reference`."""
    r = e2e.run_ok(tools, ["resume", path, "--progress", "never"] + list(extra), np_=n, cwd=w.path, timeout=120)
    expect("resuming" in r.err, f"resume did not say what it resumed:\n{r.describe()}")
    d = e2e.read_file(path)
    expect_eq(e2e.attr_str(d["attrs"], "status"), "complete", f"{path} after resume: status")
    expect_eq(e2e.attr_int(d["attrs"], "sessions"), sessions, f"{path}: sessions")
    t = d["tasks"]
    expect(np.all(t["attempt"] > 0), f"{path}: tasks left unrun after resume")
    expect(np.all(t["id"] == np.arange(len(t))), f"{path}: /tasks ids out of order")
    expect_eq(e2e.results_bytes(d), e2e.results_bytes(e2e.read_file(reference)),
              "results of the resumed run vs an uninterrupted one")
    expect(not os.path.exists(path + ".journal"), f"{path}.journal left behind after a complete run")
    leftovers = [f for f in os.listdir(w.path) if ".partial-" in f]
    expect(not leftovers, f"temporary files left: {leftovers}")
    return d


def case_signal_rank(tools, args):
    n = args.np
    with e2e.Workdir(f"signal-rank-np{n}") as w:
        path = w("run.h5")
        proc = start(tools, w, n, path, SPIN)
        wait_until_running(tools, proc, n, path, 20)
        os.kill(rank_pids(proc.pid)[-1], signal.SIGTERM)
        code, out = finish(proc)
        expect_eq(code, 4, f"exit code after SIGTERM to a rank\n{out}")
        expect("SIGTERM on rank" in out and "status partial" in out and "fanout resume" in out, f"messages:\n{out}")
        done = check_partial(path, 240)
        s = e2e.run_ok(tools, ["status", path], cwd=w.path)
        expect(f"{done} done" in s.out and "partial" in s.out and f"{240 - done} remaining" in s.out,
               f"status of the partial file:\n{s.describe()}")
        resume_and_compare(tools, w, path, 1 + n % 4, clean_reference(tools, w, SPIN))


def signal_mpirun(tools, name, signo, codes, resume_ranks):
    """Sends signo to mpirun mid-run: an exit code in `codes`, a partial file
    whose resume (at resume_ranks) completes as an uninterrupted run."""
    with e2e.Workdir(name) as w:
        path = w("run.h5")
        proc = start(tools, w, 2, path, SPIN)
        wait_until_running(tools, proc, 2, path, 20)
        os.kill(proc.pid, signo)
        code, out = finish(proc)
        expect(code in codes, f"exit code {code} after {signal.Signals(signo).name} to mpirun\n{out}")
        expect("status partial" in out, f"no partial status message:\n{out}")
        check_partial(path, 240)
        resume_and_compare(tools, w, path, resume_ranks, clean_reference(tools, w, SPIN))


def case_usr1_mpirun(tools, args):
    signal_mpirun(tools, "usr1-mpirun", signal.SIGUSR1, (4,), 2)


def case_term_mpirun(tools, args):
    # mpirun forwards SIGTERM and waits for the ranks (which exit 4) but
    # reports its own exit code 1 for a job it was told to terminate.
    signal_mpirun(tools, "term-mpirun", signal.SIGTERM, (1, 4), 3)


def case_second_signal(tools, args):
    sets = ["job.tasks=12", "job.duration=20", "job.distribution=constant", "job.mode=sleep", "run.grace=60",
            "checkpoint.interval=0.2"]
    with e2e.Workdir("second-signal") as w:
        path = w("run.h5")
        proc = start(tools, w, 2, path, sets)
        wait_for(lambda: len(rank_pids(proc.pid)) == 2, "2 ranks")
        time.sleep(1.0)
        rank = rank_pids(proc.pid)[-1]
        t0 = time.monotonic()
        os.kill(rank, signal.SIGTERM)
        time.sleep(0.5)
        os.kill(rank, signal.SIGTERM)
        code, out = finish(proc, timeout=30)
        took = time.monotonic() - t0
        expect_eq(code, 4, f"exit code after two SIGTERMs\n{out}")
        expect(took < 15, f"two signals should stop at once (tasks of 20 s, grace 60 s), took {took:.1f} s\n{out}")
        expect("stopping at once" in out, f"no 'stopping at once' message:\n{out}")
        with h5py.File(path, "r") as f:
            expect_eq(e2e.text(f.attrs["status"]), "partial", "status")
            expect_eq(int((f["tasks"]["attempt"] > 0).sum()), 0, "tasks done (all were still running)")
        s = e2e.run_ok(tools, ["status", path], cwd=w.path)
        expect("0 done" in s.out and "12 remaining" in s.out, f"status:\n{s.describe()}")


def case_kill9(tools, args):
    n = args.np
    with e2e.Workdir(f"kill9-np{n}") as w:
        path = w("run.h5")
        journal = path + ".journal"
        sets = [s for s in SPIN if not s.startswith("job.tasks=")] + ["job.tasks=400"]
        reference = clean_reference(tools, w, sets)
        sessions = 0
        # Kill everything at once (as a node crash would), then mpirun alone
        # (its ranks may go on for a moment), then everything again.
        for everything in (True, False, True):
            base = status_done(tools, path) if sessions else 0
            target = base + 25
            extra = ["--resume"] if sessions else []
            proc = start(tools, w, n, path, sets, extra)
            wait_until_running(tools, proc, n, path, target)
            for pid in ([proc.pid] + rank_pids(proc.pid) if everything else [proc.pid]):
                os.kill(pid, signal.SIGKILL)
            proc.communicate()
            sessions += 1
            # The ranks of a killed mpirun may go on for a moment: wait until none is left.
            wait_for(lambda: not rank_pids(proc.pid), "the orphaned ranks to end", timeout=30)
            wait_for(lambda: not [f for f in os.listdir(w.path) if ".partial-" in f and
                                  os.path.exists(f"/proc/{f.rsplit('-', 1)[1]}")], "the ranks to exit", timeout=30)
            expect(not os.path.exists(path) or h5py.is_hdf5(path), f"{path} exists but is not HDF5")
            expect(os.path.exists(journal), f"no journal after kill -9 at {target} tasks")
            s = e2e.run_ok(tools, ["status", path], cwd=w.path)
            expect("interrupted" in s.out and "remaining" in s.out, f"status after kill -9:\n{s.describe()}")
            journaled = status_done(tools, path)
            expect(journaled >= target, f"status counts {journaled} done; the journal held {target} before the kill")
        d = resume_and_compare(tools, w, path, n, reference, sessions=sessions + 1)
        # Work redone: tasks whose last run was after a kill although an earlier
        # session had finished them can only be those not yet checkpointed; with
        # checkpoint.interval = 0.2 s and tasks of 40 ms on n workers that is at
        # most a few dozen per kill. Session counts show it from the file.
        per_session = np.bincount(d["tasks"]["session"], minlength=sessions + 1)
        expect(np.all(per_session[:sessions] > 0), f"tasks per session {per_session}: a session kept nothing")


def case_kill9_rank(tools, args):
    with e2e.Workdir("kill9-rank") as w:
        path = w("run.h5")
        proc = start(tools, w, 3, path, SPIN)
        wait_until_running(tools, proc, 3, path, 30)
        os.kill(rank_pids(proc.pid)[-1], signal.SIGKILL)
        code, out = finish(proc, timeout=60)
        expect(code != 0, f"mpirun exit code {code} after a rank was killed\n{out}")
        wait_for(lambda: not rank_pids(proc.pid), "the other ranks to end", timeout=30)
        expect(not os.path.exists(path) or h5py.is_hdf5(path), f"{path} exists but is not HDF5")
        resume_and_compare(tools, w, path, 2, clean_reference(tools, w, SPIN))


def command_config(w, count, command, timeout=None):
    """A command-job config of `count` copies of `command`, in the work directory."""
    lines = "".join(f'  "{command}",\n' for _ in range(count))
    extra = f"timeout = {timeout}\n" if timeout else ""
    return w.write("farm.toml", f'[job]\nkind = "command"\n{extra}commands = [\n{lines}]\n\n'
                                f'[schedule]\nchunk = 1\n\n[checkpoint]\ninterval = 0.2\n')


def start_config(tools, w, n, config, output, extra=()):
    argv = [tools.mpiexec, "-n", str(n), "--oversubscribe", tools.fanout, "run", config, "--output", output,
            "--progress", "never"] + list(extra)
    return subprocess.Popen(argv, cwd=w.path, env=e2e.mpi_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def case_kill9_redone(tools, args):
    n, count = args.np, 300
    with e2e.Workdir(f"kill9-redone-np{n}") as w:
        log = w("log.txt")
        config = command_config(w, count, f"sleep 0.02; echo $FANOUT_TASK_ID >> {log}")
        path = w("farm.h5")
        t0 = time.monotonic()
        clean = e2e.run_ok(tools, ["run", config, "--output", w("clean.h5")], np_=n, cwd=w.path, timeout=120)
        rate = count / (time.monotonic() - t0)
        os.remove(log)
        proc = start_config(tools, w, n, config, path)
        wait_until_running(tools, proc, n, path, count // 3)
        for pid in [proc.pid] + rank_pids(proc.pid):
            os.kill(pid, signal.SIGKILL)
        proc.communicate()
        time.sleep(0.5)  # the last sleeps of the killed ranks' commands end and log
        checkpointed = status_done(tools, path)
        e2e.run_ok(tools, ["resume", path, "--progress", "never"], np_=n, cwd=w.path, timeout=120)
        with open(log) as f:
            runs = [int(line) for line in f if line.strip()]
        expect_eq(sorted(set(runs)), list(range(count)), "tasks logged at least once")
        redone = len(runs) - count
        # Tasks finished after the last checkpoint, or running at the kill:
        # at most about one interval (0.2 s) of work plus the tasks in flight.
        bound = max(8, int(rate * 0.6) + 2 * n)
        print(f"kill -9 after {checkpointed} checkpointed tasks: {redone} of {count} tasks ran twice "
              f"(rate {rate:.0f}/s, bound {bound})")
        expect(redone <= bound, f"{redone} tasks ran twice; more than one interval of work ({bound})")
        d = e2e.read_file(path)
        expect_eq(e2e.attr_str(d["attrs"], "status"), "complete", "status after resume")
        expect_eq(e2e.results_bytes(d)["exit_code"], e2e.results_bytes(e2e.read_file(w("clean.h5")))["exit_code"],
                  "exit codes of the resumed farm vs a clean one")
        del clean


def case_command_stop(tools, args):
    with e2e.Workdir("command-stop") as w:
        config = command_config(w, 6, "sleep 300")
        path = w("farm.h5")
        proc = start_config(tools, w, 2, config, path, ["--set", "run.grace=1"])
        wait_for(lambda: len(rank_pids(proc.pid)) == 2, "2 ranks")
        wait_for(lambda: len(sleeps()) >= 2, "the commands to start")
        t0 = time.monotonic()
        os.kill(rank_pids(proc.pid)[0], signal.SIGTERM)
        code, out = finish(proc, timeout=30)
        expect_eq(code, 4, f"exit code\n{out}")
        expect(time.monotonic() - t0 < 10, f"the stop took {time.monotonic() - t0:.1f} s with run.grace = 1\n{out}")
        wait_for(lambda: not sleeps(), "the commands' process groups to be killed", timeout=10)
        with h5py.File(path, "r") as f:
            expect_eq(e2e.text(f.attrs["status"]), "partial", "status")
            expect_eq(int((f["tasks"]["status"][f["tasks"]["attempt"] > 0] == 0).sum()), 0, "tasks done ok")


def sleeps():
    """Processes running `sleep 300` (the commands of case_command_stop)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if f.read() == b"sleep\x00300\x00":
                        found.append(int(entry))
            except OSError:
                pass
    return found


def case_retries(tools, args):
    n = args.np
    sets = ["job.tasks=40", "job.duration=0.002", "job.fail_every=5", "job.fail_on=rank0", "run.retries=1",
            "schedule.chunk=1"]
    with e2e.Workdir(f"retries-np{n}") as w:
        path = w("run.h5")
        r = e2e.run(tools, ["run", tools.config("spin.toml"), "--output", path] + sets_args(sets), np_=n, cwd=w.path)
        e2e.expect_clean(r)
        d = e2e.read_file(path)
        t, errors = d["tasks"], d["errors"]
        failing = np.arange(40) % 5 == 4
        if n == 1:  # nowhere else to go: both attempts fail on rank 0
            expect_eq(r.code, 1, f"exit code with tasks that fail for good\n{r.describe()}")
            expect_eq(e2e.attr_str(d["attrs"], "status"), "failed", "status")
            expect(np.all(t["status"][failing] == 1) and np.all(t["attempt"][failing] == 2), f"tasks {t[failing]}")
            expect_eq(len(errors), 2 * int(failing.sum()), "error rows (two attempts each)")
        else:
            expect_eq(r.code, 0, f"exit code when every retry succeeds on another rank\n{r.describe()}")
            expect_eq(e2e.attr_str(d["attrs"], "status"), "complete", "status")
            expect(np.all(t["status"] == 0), "a task failed for good")
            retried = t["attempt"] == 2
            expect(np.all(failing[retried]), f"tasks retried that never fail: {np.nonzero(retried & ~failing)}")
            expect(np.all(t["rank"][retried] != 0), "a retry ran on rank 0, where it fails")
            expect_eq(len(errors), int(retried.sum()), "error rows: one per failed first attempt")
            expect(np.all(errors["rank"] == 0) and np.all(errors["attempt"] == 1), f"errors {errors}")
            expect("failed attempts retried" in r.err or retried.sum() == 0, f"no retry count:\n{r.describe()}")
        expect(np.all(t["attempt"][~failing] == 1), "a task that cannot fail was run twice")


def case_max_failures(tools, args):
    sets = ["job.tasks=400", "job.duration=0.005", "job.mode=sleep", "job.fail_every=3", "run.max_failures=4",
            "schedule.chunk=1"]
    with e2e.Workdir("max-failures") as w:
        path = w("run.h5")
        r = e2e.run(tools, ["run", tools.config("spin.toml"), "--output", path] + sets_args(sets), np_=2, cwd=w.path)
        e2e.expect_clean(r)
        expect_eq(r.code, 1, f"exit code after run.max_failures\n{r.describe()}")
        expect("run.max_failures = 4 reached" in r.err, f"no message naming run.max_failures:\n{r.describe()}")
        d = e2e.read_file(path)
        expect_eq(e2e.attr_str(d["attrs"], "status"), "partial", "status")
        t = d["tasks"]
        failed = int(((t["attempt"] > 0) & (t["status"] == 1)).sum())
        expect(4 <= failed < 20, f"{failed} tasks failed; the run should stop soon after 4")
        expect(int((t["attempt"] > 0).sum()) < 300, "the run did not stop early")


def case_refusals(tools, args):
    sets = ["job.tasks=30", "job.duration=0.001"]
    with e2e.Workdir("refusals") as w:
        path = w("run.h5")
        journal = w("run.h5.journal")
        # A journal of an interrupted run is never overwritten by a new run.
        with open(journal, "wb") as f:
            f.write(b"FANOUT JOURNAL\n\0junk")
        r = e2e.run(tools, ["run", tools.config("spin.toml"), "--output", path] + sets_args(sets), np_=2, cwd=w.path,
                    refused=True)
        e2e.expect_code(r, 2)
        expect(f"{journal} holds the finished tasks of an interrupted run" in r.err and "--resume" in r.err,
               f"message:\n{r.describe()}")
        with open(journal, "rb") as f:
            expect_eq(f.read(), b"FANOUT JOURNAL\n\0junk", "the journal after a refused run")
        # A damaged journal: exit 3, named.
        r = e2e.run(tools, ["run", tools.config("spin.toml"), "--output", path, "--resume"] + sets_args(sets),
                    np_=2, cwd=w.path, refused=True)
        e2e.expect_code(r, 3)
        expect(journal in r.err, f"message does not name the journal:\n{r.describe()}")
        os.remove(journal)
        # --resume with nothing to resume starts afresh; then a complete file has nothing left.
        r = e2e.run_ok(tools, ["run", tools.config("spin.toml"), "--output", path, "--resume"] + sets_args(sets),
                       np_=2, cwd=w.path)
        expect("starting it from the beginning" in r.err, f"message:\n{r.describe()}")
        before = os.stat(path).st_mtime_ns
        r = e2e.run_ok(tools, ["resume", path], np_=2, cwd=w.path)
        expect("complete already" in r.err, f"message:\n{r.describe()}")
        expect_eq(os.stat(path).st_mtime_ns, before, "mtime of the complete file after resume")
        # Other job parameters: refused, naming the keys.
        with h5py.File(path, "r+") as f:
            f.attrs["status"] = "partial"
        r = e2e.run(tools, ["run", tools.config("spin.toml"), "--output", path, "--resume", "--set", "job.seed=9"] +
                    sets_args(sets), np_=2, cwd=w.path, refused=True)
        e2e.expect_code(r, 2)
        expect("job.seed (42 there, 9 now)" in r.err, f"message does not name job.seed:\n{r.describe()}")
        expect_eq(os.stat(path).st_mtime_ns, os.stat(path).st_mtime_ns, "file untouched")
        # status of nothing: exit 3.
        r = e2e.run(tools, ["status", w("nothing.h5")], cwd=w.path)
        e2e.expect_code(r, 3)
        expect("no such run file, and no checkpoint journal" in r.err, f"message:\n{r.describe()}")


def peak_rss(tools, argv, cwd):
    """Runs `fanout ARGV` alone (no mpirun): its exit code, stderr and peak
    resident memory in bytes (wait4's ru_maxrss of that very process)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([tools.fanout] + argv, cwd=cwd, env=e2e.mpi_env(), stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode(errors="replace")
    expect(proc.returncode >= 0 and "internal error" not in text, f"fanout {' '.join(argv)} crashed:\n{text}")
    return proc.returncode, text, usage.ru_maxrss * 1024


def large_sets(tasks):
    """Near-empty tasks with drawn durations (the results to compare); task
    0.99 x tasks - 1 fails, and run.max_failures = 1 stops the run there."""
    return [f"job.tasks={tasks}", "job.duration=1e-7", "job.distribution=uniform", "job.seed=5",
            f"job.fail_every={tasks * 99 // 100}", "run.max_failures=1", "checkpoint.interval=30"]


def case_large_journal(tools, args):
    sizes = (1_000_000, 3_000_000)
    with e2e.Workdir("large-journal") as w:
        journal_bytes, resume_rss, status_rss = {}, {}, {}
        for tasks in sizes:
            path = w(f"run{tasks}.h5")
            r = e2e.run(tools, ["run", tools.config("spin.toml"), "--output", path, "--progress", "never"] +
                        sets_args(large_sets(tasks)), cwd=w.path, timeout=120)
            e2e.expect_code(r, 1)
            expect("run.max_failures = 1 reached" in r.err, f"the run was not stopped:\n{r.describe()}")
            journal_bytes[tasks] = os.path.getsize(path + ".journal")
            code, err, status_rss[tasks] = peak_rss(tools, ["status", path], w.path)
            expect_eq(code, 0, f"status of {path}: exit code\n{err}")
            code, err, resume_rss[tasks] = peak_rss(tools, ["resume", path, "--set", "run.max_failures=0",
                                                            "--progress", "never"], w.path)
            expect_eq(code, 1, f"resume of {path} (one task fails for good): exit code\n{err}")
            expect(f"resuming {path} (session 2): " in err and f"of {tasks} tasks finished before" in err, err)
            if tasks != sizes[-1]:
                os.remove(path)
        small, big = sizes
        grown = journal_bytes[big] - journal_bytes[small]
        for what, rss in (("resume", resume_rss), ("status", status_rss)):
            ratio = (rss[big] - rss[small]) / grown
            print(f"{what}: peak RSS {rss[small] / 2**20:.0f} MiB with a {journal_bytes[small] / 2**20:.0f} MiB "
                  f"journal, {rss[big] / 2**20:.0f} MiB with {journal_bytes[big] / 2**20:.0f} MiB: grew by "
                  f"{ratio:.3f} of the journal's growth")
            # Reading it whole took at least the journal (3.5 times it, as fanout before this test had it).
            expect(ratio < 0.25, f"{what}: peak RSS grew by {ratio:.2f} x the journal's growth "
                   f"({rss[small]} -> {rss[big]} bytes for journals of {journal_bytes[small]} -> "
                   f"{journal_bytes[big]} bytes): it is not streamed")
        # The results: those of an uninterrupted run (the failing task fails there too).
        path, reference = w(f"run{big}.h5"), w("reference.h5")
        r = e2e.run(tools, ["run", tools.config("spin.toml"), "--output", reference, "--progress", "never"] +
                    sets_args(large_sets(big) + ["run.max_failures=0"]), cwd=w.path, timeout=120)
        e2e.expect_code(r, 1)
        with h5py.File(path, "r") as f, h5py.File(reference, "r") as g:
            expect_eq(e2e.attr_str(dict(f.attrs), "status"), "failed", f"{path}: status after resume")
            expect_eq(int(f.attrs["sessions"]), 2, f"{path}: sessions")
            t, u = f["tasks"][()], g["tasks"][()]
            expect(np.array_equal(f["results/duration"][()], g["results/duration"][()]),
                   "results of the resumed run vs an uninterrupted one")
            expect(np.array_equal(t["id"], np.arange(big)) and np.all(t["attempt"] == 1), "/tasks ids or attempts")
            expect(np.array_equal(t["status"], u["status"]), "task status of the resumed run vs an uninterrupted one")
            expect_eq(sorted(int(i) for i in f["errors"]["id"]), [big * 99 // 100 - 1], "/errors after resume")
            carried = int((t["session"] == 0).sum())
            expect(big * 0.9 < carried < big, f"{carried} of {big} tasks from the first session")
        expect(not os.path.exists(path + ".journal"), "journal left behind after the resumed run ended")


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    sys.exit(e2e.main(CASES))
