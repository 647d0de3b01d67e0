#!/usr/bin/python3
"""`fanout report` analysis end to end: the run, host list, kind of work and
its advice, where the lost core-seconds went, the slowest tasks, failures,
and the JSON and CSV forms, every figure checked against values computed
here from the raw datasets (h5py), never from fanout's own reader.

Cases:
  analysis  (--np N) a run of 2 threads per rank: text, JSON (its documented
            shape, field by field) and CSV against /tasks, /ranks, /phases
  kinds     copies of one run with task CPU times rewritten: CPU-bound,
            mixed, I/O-bound and too-short work, each with its advice
  failures  a copy with failed tasks and /errors rows: status, the failures
            in text and JSON (messages escaped), at most 10 listed
"""
import csv
import io
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
# The documented shape of `fanout report --format json` (docs/report.md): every field and its type.
SHAPE = {
    "file": str, "job": str, "status": str, "sweep": (str, type(None)), "ranks": int, "threads_per_rank": int, "workers": int,
    "policy": str, "chunk": str, "order": str, "hosts": list, "tasks": int, "ok": int, "failed": int,
    "not_run": int, "wall": NUMBER, "compute": NUMBER, "cpu_user": NUMBER, "cpu_sys": NUMBER,
    "cpu_total": NUMBER, "cores_busy": NUMBER, "task_wall": NUMBER, "task_cpu": NUMBER, "cpu_per_wall": NUMBER,
    "kind": str, "advice": str, "suggested_threads_per_rank": (int, type(None)), "imbalance": NUMBER,
    "busiest_rank": int, "efficiency": NUMBER, "phases": list, "lost": dict, "slowest": list, "failures": list,
    "per_rank": list, "sessions": list, "last_session_wall": NUMBER, "answer": (dict, type(None)), "results": list,
    "cpus": (int, type(None)), "oversubscribed": (bool, type(None)), "cpu_note": str,
    "hierarchy": str, "dispatcher_messages": (int, type(None)), "dispatcher_messages_per_1000_tasks": (*NUMBER, type(None)),
    "dispatcher_seconds_per_message": (*NUMBER, type(None)),
}
HOST_SHAPE = {"host": str, "ranks": int}
PHASE_SHAPE = {"name": str, "t_start": NUMBER, "t_end": NUMBER}
LOST_SHAPE = {"total": NUMBER, "startup": NUMBER, "idle_tail": NUMBER, "idle_other": NUMBER, "collect": NUMBER,
              "write": NUMBER, "earlier_sessions": NUMBER}
SLOW_SHAPE = {"id": int, "rank": int, "thread": int, "seconds": NUMBER, "cpu": NUMBER}
FAILURE_SHAPE = {"id": int, "message": str}
RANK_SHAPE = {"rank": int, "host": str, "pid": int, "threads": int, "tasks": int, "busy": NUMBER, "idle": NUMBER,
              "comm": NUMBER, "cpu_user": NUMBER, "cpu_sys": NUMBER, "max_rss_mib": NUMBER, "idle_tail": NUMBER}
CSV_HEADER = "rank,host,pid,threads,tasks,busy,idle,comm,cpu_user,cpu_sys,max_rss_mib,idle_tail"
LOST_LINES = [("startup", "startup (setup + distribute)"),
              ("idle_tail", "idle tail (last task end to compute end)"),
              ("idle_other", "other idle during compute (dispatch waits)"),
              ("collect", "collect"), ("write", "writing")]


def check_shape(obj, shape, where):
    expect(isinstance(obj, dict), f"{where} is not an object: {obj!r}")
    expect_eq(sorted(obj), sorted(shape), f"{where}: fields")
    for field, kind in shape.items():
        value = obj[field]
        allows_bool = kind is bool or (isinstance(kind, tuple) and bool in kind)
        expect(isinstance(value, kind) and (allows_bool or not isinstance(value, bool)),
               f"{where}.{field} = {value!r} is not {kind}")


def near(a, b, rel=2e-5, abs_=2e-6):
    return abs(float(a) - float(b)) <= abs_ + rel * abs(float(b))


def report_json(tools, path, cwd):
    out = e2e.run_ok(tools, ["report", path, "--format", "json"], cwd=cwd).out
    try:
        return json.loads(out)
    except json.JSONDecodeError as e:
        raise e2e.Failure(f"report --format json is not JSON: {e}\n{out}")


