#!/usr/bin/python3
"""`fanout report` end to end: the text and JSON summaries of a real run
agree with the file as h5py reads it; files that are not complete fanout
run files are refused with exit 3 and a clear message, never a crash.

Cases:
  report          (--np N) text and JSON reports of a run at N ranks
  bad_files       missing, non-HDF5, empty, truncated, foreign HDF5 files
  cpu_within_wall (--np N) the CPU times reported fit in the wall time
"""
import json
import os
import re
import shutil
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

CPU_LINE = re.compile(r"^CPU times: user (\d+\.\d+) s, sys (\d+\.\d+) s, total (\d+\.\d+) s / Wall time (\d+\.\d+) s\b")
JSON_FIELDS = {"wall": float, "cpu_user": float, "cpu_sys": float, "efficiency": float, "imbalance": float,
               "ranks": int}


def make_run(tools, w, n, name="run.h5", sets=("job.tasks=12", "job.duration=0.01", "job.distribution=constant")):
    return e2e.run_spin(tools, w, n, name, sets)


def close(a, b, tol):
    return abs(float(a) - float(b)) <= tol


def case_report(tools, args):
    n = args.np
    with e2e.Workdir(f"report-np{n}") as w:
        path = make_run(tools, w, n)
        data = e2e.check_run_file(path, n_ranks=n, job="spin", task_count=12, policy="dynamic")
        ranks, phases = data["ranks"], data["phases"]
        user, sys_ = float(ranks["cpu_user"].sum()), float(ranks["cpu_sys"].sum())
        wall = float(phases["t_end"].max())

        # Text.
        text = e2e.run_ok(tools, ["report", path], cwd=w.path).out
        lines = text.splitlines()
        cpu_lines = [m for m in map(CPU_LINE.match, lines) if m]
        expect(len(cpu_lines) == 1, f"no single 'CPU times: user X s, sys Y s, total Z s / Wall time W s' line in\n{text}")
        u, s, tot, wl = (float(x) for x in cpu_lines[0].groups())
        expect(close(tot, u + s, 0.011), f"total {tot} != user {u} + sys {s}")
        expect(close(u, user, 0.006) and close(s, sys_, 0.006),
               f"report CPU user {u} / sys {s} vs /ranks sums {user:.4f} / {sys_:.4f}")
        expect(close(wl, wall, 0.006), f"report wall {wl} vs the end of the last phase {wall:.4f}")
        expect(any(f"on {n} rank" in line for line in lines), f"the report does not say {n} ranks:\n{text}")
        expect(any(re.match(r"^status:\s+complete: 12 ok, 0 failed, 0 not run", line) for line in lines),
               f"no 'status: complete: 12 ok, 0 failed, 0 not run' line in\n{text}")
        header = [i for i, line in enumerate(lines) if re.match(r"^\s*rank\s+host\s+tasks\b", line)]
        expect(len(header) == 1, f"no per-rank table header (rank host tasks ...) in\n{text}")
        table = []
        for line in lines[header[0] + 1:]:
            if not line.strip():
                break
            table.append(line.split())
        expect_eq(len(table), n, f"rows of the per-rank table\n{text}")
        expect_eq([int(row[0]) for row in table], list(range(n)), "rank column of the per-rank table")
        expect_eq([int(row[2]) for row in table], [int(x) for x in ranks["tasks"]], "tasks column vs /ranks")
        expect_eq(sum(int(row[2]) for row in table), 12, "sum of the tasks column")
        for row, r in zip(table, ranks):
            expect(close(row[3], r["busy"], 0.0006), f"busy column {row[3]} vs /ranks busy {r['busy']}")

        # JSON.
        out = e2e.run_ok(tools, ["report", path, "--format", "json"], cwd=w.path).out
        try:
            j = json.loads(out)
        except json.JSONDecodeError as e:
            raise e2e.Failure(f"report --format json is not JSON: {e}\n{out}")
        for field, kind in JSON_FIELDS.items():
            expect(field in j, f"JSON report has no field {field}: {sorted(j)}")
            expect(isinstance(j[field], (int, float)) and not isinstance(j[field], bool),
                   f"JSON field {field} is not a number: {j[field]!r}")
            if kind is int:
                expect(isinstance(j[field], int), f"JSON field {field} is not an integer: {j[field]!r}")
        expect_eq(j["ranks"], n, "JSON ranks")
        expect(close(j["cpu_user"], user, 1e-4 + 1e-5 * user) and close(j["cpu_sys"], sys_, 1e-4 + 1e-5 * sys_),
               f"JSON cpu_user {j['cpu_user']} / cpu_sys {j['cpu_sys']} vs /ranks {user} / {sys_}")
        expect(close(j["wall"], wall, 1e-4 + 1e-5 * wall), f"JSON wall {j['wall']} vs last phase end {wall}")
        expect(0 < j["efficiency"] <= 1.0 + 1e-3, f"JSON efficiency {j['efficiency']} outside (0, 1]")
        expect(1 - 1e-6 <= j["imbalance"] <= n + 1e-6, f"JSON imbalance {j['imbalance']} outside [1, {n}]")
        busy = ranks["busy"]
        expect(close(j["imbalance"], busy.max() / busy.mean(), 1e-3),
               f"JSON imbalance {j['imbalance']} != max/mean busy {busy.max() / busy.mean()}")
        if "per_rank" in j:
            expect_eq(len(j["per_rank"]), n, "JSON per_rank entries")
        # Text and JSON tell the same story.
        expect(close(j["cpu_user"], u, 0.006) and close(j["wall"], wl, 0.006), "text and JSON reports disagree")


