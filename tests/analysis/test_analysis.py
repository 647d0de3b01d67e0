"""Tests of python/fanout_analysis and `fanout plot` (python/fanout_plot.py).

Real run files from the real fanout under a real mpiexec; every figure the
module computes is checked against h5py reads of the raw datasets, and every
PNG against its signature, its IHDR size and its decoded pixels. Run by
/usr/bin/python3 (h5py, numpy, pandas, matplotlib) from
tests/analysis/CMakeLists.txt:

  test_analysis.py --fanout BIN --mpiexec MPIEXEC --source-dir DIR CASE
"""

import argparse
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import traceback

import h5py
import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The shared checks of the e2e tier: Failure, expect, expect_eq, what a crash
# looks like, and the launcher variables that must not leak into a new mpiexec.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import e2e  # noqa: E402
from e2e import CRASH_SIGNS, LAUNCHER_PREFIXES, Failure, expect, expect_eq  # noqa: E402


def expect_close(actual, expected, what, rel=1e-9, abs_=1e-12):
    if not math.isclose(float(actual), float(expected), rel_tol=rel, abs_tol=abs_):
        raise Failure(f"{what}: expected {expected!r}, got {actual!r}")


class Context:
    def __init__(self, args):
        self.fanout = os.path.abspath(args.fanout)
        self.mpiexec = args.mpiexec
        self.source_dir = os.path.abspath(args.source_dir)
        self.tmp = tempfile.mkdtemp(prefix=f"fanout-analysis-{args.case}-")
        sys.path.insert(0, os.path.join(self.source_dir, "python"))

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def config(self, name):
        return os.path.join(self.source_dir, "configs", name)

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith(LAUNCHER_PREFIXES)}
        env.update({"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
                    "OMPI_MCA_rmaps_base_oversubscribe": "1", "LC_ALL": "C",
                    "MPLCONFIGDIR": self.path("mplconfig")})
        env.setdefault("OMPI_MCA_pml", "ob1")
        env.setdefault("OMPI_MCA_btl", "self,vader,tcp")
        env.update(extra)
        return env

    def fanout_cmd(self, args, np_=None, timeout=60, env=None):
        argv = [self.fanout] + list(args)
        if np_ is not None:
            argv = [self.mpiexec, "-n", str(np_), "--oversubscribe"] + argv
        try:
            proc = subprocess.run(argv, env=env or self.env(), capture_output=True, text=True, timeout=timeout,
                                  cwd=self.tmp)
        except subprocess.TimeoutExpired as e:
            raise Failure(f"timed out after {timeout} s: {' '.join(argv)}\nstdout: {e.stdout}\nstderr: {e.stderr}")
        proc.describe = (f"command: {' '.join(argv)}\nexit code: {proc.returncode}\n--- stdout ---\n{proc.stdout}"
                         f"--- stderr ---\n{proc.stderr}--------------")
        for sign in CRASH_SIGNS:
            expect(sign not in proc.stdout + proc.stderr, f"output contains {sign!r}\n{proc.describe}")
        return proc

    def run_job(self, name, config, np_, sets=()):
        """`mpiexec -n NP fanout run CONFIG --set ...` into NAME.h5; returns its path."""
        out = self.path(name + ".h5")
        args = ["run", self.config(config), "--output", out, "--force"]
        for s in sets:
            args += ["--set", s]
        proc = self.fanout_cmd(args, np_=np_, timeout=90)
        expect(proc.returncode == 0, f"fanout run failed\n{proc.describe}")
        return out


def raw(path):
    """The datasets and attributes, read with h5py only."""
    with h5py.File(path, "r") as f:
        return {
            "attrs": {k: f.attrs[k] for k in f.attrs},
            "tasks": f["tasks"][()], "ranks": f["ranks"][()], "phases": f["phases"][()], "errors": f["errors"][()],
            "results": {k: v[()] for k, v in f["results"].items()},
            "status_enum": h5py.check_enum_dtype(f["tasks"].dtype["status"]),
        }


