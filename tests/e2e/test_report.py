#!/usr/bin/python3
"""`fanout report` end to end: the text and JSON summaries of a real run
agree with the file as h5py reads it. (Files that are not complete fanout
run files: test_corrupt_files.py.)

Cases:
  report          (--np N) text and JSON reports of a run at N ranks
  cpu_within_wall (--np N) the CPU times reported fit in the wall time
  answers         primes, monte_carlo_pi, prime_count: the job's answer and the
                  result summary (text, JSON, --results csv) against h5py
  tasks_export    --tasks as CSV and JSON, row by row against h5py: a sweep of
                  the command job (params with commas and quotes, a failed
                  task), mandelbrot's array column, a task never run
  resumed_wall    an interrupted and resumed run: wall = the sum of the
                  sessions' walls, efficiency over both sessions
"""
import csv
import io
import json
import signal
import subprocess
import time
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import h5py  # noqa: E402
import math  # noqa: E402
import numpy as np  # noqa: E402
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


def report_json(tools, path, *extra):
    out = e2e.run_ok(tools, ["report", path, "--format", "json", *extra]).out
    try:
        return json.loads(out)
    except json.JSONDecodeError as e:
        raise e2e.Failure(f"report {extra} --format json is not JSON: {e}\n{out}")


def ok_rows(path):
    with h5py.File(path, "r") as f:
        t = f["tasks"][()]
        return (t["attempt"] > 0) & (t["status"] == 0)


def case_answers(tools, args):
    with e2e.Workdir("report-answers") as w:
        # primes: which numbers are prime, against coreutils factor.
        numbers = [2, 9, 97, 1000003, 4294967297, 9007199254740997]  # the last above 2^53
        path = w("primes.h5")
        e2e.run_ok(tools, ["run", tools.config("primes.toml"), "--output", path, "--set",
                           "job.numbers=[" + ",".join(map(str, numbers)) + "]"], np_=2, cwd=w.path, timeout=120)
        oracle = e2e.factor_oracle(tools, numbers)
        want = [n for n in numbers if oracle[n]]
        with h5py.File(path, "r") as f:
            from_file = [int(n) for n, p in zip(f["results/number"][()], f["results/is_prime"][()]) if p]
        expect_eq(from_file, want, "primes in the file vs factor")
        j = report_json(tools, path)
        a = j["answer"]
        expect_eq(a["primes"], len(want), "answer.primes")
        expect_eq(a["tested"], len(numbers), "answer.tested")
        expect_eq(a["prime_numbers"], want, "answer.prime_numbers (exact, above 2^53 too)")
        text = e2e.run_ok(tools, ["report", path]).out
        expect(f"answer:    {len(want)} of {len(numbers)} numbers are prime" in text, f"answer line:\n{text}")
        expect("primes: " + ", ".join(map(str, want)) in text, f"primes line:\n{text}")
        # The result summary, over the ok tasks, against numpy.
        with h5py.File(path, "r") as f:
            col = {c: f["results"][c][()].astype(float) for c in ("number", "is_prime")}
        rows = {r["column"]: r for r in csv.DictReader(io.StringIO(
            e2e.run_ok(tools, ["report", path, "--results", "--format", "csv"]).out))}
        expect_eq(sorted(rows), ["is_prime", "number"], "--results csv columns")
        for name, values in col.items():
            for stat, fn in (("min", np.min), ("mean", np.mean), ("max", np.max)):
                got = float(rows[name][stat])
                expect(abs(got - fn(values)) <= 1e-9 * abs(fn(values)), f"{name} {stat}: {got} vs {fn(values)}")
            js = next(c for c in j["results"] if c["name"] == name)
            expect(abs(js["mean"] - values.mean()) <= 1e-5 * abs(values.mean()), f"JSON {name} mean {js['mean']}")
        r = report_json(tools, path, "--results")
        expect_eq(r["answer"], a, "--results answer vs the report's")

        # monte_carlo_pi: 4 x inside / points, and the job's own root attributes agree.
        path = w("pi.h5")
        e2e.run_ok(tools, ["run", tools.config("monte_carlo_pi.toml"), "--output", path, "--set", "job.tasks=6",
                           "--set", "job.samples=20000"], np_=2, cwd=w.path)
        with h5py.File(path, "r") as f:
            inside = int(f["results/inside"][()].astype(np.uint64).sum())
            pi_attr, se_attr = float(f.attrs["pi"]), float(f.attrs["pi_stderr"])
        n = 6 * 20000
        p = inside / n
        a = report_json(tools, path)["answer"]
        expect(abs(a["pi"] - 4 * p) < 1e-12 and abs(a["pi"] - pi_attr) < 1e-12, f"pi {a['pi']} vs {4 * p}, {pi_attr}")
        expect(abs(a["pi_stderr"] - 4 * math.sqrt(p * (1 - p) / n)) < 1e-12 and abs(a["pi_stderr"] - se_attr) < 1e-12,
               f"pi_stderr {a['pi_stderr']}")
        expect_eq((a["inside"], a["samples"]), (inside, n), "inside, samples")

        # prime_count: the sum of the blocks, and the count by a sieve here.
        path = w("count.h5")
        e2e.run_ok(tools, ["run", tools.config("prime_count.toml"), "--output", path, "--set", "job.start=1000",
                           "--set", "job.stop=200000", "--set", "job.block=30000"], np_=2, cwd=w.path)
        sieve = np.ones(200000, dtype=bool)
        sieve[:2] = False
        for k in range(2, 448):
            if sieve[k]:
                sieve[k * k::k] = False
        want = int(sieve[1000:].sum())
        a = report_json(tools, path)["answer"]
        expect_eq((a["total"], a["start"], a["stop"], a["complete"]), (want, 1000, 200000, True), "prime_count answer")
        text = e2e.run_ok(tools, ["report", path]).out
        expect(f"answer:    {want} primes in [1000, 200000)" in text, f"prime_count answer line:\n{text}")


