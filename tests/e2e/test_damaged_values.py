#!/usr/bin/python3
"""Well-formed files with numbers that cannot be right (issue #15: a flipped
bit in an id, a count, a header): each reader that would use the number as
an index or a size exits 3 with one message that starts with the file's
name and names the attribute or the dataset, row and field; no signal, no
traceback, nothing on stdout (tests/fuzz/fuzz_run_files.cpp bounds the
allocations). A FIFO at the journal's path is refused at once
instead of blocking. Table-driven over CASES: (file, damage, readers, words).

Cases:
  all        every case
"""
import os
import shutil
import struct
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

# Command lines of the readers, for a damaged FILE (GOOD: the good run file, OUT: a directory).
READERS = {
    "report": lambda bad, good, out: ["report", bad],
    "report --tasks": lambda bad, good, out: ["report", bad, "--tasks"],
    "compare": lambda bad, good, out: ["compare", good, bad],
    "predict": lambda bad, good, out: ["predict", bad, "--ranks", "2"],
    "plot": lambda bad, good, out: ["plot", bad, "--out", out],
    "status": lambda bad, good, out: ["status", bad],
    "resume": lambda bad, good, out: ["resume", bad],
}


def tasks_field(field, row, value):
    def damage(f):
        t = f["tasks"][()]
        t[field][row] = value
        f["tasks"][...] = t
    return damage


def ranks_field(field, row, value):
    def damage(f):
        r = f["ranks"][()]
        r[field][row] = value
        f["ranks"][...] = r
    return damage


def attr(name, value):
    return lambda f: f.attrs.__setitem__(name, value)


def partial(damage):
    """The damage, in a partial file (what resume reads the finished tasks of)."""
    def both(f):
        f.attrs["status"] = "partial"
        damage(f)
    return both


def resized(name, rows):
    def damage(f):
        values = f[name][()]
        del f[name]
        f[name] = np.resize(values, rows)
    return damage


# (file name, damage, readers, words the message must hold)
CASES = [
    ("id.h5", partial(tasks_field("id", 1, 1 << 40)), ["resume", "report", "report --tasks", "plot"],
     ["/tasks row 1", "id", "1099511627776"]),
    ("n-ranks.h5", attr("n_ranks", np.int64(1 << 31)), ["report", "compare", "plot"], ["n_ranks", "2147483648"]),
    ("task-count.h5", attr("task_count", np.int64(1 << 28)), ["report --tasks"], ["task_count", "268435456"]),
    ("sessions.h5", attr("sessions", np.int64(1 << 40)), ["status"], ["sessions"]),
    ("rank.h5", tasks_field("rank", 2, 1 << 30), ["report"], ["/tasks row 2", "rank", str(1 << 30)]),
    ("thread.h5", tasks_field("thread", 0, -5), ["compare"], ["/tasks row 0", "thread", "-5"]),
    ("status.h5", tasks_field("status", 3, 7), ["report --tasks"], ["/tasks row 3", "status", "7"]),
    ("t-end.h5", tasks_field("t_end", 1, np.nan), ["predict"], ["/tasks row 1", "t_end"]),
    ("results-rows.h5", resized("results/duration", 3), ["report"], ["/results/duration"]),
    ("ranks-rows.h5", resized("ranks", 1), ["report"], ["/ranks", "n_ranks"]),
    ("scheduler.h5", attr("scheduler", ""), ["predict"], ["scheduler", '""']),
    ("chunk.h5", attr("chunk", "0"), ["predict"], ["chunk", '"0"']),
    ("leader.h5", ranks_field("leader", 1, 1 << 20), ["report", "predict"], ["/ranks row 1", "leader", str(1 << 20)]),
    ("hierarchy.h5", attr("hierarchy", np.bytes_("sideways")), ["predict", "report"], ["hierarchy", '"sideways"']),
]


def journal_bytes(task_count, config):
    """A checkpoint journal's header (docs/file-format.md#the-checkpoint-journal), no blocks."""
    out = b"FANOUT JOURNAL\n\0" + struct.pack("<IQQQ", 1, task_count, 0, 1)
    for text in (b"spin", b"0" * 16, config.encode()):
        out += struct.pack("<Q", len(text)) + text
    return out


def check_refused(tools, w, argv, path, words, what):
    r = e2e.run(tools, argv, cwd=w.path, timeout=60)
    e2e.expect_code(r, 3)
    errors = [line for line in r.err.splitlines() if "error" in line.lower()]
    expect(len(errors) == 1, f"{what}: no single error line\n{r.describe()}")
    named = f"fanout: error: {path}: "
    expect(errors[0].startswith(named), f"{what}: the message does not start with {named!r}: {errors[0]}")
    for word in words:
        expect(word.lower() in errors[0].lower(), f"{what}: message lacks {word!r}: {errors[0]}")
    expect_eq(r.out, "", f"{what}: stdout")


def case_all(tools, args):
    with e2e.Workdir("damaged-values") as w:
        good = e2e.run_spin(tools, w, 2, "good.h5", ("job.tasks=4", "job.duration=0"))
        out = w.mkdir("out")
        failures = []
        for name, damage, readers, words in CASES:
            path = w(name)
            shutil.copy(good, path)
            with h5py.File(path, "a") as f:
                damage(f)
            for reader in readers:
                try:
                    check_refused(tools, w, READERS[reader](path, good, out), path, words, f"{reader} {name}")
                except e2e.Failure as e:
                    failures.append(str(e))
        # Journals: a header claiming 2^28 tasks of a config of 4; more than 10^10; a FIFO at the journal's path.
        with h5py.File(good, "r") as f:
            config = f.attrs["config"]
            config = config.decode() if isinstance(config, bytes) else config
        for name, count, words in [("count.h5", 1 << 28, ["268435456", "stored config makes 4"]),
                                   ("huge.h5", 10**10 + 1, ["10000000001", "at most 10^10"])]:
            journal = w(name + ".journal")
            with open(journal, "wb") as f:
                f.write(journal_bytes(count, config.replace("good.h5", name)))
            try:
                check_refused(tools, w, ["status", journal], journal, words, f"status {name}.journal")
            except e2e.Failure as e:
                failures.append(str(e))
        fifo = w("fifo.h5.journal")
        os.mkfifo(fifo)
        for argv in (["status", w("fifo.h5")], ["status", fifo], ["resume", fifo]):
            try:
                check_refused(tools, w, argv, fifo, ["not a regular file", "FIFO"], " ".join(argv[:1]) + " a FIFO")
            except e2e.Failure as e:
                failures.append(str(e))
        # The good file still reads.
        for reader in ("report", "report --tasks", "predict", "status"):
            e2e.run_ok(tools, READERS[reader](good, good, out), cwd=w.path)
        expect(not failures, f"{len(failures)} checks failed:\n" + "\n".join(failures))


if __name__ == "__main__":
    sys.exit(e2e.main({"all": case_all}))