def read_png_header(path):
    """(width, height) from the IHDR chunk, after checking the signature."""
    with open(path, "rb") as f:
        head = f.read(33)
    expect(head[:8] == PNG_SIGNATURE, f"{path}: not a PNG (signature {head[:8]!r})")
    length, kind = struct.unpack(">I4s", head[8:16])
    expect(kind == b"IHDR" and length == 13, f"{path}: the first chunk is {kind!r} (length {length}), not IHDR")
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def check_png(path, min_size=(500, 300), max_size=(4000, 4000), min_bytes=10_000, colour=None, share=0.005):
    """A valid, plausibly sized PNG that decodes to a picture with content;
    `colour` (hex) must cover at least `share` of it when given."""
    expect(os.path.isfile(path), f"no PNG at {path}")
    width, height = read_png_header(path)
    expect(min_size[0] <= width <= max_size[0] and min_size[1] <= height <= max_size[1],
           f"{path}: {width} x {height} pixels, outside {min_size}..{max_size}")
    size = os.path.getsize(path)
    expect(size >= min_bytes, f"{path}: only {size} bytes")
    import matplotlib.image
    pixels = matplotlib.image.imread(path)
    expect_eq(pixels.shape[:2], (height, width), f"{path}: decoded size")
    rgb = pixels[..., :3]
    expect(float(rgb.std()) > 0.05, f"{path}: the picture is (nearly) uniform")
    if colour is not None:
        want = np.array([int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
        covered = float(np.mean(np.all(np.abs(rgb - want) < 0.02, axis=-1)))
        expect(covered >= share, f"{path}: colour {colour} covers only {covered:.4f} of the picture")
    return width, height


def printed_paths(proc):
    return [line for line in proc.stdout.splitlines() if line.strip()]


# ---------------------------------------------------------------- cases


def case_load(ctx):
    """load(): every DataFrame equals the raw datasets, byte strings decoded,
    status named; refusals of files that are not fanout 1.x."""
    import pandas as pd

    import fanout_analysis as fa
    path = ctx.run_job("spin", "spin.toml", 2, ["job.tasks=40", "job.duration=0.003", "run.threads_per_rank=2"])
    r = raw(path)
    run = fa.load(path)
    n = len(r["tasks"])
    expect_eq(n, 40, "task rows")

    # attrs: every attribute, strings as str, numbers as int, format_version a tuple.
    expect_eq(sorted(run.attrs), sorted(r["attrs"]), "attribute names")
    expect_eq(run.attrs["format_version"], tuple(int(v) for v in r["attrs"]["format_version"]), "format_version")
    expect_eq(run.attrs["format_version"][0], 1, "format major")
    for name, value in r["attrs"].items():
        if name == "format_version":
            continue
        got = run.attrs[name]
        if isinstance(value, (bytes, str)):
            expect(isinstance(got, str), f"attrs[{name!r}] is {type(got).__name__}, not str")
            expect_eq(got, value.decode() if isinstance(value, bytes) else value, f"attrs[{name!r}]")
        elif isinstance(value, np.ndarray):  # attribute_descriptions (1.5): rows of [name, description]
            expect_eq(got, e2e.text(value), f"attrs[{name!r}]")
        elif isinstance(value, (float, np.floating)):  # wall_time (1.5)
            expect(isinstance(got, float) and got == float(value), f"attrs[{name!r}] = {got!r}, not {value!r}")
        else:
            expect(isinstance(got, int), f"attrs[{name!r}] is {type(got).__name__}, not int")
            expect_eq(got, int(value), f"attrs[{name!r}]")
    expect_eq(run.n_ranks, 2, "n_ranks")
    expect_eq(run.workers, 4, "workers")
    # Format 1.5: the file's descriptions and /job.
    expect_eq(sorted(run.descriptions["ranks"]), sorted(r["ranks"].dtype.names), "descriptions of /ranks fields")
    expect_eq(sorted(run.descriptions["attrs"]), sorted(r["attrs"]), "descriptions of the root attributes")
    expect_eq(run.job_parameters["tasks"], 40, "job_parameters tasks")
    expect_eq(run.job_parameters["kind"], "spin", "job_parameters kind")
    expect_eq(run.wall, float(r["attrs"]["wall_time"]), "wall")

    # tasks: indexed by id, every field equal, status as its enum name.
    t = run.tasks
    expect(isinstance(t, pd.DataFrame), "tasks is not a DataFrame")
    expect_eq(t.index.name, "id", "tasks index name")
    expect(np.array_equal(t.index.to_numpy(), r["tasks"]["id"]), "tasks index != /tasks id")
    expect(np.array_equal(t.index.to_numpy(), np.arange(n)), "tasks not indexed 0..n-1")
    for field in ("rank", "thread", "t_start", "t_end", "cpu_user", "cpu_sys", "attempt"):
        expect(np.array_equal(t[field].to_numpy(), r["tasks"][field]), f"tasks[{field!r}] differs from /tasks")
    names = {v: k for k, v in r["status_enum"].items()}
    expect_eq(list(t["status"].astype(str)), [names[int(v)] for v in r["tasks"]["status"]], "tasks status")
    expect_eq(set(t["status"].astype(str)), {"ok"}, "statuses of a run without failures")
    expect_eq(sorted(set(t["thread"])), [0, 1], "threads that ran tasks")

    # ranks: indexed by rank, host decoded.
    k = run.ranks
    expect_eq(list(k.index), [int(v) for v in r["ranks"]["rank"]], "ranks index")
    for text in ("host", "node"):  # node: since format 1.2
        if text in r["ranks"].dtype.names:
            expect_eq(list(k[text]), [v.decode() for v in r["ranks"][text]], f"ranks {text}")
            expect(all(isinstance(h, str) for h in k[text]), f"a {text} is not a str")
    for field in r["ranks"].dtype.names:
        if field not in ("rank", "host", "node"):
            expect(np.array_equal(k[field].to_numpy(), r["ranks"][field]), f"ranks[{field!r}] differs")
    expect_eq(int(k["tasks"].sum()), n, "tasks summed over ranks")

    # phases: indexed by name, in file order.
    expect_eq(list(run.phases.index), [v.decode() for v in r["phases"]["name"]], "phase names")
    expect_eq(list(run.phases.index), ["setup", "distribute", "compute", "collect", "write"], "phase order")
    for field in ("t_start", "t_end"):
        expect(np.array_equal(run.phases[field].to_numpy(), r["phases"][field]), f"phases[{field!r}] differs")
    expect_eq(run.wall, float(r["phases"]["t_end"].max()), "run.wall (end of the last phase)")

    # results: indexed by task id, one column per dataset.
    expect_eq(sorted(run.results.columns), sorted(r["results"]), "result columns")
    for column, values in r["results"].items():
        expect(np.array_equal(run.results[column].to_numpy(), values), f"results[{column!r}] differs")
        expect_eq(run.results[column].dtype, values.dtype, f"results[{column!r}] dtype")
    expect(run.results.index.equals(t.index), "results index != tasks index")
    expect_eq(run.units["tasks"]["t_start"], "s", "unit of t_start")
    expect_eq(run.units["results"].get("duration"), "s", "unit of results/duration")

    # errors: 0 rows here; 3 in a copy where 3 tasks are marked failed.
    expect_eq(len(run.errors), 0, "errors of a run without failures")
    failed = ctx.path("failed.h5")
    shutil.copy(path, failed)
    bad = [3, 17, 31]
    with h5py.File(failed, "r+") as f:
        tasks = f["tasks"][()]
        tasks["status"][bad] = r["status_enum"]["failed"]
        f["tasks"][...] = tasks
        dtype = f["errors"].dtype  # format 1.6: messages back to back in /error_messages
        del f["errors"], f["error_messages"]
        rows = np.zeros(len(bad), dtype=dtype)
        rows["id"] = bad
        messages = [f"task {i} refused".encode() for i in bad]
        rows["message_length"] = [len(m) for m in messages]
        rows["message_offset"] = np.cumsum([0] + rows["message_length"].tolist()[:-1])
        f.create_dataset("errors", data=rows)
        f.create_dataset("error_messages", data=np.frombuffer(b"".join(messages), dtype=np.uint8))
    run2 = fa.load(failed)
    expect_eq(list(run2.tasks.index[run2.tasks["status"] == "failed"]), bad, "failed task ids")
    expect_eq(list(run2.errors.index), bad, "errors index (task ids)")
    expect_eq(list(run2.errors["message"]), [f"task {i} refused" for i in bad], "error messages (decoded)")
    expect_eq(fa.summary(run2)["failed"], 3, "summary failed")

    # summary() agrees with fanout report --format json.
    proc = ctx.fanout_cmd(["report", path, "--format", "json"])
    expect(proc.returncode == 0, f"fanout report failed\n{proc.describe}")
    report = json.loads(proc.stdout)
    s = fa.summary(run)
    for key in ("wall", "cpu_user", "cpu_sys", "task_wall", "task_cpu", "imbalance", "efficiency"):
        expect_close(s[key], report[key], f"summary()[{key!r}] against fanout report", rel=1e-5, abs_=1e-6)
    # The dispatcher's load (format 1.7): rank 0's messages, as the report gives it; a file whose
    # rank 0 received none does not record it.
    expect_eq(run.hierarchy, run.attrs["hierarchy"], "run.hierarchy")
    messages = ctx.path("messages.h5")
    shutil.copy(path, messages)
    with h5py.File(messages, "r+") as f:
        ranks = f["ranks"][()]
        ranks["messages_in"][0] = 37
        f["ranks"][...] = ranks
    for file, recorded in ((path, int(r["ranks"]["messages_in"][0]) > 0), (messages, True)):
        proc = ctx.fanout_cmd(["report", file, "--format", "json"])
        expect(proc.returncode == 0, f"fanout report failed\n{proc.describe}")
        report = json.loads(proc.stdout)
        s = fa.summary(fa.load(file))
        expect_eq(s["hierarchy"], report["hierarchy"], f"{file}: summary()['hierarchy'] against fanout report")
        expect_eq(s["dispatcher_messages"] is not None, recorded, f"{file}: dispatcher load recorded")
        for key in ("dispatcher_messages", "dispatcher_messages_per_1000_tasks", "dispatcher_seconds_per_message"):
            if report[key] is None or s[key] is None:
                expect_eq(s[key], report[key], f"{file}: summary()[{key!r}] against fanout report")
            else:
                expect_close(s[key], report[key], f"{file}: summary()[{key!r}] against fanout report", rel=1e-5)
    expect_eq(fa.summary(fa.load(messages))["dispatcher_messages_per_1000_tasks"], 37 * 1000 / n,
              "messages per 1,000 tasks")

    # Refusals: missing, not HDF5, HDF5 but not fanout, another major version.
    for maker, exc, words in (
            (lambda p: None, FileNotFoundError, "cannot open: No such file or directory"),
            (lambda p: open(p, "w").write("not hdf5\n"), fa.FanoutFileError, "not an HDF5 file"),
            (lambda p: h5py.File(p, "w").close(), fa.FanoutFileError, "not a fanout run file"),
    ):
        p = ctx.path(f"refused-{exc.__name__}-{words[:6]}.h5")
        maker(p)
        try:
            fa.load(p)
            raise Failure(f"load() accepted {p}")
        except exc as e:
            expect(words in str(e) and p in str(e), f"load({p}) message: {e}")
    future = ctx.path("future.h5")
    shutil.copy(path, future)
    with h5py.File(future, "r+") as f:
        f.attrs["format_version"] = np.array([2, 0], dtype=np.int64)
    try:
        fa.load(future)
        raise Failure("load() accepted a format 2.0 file")
    except fa.FanoutFileError as e:
        expect("2.0" in str(e) and "1.x" in str(e), f"message for a 2.0 file: {e}")


def _timeline_checks(run, where):
    """The bars the timeline draws: one per task, in the task's lane, at its
    times; lanes = ranks x threads."""
    import fanout_plot
    fig, drawn = fanout_plot.draw_timeline(run)
    drawn_bars = sum(len(c.get_paths()) for c in drawn["collections"])
    expect_eq(drawn_bars, run.task_count, f"{where}: bars drawn on the timeline")
    expect_eq(len(drawn["bars"]), run.task_count, f"{where}: rows of timeline_bars")
    expect_eq(len(fanout_plot.timeline_bars(run)), run.task_count, f"{where}: timeline_bars(run)")
    expect_eq(len(drawn["lanes"]), run.n_ranks * run.threads_per_rank, f"{where}: lanes")
    # Every drawn rectangle is a task: (lane, start, end) as multisets.
    drawn_spans = []
    for c in drawn["collections"]:
        for p in c.get_paths():
            (x0, y0), (x1, y1) = p.vertices.min(axis=0), p.vertices.max(axis=0)
            drawn_spans.append((round((y0 + y1) / 2), round(x0, 9), round(x1, 9)))
    lane_of = {pair: i for i, pair in enumerate(drawn["lanes"])}
    t = run.tasks
    expected = [(lane_of[(int(a), int(b))], round(s, 9), round(e, 9))
                for a, b, s, e in zip(t["rank"], t["thread"], t["t_start"], t["t_end"])]
    expect_eq(sorted(drawn_spans), sorted(expected), f"{where}: drawn bars against /tasks")
    # A worker thread runs one task at a time: no two bars of a lane overlap.
    bars = drawn["bars"].sort_values(["lane", "start"])
    for lane, group in bars.groupby("lane"):
        starts, ends = group["start"].to_numpy(), group["end"].to_numpy()
        expect(bool(np.all(starts[1:] >= ends[:-1] - 1e-9)), f"{where}: overlapping bars in lane {lane}")
    import matplotlib.pyplot as plt
    plt.close(fig)


def case_plot(ctx):
    """`fanout plot FILE` on a real 2-rank run: three valid PNGs beside the
    file, their paths printed; the timeline's bars are the tasks."""
    import fanout_analysis as fa
    import fanout_plot
    path = ctx.run_job("spin2", "spin.toml", 2, ["job.tasks=60", "job.duration=0.003"])
    t0 = time.monotonic()
    proc = ctx.fanout_cmd(["plot", path], timeout=60)
    expect(proc.returncode == 0, f"fanout plot failed\n{proc.describe}")
    expected = [ctx.path(f"spin2-{kind}.png") for kind in ("timeline", "utilisation", "durations")]
    expect_eq(printed_paths(proc), expected, "paths printed by fanout plot")
    blue = fanout_plot.STATUS_COLOURS["ok"]
    for png in expected:
        check_png(png, colour=blue)
    print(f"fanout plot: {time.monotonic() - t0:.1f} s for 3 PNGs")

    # The plotted data, from the plotting code itself.
    run = fa.load(path)
    _timeline_checks(run, "spin 2 ranks")
    fig, table = fanout_plot.draw_utilisation(run)
    r = raw(path)
    for field in ("busy", "idle", "comm"):
        expect(np.array_equal(table[field].to_numpy(), r["ranks"][field]), f"utilisation {field} != /ranks {field}")
    fig, seconds = fanout_plot.draw_durations(run)
    expect(np.allclose(seconds.to_numpy(), r["tasks"]["t_end"] - r["tasks"]["t_start"], rtol=0, atol=1e-12),
           "durations != t_end - t_start")
    counted = sum(p.get_height() for p in fig.axes[0].patches)
    expect_eq(int(round(counted)), run.task_count, "tasks counted by the histogram's bars")


def case_image(ctx):
    """`fanout plot` on a mandelbrot run: a fourth PNG, the image, whose
    drawn data are /results/iterations (the loader gives it as a 2-D array;
    the counts are stored once, no /output/image) on the region of the
    config's [job] table, with the set in black."""
    import fanout_analysis as fa
    import fanout_plot
    path = ctx.run_job("mandel", "mandelbrot.toml", 2, ["job.width=240", "job.height=180", "job.max_iter=300"])
    proc = ctx.fanout_cmd(["plot", path], timeout=60)
    expect(proc.returncode == 0, f"fanout plot failed\n{proc.describe}")
    expected = [ctx.path(f"mandel-{kind}.png") for kind in ("timeline", "utilisation", "durations", "image")]
    expect_eq(printed_paths(proc), expected, "paths printed by fanout plot")
    check_png(expected[-1], colour="#000000", share=0.05)
    run = fa.load(path)
    with h5py.File(path, "r") as f:
        expect("output" not in f, f"{path}: /output in a mandelbrot file: {list(f.get('output', []))}")
        image = f["results/iterations"][()]
    region = {k: float(run.config["job"][k]) for k in ("x_min", "x_max", "y_min", "y_max")}
    expect_eq(sorted(run.arrays), ["iterations"], "the loader's array columns")
    expect(np.array_equal(run.arrays["iterations"], image), "loader's iterations != /results/iterations")
    expect_eq(list(run.results.columns), [], "1-D result columns of a mandelbrot run")
    fig, drawn = fanout_plot.draw_image(run)
    expect(np.array_equal(drawn["image"], image), "the drawn image != /results/iterations")
    extent = fig.axes[0].images[0].get_extent()
    expect_eq([float(x) for x in extent], [region["x_min"], region["x_max"], region["y_min"], region["y_max"]],
              "the image's extent in the complex plane")
    masked = fig.axes[0].images[0].get_array().mask
    expect(np.array_equal(masked, image >= 300), "the black (masked) pixels are not those with max_iter")
    import matplotlib.pyplot as plt
    plt.close(fig)


def case_timeline(ctx):
    """Timeline bars = tasks with 2 ranks x 2 threads (4 lanes) and with a
    primes run; two files and --out DIR (created) in one fanout plot; the
    PNG's height grows with the lanes."""
    import fanout_analysis as fa
    import fanout_plot
    threads = ctx.run_job("threads", "spin.toml", 2, ["job.tasks=50", "job.duration=0.002",
                                                     "run.threads_per_rank=2", "schedule.policy=static-cyclic"])
    primes = ctx.run_job("primes", "primes.toml", 2)
    for path in (threads, primes):
        _timeline_checks(fa.load(path), os.path.basename(path))
    out = ctx.path("figures", "new")
    proc = ctx.fanout_cmd(["plot", threads, primes, "--out", out], timeout=60)
    expect(proc.returncode == 0, f"fanout plot of two files failed\n{proc.describe}")
    names = [f"{stem}-{kind}.png" for stem in ("threads", "primes") for kind in ("timeline", "utilisation", "durations")]
    expect_eq(printed_paths(proc), [os.path.join(out, n) for n in names], "PNGs of two files")
    expect_eq(sorted(os.listdir(out)), sorted(names), "files in --out DIR")
    _, h4 = check_png(os.path.join(out, "threads-timeline.png"))
    _, h2 = check_png(os.path.join(out, "primes-timeline.png"))
    expect(h4 > h2, f"a timeline of 4 lanes ({h4} px high) is not higher than one of 2 ({h2} px)")


def case_scaling(ctx):
    """--scaling on 1- and 2-rank runs writes speedup and efficiency PNGs;
    the speedup is the ratio of the walls (end of the last phase)."""
    import fanout_analysis as fa
    import fanout_plot
    sets = ["job.tasks=40", "job.duration=0.005", "job.distribution=constant"]
    one = ctx.run_job("n1", "spin.toml", 1, sets)  # named as fanout submit --scaling names them
    two = ctx.run_job("n2", "spin.toml", 2, sets)
    proc = ctx.fanout_cmd(["plot", "--scaling", two, one], timeout=60)
    expect(proc.returncode == 0, f"fanout plot --scaling failed\n{proc.describe}")
    # Beside the first file, named after the job (not the files' names).
    expected = [ctx.path("spin-speedup.png"), ctx.path("spin-efficiency.png")]
    expect_eq(printed_paths(proc), expected, "paths printed by fanout plot --scaling")
    for png in expected:
        check_png(png, colour=fanout_plot.STATUS_COLOURS["ok"], share=0.0005)  # a line and its markers

    walls = {}
    for path in (one, two):
        with h5py.File(path, "r") as f:
            walls[path] = float(f["phases"]["t_end"].max())
    fig_s, fig_e, data = fanout_plot.draw_scaling([fa.load(two), fa.load(one)])
    table = data["table"]
    expect_eq(list(table["ranks"]), [1, 2], "ranks of the scaling table (sorted)")
    expect_close(table["wall"].iloc[0], walls[one], "wall of the 1-rank run")
    expect_close(table["speedup"].iloc[0], 1.0, "speedup of the baseline")
    expect_close(table["speedup"].iloc[1], walls[one] / walls[two], "speedup of the 2-rank run")
    expect_close(table["efficiency"].iloc[1], walls[one] / walls[two] / 2, "efficiency of the 2-rank run")
    f = data["serial_fraction"]
    expect(0 <= f <= 1, f"serial fraction {f} outside [0, 1]")
    # Two points fit exactly: 1/S = f + (1 - f)/2 at p = 2.
    s2 = table["speedup"].iloc[1]
    if 1 < s2 < 2:
        expect_close(f, 2 / s2 - 1, "serial fraction from two runs", rel=1e-6)


def case_amdahl(ctx):
    """amdahl_fit recovers the serial fraction of exact Amdahl data, from a
    1-worker baseline and from a 2-worker one (speedup scaled by p0)."""
    import fanout_analysis as fa
    for f in (0.0, 0.05, 0.3):
        p = np.array([1, 2, 4, 8, 16])
        expect_close(fa.amdahl_fit(p, fa.amdahl_speedup(p, f)), f, f"fit of f = {f}", rel=1e-9, abs_=1e-12)
        q = p[1:]
        s = 2 * fa.amdahl_speedup(q, f) / fa.amdahl_speedup(2, f)  # baseline 2 workers taken as perfect
        expect_close(fa.amdahl_fit(q, s), f, f"fit of f = {f} from a 2-worker baseline", rel=1e-9, abs_=1e-12)
    expect(math.isnan(fa.amdahl_fit([4, 4], [1.0, 1.1])), "a fit from one worker count")
    expect_eq(fa.amdahl_fit([1, 2], [1.0, 2.5]), 0.0, "superlinear speedup clamps to 0")


def case_bad_input(ctx):
    """Missing, non-HDF5 and non-fanout files exit 3 with a message naming
    the file; usage errors exit 2; a missing interpreter or matplotlib
    exits 3 naming the Debian package; no PNG is written."""
    path = ctx.run_job("good", "spin.toml", 1, ["job.tasks=4", "job.duration=0"])
    other = ctx.run_job("other", "primes.toml", 1)
    notes = ctx.path("notes.h5")
    with open(notes, "w") as f:
        f.write("this is not HDF5\n")
    plain = ctx.path("plain.h5")
    with h5py.File(plain, "w") as f:
        f.create_dataset("x", data=[1, 2, 3])
    missing = ctx.path("missing.h5")
    fakes = ctx.path("fakes")
    os.makedirs(fakes)
    with open(os.path.join(fakes, "matplotlib.py"), "w") as f:
        f.write("raise ImportError('No module named matplotlib (a test stand-in)')\n")
    before = set(os.listdir(ctx.tmp))

    def check(args, code, words, env=None):
        proc = ctx.fanout_cmd(["plot"] + args, env=env, timeout=60)
        expect(proc.returncode == code, f"expected exit code {code}\n{proc.describe}")
        for w in words:
            expect(w in proc.stderr, f"stderr lacks {w!r}\n{proc.describe}")
        expect(proc.stdout.strip() == "" or code == 2, f"something printed as written\n{proc.describe}")
        return proc

    check([missing], 3, [missing, "cannot open: No such file or directory"])
    check([notes], 3, [notes, "not an HDF5 file"])
    check([plain], 3, [plain, "not a fanout run file"])
    check([path, missing], 3, [missing])  # one bad file among good ones
    check([path, "--out", notes], 3, [notes, "not a directory"])
    check([], 2, ["FILE"])
    check(["--scaling", path], 2, ["--scaling needs two or more"])
    check(["--scaling", path, other], 2, ["not runs of the same job"])
    check(["--scaling", path, path], 2, ["different rank counts"])
    check([path], 3, ["/nonexistent/python3", "apt-get install", "python3-matplotlib"],
          env=ctx.env(FANOUT_PYTHON="/nonexistent/python3"))
    check([path], 3, ["matplotlib", "apt-get install python3-matplotlib"], env=ctx.env(PYTHONPATH=fakes))
    check([path], 3, ["fanout_plot.py", "FANOUT_PYTHON_DIR"], env=ctx.env(FANOUT_PYTHON_DIR=ctx.path("nowhere")))
    created = sorted(set(os.listdir(ctx.tmp)) - before)
    pngs = [name for name in created if name.endswith(".png")]
    expect(not pngs, f"PNGs written by failing commands: {pngs}")


def case_load_command(ctx):
    """load() of a command run (configs/command.toml, which has failed and
    timed-out tasks): text columns as the bytes h5py reads, timed_out a
    status of its own and counted as failed; fanout plot draws it."""
    import fanout_analysis as fa
    out = ctx.path("command.h5")
    proc = ctx.fanout_cmd(["run", ctx.config("command.toml"), "--output", out], np_=2, timeout=90)
    expect_eq(proc.returncode, 1, f"exit code of a run with failed tasks\n{proc.describe}")
    r = raw(out)
    run = fa.load(out)
    for column in ("stdout_tail", "stderr_tail"):
        expect_eq(list(run.results[column]), list(r["results"][column]), f"results {column}")
        expect(all(isinstance(v, bytes) for v in run.results[column]), f"{column} values are not bytes")
    expect(any(len(v) == 4096 for v in run.results["stdout_tail"]), "no stdout tail of 4096 bytes")
    by_value = {v: k for k, v in r["status_enum"].items()}
    expect_eq(list(run.tasks["status"].astype(str)), [by_value[int(v)] for v in r["tasks"]["status"]], "status names")
    counts = run.tasks["status"].value_counts()
    expect_eq((int(counts["ok"]), int(counts["failed"]), int(counts["timed_out"])), (9, 2, 1), "status counts")
    expect_eq(fa.summary(run)["failed"], 3, "summary failed (timed_out included)")
    proc = ctx.fanout_cmd(["plot", out, "--out", ctx.path("plots")])
    expect_eq(proc.returncode, 0, f"fanout plot of a command run\n{proc.describe}")
    for path in printed_paths(proc):
        check_png(path)


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fanout", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("case", choices=sorted(CASES))
    args = parser.parse_args()
    ctx = Context(args)
    t0 = time.monotonic()
    try:
        CASES[args.case](ctx)
    except Exception:
        traceback.print_exc()
        print(f"FAILED: {args.case} (files kept in {ctx.tmp})", file=sys.stderr)
        return 1
    shutil.rmtree(ctx.tmp, ignore_errors=True)
    print(f"passed: {args.case} in {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