SWEEP = """
[job]
kind = "command"
command = "test {x} != 3 && printf 'y=%s\\nlabel=%s\\n' {x} {s} > $FANOUT_RESULT"
[job.results]
y = "float64"
label = "text[16]"
[params]
x = [1, 3, 0.25]
s = ["a,b", 'q"t']
[output]
path = "sweep.h5"
"""

TIMING = ["status", "rank", "thread", "start", "end", "cpu_user", "cpu_sys", "attempt", "session"]
STATUS = {0: "ok", 1: "failed", 2: "timed_out"}


def expected_rows(path):
    """The export computed from the file with h5py: one dict per task."""
    with h5py.File(path, "r") as f:
        t = f["tasks"][()]
        params = {}
        if "params" in f:
            names = f["params"].attrs["names"]
            names = names.decode() if isinstance(names, bytes) else names
            params = {n: f["params"][n][()] for n in names.split(",")}
        results = {n: f["results"][n][()] for n in sorted(f["results"])}
    rows = []
    for i, task in enumerate(t):
        ran = task["attempt"] > 0
        def value(v):
            if isinstance(v, np.ndarray):
                return [value(x) for x in v]
            if isinstance(v, bytes):
                return v.decode()
            if isinstance(v, (np.bool_, bool)):
                return bool(v)
            return v.item() if hasattr(v, "item") else v
        rows.append({"id": i, "params": {n: value(v[i]) for n, v in params.items()},
                     "results": {n: value(v[i]) if ran else None for n, v in results.items()},
                     "status": STATUS[int(task["status"])] if ran else "not_run",
                     "rank": int(task["rank"]) if ran else None, "thread": int(task["thread"]) if ran else None,
                     "start": float(task["t_start"]) if ran else None, "end": float(task["t_end"]) if ran else None,
                     "cpu_user": float(task["cpu_user"]) if ran else None,
                     "cpu_sys": float(task["cpu_sys"]) if ran else None, "attempt": int(task["attempt"]),
                     "session": int(task["session"]) if ran else None})
    return rows