def expected_figures(path):
    """The report's figures, computed from the raw datasets."""
    with h5py.File(path, "r") as f:
        t = f["tasks"][()]
        r = f["ranks"][()]
        p = f["phases"][()]
        ranks, threads = int(f.attrs["n_ranks"]), int(f.attrs["threads_per_rank"])
        hierarchy = e2e.text(f.attrs.get("hierarchy", b"flat"))
    phase = {n.decode(): (float(s), float(e)) for n, s, e in zip(p["name"], p["t_start"], p["t_end"])}
    ran = t[t["attempt"] > 0]
    seconds = ran["t_end"] - ran["t_start"]
    workers = ranks * threads
    wall = max(e for _, e in phase.values())
    cs, ce = phase["compute"]
    collect_end = phase["collect"][1]
    task_wall = float(seconds.sum())
    task_cpu = float((ran["cpu_user"] + ran["cpu_sys"]).sum())
    tail_of_rank = {k: 0.0 for k in range(ranks)}
    for k in range(ranks):
        for th in range(threads):
            mine = ran[(ran["rank"] == k) & (ran["thread"] == th)]
            last = float(mine["t_end"].max()) if len(mine) else cs  # no task: idle all through compute
            tail_of_rank[k] += ce - last
    tail = sum(tail_of_rank.values())
    lost = {"total": workers * wall - task_wall, "startup": workers * cs, "idle_tail": tail,
            "idle_other": workers * (ce - cs) - task_wall - tail, "collect": workers * (collect_end - ce),
            "write": workers * (wall - collect_end), "earlier_sessions": 0.0}
    order = sorted(range(len(ran)), key=lambda i: (-seconds[i], int(ran["id"][i])))[:5]
    slowest = [(int(ran["id"][i]), int(ran["rank"][i]), int(ran["thread"][i]), float(seconds[i])) for i in order]
    hosts = []
    for row in r:
        h = row["host"].decode()
        if hosts and any(name == h for name, _ in hosts):
            hosts = [(name, c + (name == h)) for name, c in hosts]
        else:
            hosts.append((h, 1))
    busy = r["busy"]
    return {"workers": workers, "wall": wall, "task_wall": task_wall, "task_cpu": task_cpu,
            "cpu_per_wall": task_cpu / task_wall if task_wall > 0 else 0.0, "lost": lost, "slowest": slowest,
            "hosts": hosts, "tail_of_rank": tail_of_rank, "ranks_rows": r, "ran": len(ran),
            "imbalance": float(busy.max() / busy.mean()), "busiest": int(r["rank"][int(np.argmax(busy))]),
            "efficiency": task_wall / (workers * wall), "hierarchy": hierarchy}


def expected_kind(cpu_per_wall, task_wall, ran):
    if ran == 0 or task_wall / ran < 20e-6:
        return "too short to classify"
    return "CPU-bound" if cpu_per_wall >= 0.8 else "I/O-bound" if cpu_per_wall <= 0.3 else "mixed"


def check_advice(j, where):
    kind, advice, cpw = j["kind"], j["advice"], j["cpu_per_wall"]
    workers = f"this run had {j['workers']} worker"
    expect(workers in advice, f"{where}: the advice does not state the run's workers ({workers!r}): {advice}")
    if kind == "CPU-bound":
        for words in ("one worker per core", "mpirun -n", "run.threads_per_rank"):
            expect(words in advice, f"{where}: CPU-bound advice lacks {words!r}: {advice}")
        expect_eq(j["suggested_threads_per_rank"], None, f"{where}: suggested threads for CPU-bound work")
    elif kind in ("I/O-bound", "mixed"):
        threads = min(64, max(2, math.floor(1 / cpw))) if cpw > 0 else 64
        if j["oversubscribed"] and "the work may be CPU-bound" in advice:  # crowded workers: measure again first
            expect_eq(j["suggested_threads_per_rank"], None, f"{where}: suggested threads with crowded workers")
            return
        if j["threads_per_rank"] >= threads:  # never what the run did already
            expect_eq(j["suggested_threads_per_rank"], None, f"{where}: suggested threads at {threads} threads")
            expect("threads per rank already" in advice and "threads_per_rank=" not in advice,
                   f"{where}: advice at {j['threads_per_rank']} threads per rank: {advice}")
            return
        expect_eq(j["suggested_threads_per_rank"], threads, f"{where}: suggested threads per rank at CPU/wall {cpw}")
        expect(f"--set run.threads_per_rank={threads}" in advice,
               f"{where}: {kind} advice does not suggest run.threads_per_rank={threads}: {advice}")
        if kind == "I/O-bound":
            expect("threads serve waiting work" in advice and "rather than adding ranks" in advice,
                   f"{where}: I/O-bound advice does not recommend threads over ranks: {advice}")
    else:
        expect("too short" in advice, f"{where}: advice for too-short tasks: {advice}")
        expect_eq(j["suggested_threads_per_rank"], None, f"{where}: suggested threads for too-short tasks")


