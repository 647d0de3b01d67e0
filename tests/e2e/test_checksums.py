#!/usr/bin/python3
"""Format 1.6 protects what it stores: no variable-length strings anywhere
(their bytes live in HDF5's global heap, which has no checksum, and a damaged
one crashes libhdf5 1.10), and a Fletcher-32 checksum on every chunk of every
dataset. One flipped bit in a dataset's data is then exit 3 naming the file
and the dataset, for fanout (resume of a file without its journal included)
and for the second readers (h5py, h5dump). test_corrupt_files.py runs every
reading command on such files too.

Cases:
  damaged   (np 2) a failed spin run: layout checks, then one bit flipped in /results, /tasks or /error_messages
"""
import os
import shutil
import subprocess
import sys

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402


def flip_bit(path, dataset, at):
    """Flips one bit of byte `at` of the first chunk of `dataset` (as stored)."""
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(0)
        expect(at < info.size, f"{dataset}: byte {at} is beyond its first chunk ({info.size} bytes)")
        where = info.byte_offset + at
    with open(path, "r+b") as raw:
        raw.seek(where)
        byte = raw.read(1)[0]
        raw.seek(where)
        raw.write(bytes([byte ^ 0x01]))


def check_layout(path):
    """No variable-length string in any attribute or dataset; every dataset
    with data chunked with Fletcher-32."""
    problems = []

    def check_attrs(name, attrs):
        for key in attrs:
            dtype = attrs.get_id(key).dtype
            if h5py.check_string_dtype(dtype) is not None and h5py.check_string_dtype(dtype).length is None:
                problems.append(f"{name} attribute {key}: variable-length string")

    with h5py.File(path, "r") as f:
        check_attrs("/", f.attrs)

        def visit(name, obj):
            check_attrs("/" + name, obj.attrs)
            if isinstance(obj, h5py.Dataset):
                dtype = obj.dtype
                fields = [dtype[n] for n in dtype.names] if dtype.names else [dtype]
                if any(h5py.check_vlen_dtype(t) is not None or (h5py.check_string_dtype(t) is not None
                                                                 and h5py.check_string_dtype(t).length is None)
                       for t in fields):
                    problems.append(f"/{name}: variable-length data")
                if obj.size > 0 and not obj.fletcher32:
                    problems.append(f"/{name}: no Fletcher-32 checksum")
        f.visititems(visit)
        names = set(f)
    expect(not problems, f"{path}:\n" + "\n".join(problems))
    expect({"errors", "error_messages"} <= names, f"{path}: /errors and /error_messages expected, found {sorted(names)}")


def case_damaged(tools, args):
    with e2e.Workdir("checksums") as w:
        good = w("failed.h5")
        r = e2e.run(tools, ["run", tools.config("spin.toml"), "--output", good, "--set", "job.tasks=200", "--set",
                            "job.duration=0", "--set", "job.fail_every=50"], np_=args.np or 2, cwd=w.path)
        e2e.expect_code(r, 1)
        check_layout(good)
        with h5py.File(good, "r") as f:
            expect_eq(len(e2e.error_messages(f)), 4, "failed attempts in /errors")
        e2e.run_ok(tools, ["report", good], cwd=w.path)

        # (dataset, byte of its first chunk, the readers to try)
        cases = [("results/duration", 8 * 7 + 3, (["resume"], ["report"])),
                 ("tasks", 56 * 3 + 20, (["resume"], ["status"], ["predict", "--ranks", "2"])),
                 ("error_messages", 5, (["report"], ["report", "--format", "json"]))]
        for dataset, at, readers in cases:
            bad = w(f"bad-{dataset.replace('/', '-')}.h5")
            shutil.copy(good, bad)  # no journal beside it: resume reads /tasks and /results
            flip_bit(bad, dataset, at)
            before = e2e.fingerprint(bad)
            for reader in readers:
                r = e2e.run(tools, [reader[0], bad] + reader[1:], cwd=w.path)
                e2e.expect_code(r, 3)
                message = f"dataset /{dataset} is damaged (checksum mismatch)"
                expect(r.err.startswith(f"fanout: error: {bad}: ") and message in r.err,
                       f"{' '.join(reader)} on a flipped bit in /{dataset}: expected {message!r}\n{r.describe()}")
                expect_eq(r.out, "", f"{' '.join(reader)}: stdout")
            expect_eq(e2e.fingerprint(bad), before, f"{bad}: changed by the readers")
            expect(not os.path.exists(bad + ".journal"), f"{bad}: resume left a journal")
            # The second readers see it too.
            with h5py.File(bad, "r") as f:
                try:
                    f[dataset][()]
                    raise e2e.Failure(f"h5py read /{dataset} with a flipped bit without an error")
                except OSError as e:
                    expect("fletcher32" in str(e).lower(), f"h5py on /{dataset}: {e}")
            proc = subprocess.run([tools.h5dump, "-d", "/" + dataset, bad], capture_output=True, text=True, timeout=60)
            expect(proc.returncode != 0 and "unable to print data" in proc.stderr,
                   f"h5dump -d /{dataset}: exit {proc.returncode}, stderr {proc.stderr!r}")


if __name__ == "__main__":
    sys.exit(e2e.main({"damaged": case_damaged}))