def csv_text(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ";".join(csv_text(x) for x in v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


def check_export(tools, path):
    want = expected_rows(path)
    got = json.loads(e2e.run_ok(tools, ["report", path, "--tasks", "--format", "json"]).out)
    expect_eq(len(got), len(want), f"{path}: JSON rows")
    for g, x in zip(got, want):
        expect_eq(g, x, f"{path}: JSON row {x['id']}")
    out = e2e.run_ok(tools, ["report", path, "--tasks", "--format", "csv"]).out
    expect_eq(e2e.run_ok(tools, ["report", path, "--tasks"]).out, out, "--tasks without --format is the CSV")
    rows = list(csv.reader(io.StringIO(out)))
    header = rows[0]
    names = ["id"] + list(want[0]["params"]) + list(want[0]["results"]) + TIMING
    fixed = set(TIMING) | {"id"}
    flat = ["id"] + [("param_" + n if n in fixed else n) for n in want[0]["params"]] + \
        [("result_" + n if n in fixed or n in want[0]["params"] else n) for n in want[0]["results"]] + TIMING
    expect_eq(header, flat, f"{path}: CSV header")
    expect_eq(len(rows) - 1, len(want), f"{path}: CSV rows")
    for row, x in zip(rows[1:], want):
        cells = [x["id"]] + list(x["params"].values()) + list(x["results"].values()) + [x[k] for k in TIMING]
        for name, cell, value in zip(names, row, cells):
            if isinstance(value, float):
                expect(float(cell) == value, f"{path}: task {x['id']} {name}: {cell} vs {value!r}")
            else:
                expect_eq(cell, csv_text(value), f"{path}: task {x['id']} {name}")
    return want


def case_tasks_export(tools, args):
    with e2e.Workdir("report-tasks") as w:
        config = w("sweep.toml")
        with open(config, "w") as f:
            f.write(SWEEP)
        r = e2e.run(tools, ["run", config], np_=2, cwd=w.path)
        e2e.expect_code(r, 1)  # the tasks with x = 3 fail
        rows = check_export(tools, w("sweep.h5"))
        expect_eq(sorted({r["status"] for r in rows}), ["failed", "ok"], "statuses of the sweep")
        expect(any("," in str(r["params"]["s"]) for r in rows), "a parameter with a comma was exported")
        # An array column (mandelbrot's iterations, 5 per row), with ids at 2 ranks.
        path = w("m.h5")
        e2e.run_ok(tools, ["run", tools.config("mandelbrot.toml"), "--output", path, "--set", "job.width=5",
                           "--set", "job.height=4", "--set", "job.max_iter=50"], np_=2, cwd=w.path)
        rows = check_export(tools, path)
        expect(all(len(r["results"]["iterations"]) == 5 for r in rows), "array cells of 5 values")
        # A task never run: no results, no timings (a row of the file zeroed as in a partial file).
        with h5py.File(path, "r+") as f:
            t = f["tasks"][()]
            t[1] = np.zeros((), dtype=t.dtype)
            f["tasks"][1] = t[1]
        rows = check_export(tools, path)
        expect_eq((rows[1]["status"], rows[1]["results"]["iterations"]), ("not_run", None), "a task never run")
        r = e2e.run(tools, ["report", path, "--tasks", "--by", "x"])
        e2e.expect_code(r, 2)


def interrupted_and_resumed(tools, w, name, sets):
    """A spin run at 2 ranks stopped by SIGUSR1 to mpirun (partial), then resumed at 1 rank."""
    path = w(name)
    argv = [tools.mpiexec, "-n", "2", "--oversubscribe", tools.fanout, "run", tools.config("spin.toml"),
            "--output", path, "--progress", "never"]
    for s in sets:
        argv += ["--set", s]
    proc = subprocess.Popen(argv, cwd=w.path, env=e2e.mpi_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        r = e2e.run(tools, ["status", path])
        if r.code == 0 and " done (" in r.out and int(r.out.split(" done (")[0].split()[-1]) >= 10:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        raise e2e.Failure(f"the run ended before it could be interrupted: {proc.communicate()}")
    os.kill(proc.pid, signal.SIGUSR1)
    try:
        proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise e2e.Failure("the run did not stop after SIGUSR1")
    e2e.run_ok(tools, ["resume", path, "--progress", "never"], np_=1, cwd=w.path, timeout=120)
    return path


def session_walls(path):
    """Per session: its wall (the last from /phases, an earlier one to its last task's end) and workers."""
    with h5py.File(path, "r") as f:
        t = f["tasks"][()]
        end = float(f["phases"][()]["t_end"].max())
        last = int(f.attrs["sessions"]) - 1
        workers_last = int(f.attrs["n_ranks"]) * int(f.attrs["threads_per_rank"])
    out = []
    for s in range(last + 1):
        mine = t[(t["session"] == s) & (t["attempt"] > 0)]
        if s == last:
            out.append((end, workers_last))
        else:
            out.append((float(mine["t_end"].max()), int((mine["rank"].max() + 1) * (mine["thread"].max() + 1))))
    return out, float((t["t_end"] - t["t_start"]).sum())


def case_resumed_wall(tools, args):
    with e2e.Workdir("report-resumed") as w:
        sets = ["job.tasks=80", "job.duration=0.04", "job.distribution=constant", "job.mode=sleep",
                "checkpoint.interval=0.1"]
        path = interrupted_and_resumed(tools, w, "resumed.h5", sets)
        walls, task_wall = session_walls(path)
        expect_eq(len(walls), 2, "sessions")
        expect_eq(walls[0][1], 2, "workers of the first session")
        j = report_json(tools, path)
        total = sum(wall for wall, _ in walls)
        expect(close(j["wall"], total, 1e-4 + 1e-5 * total), f"JSON wall {j['wall']} vs the sessions' {walls}")
        expect(close(j["last_session_wall"], walls[1][0], 1e-4), f"last_session_wall {j['last_session_wall']}")
        expect_eq([s["workers"] for s in j["sessions"]], [2, 1], "JSON sessions workers")
        offered = sum(wall * workers for wall, workers in walls)
        expect(close(j["efficiency"], task_wall / offered, 1e-4), f"efficiency {j['efficiency']} vs {task_wall / offered}")
        lost = j["lost"]
        parts = sum(lost[k] for k in ("startup", "idle_tail", "idle_other", "collect", "write", "earlier_sessions"))
        expect(close(parts, lost["total"], 1e-4), f"lost parts {parts} vs total {lost['total']}")
        expect(close(lost["earlier_sessions"], walls[0][0] * walls[0][1] - j["sessions"][0]["task_wall"], 1e-4),
               f"lost.earlier_sessions {lost['earlier_sessions']}")
        text = e2e.run_ok(tools, ["report", path]).out
        expect("sessions:  2 (the file was resumed)" in text, f"no sessions line:\n{text}")
        # compare takes the same wall.
        other = e2e.run_spin(tools, w, 2, "plain.h5", sets)
        c = json.loads(e2e.run_ok(tools, ["compare", path, other, "--format", "json"]).out)
        row = next(r for r in c["runs"] if r["file"] == path)
        expect(close(row["wall"], total, 1e-4 + 1e-5 * total), f"compare wall {row['wall']} vs {total}")


if __name__ == "__main__":
    sys.exit(e2e.main({"report": case_report, "cpu_within_wall": case_cpu_within_wall, "answers": case_answers,
                       "tasks_export": case_tasks_export, "resumed_wall": case_resumed_wall}))
