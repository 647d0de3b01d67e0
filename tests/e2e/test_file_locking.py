#!/usr/bin/env python3
"""fanout on a file system without file locks, and reading a file that
another process holds open (issue 15, "Cluster file systems").

HDF5 1.10 flocks every file it opens; on NFS, Lustre, DVS or ZFS mounts
without lock support flock fails (ENOLCK) and HDF5 refuses the file. No
NFS server can run here, so an LD_PRELOAD shim makes flock fail with
ENOLCK, as such a mount does. fanout opens its files without HDF5's locks
(its own temporary-name-and-rename and journal guard its output), so a run,
report, status, resume and the Python loader all work under the shim; with
HDF5_USE_FILE_LOCKING=TRUE (which HDF5 honours over fanout's setting) the
shim's ENOLCK reaches the user as one clear error, exit 3: that also proves
the shim bites.

Usage: test_file_locking.py --fanout BIN --mpiexec MPIEXEC --source-dir DIR [--np N] CASE
"""
import os
import subprocess
import sys
import time

import e2e
from e2e import expect, expect_eq

SHIM = r"""
#include <errno.h>
#include <sys/file.h>
/* A mount without lock support: every flock fails with ENOLCK. */
int flock(int fd, int operation) { (void)fd; (void)operation; errno = ENOLCK; return -1; }
"""


def build_shim(w):
    src = w.write("nolock.c", SHIM)
    lib = w("nolock.so")
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", lib, src], check=True)
    return lib


def case_no_locks(tools, args):
    np_ = args.np or 2
    with e2e.Workdir("nolock") as w:
        shim = {"LD_PRELOAD": build_shim(w)}
        out = w("run.h5")
        sets = ["job.tasks=40", "job.duration=0.001"]
        argv = ["run", tools.config("spin.toml"), "--output", out]
        for s in sets:
            argv += ["--set", s]
        r = e2e.run(tools, argv, np_=np_, cwd=w.path, env=shim)
        e2e.expect_code(r, 0)
        e2e.expect_clean(r)
        data = e2e.read_file(out)
        expect_eq(e2e.attr_str(data["attrs"], "status"), "complete", "status of the run written without locks")
        expect_eq(len(data["tasks"]), 40, "tasks in the file")
        for cmd in (["report", out], ["status", out], ["report", out, "--format", "json"]):
            r = e2e.run(tools, cmd, cwd=w.path, env=shim)
            e2e.expect_code(r, 0)
            e2e.expect_clean(r)
        # The Python loader, under the same shim.
        code = ("import sys; sys.path.insert(0, sys.argv[1]); import fanout_analysis as fa; "
                "r = fa.load(sys.argv[2]); print(len(r.tasks))")
        p = subprocess.run([sys.executable, "-c", code, os.path.join(tools.source_dir, "python"), out],
                           env={**os.environ, **shim}, capture_output=True, text=True, timeout=60)
        expect(p.returncode == 0 and p.stdout.strip() == "40",
               f"fanout_analysis.load under the no-lock shim: {p.returncode}\n{p.stdout}\n{p.stderr}")
        # HDF5_USE_FILE_LOCKING=TRUE is honoured: the locks are back, and on
        # this "mount" they fail: one clear fanout error, exit 3, no HDF5 stack.
        r = e2e.run(tools, ["report", out], cwd=w.path, env={**shim, "HDF5_USE_FILE_LOCKING": "TRUE"})
        e2e.expect_code(r, 3)
        e2e.expect_clean(r)
        errors = [line for line in r.err.splitlines() if line.strip()]
        expect(len(errors) == 1 and out in errors[0] and "lock" in errors[0].lower(),
               f"expected one error line naming the file and the lock\n{r.describe()}")


def case_held_open(tools, args):
    """report and status read a file that another process holds open for
    writing with HDF5's (default) locks."""
    with e2e.Workdir("heldopen") as w:
        out = w("run.h5")
        e2e.run_ok(tools, ["run", tools.config("spin.toml"), "--output", out, "--set", "job.tasks=10",
                           "--set", "job.duration=0"], np_=1, cwd=w.path)
        holder = subprocess.Popen([sys.executable, "-c",
                                   "import sys, h5py, time; f = h5py.File(sys.argv[1], 'r+'); "
                                   "print('open', flush=True); time.sleep(60)", out],
                                  stdout=subprocess.PIPE, text=True)
        try:
            expect_eq(holder.stdout.readline().strip(), "open", "the holding process opened the file")
            for cmd in (["report", out], ["status", out]):
                r = e2e.run(tools, cmd, cwd=w.path)
                e2e.expect_code(r, 0)
                expect("10" in r.out, f"{cmd[0]} of a file held open\n{r.describe()}")
        finally:
            holder.kill()
            holder.wait()


if __name__ == "__main__":
    sys.exit(e2e.main({"no_locks": case_no_locks, "held_open": case_held_open}))
