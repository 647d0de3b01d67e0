#!/usr/bin/python3
"""What a resume checks before it trusts an interrupted run, end to end:
real runs (under mpiexec, or alone) stopped by run.max_failures = 1 (a partial file and
its checkpoint journal), then edited or damaged like a user or a disk might,
then resumed.

Cases:
  edited_inputs    a command job's `file`, a sweep's CSV and a python job's
                   module, each recorded in the file's `inputs` attribute
                   (key, path, SHA-256), then edited after the run stopped:
                   resume refuses with exit 2 naming the file, its key and
                   that it changed since the run began, and touches nothing
                   (the command file: from the run file and journal, the
                   journal alone and the file alone; put back, it resumes)
  damaged_journal  a bit flipped in the journal's header: resume exits 3
                   naming the journal as damaged; a bit flipped in a block in
                   the middle: status and resume say it is damaged, how many
                   task records it held and how many intact blocks after it
                   were kept; the resume reruns that block's task only (the
                   tasks of the blocks after it keep session 0); a leftover
                   JOURNAL.new-PID of a dead process is removed
"""
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

STOP = "\n[run]\nmax_failures = 1\n\n[schedule]\nchunk = 1\n\n[checkpoint]\ninterval = 0.05\n"


def stopped_run(tools, w, config, output, np_=2):
    """Runs `config` (under mpiexec -n np_; None: alone) until its failing task stops it: a partial file and a
    journal. (mpiexec takes seconds to end when a rank exits 1.)"""
    r = e2e.run(tools, ["run", config, "--output", output, "--progress", "never"], np_=np_, cwd=w.path)
    e2e.expect_code(r, 1)
    expect("run.max_failures = 1 reached" in r.err, f"the run was not stopped by its failure:\n{r.describe()}")
    with h5py.File(output, "r") as f:
        expect_eq(e2e.attr_str(dict(f.attrs), "status"), "partial", f"{output}: status")
    expect(os.path.exists(output + ".journal"), f"{output}: no journal after a partial run")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def expect_refused(tools, w, output, changed, key, what):
    """`fanout resume OUTPUT` refuses (exit 2), naming `changed` and `key`, and writes nothing."""
    before = e2e.snapshot(w.path)
    r = e2e.run(tools, ["resume", output, "--progress", "never"], cwd=w.path)
    e2e.expect_code(r, 2)
    expect(changed in r.err and f"({key})" in r.err and "changed since the run began" in r.err and
           "--force" in r.err, f"{what}: the refusal does not name {changed} ({key}) as changed:\n{r.describe()}")
    expect_eq(e2e.snapshot_diff(before, e2e.snapshot(w.path)), [], f"{what}: files changed by a refused resume")


def inputs_of(output):
    """The `inputs` attribute of a run file: [key, path, sha256] rows."""
    with h5py.File(output, "r") as f:
        return [[v.decode() if isinstance(v, bytes) else str(v) for v in row] for row in f.attrs["inputs"]]


def edit_and_refuse(tools, w, output, input_path, key, edit):
    """The partial file records `input_path`; edited, resume refuses it. Returns its original bytes."""
    expect_eq(inputs_of(output), [[key, input_path, sha256(input_path)]], f"{key}: the inputs attribute")
    with open(input_path, "rb") as f:
        original = f.read()
    edit(input_path)
    expect_refused(tools, w, output, input_path, key, f"{key}, file and journal")
    return original


