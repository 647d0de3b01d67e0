#!/usr/bin/python3
"""When the run file cannot be written, and stop signals while it is written
(issue 15, "Never crash, never silently wrong").

Cases:
  disk_full     (--np N) the output on a small file system of its own: a
                tmpfs in a private mount namespace (unshare; the test fails,
                never skips, when it cannot make one), with a filler file
                leaving little room. (a) Room for the journal, not for the
                file: the final write fails. (b) Hardly room for the journal:
                it cannot grow during the run. Each time: exit 3, one
                `fanout: error:` line naming the output (or its journal)
                and the full disk, no HDF5 error stack, no crash; nothing at
                the output path and no temporary file left, only the
                journal, which `fanout status` reads; with the filler
                removed, `fanout resume` completes the file with results
                identical to an uninterrupted run. (c) No room at all: the
                run does not start (exit 3, one line) and leaves nothing.
  signal_during_write (--np N) a stop signal reaching rank 0 while it writes
                the file (raised by an LD_PRELOAD shim when rank 0 creates
                /ranks, the middle of the write): one signal lets the write
                finish (exit 0, a complete file, a note on stderr); a second
                one stops it (exit 4, nothing at the output path, the journal
                kept, and `fanout resume` writes the same file).
"""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

ROOT = os.geteuid() == 0
TASKS = 20000
# Tasks of about 0.1 us (empty) whose results (the planned durations) differ task by task.
SETS = [f"job.tasks={TASKS}", "job.duration=1e-7", "job.distribution=lognormal", "job.seed=7"]


def run_args(config, out, extra=()):
    argv = ["run", config, "--output", out, "--progress", "never"]
    for s in SETS + list(extra):
        argv += ["--set", s]
    return argv


def error_lines(result):
    return [line for line in result.err.splitlines() if "error:" in line.lower()]


def expect_same_results(path, reference, what):
    d, ref = e2e.read_file(path), e2e.read_file(reference)
    expect_eq(e2e.attr_str(d["attrs"], "status"), "complete", f"{what}: status")
    t = d["tasks"]
    expect(np.all(t["id"] == np.arange(TASKS)) and np.all(t["attempt"] > 0) and np.all(t["status"] == 0),
           f"{what}: not every task ran and succeeded once, in id order")
    expect_eq(e2e.results_bytes(d), e2e.results_bytes(ref), f"{what}: results against an uninterrupted run")


