#!/usr/bin/python3
"""Corrupt run files given to every command that reads them: each exits 3
with one message that starts with the file's name, prints nothing on stdout
(no half a report), and never crashes (no signal, no traceback, no HDF5
error stack, no sanitizer report). Table-driven over READERS and BAD_FILES.

Cases:
  all        every reader on every bad file
"""
import os
import random
import shutil
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

# Every command that reads run files: name -> argv for one bad FILE (GOOD is
# a good run file, OUT a directory for output). A new reading command is one
# line here.
READERS = {
    "report": lambda bad, good, out: ["report", bad],
    "report --format json": lambda bad, good, out: ["report", bad, "--format", "json"],
    "compare": lambda bad, good, out: ["compare", good, bad],
    "predict": lambda bad, good, out: ["predict", bad, "--ranks", "2"],
    "plot": lambda bad, good, out: ["plot", bad, "--out", out],
    "status": lambda bad, good, out: ["status", bad],
    "resume": lambda bad, good, out: ["resume", bad],
    "run --costs": lambda bad, good, out: ["run", "--costs", bad, "-o", os.path.join(out, os.path.basename(bad)),
                                           "--set", "job.tasks=2", "--set", "job.duration=0", "CONFIG"],
}
# The exit code of each reader for a bad file: 3 (I/O error), except that a
# --costs file is input to a run, checked before it starts, like its config (2).
EXIT = {"run --costs": 2}
# What a reader may read without complaint, because it does not look there.
READS_FINE = {("plot", "text-results.h5"): "plot does not read /results",
              # A complete file leaves resume nothing to do: it reads the root attributes only
              # (status = "complete"), not /tasks and /results, which can be any size.
              ("resume", "no-tasks.h5"): "resume of a complete file reads its attributes only",
              ("resume", "text-results.h5"): "resume of a complete file reads its attributes only"}


def write_bad_files(w, good):
    """name -> (path, words the message must contain)."""
    files = {}
    size = os.path.getsize(good)
    with open(good, "rb") as f:
        blob = f.read()
    rng = random.Random(20261122)

    def put(name, content, words):
        p = w(name)
        with open(p, "wb") as f:
            f.write(content)
        files[name] = (p, words)

    def h5(name, words, make, base=None):
        p = w(name)
        if base:
            shutil.copy(base, p)
        with h5py.File(p, "a" if base else "w") as f:
            make(f)
        files[name] = (p, words)

    put("empty.h5", b"", ["not an HDF5 file"])
    put("text.h5", b"this is not an HDF5 file\n", ["not an HDF5 file"])
    for n in (100, 10000):
        put(f"random-{n}.h5", rng.randbytes(n), ["not an HDF5 file"])
    # The HDF5 signature, then garbage: it looks like HDF5 until it is opened.
    put("signature-then-random.h5", blob[:8] + rng.randbytes(4000), ["truncated or damaged"])
    for cut in (8, 40, 512, 3000, size // 2, size - 100, size - 1):
        put(f"cut-{cut}.h5", blob[:cut], ["truncated"])
    # Damaged metadata: 256 bytes of garbage over the superblock's neighbourhood
    # and the root group. (Garbage over raw data: see checksum-*.h5 below.)
    for at in (96, 800):
        put(f"damaged-at-{at}.h5", blob[:at] + rng.randbytes(256) + blob[at + 256:], [])
    h5("foreign.h5", ["not a fanout run file"], lambda f: (f.create_dataset("x", data=np.arange(3)),
                                                             f.attrs.__setitem__("title", "not a run")))
    h5("format-only.h5", [], lambda f: f.attrs.__setitem__("format", "fanout"))
    h5("format-int.h5", [], lambda f: f.attrs.__setitem__("format", np.int64(7)))
    h5("version-2.h5", ["format version 2"],
       lambda f: f.attrs.__setitem__("format_version", np.array([2, 0], dtype=np.int64)), base=good)
    h5("no-tasks.h5", ["tasks"], lambda f: f.__delitem__("tasks"), base=good)

    def text_results(f):
        del f["results/duration"]
        # Fixed-length text columns are valid (format 1.2); variable-length strings are not.
        f["results/duration"] = np.array(["a", "b", "c", "d"], dtype=h5py.string_dtype())  # one per task
    h5("text-results.h5", ["variable-length strings"], text_results, base=good)

    # One flipped bit in a dataset's data (format 1.6: Fletcher-32 checksums),
    # in a partial file so that resume reads /tasks and /results too.
    def flip(dataset):
        def make(f):
            f.attrs["status"] = "partial"
            info = f[dataset].id.get_chunk_info(0)
            f.flush()
            with open(f.filename, "r+b") as raw:
                raw.seek(info.byte_offset + 9)
                byte = raw.read(1)[0]
                raw.seek(info.byte_offset + 9)
                raw.write(bytes([byte ^ 0x20]))
        return make
    h5("checksum-tasks.h5", ["dataset /tasks is damaged (checksum mismatch)"], flip("tasks"), base=good)
    h5("checksum-results.h5", ["dataset /results/duration is damaged (checksum mismatch)"], flip("results/duration"),
       base=good)
    files["missing.h5"] = (w("missing.h5"), ["no such"])
    files["a-directory"] = (w.mkdir("a-directory"), ["not a regular file"])
    return files


def case_all(tools, args):
    with e2e.Workdir("corrupt-files") as w:
        good = e2e.run_spin(tools, w, 2, "good.h5", ("job.tasks=4", "job.duration=0"))
        out = w.mkdir("out")
        failures = []  # every pair is tried; all that is wrong is reported at once
        bad_files = write_bad_files(w, good)
        for reader, make_argv in READERS.items():
            code = EXIT.get(reader, 3)
            for name, (path, words) in bad_files.items():
                argv = [tools.config("spin.toml") if a == "CONFIG" else a for a in make_argv(path, good, out)]
                before = e2e.snapshot(w.path)
                try:
                    r = e2e.run(tools, argv, cwd=w.path)
                    if (reader, name) in READS_FINE:
                        e2e.expect_code(r, 0)
                        continue
                    e2e.expect_code(r, code)
                    errors = [line for line in r.err.splitlines() if "error" in line.lower()]
                    expect(len(errors) == 1, f"{reader} {name}: no single error line\n{r.describe()}")
                    named = f"fanout: error: {'--costs ' if reader == 'run --costs' else ''}{path}: "
                    expect(errors[0].startswith(named), f"{reader} {name}: the message does not start with "
                           f"{named!r}: {errors[0]}")
                    for word in words:
                        expect(word.lower() in errors[0].lower(), f"{reader} {name}: message lacks {word!r}: "
                               f"{errors[0]}")
                    expect_eq(r.out, "", f"{reader} {name}: stdout")
                    expect_eq(e2e.snapshot_diff(before, e2e.snapshot(w.path)), [], f"{reader} {name}: files touched")
                except e2e.Failure as e:
                    failures.append(str(e))
        # The good file still reads, with every reader.
        for reader, make_argv in READERS.items():
            if reader != "run --costs":
                e2e.run_ok(tools, [a for a in make_argv(good, good, out)], cwd=w.path)
        expect(not failures, f"{len(failures)} of {len(READERS) * len(bad_files)} bad-file checks failed:\n"
               + "\n".join(failures))


if __name__ == "__main__":
    sys.exit(e2e.main({"all": case_all}))