def case_edited_inputs(tools, args):
    with e2e.Workdir("edited-inputs") as w:
        # A command job's file, one line added: refused from the file and the
        # journal, the journal alone, the file alone; put back, resumed.
        commands = w.write("commands.txt", "".join("false\n" if i == 2 else "sleep 0.02\n" for i in range(30)))
        config = w.write("farm.toml", '[job]\nkind = "command"\nfile = "commands.txt"\n' + STOP)
        output = w("farm.h5")
        stopped_run(tools, w, config, output)
        original = edit_and_refuse(tools, w, output, commands, "job.file",
                                   lambda p: open(p, "a").write("sleep 0.02\n"))
        os.rename(output, output + ".away")
        expect_refused(tools, w, output, commands, "job.file", "journal alone")
        os.rename(output + ".away", output)
        os.rename(output + ".journal", output + ".journal.away")
        expect_refused(tools, w, output, commands, "job.file", "run file alone")
        os.rename(output + ".journal.away", output + ".journal")
        with open(commands, "wb") as f:
            f.write(original)
        r = e2e.run(tools, ["resume", output, "--progress", "never", "--set", "run.max_failures=0"], np_=2,
                    cwd=w.path)
        e2e.expect_code(r, 1)  # the failing task fails again
        expect(f"resuming {output} (session 2)" in r.err, f"not resumed:\n{r.describe()}")
        with h5py.File(output, "r") as f:
            expect_eq(e2e.attr_str(dict(f.attrs), "status"), "failed", "status after the resume")
            expect(np.all(f["tasks"]["attempt"][()] > 0), "tasks never run after the resume")
        expect_eq(inputs_of(output), [["job.file", commands, sha256(commands)]], "inputs after the resume")

        # A sweep's CSV: one value changed, the row count the same.
        points = w.write("points.csv", "x\n" + "".join(f"{i}\n" for i in range(30)))
        config = w.write("sweep.toml", '[job]\nkind = "command"\ncommand = "sleep 0.02; test {x} -ne 2"\n\n'
                                       '[sweep]\nfile = "points.csv"\n' + STOP)
        stopped_run(tools, w, config, w("sweep.h5"), np_=None)
        edit_and_refuse(tools, w, w("sweep.h5"), points, "sweep.file",
                        lambda p: open(p, "w").write("x\n" + "".join(f"{i + (i == 29)}\n" for i in range(30))))

        # A python job's module: a comment added.
        module = w.write("work.py", "import time\n\ndef task(task_id):\n    time.sleep(0.02)\n"
                                    "    if task_id == 2:\n        raise ValueError('two')\n    return task_id\n")
        config = w.write("py.toml", '[job]\nkind = "python"\nfunction = "work:task"\ntasks = 30\n\n'
                                    '[job.results]\nvalue = "int64"\n' + STOP)
        stopped_run(tools, w, config, w("py.h5"), np_=None)
        edit_and_refuse(tools, w, w("py.h5"), module, "job.function", lambda p: open(p, "a").write("# edited\n"))


def blocks_of(journal):
    """The journal's blocks (journal version 3): (offset, payload length, [(id, status)]) each."""
    with open(journal, "rb") as f:
        data = f.read()
    expect_eq(data[:16], b"FANOUT JOURNAL\n\0", "the journal's magic")
    version, _, header_length = struct.unpack_from("<IIQ", data, 16)
    expect_eq(version, 3, "journal version")
    blocks, at = [], 32 + header_length
    while at < len(data):
        magic, _, length = struct.unpack_from("<IIQ", data, at)
        expect_eq(magic, 0x4B4C424A, f"block magic at byte {at}")
        n_records = struct.unpack_from("<Q", data, at + 16 + 8)[0]
        records = [struct.unpack_from("<Q", data, at + 16 + 24 + 56 * i)[0] for i in range(n_records)]
        statuses = [data[at + 16 + 24 + 56 * i + 52] for i in range(n_records)]
        blocks.append((at, length, list(zip(records, statuses))))
        at += 16 + length
    return blocks, header_length


def flip(path, offset, bit=0):
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ (1 << bit)]))


def status_done(out):
    m = re.search(r"(\d+) done", out)
    expect(m is not None, f"no done count in:\n{out}")
    return int(m.group(1))