def expect_only_journal(directory, out, what, others=()):
    """Nothing at the output path, no temporary file: only the journal (and `others`)."""
    expect_eq(e2e.listing(directory), sorted([os.path.basename(out) + ".journal", *others]),
              f"{what}: files beside the output")


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(directory, leave):
    """A filler file that leaves `leave` bytes free in directory's file system."""
    path = os.path.join(directory, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.posix_fallocate(fd, 0, free_bytes(directory) - leave)
    finally:
        os.close(fd)
    return path


def case_disk_full(tools, args):
    """Runs disk_full_inside in a private mount namespace, where it may mount a tmpfs."""
    unshare = ["unshare", "-m"] if ROOT else ["unshare", "-rm"]
    argv = unshare + [sys.executable, "-B", os.path.abspath(__file__), "--fanout", tools.fanout,
                      "--mpiexec", tools.mpiexec, "--h5dump", tools.h5dump, "--factor", tools.factor,
                      "--source-dir", tools.source_dir, "--np", str(args.np or 2), "disk_full_inside"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=150)
    expect(proc.returncode == 0, f"in a private mount namespace ({' '.join(unshare)}; exit {proc.returncode}):\n"
                                 f"{proc.stdout}{proc.stderr}")
    print(proc.stdout.strip())


def case_disk_full_inside(tools, args):
    n = args.np
    config = tools.config("spin.toml")
    with e2e.Workdir("diskfull") as w:
        reference = w("reference.h5")
        e2e.run_ok(tools, run_args(config, reference), np_=n, cwd=w.path)
        fs = w.mkdir("fs")
        mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "fanout-full", fs],
                               capture_output=True, text=True)
        expect(mount.returncode == 0, f"cannot mount a tmpfs on {fs}: {mount.stderr}")
        journal_bytes = TASKS * (56 + 8)  # a record and a result per task (the file takes as much)
        out = os.path.join(fs, "out.h5")
        scenarios = [
            # (a) the journal fits, the file does not: the final write fails.
            ("final write", journal_bytes + journal_bytes // 3, [], out),
            # (b) a checkpoint every 1000 tasks, and room for fewer than 3000.
            ("journal", 192 << 10, ["checkpoint.tasks=1000"], None),
        ]
        for what, leave, extra, names in scenarios:
            filler = fill(fs, leave)
            r = e2e.run(tools, run_args(config, out, extra), np_=n, cwd=w.path)
            e2e.expect_code(r, 3)  # and no crash, no HDF5-DIAG stack
            lines = error_lines(r)
            expect(len(lines) == 1 and lines[0].startswith("fanout: error: no space left on device while writing "),
                   f"{what}: expected one error line on the full disk, got {lines}\n{r.describe()}")
            named = names or out + ".journal"  # the file that could not be written
            expect(f"while writing {named};" in lines[0] and f"fanout resume {out} " in lines[0],
                   f"{what}: the error line does not name {named} and the way on\n{r.describe()}")
            if names:
                expect(f"the {TASKS} finished tasks are kept in {out}.journal" in lines[0],
                       f"{what}: the error line does not say that the journal keeps every task\n{r.describe()}")
            expect_eq(r.out, "", f"{what}: stdout")
            expect_only_journal(fs, out, what, others=["filler"])
            st = e2e.run(tools, ["status", out], cwd=w.path)
            e2e.expect_code(st, 0)
            expect("interrupted" in st.out and "from:      " + out + ".journal" in st.out,
                   f"{what}: fanout status of the journal left\n{st.describe()}")
            # Space again: resume completes the file.
            os.remove(filler)
            rr = e2e.run(tools, ["resume", out, "--progress", "never"], np_=n, cwd=w.path, timeout=120)
            e2e.expect_code(rr, 0)
            expect("resuming" in rr.err, f"{what}: resume did not say what it resumed\n{rr.describe()}")
            expect_same_results(out, reference, f"{what}: resumed")
            expect_eq(e2e.listing(fs), ["out.h5"], f"{what}: files after the resume")
            os.remove(out)
        # (c) no room at all: the run does not start, and leaves nothing.
        fill(fs, 0)
        r = e2e.run(tools, run_args(config, out), np_=n, cwd=w.path)
        e2e.expect_code(r, 3)
        expect_eq(error_lines(r), [f"fanout: error: no space left on device while writing {out}; the run did not "
                                   "start, and nothing was changed"], "no room at all: the error lines")
        expect_eq(e2e.listing(fs), ["filler"], "no room at all: files left")


SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
typedef int64_t hid_t; /* as HDF5 1.10 and later define it */
/* Rank 0 creating /ranks is the middle of writing the run file: raise
   FANOUT_SHIM_SIGNALS SIGINTs there, once. */
hid_t H5Dcreate2(hid_t loc, const char* name, hid_t type, hid_t space, hid_t lcpl, hid_t dcpl, hid_t dapl) {
  static int done = 0;
  if (!done && strcmp(name, "ranks") == 0) {
    done = 1;
    for (int i = atoi(getenv("FANOUT_SHIM_SIGNALS")); i > 0; --i) raise(SIGINT);
  }
  hid_t (*real)(hid_t, const char*, hid_t, hid_t, hid_t, hid_t, hid_t) =
      (hid_t (*)(hid_t, const char*, hid_t, hid_t, hid_t, hid_t, hid_t))dlsym(RTLD_NEXT, "H5Dcreate2");
  return real(loc, name, type, space, lcpl, dcpl, dapl);
}
"""


def build_shim(w):
    src = w.write("sigint_at_ranks.c", SHIM)
    lib = w("sigint_at_ranks.so")
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", lib, src, "-ldl"], check=True)
    return lib


def case_signal_during_write(tools, args):
    n = args.np
    config = tools.config("spin.toml")
    with e2e.Workdir("sigwrite") as w:
        shim = build_shim(w)
        reference = w("reference.h5")
        e2e.run_ok(tools, run_args(config, reference), np_=n, cwd=w.path)
        out_dir = w.mkdir("out")
        out = os.path.join(out_dir, "out.h5")

        # One signal: the write goes on; the file is complete, the exit code the run's.
        r = e2e.run(tools, run_args(config, out), np_=n, cwd=w.path,
                    env={"LD_PRELOAD": shim, "FANOUT_SHIM_SIGNALS": "1"})
        e2e.expect_code(r, 0)
        expect(f"fanout: SIGINT while writing {out}: finishing the file first (a second signal stops it, keeping "
               f"the finished tasks in {out}.journal)" in r.err and f"fanout: wrote {out}: " in r.err,
               f"one signal during the write: no note, or no file\n{r.describe()}")
        expect_same_results(out, reference, "one signal during the write")
        expect_eq(e2e.listing(out_dir), ["out.h5"], "files after one signal during the write")
        os.remove(out)

        # Two signals: the write stops; nothing at the output path, the journal kept.
        r = e2e.run(tools, run_args(config, out), np_=n, cwd=w.path,
                    env={"LD_PRELOAD": shim, "FANOUT_SHIM_SIGNALS": "2"})
        e2e.expect_code(r, 4)
        expect(f"fanout: SIGINT: stopped writing {out}; it was not written, and the {TASKS} finished tasks are kept "
               f"in {out}.journal: fanout resume {out} writes it" in r.err,
               f"two signals during the write: no message saying what is kept\n{r.describe()}")
        expect_eq(error_lines(r), [], "error lines after two signals during the write")
        expect_only_journal(out_dir, out, "two signals during the write")
        rr = e2e.run(tools, ["resume", out, "--progress", "never"], np_=n, cwd=w.path)
        e2e.expect_code(rr, 0)
        expect(f"{TASKS} of {TASKS} tasks finished before" in rr.err,
               f"resume after two signals: not every task came from the journal\n{rr.describe()}")
        expect_same_results(out, reference, "resumed after two signals during the write")
        expect_eq(e2e.listing(out_dir), ["out.h5"], "files after the resume")


if __name__ == "__main__":
    sys.exit(e2e.main({"disk_full": case_disk_full, "disk_full_inside": case_disk_full_inside,
                       "signal_during_write": case_signal_during_write}))