def write_bad_files(w, good):
    """name -> (path, words the message must contain)."""
    files = {}
    size = os.path.getsize(good)
    with open(good, "rb") as f:
        blob = f.read()

    def put(name, content, words):
        p = w(name)
        with open(p, "wb") as f:
            f.write(content)
        files[name] = (p, words)

    put("text.h5", b"this is not an HDF5 file\n", ["not an HDF5 file"])
    put("empty.h5", b"", ["not an HDF5 file"])
    put("cut-40.h5", blob[:40], ["truncated"])
    put("cut-3000.h5", blob[:3000], ["truncated"])
    put("cut-half.h5", blob[: size // 2], ["truncated"])
    put("cut-end.h5", blob[: size - 100], ["truncated"])
    p = w("plain.h5")
    with h5py.File(p, "w") as f:
        f["x"] = np.arange(3)
        f.attrs["title"] = "not a run"
    files["plain.h5"] = (p, ["not a fanout run file"])
    p = w("format-only.h5")
    with h5py.File(p, "w") as f:
        f.attrs["format"] = "fanout"
    files["format-only.h5"] = (p, [])
    p = w("format-int.h5")
    with h5py.File(p, "w") as f:
        f.attrs["format"] = np.int64(7)
    files["format-int.h5"] = (p, [])
    p = w("version-2.h5")
    shutil.copy(good, p)
    with h5py.File(p, "a") as f:
        f.attrs["format_version"] = np.array([2, 0], dtype=np.int64)
    files["version-2.h5"] = (p, ["newer"])
    p = w("no-tasks.h5")
    shutil.copy(good, p)
    with h5py.File(p, "a") as f:
        del f["tasks"]
    files["no-tasks.h5"] = (p, ["tasks"])
    p = w("text-results.h5")
    shutil.copy(good, p)
    with h5py.File(p, "a") as f:
        del f["results/duration"]
        # Fixed-length text columns are valid (format 1.2); variable-length strings are not.
        f["results/duration"] = np.array(["a", "b"], dtype=h5py.string_dtype())
    files["text-results.h5"] = (p, ["variable-length strings"])
    files["missing.h5"] = (w("missing.h5"), ["No such file"])
    files["a-directory"] = (w.mkdir("a-directory"), [])
    return files


def case_bad_files(tools, args):
    with e2e.Workdir("report-bad") as w:
        good = make_run(tools, w, 2, "good.h5", ("job.tasks=4", "job.duration=0"))
        e2e.run_ok(tools, ["report", good], cwd=w.path)
        failures = []  # every file is tried; all that is wrong is reported at once
        for name, (path, words) in write_bad_files(w, good).items():
            for fmt in ("text", "json"):
                try:
                    r = e2e.run(tools, ["report", path, "--format", fmt], cwd=w.path)
                    e2e.expect_code(r, 3)
                    errors = [line for line in r.err.splitlines() if line.startswith("fanout: error: ")]
                    expect(len(errors) == 1, f"report {name}: no single 'fanout: error:' line\n{r.describe()}")
                    expect(errors[0].startswith(f"fanout: error: {path}: "), f"report {name}: the message does not "
                           f"start with the file's name: {errors[0]}")
                    for word in words:
                        expect(word in errors[0], f"report {name}: message lacks {word!r}: {errors[0]}")
                    expect_eq(r.out, "", f"report {name} --format {fmt}: stdout (no half a report)")
                except e2e.Failure as e:
                    failures.append(str(e))
        expect_eq(e2e.run_ok(tools, ["report", good], cwd=w.path).code, 0, "report on the good file afterwards")
        expect(not failures, f"{len(failures)} bad-file checks failed:\n" + "\n".join(failures))


def case_cpu_within_wall(tools, args):
    """CPU and wall time in the report cover the same interval: the CPU time
    of all ranks together cannot exceed what the machine's cores could do in
    the wall time (plus 10 ms of rounding)."""
    n = args.np
    cores = os.cpu_count() or 1
    with e2e.Workdir(f"report-cpu-np{n}") as w:
        for name, sets in (("empty.h5", ("job.tasks=8", "job.duration=0")),
                           ("short.h5", ("job.tasks=8", "job.duration=0.005", "job.distribution=constant"))):
            path = make_run(tools, w, n, name, sets)
            j = json.loads(e2e.run_ok(tools, ["report", path, "--format", "json"], cwd=w.path).out)
            cpu = j["cpu_user"] + j["cpu_sys"]
            limit = min(cores, n * 2) * j["wall"] + 0.01
            expect(cpu <= limit, f"{name} at {n} ranks: the report's CPU total {cpu:.4f} s exceeds what {min(cores, n * 2)} "
                   f"cores can do in its wall time {j['wall']:.4f} s (limit {limit:.4f} s; "
                   f"'{j.get('cores_busy')} cores busy' on a {cores}-core machine): CPU time from before the run "
                   "(MPI start-up) is counted against the run's wall time")


if __name__ == "__main__":
    sys.exit(e2e.main({"report": case_report, "bad_files": case_bad_files, "cpu_within_wall": case_cpu_within_wall}))