def check_json(j, path, where):
    e = expected_figures(path)
    check_shape(j, SHAPE, where)
    for i, h in enumerate(j["hosts"]):
        check_shape(h, HOST_SHAPE, f"{where}.hosts[{i}]")
    for i, p in enumerate(j["phases"]):
        check_shape(p, PHASE_SHAPE, f"{where}.phases[{i}]")
    check_shape(j["lost"], LOST_SHAPE, f"{where}.lost")
    for i, s in enumerate(j["slowest"]):
        check_shape(s, SLOW_SHAPE, f"{where}.slowest[{i}]")
    for i, s in enumerate(j["failures"]):
        check_shape(s, FAILURE_SHAPE, f"{where}.failures[{i}]")
    for i, r in enumerate(j["per_rank"]):
        check_shape(r, RANK_SHAPE, f"{where}.per_rank[{i}]")

    expect_eq(j["workers"], e["workers"], f"{where}: workers")
    expect_eq(j["workers"], j["ranks"] * j["threads_per_rank"], f"{where}: workers = ranks x threads")
    expect_eq([(h["host"], h["ranks"]) for h in j["hosts"]], e["hosts"], f"{where}: hosts")
    expect_eq([p["name"] for p in j["phases"]], e2e.PHASES, f"{where}: phase names")
    for field in ("wall", "task_wall", "task_cpu", "cpu_per_wall", "imbalance", "efficiency"):
        expect(near(j[field], e[field]), f"{where}: {field} {j[field]} vs {e[field]} from the datasets")
    expect_eq(j["busiest_rank"], e["busiest"], f"{where}: busiest rank")
    expect_eq(j["kind"], expected_kind(e["cpu_per_wall"], e["task_wall"], e["ran"]), f"{where}: kind")

    lost = j["lost"]
    for field, value in e["lost"].items():
        expect(near(lost[field], value, abs_=1e-5), f"{where}: lost.{field} {lost[field]} vs {value:.7f} computed "
               "from /tasks and /phases")
        expect(lost[field] >= -1e-5, f"{where}: lost.{field} is negative: {lost[field]}")
    parts = sum(lost[k] for k in LOST_SHAPE if k != "total")
    expect(near(parts, lost["total"], abs_=5e-5), f"{where}: the lost parts add up to {parts}, not {lost['total']}")
    expect(near(lost["total"], j["workers"] * j["wall"] - j["task_wall"], abs_=5e-5),
           f"{where}: lost.total != workers x wall - task_wall")

    expect_eq([(s["id"], s["rank"], s["thread"]) for s in j["slowest"]], [s[:3] for s in e["slowest"]],
              f"{where}: slowest tasks (id, rank, thread)")
    for s, (_, _, _, seconds) in zip(j["slowest"], e["slowest"]):
        expect(near(s["seconds"], seconds), f"{where}: slowest task {s['id']}: {s['seconds']} s vs {seconds}")
    # The dispatcher's load: rank 0's messages, when it received any (format 1.7).
    expect_eq(j["hierarchy"], e["hierarchy"], f"{where}: hierarchy")
    messages = int(e["ranks_rows"]["messages_in"][0])
    if messages == 0:
        expect_eq([j[k] for k in ("dispatcher_messages", "dispatcher_messages_per_1000_tasks",
                                  "dispatcher_seconds_per_message")], [None] * 3, f"{where}: dispatcher not recorded")
    else:
        expect_eq(j["dispatcher_messages"], messages, f"{where}: dispatcher_messages")
        expect(near(j["dispatcher_messages_per_1000_tasks"], 1000 * messages / e["ran"]),
               f"{where}: dispatcher_messages_per_1000_tasks {j['dispatcher_messages_per_1000_tasks']}")
        rank0 = e["ranks_rows"][0]
        serve = float(rank0["serve"]) if "serve" in rank0.dtype.names else 0.0
        expect(near(j["dispatcher_seconds_per_message"], (serve if serve > 0 else float(rank0["comm"])) / messages),
               f"{where}: dispatcher_seconds_per_message {j['dispatcher_seconds_per_message']}")
    for r, row in zip(j["per_rank"], e["ranks_rows"]):
        expect_eq((r["rank"], r["pid"], r["threads"], r["tasks"]),
                  (int(row["rank"]), int(row["pid"]), int(row["threads"]), int(row["tasks"])), f"{where}: per_rank ids")
        expect(near(r["idle_tail"], e["tail_of_rank"][r["rank"]], abs_=1e-5),
               f"{where}: rank {r['rank']} idle_tail {r['idle_tail']} vs {e['tail_of_rank'][r['rank']]}")
        expect(near(r["busy"], row["busy"]), f"{where}: rank {r['rank']} busy")
    check_advice(j, where)
    return e


