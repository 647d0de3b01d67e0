"""Figures derived from a run: what the plots of fanout_plot.py draw, as
plain DataFrames so that a notebook (or a test) can use the same numbers."""

import numpy as np
import pandas as pd


def lanes(run):
    """Every worker lane of the run, (rank, thread) in order: rank 0 thread 0
    first. Lanes that ran no task are included (a rank that got no work is
    worth seeing on a timeline)."""
    threads = {}
    if len(run.ranks) and "threads" in run.ranks:
        threads = {int(r): int(t) for r, t in run.ranks["threads"].items()}
    pairs = {(r, t) for r in range(run.n_ranks) for t in range(threads.get(r, run.threads_per_rank))}
    ran = run.ran
    pairs |= set(zip(ran["rank"].astype(int), ran["thread"].astype(int)))
    return sorted(pairs)


def durations(run):
    """Wall time of every task that ran, t_end - t_start, indexed by task id."""
    ran = run.ran
    return (ran["t_end"] - ran["t_start"]).rename("duration")


def timeline_bars(run):
    """One row per bar of the timeline, that is per task that ran, indexed by
    task id: lane (0 = the top lane, in the order of lanes(run)), rank,
    thread, start, end, width (seconds) and status ('ok', 'failed' or 'timed_out')."""
    ran = run.ran
    lane_of = {pair: i for i, pair in enumerate(lanes(run))}
    keys = zip(ran["rank"].astype(int), ran["thread"].astype(int))
    return pd.DataFrame({
        "lane": np.fromiter((lane_of[k] for k in keys), dtype=np.int64, count=len(ran)),
        "rank": ran["rank"].to_numpy(),
        "thread": ran["thread"].to_numpy(),
        "start": ran["t_start"].to_numpy(),
        "end": ran["t_end"].to_numpy(),
        "width": (ran["t_end"] - ran["t_start"]).to_numpy(),
        "status": ran["status"].astype(str).to_numpy(),
    }, index=ran.index)


def utilisation(run):
    """Per rank, indexed by rank: busy, idle and comm seconds from /ranks
    (busy + idle = threads x the rank's task loop; comm is time of the
    coordinating thread, outside busy and idle), threads, tasks, and
    busy_fraction = busy / (busy + idle)."""
    columns = ["threads", "tasks", "busy", "idle", "comm"]
    frame = run.ranks[[c for c in columns if c in run.ranks]].copy()
    total = frame["busy"] + frame["idle"]
    frame["busy_fraction"] = np.where(total > 0, frame["busy"] / total.where(total > 0, 1), 0.0)
    return frame


def summary(run):
    """The headline figures of `fanout report` as a dict: wall, compute,
    cpu_user, cpu_sys, cores_busy, task_wall, task_cpu, cpu_per_wall,
    imbalance (max/mean busy of the ranks), efficiency (task time /
    (workers x wall)), ok, failed, and the dispatcher's load (format 1.7):
    hierarchy, dispatcher_messages (rank 0's messages_in),
    dispatcher_messages_per_1000_tasks (per 1,000 tasks of the session
    /ranks measured, the last), dispatcher_seconds_per_message (rank 0's
    serve / its messages), each None where the file does not record it."""
    ran = run.ran
    task_wall = float((ran["t_end"] - ran["t_start"]).sum())
    task_cpu = float((ran["cpu_user"] + ran["cpu_sys"]).sum())
    wall = run.wall
    cpu_user = float(run.ranks["cpu_user"].sum()) if len(run.ranks) else 0.0
    cpu_sys = float(run.ranks["cpu_sys"].sum()) if len(run.ranks) else 0.0
    busy = run.ranks["busy"] if len(run.ranks) else pd.Series(dtype=float)
    return {
        "wall": wall,
        "compute": float(ran["t_end"].max() - ran["t_start"].min()) if len(ran) else 0.0,
        "cpu_user": cpu_user,
        "cpu_sys": cpu_sys,
        "cores_busy": (cpu_user + cpu_sys) / wall if wall > 0 else 0.0,
        "task_wall": task_wall,
        "task_cpu": task_cpu,
        "cpu_per_wall": task_cpu / task_wall if task_wall > 0 else 0.0,
        "imbalance": float(busy.max() / busy.mean()) if len(busy) and busy.mean() > 0 else 1.0,
        "efficiency": task_wall / (run.workers * wall) if run.workers and wall > 0 else 0.0,
        "ok": int((ran["status"] == "ok").sum()),
        "failed": int((ran["status"] != "ok").sum()),  # timed_out too, as fanout report counts
        **_dispatcher(run),
    }


