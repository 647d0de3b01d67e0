#!/usr/bin/python3
"""`fanout compare` end to end: a strong-scaling and policy table of real
runs, every figure (speedup, efficiency, Karp-Flatt, the Amdahl fit and the
predicted best worker count) checked against values computed here from the
raw datasets with h5py and numpy; runs that must not be compared are
refused with exit 2 and the differing keys named; bad files exit 3.

Cases:
  scaling  runs at 1 and 2 ranks, 2 ranks x 2 threads and another policy,
           given out of order: text and JSON (its documented shape)
  refuses  different jobs, configs differing beyond the study keys, one
           file, bad files, a config attribute that is not TOML
"""
import json
import math
import os
import re
import shutil
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

NUMBER = (int, float)
OPT_NUMBER = (int, float, type(None))
OPT_INT = (int, type(None))
SHAPE = {"job": str, "varied": list, "baseline": str, "runs": list, "amdahl": (dict, type(None)),
         "replay": (dict, type(None)), "note": str, "cpu_note": str}
REPLAY_SHAPE = {"ranks": int, "threads": int, "workers": int, "wall": NUMBER, "speedup": NUMBER, "fit_speedup": NUMBER}
RUN_SHAPE = {"file": str, "ranks": int, "threads_per_rank": int, "workers": int, "policy": str, "chunk": str,
             "order": str, "status": str, "tasks": int, "wall": NUMBER, "task_wall": NUMBER, "speedup": NUMBER,
             "efficiency": NUMBER, "karp_flatt": OPT_NUMBER, "cpus": OPT_INT, "oversubscribed": (bool, type(None))}
FIT_SHAPE = {"points": int, "intercept": NUMBER, "slope": NUMBER, "serial_fraction": NUMBER, "clamped": bool,
             "best_workers": OPT_INT, "best_ranks": OPT_INT}
SLEEP = ("job.tasks=24", "job.duration=0.01", "job.distribution=constant", "job.mode=sleep")


def check_shape(obj, shape, where):
    expect(isinstance(obj, dict), f"{where} is not an object: {obj!r}")
    expect_eq(sorted(obj), sorted(shape), f"{where}: fields")
    for field, kind in shape.items():
        value = obj[field]
        allows_bool = kind is bool or (isinstance(kind, tuple) and bool in kind)
        ok = isinstance(value, kind) and (allows_bool or not isinstance(value, bool))
        expect(ok, f"{where}.{field} = {value!r} is not {kind}")


def near(a, b, rel=2e-5, abs_=2e-6):
    return abs(float(a) - float(b)) <= abs_ + rel * abs(float(b))


def spin_run(tools, w, n, name, sets=()):
    path = w(name)
    argv = ["run", tools.config("spin.toml"), "--output", path]
    for s in SLEEP + tuple(sets):
        argv += ["--set", s]
    e2e.run_ok(tools, argv, np_=n, cwd=w.path)
    return path


def raw(path):
    with h5py.File(path, "r") as f:
        p = f["phases"][()]
        t = f["tasks"][()]
        return {"file": path, "ranks": int(f.attrs["n_ranks"]), "threads": int(f.attrs["threads_per_rank"]),
                "policy": e2e.text(f.attrs["scheduler"]), "wall": float(p["t_end"].max()),
                "task_wall": float((t["t_end"] - t["t_start"]).sum())}