def check_text(text, j, e, where):
    lines = text.splitlines()
    dispatcher = [line for line in lines if line.startswith("dispatcher load: ")]
    if j["dispatcher_messages"] is None:
        expect_eq(dispatcher, [], f"{where}: a dispatcher line for a run that does not record it")
    else:
        m = [re.match(r"^dispatcher load: rank 0 received (\d+\.\d) messages per 1,000 tasks \((\d+) for (\d+) "
                      r"tasks, (\d+\.\d) us of serving time each\), hierarchy (\S+)$", line) for line in dispatcher]
        expect(len(m) == 1 and m[0], f"{where}: no single 'dispatcher load: ...' line in\n{text}")
        per_1000, messages, tasks, us, hierarchy = m[0].groups()
        expect_eq((int(messages), int(tasks), hierarchy), (j["dispatcher_messages"], e["ran"], j["hierarchy"]),
                  f"{where}: dispatcher line")
        expect(near(per_1000, j["dispatcher_messages_per_1000_tasks"], abs_=0.051)
               and near(us, 1e6 * j["dispatcher_seconds_per_message"], abs_=0.051), f"{where}: {dispatcher[0]}")
    hosts = ", ".join(f"{h} ({c} rank{'s' if c != 1 else ''})" for h, c in e["hosts"])
    expect(f"hosts:     {hosts}" in lines, f"{where}: no 'hosts:     {hosts}' line in\n{text}")
    kind = [line for line in lines if line.startswith("tasks: ")]
    expect(len(kind) == 1 and f": {j['kind']} (CPU/wall" in kind[0], f"{where}: the tasks line does not say {j['kind']}")
    start = [i for i, line in enumerate(lines) if line.startswith("advice:    ")]
    expect(len(start) == 1, f"{where}: no single 'advice:' line in\n{text}")
    advice = lines[start[0]][len("advice:"):].strip()
    for line in lines[start[0] + 1:]:
        if not line.startswith(" " * 11):
            break
        advice += " " + line.strip()
    expect_eq(advice, j["advice"], f"{where}: advice in text vs JSON")

    m = [re.match(r"^lost core-seconds: (\d+\.\d+) s \((\d+) workers? x (\d+\.\d+) s wall - (\d+\.\d+) s of tasks\)",
                  line) for line in lines]
    m = [x for x in m if x]
    expect(len(m) == 1, f"{where}: no single 'lost core-seconds: ...' line in\n{text}")
    total, workers, wall, tasks = m[0].groups()
    expect(near(total, j["lost"]["total"], abs_=6e-4), f"{where}: text lost total {total} vs {j['lost']['total']}")
    expect_eq(int(workers), e["workers"], f"{where}: workers in the lost line")
    expect(near(wall, e["wall"], abs_=6e-4) and near(tasks, e["task_wall"], abs_=6e-4),
           f"{where}: wall {wall} / task time {tasks} in the lost line")
    shown = 0.0
    for field, label in LOST_LINES:
        row = [line for line in lines if line.startswith(f"  {label} ")]
        expect(len(row) == 1, f"{where}: no single line for '{label}' in\n{text}")
        value = float(re.search(r"(-?\d+\.\d+) s\b", row[0]).group(1))
        expect(near(value, e["lost"][field], abs_=6e-4), f"{where}: text {label} {value} vs {e['lost'][field]}")
        shown += value
    expect(near(shown, float(total), abs_=3e-3), f"{where}: the lost lines add up to {shown}, not {total}")

    head = [i for i, line in enumerate(lines) if line.startswith("slowest tasks (")]
    expect(len(head) == 1, f"{where}: no 'slowest tasks' section in\n{text}")
    expect_eq(lines[head[0]], f"slowest tasks ({len(e['slowest'])} of {e['ran']}):", f"{where}: slowest heading")
    expect(lines[head[0] + 1].split() == ["id", "rank", "thread", "seconds", "cpu", "s"],
           f"{where}: slowest table header: {lines[head[0] + 1]!r}")
    rows = [line.split() for line in lines[head[0] + 2: head[0] + 2 + len(e["slowest"])]]
    expect_eq([(int(r[0]), int(r[1]), int(r[2])) for r in rows], [s[:3] for s in e["slowest"]],
              f"{where}: slowest rows (id, rank, thread)")
    for r, s in zip(rows, e["slowest"]):
        expect(near(r[3], s[3], abs_=6e-5), f"{where}: slowest task {r[0]}: {r[3]} s vs {s[3]}")
    m = [re.match(r"^load imbalance \(max/mean busy\): (\d+\.\d+)", line) for line in lines]
    m = [x for x in m if x]
    expect(len(m) == 1 and near(m[0].group(1), e["imbalance"], abs_=0.006), f"{where}: imbalance line")
    m = [re.match(r"^parallel efficiency: (\d+\.\d+) \(", line) for line in lines]
    m = [x for x in m if x]
    expect(len(m) == 1 and near(m[0].group(1), e["efficiency"], abs_=0.006), f"{where}: efficiency line")