def _dispatcher(run):
    """The load on rank 0 as fanout report gives it: recorded when rank 0
    received messages (format 1.7, more than one rank)."""
    out = {"hierarchy": run.hierarchy, "dispatcher_messages": None, "dispatcher_messages_per_1000_tasks": None,
           "dispatcher_seconds_per_message": None}
    if "messages_in" not in run.ranks or 0 not in run.ranks.index or int(run.ranks.loc[0, "messages_in"]) == 0:
        return out
    messages = int(run.ranks.loc[0, "messages_in"])
    ran = run.ran
    if "session" in ran.columns and len(ran):
        ran = ran[ran["session"] == max(int(run.attrs.get("sessions", 1)) - 1, int(ran["session"].max()))]
    out["dispatcher_messages"] = messages
    out["dispatcher_messages_per_1000_tasks"] = 1000.0 * messages / len(ran) if len(ran) else 0.0
    # Rank 0's time serving its messages (serve, 1.7), as fanout report takes it.
    serve = float(run.ranks.loc[0, "serve"]) if "serve" in run.ranks.columns else 0.0
    out["dispatcher_seconds_per_message"] = (serve if serve > 0 else float(run.ranks.loc[0, "comm"])) / messages
    return out


def amdahl_speedup(workers, serial_fraction):
    """Amdahl's law: the speedup on p workers of work whose serial fraction
    is f, 1 / (f + (1 - f) / p)."""
    p = np.asarray(workers, dtype=float)
    f = float(serial_fraction)
    return 1.0 / (f + (1.0 - f) / p)


def amdahl_fit(workers, speedup, clamp=True):
    """The serial fraction f of Amdahl's law that fits the runs best: a least
    squares straight line 1/S = a + b/p through the points (1/p, 1/S), then
    f = a / (a + b) (the line's value at p = 1 is the one-worker time), kept
    within [0, 1] unless clamp is False (below 0: the runs scaled
    superlinearly; above 1: more workers were slower). NaN when the points
    do not allow a fit (fewer than two worker counts, or no speedup at all)."""
    x = 1.0 / np.asarray(workers, dtype=float)
    y = 1.0 / np.asarray(speedup, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (y > 0)
    x, y = x[keep], y[keep]
    if len(x) < 2 or np.ptp(x) <= 1e-12:
        return float("nan")
    slope, intercept = np.polyfit(x, y, 1)
    if intercept + slope <= 0:
        return float("nan")
    f = float(intercept / (intercept + slope))
    return float(np.clip(f, 0.0, 1.0)) if clamp else f


class ScalingError(ValueError):
    """The files given do not make a scaling study (different jobs, or a
    single worker count)."""


def _job_section(run):
    return dict(run.config.get("job", {}))


def scaling(runs):
    """A strong-scaling table from runs of the same job at different worker
    counts, one row per run, sorted by workers (ranks x threads per rank):
    file, ranks, threads, workers, wall (the run's wall time: the end of its
    last phase, as `fanout report` gives it), speedup, ideal, efficiency,
    task_efficiency and best.

    The baseline is the fastest run with the fewest workers, p0, and is
    taken to have run perfectly: speedup = p0 x its wall / wall (so with a
    1-worker baseline, simply its wall / wall); ideal = workers; efficiency =
    speedup / workers. task_efficiency is `fanout report`'s efficiency, task
    time / (workers x wall). best is True for the fastest run at each worker
    count (the plotted curve joins these).

    Raises ScalingError when the runs are not of one job (the same job, task
    count and [job] parameters) or all have the same number of workers."""
    runs = list(runs)
    if len(runs) < 2:
        raise ScalingError("a scaling study needs at least two run files")
    first = runs[0]
    for run in runs[1:]:
        if run.job != first.job:
            why = f"job {run.job!r} against {first.job!r}"
        elif run.task_count != first.task_count:
            why = f"{run.task_count} tasks against {first.task_count}"
        else:
            a, b = _job_section(run), _job_section(first)
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            why = f"the [job] parameters {', '.join('job.' + k for k in keys)} differ" if keys else ""
        if why:
            raise ScalingError(f"{run.path} and {first.path} are not runs of the same job: {why}")
    rows = [{"file": r.path, "ranks": r.n_ranks, "threads": r.threads_per_rank, "workers": r.workers,
             "wall": r.wall, "task_efficiency": summary(r)["efficiency"]} for r in runs]
    table = pd.DataFrame(rows).sort_values(["workers", "wall"], kind="stable").reset_index(drop=True)
    if table["workers"].nunique() < 2:
        raise ScalingError(f"all {len(runs)} runs have {int(table['workers'].iloc[0])} workers; "
                           "a scaling study needs runs at different rank counts")
    if (table["wall"] <= 0).any():
        bad = table.loc[table["wall"] <= 0, "file"].iloc[0]
        raise ScalingError(f"{bad}: the run has no wall time (no phases and no tasks)")
    base = table.iloc[0]
    table["speedup"] = base["workers"] * base["wall"] / table["wall"]
    table["ideal"] = table["workers"].astype(float)
    table["efficiency"] = table["speedup"] / table["ideal"]
    table["best"] = ~table.duplicated("workers", keep="first")
    return table[["file", "ranks", "threads", "workers", "wall", "speedup", "ideal", "efficiency",
                  "task_efficiency", "best"]]