def expected(paths):
    """The comparison, computed from the datasets: rows by workers, then ranks,
    then as given; baseline the fastest of the fewest workers; S = base wall x
    base workers / wall."""
    runs = [raw(p) for p in paths]
    for r in runs:
        r["workers"] = r["ranks"] * r["threads"]
    runs = sorted(runs, key=lambda r: (r["workers"], r["ranks"]))  # stable: ties stay as given
    base = min((r for r in runs if r["workers"] == runs[0]["workers"]), key=lambda r: r["wall"])
    for r in runs:
        r["speedup"] = base["wall"] * base["workers"] / r["wall"]
        r["efficiency"] = r["speedup"] / r["workers"]
        p = r["workers"]
        r["karp_flatt"] = (1 / r["speedup"] - 1 / p) / (1 - 1 / p) if p > 1 else None
    x = np.array([1 / r["workers"] for r in runs])
    y = np.array([1 / r["speedup"] for r in runs])
    fit = None
    if len(set(x)) > 1:
        slope, intercept = np.polyfit(x, y, 1)
        t1 = intercept + slope  # 1/S at p = 1
        f = intercept / t1 if t1 > 0 else (-1.0 if slope > 0 else 2.0)
        fc = min(1.0, max(0.0, f))
        best = None if fc == 0 else 1 if fc == 1 else math.floor(1 + 1 / fc + 1e-9)
        threads = {r["threads"] for r in runs}
        best_ranks = max(1, best // threads.pop()) if best is not None and len(threads) == 1 else None
        fit = {"intercept": intercept, "slope": slope, "serial_fraction": fc, "clamped": not 0 <= f <= 1,
               "best_workers": best, "best_ranks": best_ranks, "points": len(runs)}
    return runs, fit, base


def compare_json(tools, paths, cwd):
    out = e2e.run_ok(tools, ["compare", *paths, "--format", "json"], cwd=cwd).out
    try:
        return json.loads(out)
    except json.JSONDecodeError as e:
        raise e2e.Failure(f"compare --format json is not JSON: {e}\n{out}")


def check_comparison(tools, paths, cwd, varied, where):
    runs, fit, base = expected(paths)
    j = compare_json(tools, paths, cwd)
    check_shape(j, SHAPE, where)
    for i, r in enumerate(j["runs"]):
        check_shape(r, RUN_SHAPE, f"{where}.runs[{i}]")
    expect_eq(j["job"], "spin", f"{where}: job")
    expect_eq(j["varied"], varied, f"{where}: varied")
    expect_eq(j["baseline"], base["file"], f"{where}: baseline (the fastest of the fewest workers)")
    expect_eq([r["file"] for r in j["runs"]], [r["file"] for r in runs], f"{where}: row order")
    for got, want in zip(j["runs"], runs):
        expect_eq((got["ranks"], got["threads_per_rank"], got["workers"], got["policy"]),
                  (want["ranks"], want["threads"], want["workers"], want["policy"]), f"{where}: {want['file']}")
        for field in ("wall", "task_wall", "speedup", "efficiency"):
            expect(near(got[field], want[field]), f"{where}: {want['file']} {field} {got[field]} vs {want[field]}")
        if want["karp_flatt"] is None:
            expect_eq(got["karp_flatt"], None, f"{where}: {want['file']} Karp-Flatt at 1 worker")
        else:
            expect(near(got["karp_flatt"], want["karp_flatt"], abs_=1e-5),
                   f"{where}: {want['file']} Karp-Flatt {got['karp_flatt']} vs {want['karp_flatt']}")
    if fit is None:
        expect_eq(j["amdahl"], None, f"{where}: amdahl")
    else:
        check_shape(j["amdahl"], FIT_SHAPE, f"{where}.amdahl")
        a = j["amdahl"]
        for field in ("intercept", "slope", "serial_fraction"):
            expect(near(a[field], fit[field], rel=1e-4, abs_=1e-5), f"{where}: amdahl {field} {a[field]} vs {fit[field]}")
        expect_eq((a["points"], a["clamped"]), (fit["points"], fit["clamped"]), f"{where}: amdahl points, clamped")
        # The floor can differ from numpy's only when 1 + 1/f sits on a whole number.
        if fit["best_workers"] is not None and a["best_workers"] is not None:
            expect(abs(a["best_workers"] - fit["best_workers"]) <= (1 if abs(1 / fit["serial_fraction"] % 1) < 1e-4
                                                                    else 0),
                   f"{where}: best workers {a['best_workers']} vs {fit['best_workers']} (f {fit['serial_fraction']})")
        else:
            expect_eq(a["best_workers"], fit["best_workers"], f"{where}: best workers")
        expect_eq(a["best_ranks"] is None, fit["best_ranks"] is None, f"{where}: best ranks given")
        # The replay is fanout predict's, of the baseline, at the best worker count (else the most measured).
        check_shape(j["replay"], REPLAY_SHAPE, f"{where}.replay")
        rp = j["replay"]
        if a["best_workers"] is not None and a["best_workers"] > 1:
            expect_eq(rp["workers"], a["best_workers"] if a["best_ranks"] is None else a["best_ranks"] * rp["threads"],
                      f"{where}: replay workers")
        else:
            expect_eq((rp["ranks"], rp["threads"]), (runs[-1]["ranks"], runs[-1]["threads"]), f"{where}: replay at the most")
        extra = ["--threads", str(rp["threads"])] if rp["threads"] > 1 else []
        p = json.loads(e2e.run_ok(tools, ["predict", base["file"], "--ranks", str(rp["ranks"]), *extra, "--format",
                                          "json"], cwd=cwd).out)
        expect(near(rp["speedup"], p["speedup"]) and near(rp["wall"], p["wall"]),
               f"{where}: replay {rp} vs fanout predict {p}")
        f = a["serial_fraction"]
        expect(near(rp["fit_speedup"], 1 / (f + (1 - f) / rp["workers"]), rel=1e-4), f"{where}: fit_speedup {rp}")

    # Text: the same rows and figures.
    text = e2e.run_ok(tools, ["compare", *paths], cwd=cwd).out
    lines = text.splitlines()
    head = [i for i, line in enumerate(lines) if line.split()[:2] == ["file", "ranks"]]
    expect(len(head) == 1, f"{where}: no table header in\n{text}")
    expect_eq(lines[head[0]].split(), ["file", "ranks", "threads", "workers", "policy", "status", "wall", "s",
                                       "speedup", "efficiency", "Karp-Flatt"], f"{where}: table header")
    rows = [line.split() for line in lines[head[0] + 1: head[0] + 1 + len(runs)]]
    for row, want in zip(rows, runs):
        expect(want["file"].endswith(row[0].lstrip(".")), f"{where}: row file {row[0]} vs {want['file']}")
        expect_eq((int(row[1]), int(row[2]), int(row[3]), row[4]),
                  (want["ranks"], want["threads"], want["workers"], want["policy"]), f"{where}: text row {row}")
        expect(near(row[6], want["wall"], abs_=6e-4), f"{where}: text wall {row[6]} vs {want['wall']}")
        expect(near(row[7], want["speedup"], abs_=6e-3), f"{where}: text speedup {row[7]} vs {want['speedup']}")
        expect(near(row[8], want["efficiency"], abs_=6e-3), f"{where}: text efficiency {row[8]}")
        expect(row[9] == "-" if want["karp_flatt"] is None else near(row[9], want["karp_flatt"], abs_=6e-4),
               f"{where}: text Karp-Flatt {row[9]} vs {want['karp_flatt']}")
    if fit is not None:
        m = re.search(r"serial fraction (\d+\.\d+)", text)
        expect(m and near(m.group(1), fit["serial_fraction"], abs_=6e-5), f"{where}: serial fraction in\n{text}")
        expect("predicted best: " in text, f"{where}: no predicted best line in\n{text}")
        if j["amdahl"]["best_workers"] is not None:
            expect(f"predicted best: {j['amdahl']['best_workers']} worker" in text, f"{where}: best in text\n{text}")
        # The line wraps at 100 columns, maybe between the path and --ranks.
        expect(f"replay: fanout predict {j['baseline']} --ranks {j['replay']['ranks']}" in re.sub(r"\s+", " ", text),
               f"{where}: no replay line in\n{text}")
    return j


def case_scaling(tools, args):
    with e2e.Workdir("compare-scaling") as w:
        one = spin_run(tools, w, 1, "one.h5")
        two = spin_run(tools, w, 2, "two.h5")
        threads = spin_run(tools, w, 2, "two-by-two.h5", ("run.threads_per_rank=2",))
        cyclic = spin_run(tools, w, 1, "one-cyclic.h5", ("schedule.policy=static-cyclic",))
        # Out of order: rows come back by workers; among equals (one, cyclic) as given.
        j = check_comparison(tools, [threads, one, cyclic, two], w.path,
                             ["ranks", "run.threads_per_rank", "schedule.policy"], "4 runs")
        expect_eq([r["file"] for r in j["runs"]], [one, cyclic, two, threads], "row order")
        # Same threads everywhere: the best rank count is given.
        j = check_comparison(tools, [two, one], w.path, ["ranks"], "1 and 2 ranks")
        if j["amdahl"] and j["amdahl"]["best_workers"] is not None:
            expect_eq(j["amdahl"]["best_ranks"], j["amdahl"]["best_workers"], "best ranks at 1 thread per rank")
        # The fewest workers are 2: the baseline's speedup is taken as 2, its Karp-Flatt 0.
        j = check_comparison(tools, [threads, two], w.path, ["run.threads_per_rank"], "2 and 4 workers")
        expect(near(j["runs"][0]["speedup"], 2.0) and near(j["runs"][0]["karp_flatt"], 0.0, abs_=1e-9),
               f"baseline of 2 workers: speedup {j['runs'][0]['speedup']}, Karp-Flatt {j['runs'][0]['karp_flatt']}")
        # One worker count only: no fit, and the text says why.
        j = check_comparison(tools, [one, cyclic], w.path, ["schedule.policy"], "two policies")
        expect("two or more worker counts" in j["note"], f"no-fit note: {j['note']!r}")


def expect_refused(tools, paths, cwd, code, words, what):
    r = e2e.run(tools, ["compare", *paths], cwd=cwd)
    e2e.expect_code(r, code)
    expect_eq(r.out, "", f"{what}: stdout (no half a table)")
    errors = [line for line in r.err.splitlines() if line.startswith("fanout: error: ")]
    if code == 2 and not errors:
        errors = [r.err]  # a CLI11 usage error
    expect(len(errors) >= 1, f"{what}: no 'fanout: error:' line\n{r.describe()}")
    for word in words:
        expect(word in errors[0], f"{what}: the message lacks {word!r}: {errors[0]}")


def edit_config(src, dst, old, new):
    shutil.copy(src, dst)
    with h5py.File(dst, "a") as f:
        config = e2e.text(f.attrs["config"])
        expect(old in config, f"{old!r} not in the config of {src}:\n{config}")
        f.attrs["config"] = config.replace(old, new)


def case_refuses(tools, args):
    with e2e.Workdir("compare-refuses") as w:
        base = spin_run(tools, w, 1, "base.h5")
        primes = w("primes.h5")
        e2e.run_ok(tools, ["run", tools.config("primes.toml"), "--output", primes, "--set", "job.numbers=[2, 3, 5]"],
                   cwd=w.path)
        expect_refused(tools, [base, primes], w.path, 2, ["different jobs", base, primes, '"spin"', '"primes"'],
                       "spin and primes")
        other = w("other.h5")
        edit_config(base, other, "tasks = 24", "tasks = 25")
        edit_config(other, other + ".tmp", "duration = 0.01", "duration = 0.02")
        os.replace(other + ".tmp", other)
        expect_refused(tools, [base, other], w.path, 2,
                       ["differ beyond the keys a study varies", "job.duration (0.01 in", "job.tasks (24 in",
                        "25 in " + other], "other job parameters")
        retries = w("retries.h5")
        edit_config(base, retries, "retries = 0", "retries = 2")
        expect_refused(tools, [base, retries], w.path, 2, ["run.retries"], "another run.retries")
        # The study keys may differ.
        study = w("study.h5")
        edit_config(base, study, "policy = 'dynamic'", "policy = 'guided'")
        edit_config(study, study + ".tmp", "threads_per_rank = 1", "threads_per_rank = 3")
        os.replace(study + ".tmp", study)
        edit_config(study, study + ".tmp", "progress_interval = 30", "progress_interval = 5")
        os.replace(study + ".tmp", study)
        j = compare_json(tools, [base, study], w.path)
        expect_eq(j["varied"], ["run.progress_interval", "run.threads_per_rank", "schedule.policy"],
                  "varied keys of an accepted pair")
        # One file; no file; a bad format.
        expect_refused(tools, [base], w.path, 2, ["two or more"], "one file")
        expect_refused(tools, [], w.path, 2, [], "no file")
        expect_refused(tools, [base, base, "--format", "csv"], w.path, 2, [], "--format csv")
        # Bad files: exit 3 through the reader, the message names the file.
        text = w.write("text.h5", "not HDF5\n")
        foreign = w("foreign.h5")
        with h5py.File(foreign, "w") as f:
            f["x"] = np.arange(3)
        broken = w("broken.h5")
        shutil.copy(base, broken)
        with h5py.File(broken, "a") as f:
            f.attrs["config"] = "[job\nkind = "
        for path, words in ((w("missing.h5"), ["No such file"]), (text, ["not an HDF5 file"]),
                            (foreign, ["not a fanout run file"]), (broken, ["not valid TOML"])):
            expect_refused(tools, [base, path], w.path, 3, [f"fanout: error: {path}: "[len("fanout: error: "):]] + words,
                           os.path.basename(path))


if __name__ == "__main__":
    sys.exit(e2e.main({"scaling": case_scaling, "refuses": case_refuses}))