def case_damaged_journal(tools, args):
    sets = ["job.tasks=60", "job.duration=0.01", "job.mode=sleep", "job.fail_every=50", "run.max_failures=1",
            "checkpoint.interval=0.05", "schedule.chunk=1"]
    with e2e.Workdir("damaged-journal") as w:
        path, journal = w("run.h5"), w("run.h5.journal")
        argv = ["run", tools.config("spin.toml"), "--output", path, "--progress", "never"]
        for s in sets:
            argv += ["--set", s]
        r = e2e.run(tools, argv, np_=2, cwd=w.path)
        e2e.expect_code(r, 1)
        blocks, header_length = blocks_of(journal)
        expect(len(blocks) >= 5, f"only {len(blocks)} blocks in the journal: too few to damage one in the middle")

        # The header: a bit of the config text flipped. Exit 3, the journal named as damaged.
        w.mkdir("header")
        shutil.copy(path, w("header", "run.h5"))
        shutil.copy(journal, w("header", "run.h5.journal"))
        flip(w("header", "run.h5.journal"), 32 + header_length - 40, 3)
        r = e2e.run(tools, ["resume", w("header", "run.h5")], cwd=w.path)
        e2e.expect_code(r, 3)
        expect(w("header", "run.h5.journal") + ": the checkpoint journal's header is damaged" in r.err and
               "other job parameters" not in r.err, f"a damaged header is not named so:\n{r.describe()}")
        r = e2e.run(tools, ["status", w("header", "run.h5")], cwd=w.path)
        e2e.expect_code(r, 3)
        expect("header is damaged" in r.err, f"status of a damaged header:\n{r.describe()}")

        # A block in the middle, holding finished tasks no other block holds.
        def alone(i):
            elsewhere = {t for b in blocks if b is not blocks[i] for t, _ in b[2]}
            return blocks[i][2] and all(st == 0 and t not in elsewhere for t, st in blocks[i][2])
        middle = next((i for i in range(len(blocks) // 3, len(blocks) - 2) if alone(i)), None)
        expect(middle is not None, f"no block in the middle of the journal holds finished tasks of its own: {blocks}")
        at, length, records = blocks[middle]
        lost = [t for t, _ in records]
        after = blocks[middle + 1:]
        kept_after = sum(len(b[2]) for b in after)
        r = e2e.run_ok(tools, ["status", path], cwd=w.path)
        done_before = status_done(r.out)
        flip(journal, at + 16 + 24 + 20, 4)  # t_start of its record
        r = e2e.run_ok(tools, ["status", path], cwd=w.path)
        expect_eq(status_done(r.out), done_before - len(lost), "tasks done by status after the damage")
        said = (f"{journal} is damaged: a stretch of {16 + length} bytes at byte {at:,} fails its checks "
                f"(length and CRC-32) and is skipped, with {len(lost)} task record{'s' if len(lost) > 1 else ''} "
                f"by its own count; the {len(after)} intact block{'s' if len(after) > 1 else ''} after it "
                f"({kept_after} task record{'s' if kept_after > 1 else ''}) are kept")
        expect("damaged:" in r.out and said in r.out, f"status does not tell the damage ({said!r}):\n{r.describe()}")

        # A new journal of a resume killed before it was complete (a dead pid): removed.
        dead = subprocess.Popen(["true"])
        dead.wait()
        leftover = w.write(f"run.h5.journal.new-{dead.pid}", "FANOUT JOURNAL\n")
        r = e2e.run(tools, ["resume", path, "--progress", "never", "--set", "run.max_failures=0"], np_=2, cwd=w.path)
        e2e.expect_code(r, 1)  # the failing task fails again
        expect(said in r.err and "warning" in r.err, f"resume does not tell the damage:\n{r.describe()}")
        expect(not os.path.exists(leftover), f"{leftover} (of a dead pid) left behind")
        with h5py.File(path, "r") as f:
            t = f["tasks"][()]
        for tid in lost:
            expect_eq(int(t["session"][tid]), 1, f"session of task {tid}, whose block was damaged")
        for _, _, recs in after:
            for tid, st in recs:
                if st == 0:
                    expect_eq(int(t["session"][tid]), 0, f"session of task {tid}, in an intact block after the damage")
        expect(np.all(t["attempt"] > 0), "tasks never run after the resume")


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    sys.exit(e2e.main(CASES))