def check_csv(out, e, where):
    expect_eq(out.splitlines()[0], CSV_HEADER, f"{where}: CSV header")
    rows = list(csv.DictReader(io.StringIO(out)))
    ranks = e["ranks_rows"]
    expect_eq(len(rows), len(ranks), f"{where}: CSV rows (one per rank)")
    for row, r in zip(rows, ranks):
        expect_eq((int(row["rank"]), row["host"], int(row["pid"]), int(row["threads"]), int(row["tasks"])),
                  (int(r["rank"]), r["host"].decode(), int(r["pid"]), int(r["threads"]), int(r["tasks"])),
                  f"{where}: CSV ids of rank {row['rank']}")
        for field in ("busy", "idle", "comm", "cpu_user", "cpu_sys"):
            expect(near(row[field], r[field], abs_=1e-6), f"{where}: CSV {field} of rank {row['rank']}: "
                   f"{row[field]} vs {r[field]}")
        expect(near(row["max_rss_mib"], r["max_rss"] / 2**20, abs_=6e-4), f"{where}: CSV max_rss_mib")
        expect(near(row["idle_tail"], e["tail_of_rank"][int(row["rank"])], abs_=1e-5), f"{where}: CSV idle_tail")


def spin_run(tools, w, n, name, sets):
    return e2e.run_spin(tools, w, n, name, sets)


def case_analysis(tools, args):
    n = args.np
    with e2e.Workdir(f"analysis-np{n}") as w:
        # Sleeping tasks, so the test does not depend on free cores; 2 threads per rank.
        path = spin_run(tools, w, n, "run.h5", ("job.tasks=30", "job.duration=0.01", "job.mode=sleep",
                                                "run.threads_per_rank=2"))
        e2e.check_run_file(path, n_ranks=n, job="spin", task_count=30, policy="dynamic", threads=2)
        j = report_json(tools, path, w.path)
        e = check_json(j, path, "report json")
        expect_eq(j["kind"], "I/O-bound", "kind of sleeping tasks")
        check_text(e2e.run_ok(tools, ["report", path], cwd=w.path).out, j, e, "report text")
        check_csv(e2e.run_ok(tools, ["report", path, "--format", "csv"], cwd=w.path).out, e, "report csv")
        # Rank 0's messages as a run of leaders records them (whatever this runner recorded).
        led = w("led.h5")
        shutil.copy(path, led)
        with h5py.File(led, "a") as f:
            r = f["ranks"][()]
            r["messages_in"][0], r["comm"][0], r["serve"][0] = 45, 0.0012, 0.0009
            f["ranks"][...] = r
            f.attrs["hierarchy"] = np.bytes_("node")
        j = report_json(tools, led, w.path)
        e = check_json(j, led, "report json, 45 messages")
        expect_eq((j["dispatcher_messages"], j["dispatcher_messages_per_1000_tasks"], j["hierarchy"]), (45, 1500, "node"),
                  "dispatcher load of 45 messages for 30 tasks")
        check_text(e2e.run_ok(tools, ["report", led], cwd=w.path).out, j, e, "report text, 45 messages")
        r = e2e.run(tools, ["report", path, "--format", "xml"], cwd=w.path)
        e2e.expect_code(r, 2)


def rewrite_tasks(src, dst, change):
    shutil.copy(src, dst)
    with h5py.File(dst, "a") as f:
        t = f["tasks"][()]
        change(t)
        f["tasks"][...] = t


def case_kinds(tools, args):
    with e2e.Workdir("analysis-kinds") as w:
        base = spin_run(tools, w, 2, "base.h5", ("job.tasks=16", "job.duration=0.005", "job.mode=sleep"))

        def cpu_share(share):
            def change(t):
                t["cpu_user"] = share * (t["t_end"] - t["t_start"])
                t["cpu_sys"] = 0
            return change

        def too_short(t):
            t["t_end"] = t["t_start"] + 5e-6
        cases = {"cpu.h5": (cpu_share(0.97), "CPU-bound"), "mixed.h5": (cpu_share(0.45), "mixed"),
                 "wait.h5": (cpu_share(1 / 20.5), "I/O-bound"), "short.h5": (too_short, "too short to classify")}
        for name, (change, kind) in cases.items():
            path = w(name)
            rewrite_tasks(base, path, change)
            j = report_json(tools, path, w.path)
            expect_eq(j["kind"], kind, f"{name}: kind")
            check_json(j, path, name)
            text = e2e.run_ok(tools, ["report", path], cwd=w.path).out
            expect(f": {kind} (CPU/wall" in text, f"{name}: the text does not say {kind}:\n{text}")
        expect_eq(report_json(tools, w("wait.h5"), w.path)["suggested_threads_per_rank"], 20,
                  "suggested threads at CPU/wall 1/20.5")
        expect_eq(report_json(tools, w("mixed.h5"), w.path)["suggested_threads_per_rank"], 2,
                  "suggested threads at CPU/wall 0.45")


def case_failures(tools, args):
    with e2e.Workdir("analysis-failures") as w:
        base = spin_run(tools, w, 2, "base.h5", ("job.tasks=20", "job.duration=0.002", "job.mode=sleep"))
        path = w("failed.h5")
        shutil.copy(base, path)
        failed = [1, 2, 3, 5, 7, 8, 11, 12, 13, 15, 17, 19]
        messages = {i: f'task {i} "refused"\\path' for i in failed}
        with h5py.File(path, "a") as f:
            t = f["tasks"][()]
            enum = h5py.check_enum_dtype(f["tasks"].dtype["status"])
            t["status"][failed] = enum["failed"]
            f["tasks"][...] = t
            del f["errors"]
            dt = np.dtype([("id", "<u8"), ("message", h5py.string_dtype())])
            f.create_dataset("errors", data=np.array([(i, messages[i]) for i in failed], dtype=dt))
            f.attrs["status"] = "failed"
        j = report_json(tools, path, w.path)
        check_json(j, path, "failed json")
        expect_eq((j["status"], j["ok"], j["failed"], j["not_run"]), ("failed", 8, 12, 0), "status and counts")
        expect_eq([(x["id"], x["message"]) for x in j["failures"]], [(i, messages[i]) for i in failed[:10]],
                  "JSON failures: the first 10, messages intact")
        text = e2e.run_ok(tools, ["report", path], cwd=w.path).out
        expect("status:    failed: 8 ok, 12 failed, 0 not run" in text, f"status line:\n{text}")
        expect("failed tasks (12):" in text and f"  task 1: {messages[1]}" in text and "... and 2 more" in text,
               f"failed tasks section:\n{text}")


if __name__ == "__main__":
    sys.exit(e2e.main({"analysis": case_analysis, "kinds": case_kinds, "failures": case_failures}))
