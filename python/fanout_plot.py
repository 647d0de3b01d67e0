#!/usr/bin/python3
"""fanout plot: figures of fanout run files, as PNG files.

    fanout_plot.py FILE... [--out DIR]             per file: timeline, utilisation, durations
                                                   (and the image of a mandelbrot run, if any)
    fanout_plot.py --scaling FILE... [--out DIR]   speedup and efficiency of runs of one job

`fanout plot` runs this script with /usr/bin/python3 (Debian's, which has
h5py, numpy, pandas and matplotlib). It prints the path of every PNG it
writes. Exit codes as fanout's: 0 ok, 2 usage error, 3 I/O error (a missing
or unreadable file, a missing Python package). docs/analysis.md describes
the figures.

Each draw_* function returns its figure and the data it drew, so that a
test (or a notebook) can check the picture against the file.
"""

import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

EXIT_OK, EXIT_USAGE, EXIT_IO, EXIT_INTERRUPTED = 0, 2, 3, 4

# Python module -> the Debian package that provides it.
DEBIAN_PACKAGES = {"numpy": "python3-numpy", "h5py": "python3-h5py", "pandas": "python3-pandas",
                   "matplotlib": "python3-matplotlib"}

_missing = []
for _module in DEBIAN_PACKAGES:
    try:
        __import__(_module)
    except ImportError:
        _missing.append(_module)

if not _missing:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.legend_handler import HandlerTuple
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    import fanout_analysis as fa
    from fanout_analysis import timeline_bars  # noqa: F401  (the bars draw_timeline draws)

STATUS_COLOURS = {"ok": "#3b75af", "failed": "#d62728", "timed_out": "#9467bd"}
STATUS_SHADES = {"ok": "#8fb8de", "failed": "#8c1516", "timed_out": "#5e3c99"}  # every other task of a timeline lane
UTILISATION_COLOURS = {"busy": "#3b75af", "idle": "#c7c7c7", "comm": "#ff9f1c"}
DPI = 120
MAX_LANE_LABELS = 40  # more lanes than this: label every k-th one


class UsageError(Exception):
    pass


def _title(run):
    threads = run.threads_per_rank
    return (f"{os.path.basename(run.path)}: {run.job}, {run.task_count} tasks on {run.n_ranks} "
            f"rank{'s' if run.n_ranks != 1 else ''} x {threads} thread{'s' if threads != 1 else ''}, "
            f"{run.attrs.get('scheduler', '?')}")


def _lane_label(rank, thread, threads_per_rank):
    return f"rank {rank}" if threads_per_rank == 1 else f"rank {rank} thread {thread}"


def draw_timeline(run):
    """A Gantt chart: one lane per rank and worker thread (rank 0 at the top),
    one bar per task from t_start to t_end, coloured by status. Returns the
    figure and {"lanes", "bars" (fa.timeline_bars), "collections" (the
    matplotlib collections holding the bars, one path per bar)}."""
    lanes = fa.lanes(run)
    bars = fa.timeline_bars(run)
    n_lanes = max(len(lanes), 1)
    height = min(max(2.2 + 0.34 * n_lanes, 3.4), 16)
    fig, ax = plt.subplots(figsize=(11, height), layout="constrained")
    # Consecutive tasks of a lane alternate between two shades of their
    # status colour: white edges would hide the narrowest bars.
    order = bars.sort_values(["lane", "start"], kind="stable")
    shade = order.groupby("lane").cumcount() % 2
    collections = []
    for (lane, status, odd), group in order.groupby([order["lane"], order["status"], shade], sort=True):
        colour = (STATUS_SHADES if odd else STATUS_COLOURS).get(status, "#7f7f7f")
        spans = list(zip(group["start"].to_numpy(), group["width"].to_numpy()))
        collections.append(ax.broken_barh(spans, (lane - 0.4, 0.8), facecolors=colour, linewidth=0))
    if len(lanes) <= MAX_LANE_LABELS:
        ticks = list(range(len(lanes)))
        ax.set_yticks(ticks, [_lane_label(*lanes[i], run.threads_per_rank) for i in ticks])
    else:  # too many lanes to name each: name the first lane of every k-th rank
        firsts = [i for i, (rank, _) in enumerate(lanes) if i == 0 or lanes[i - 1][0] != rank]
        step = max(1, math.ceil(len(firsts) / MAX_LANE_LABELS))
        ticks = firsts[::step]
        ax.set_yticks(ticks, [f"rank {lanes[i][0]}" for i in ticks])
    ax.set_ylim(n_lanes - 0.5, -0.5)  # rank 0 at the top
    if 1 < run.threads_per_rank and run.n_ranks <= 64:  # separate the ranks
        for i in range(1, len(lanes)):
            if lanes[i][0] != lanes[i - 1][0]:
                ax.axhline(i - 0.5, color="#555555", linewidth=0.8)
    wall = run.wall
    ax.set_xlim(0, max(wall, float(bars["end"].max()) if len(bars) else 0, 1e-9) * 1.01)
    if "compute" in run.phases.index:
        for t in run.phases.loc["compute", ["t_start", "t_end"]]:
            ax.axvline(float(t), color="#555555", linewidth=0.8, linestyle=":")
    ax.set_xlabel("run clock (s since the start of fanout run); dotted: start and end of the compute phase")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    counts = bars["status"].value_counts()
    handles, labels = [], []
    for status in STATUS_COLOURS:
        if status == "ok" or counts.get(status, 0):
            handles.append((Patch(color=STATUS_COLOURS[status]), Patch(color=STATUS_SHADES[status])))
            labels.append(f"{status} ({int(counts.get(status, 0))} tasks)")
    ax.legend(handles, labels, handler_map={tuple: HandlerTuple(ndivide=None, pad=0)}, loc="lower right",
              bbox_to_anchor=(1.0, 1.0), ncol=len(handles), frameon=False, fontsize="small")
    ax.set_title(f"Timeline: {_title(run)}\nrun wall {wall:.3g} s", loc="left", fontsize="medium")
    return fig, {"lanes": lanes, "bars": bars, "collections": collections}


def draw_utilisation(run):
    """Per rank, stacked bars of busy, idle and comm seconds (/ranks). Returns
    the figure and fa.utilisation(run)."""
    table = fa.utilisation(run)
    n = len(table)
    fig, ax = plt.subplots(figsize=(min(max(6, 1.4 + 0.5 * n), 16), 5), layout="constrained")
    x = np.arange(n)
    bottom = np.zeros(n)
    labels = {"busy": "busy (worker threads running tasks)", "idle": "idle (worker threads waiting)",
              "comm": "comm (coordinating thread in MPI calls)"}
    for column in ("busy", "idle", "comm"):
        values = table[column].to_numpy(dtype=float) if column in table else np.zeros(n)
        ax.bar(x, values, 0.7, bottom=bottom, color=UTILISATION_COLOURS[column], label=labels[column])
        bottom += values
    if n <= 24:  # inside the busy bar, clear of the reference line
        for xi, busy, fraction in zip(x, table["busy"], table["busy_fraction"]):
            ax.annotate(f"{100 * fraction:.0f}%\nbusy", (xi, busy / 2), ha="center", va="center", color="white",
                        fontsize="small", fontweight="bold")
    threads = int(table["threads"].max()) if n and "threads" in table else run.threads_per_rank
    reference = threads * run.wall
    ax.axhline(reference, color="#555555", linestyle="--", linewidth=0.9,
               label=f"{threads} thread{'s' if threads != 1 else ''} x run wall ({reference:.3g} s)")
    step = max(1, math.ceil(n / MAX_LANE_LABELS))
    ax.set_xticks(x[::step], [str(int(r)) for r in table.index[::step]])
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylim(0, max(reference, float(bottom.max()) if n else 0, 1e-9) * 1.25)
    ax.set_xlabel("rank")
    ax.set_ylabel("seconds" if threads == 1 else "thread-seconds (summed over the rank's worker threads)")
    ax.legend(loc="upper left", fontsize="small", ncol=2, frameon=False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_title(f"Rank utilisation: {_title(run)}", loc="left", fontsize="medium")
    return fig, table


def draw_durations(run):
    """A histogram of the tasks' wall times (t_end - t_start), stacked by
    status, on log-spaced bins when they span more than two decades.
    Returns the figure and the durations (seconds, indexed by task id)."""
    seconds = fa.durations(run)
    status = run.ran["status"].astype(str)
    fig, ax = plt.subplots(figsize=(9, 5), layout="constrained")
    values = seconds.to_numpy()
    median = float(np.median(values)) if len(values) else 1.0
    unit, scale = ("s", 1.0) if median >= 1 else ("ms", 1e3) if median >= 1e-3 else ("µs", 1e6)
    scaled = values * scale
    positive = scaled[scaled > 0]
    log = len(positive) > 1 and positive.max() / positive.min() > 100
    if len(scaled) == 0:
        bins = 1
    elif log:
        bins = np.geomspace(positive.min() * 0.999, positive.max() * 1.001,
                            int(np.clip(np.sqrt(len(positive)) * 2, 10, 60)) + 1)
    else:
        bins = np.histogram_bin_edges(scaled, bins="auto")
        if len(bins) > 61:
            bins = np.histogram_bin_edges(scaled, bins=60)
    groups, colours, names = [], [], []
    for name in STATUS_COLOURS:
        chosen = scaled[(status == name).to_numpy()]
        if len(chosen) or name == "ok":
            groups.append(chosen)
            colours.append(STATUS_COLOURS[name])
            names.append(f"{name} ({len(chosen)} tasks)")
    ax.hist(groups, bins=bins, stacked=True, color=colours, label=names, edgecolor="white", linewidth=0.5)
    if log:  # ticks at 1, 2, 5 x 10^k, written as plain numbers
        ax.set_xscale("log")
        decades = math.log10(positive.max() / positive.min())
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1, 2, 5) if decades <= 3 else (1,)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    if len(scaled):
        ax.axvline(np.median(scaled), color="black", linestyle="--", linewidth=1,
                   label=f"median {np.median(scaled):.3g} {unit}")
        ax.axvline(scaled.mean(), color="black", linestyle=":", linewidth=1, label=f"mean {scaled.mean():.3g} {unit}")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"task wall time ({unit}, t_end - t_start){', log scale' if log else ''}")
    ax.set_ylabel("tasks")
    ax.legend(fontsize="small", frameon=False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_title(f"Task durations: {_title(run)}", loc="left", fontsize="medium")
    return fig, seconds


# A mandelbrot run's region, from its config's [job] table.
IMAGE_REGION_KEYS = ("x_min", "x_max", "y_min", "y_max", "max_iter")


def read_image(run):
    """The image of a run, its attributes and the dataset it came from:
    /output/image when the file has one (a job of yours, or a mandelbrot run
    of an earlier fanout), else for a complete mandelbrot run
    /results/iterations (row i = task i, from y_max down) with its region
    from the config's [job] table; (None, {}, None) when the file has neither."""
    from fanout_analysis.runfile import open_h5, read_dataset

    with open_h5(run.path) as f:
        if "output" in f and "image" in f["output"]:
            ds = f["output/image"]
            return read_dataset(ds), {k: (v.decode() if isinstance(v, bytes) else v) for k, v in ds.attrs.items()}, ds.name
    if run.job == "mandelbrot" and run.attrs.get("status") == "complete" and "iterations" in run.arrays:
        job = run.config.get("job", {})
        return run.arrays["iterations"], {k: job[k] for k in IMAGE_REGION_KEYS if k in job}, "/results/iterations"
    return None, {}, None


def draw_image(run):
    """The image of read_image: iteration counts on a logarithmic colour
    scale, the points that never escaped (count = max_iter) in black, axes
    in the complex plane (x_min ... y_max). Returns the figure and
    {"image": the counts as read, "attrs": their attributes (the region)}."""
    image, attrs, source = read_image(run)
    height, width = image.shape
    aspect = height / width if width else 1
    fig, ax = plt.subplots(figsize=(9, min(max(7.5 * aspect, 3), 14) + 0.8), layout="constrained")
    max_iter = int(attrs.get("max_iter", image.max() if image.size else 1))
    shown = np.ma.masked_where(image >= max_iter, np.log1p(image.astype(float)))
    cmap = matplotlib.colormaps["viridis"].copy()  # no black in it: black is the set
    cmap.set_bad("black")
    extent = None
    if all(k in attrs for k in ("x_min", "x_max", "y_min", "y_max")):
        extent = [float(attrs["x_min"]), float(attrs["x_max"]), float(attrs["y_min"]), float(attrs["y_max"])]
        ax.set_xlabel("Re(c)")
        ax.set_ylabel("Im(c)")
    else:
        ax.set_xlabel("column")
        ax.set_ylabel("row")
    picture = ax.imshow(shown, cmap=cmap, extent=extent, origin="upper", interpolation="nearest")
    bar = fig.colorbar(picture, ax=ax, shrink=0.8)
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000) if t < max_iter]
    bar.set_ticks(np.log1p(ticks), labels=[str(t) for t in ticks])
    bar.set_label(f"iterations to escape (black: not escaped after {max_iter})")
    inside = int((image >= max_iter).sum())
    ax.set_title(f"Image: {_title(run)}\n{source}, {width} x {height} pixels, {inside} in the set",
                 loc="left", fontsize="medium")
    return fig, {"image": image, "attrs": attrs}


def _worker_axis(ax, workers, label):
    ticks = sorted(set(int(w) for w in workers))
    if ticks[-1] / ticks[0] >= 8:
        ax.set_xscale("log", base=2)
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel(label)


def draw_scaling(runs):
    """Strong scaling of runs of one job at different worker counts: speedup
    and efficiency against ideal, with an Amdahl fit (the serial fraction by
    least squares on 1/speedup, fa.amdahl_fit over every run). Wall time of
    a run = the end of its last phase, as `fanout report` measures it;
    speedup and efficiency as fa.scaling defines them. Returns (speedup
    figure, efficiency figure, {"table": fa.scaling(runs), "serial_fraction": f})."""
    table = fa.scaling(runs)
    best = table[table["best"]]
    extra = table[~table["best"]]
    f = fa.amdahl_fit(table["workers"], table["speedup"])
    base = table.iloc[0]
    p0 = int(base["workers"])
    one_thread = (table["threads"] == 1).all()
    xlabel = "ranks" if one_thread else "workers (ranks x threads per rank)"
    grid = np.geomspace(table["workers"].min(), table["workers"].max(), 200)
    title = (f"{runs[0].job}, {runs[0].task_count} tasks: strong scaling over {len(table)} runs "
             f"(wall = end of the write phase)")
    repeats = " (line: the fastest run at each count)" if len(extra) else ""
    if p0 == 1:
        definition = "speedup = wall of 1 worker / wall"
    else:
        definition = f"speedup = {p0} x wall of {p0} workers / wall"
    fit_label = ""
    if not math.isnan(f):
        unclamped = fa.amdahl_fit(table["workers"], table["speedup"], clamp=False)
        if unclamped < 0:
            limit = f"clamped from {unclamped:.3g}: the runs scaled superlinearly"
        elif unclamped > 1:
            limit = f"clamped from {unclamped:.3g}: more workers were slower"
        else:
            limit = "no limit" if f == 0 else f"at most {1 / f:.3g}x on any number of workers"
        fit_label = f"Amdahl fit: serial fraction {f:.3g} ({limit})"

    fig_s, ax = plt.subplots(figsize=(8, 5.5), layout="constrained")
    ax.plot(grid, grid, color="#555555", linestyle="--", linewidth=1, label="ideal (speedup = workers)")
    ax.plot(best["workers"], best["speedup"], "o-", color=STATUS_COLOURS["ok"], label=f"measured{repeats}")
    if len(extra):
        ax.plot(extra["workers"], extra["speedup"], "o", color=STATUS_COLOURS["ok"], alpha=0.4, label="other runs")
    if fit_label:
        ax.plot(grid, fa.amdahl_speedup(grid, f), ":", color="#d62728", linewidth=1.5, label=fit_label)
    last = int(best["workers"].max())
    for _, row in best.iterrows():  # below right of each point; the last one below left, inside the axes
        right = int(row["workers"]) != last
        ax.annotate(f"{row['speedup']:.2f}x\n{row['wall']:.3g} s", (row["workers"], row["speedup"]),
                    xytext=(6 if right else -6, -8), textcoords="offset points", fontsize="small",
                    ha="left" if right else "right", va="top",
                    bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.8))
    _worker_axis(ax, table["workers"], xlabel)
    ax.set_ylim(0, max(float(grid.max()), float(table["speedup"].max())) * 1.12)
    ax.set_ylabel(definition)
    ax.legend(loc="upper left", fontsize="small", frameon=False)
    ax.grid(color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_title(f"Speedup: {title}", loc="left", fontsize="medium")

    fig_e, ax = plt.subplots(figsize=(8, 5.5), layout="constrained")
    ax.axhline(1.0, color="#555555", linestyle="--", linewidth=1, label="ideal")
    ax.plot(best["workers"], best["efficiency"], "o-", color=STATUS_COLOURS["ok"],
            label=f"speedup / workers{repeats}")
    if len(extra):
        ax.plot(extra["workers"], extra["efficiency"], "o", color=STATUS_COLOURS["ok"], alpha=0.4,
                label="other runs")
    ax.plot(table["workers"], table["task_efficiency"], "s", markerfacecolor="none", color="#2ca02c",
            label="task time / (workers x wall), as fanout report gives it")
    if fit_label:
        ax.plot(grid, fa.amdahl_speedup(grid, f) / grid, ":", color="#d62728", linewidth=1.5, label=fit_label)
    _worker_axis(ax, table["workers"], xlabel)
    top = max(1.0, float(table["efficiency"].max()), float(table["task_efficiency"].max()))
    ax.set_ylim(0, top * 1.15)
    ax.set_ylabel("parallel efficiency")
    ax.legend(loc="lower left", fontsize="small", frameon=False)
    ax.grid(color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_title(f"Efficiency: {title}", loc="left", fontsize="medium")
    return fig_s, fig_e, {"table": table, "serial_fraction": f}


def _save(fig, path):
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _out_dir(out, path):
    directory = out if out is not None else (os.path.dirname(path) or ".")
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise OSError(f"--out {directory}: not a directory")
    os.makedirs(directory, exist_ok=True)
    if not os.access(directory, os.W_OK):
        raise OSError(f"{directory}: cannot write there")
    return directory


def plot_run(run, out=None):
    """Writes <stem>-timeline.png, -utilisation.png and -durations.png, and
    <stem>-image.png when the file has an image (see read_image), into
    `out` (default: beside the file); returns their paths."""
    directory = _out_dir(out, run.path)
    written = []
    figures = [("timeline", draw_timeline), ("utilisation", draw_utilisation), ("durations", draw_durations)]
    if read_image(run)[0] is not None:
        figures.append(("image", draw_image))
    for kind, draw in figures:
        fig, _ = draw(run)
        written.append(_save(fig, os.path.join(directory, f"{run.name}-{kind}.png")))
    return written


def scaling_name(runs):
    """The stem of the scaling figures: the job's kind (spin-speedup.png),
    whatever the files are called (fanout submit --scaling writes
    runs/CONFIG/n1.h5, n2.h5, ...)."""
    return runs[0].job or "scaling"


def plot_scaling(runs, out=None):
    """Writes <name>-speedup.png and <name>-efficiency.png (name: see
    scaling_name) into `out` (default: beside the first file); returns
    their paths."""
    directory = _out_dir(out, runs[0].path)
    fig_s, fig_e, _ = draw_scaling(runs)
    name = scaling_name(runs)
    return [_save(fig_s, os.path.join(directory, f"{name}-speedup.png")),
            _save(fig_e, os.path.join(directory, f"{name}-efficiency.png"))]


def _parser():
    parser = argparse.ArgumentParser(
        prog="fanout plot",
        description="Figures of fanout run files as PNG: per file a timeline, the ranks' utilisation and a "
                    "histogram of task durations; with --scaling, speedup and efficiency of runs of one job at "
                    "different rank counts.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="run files written by fanout run")
    parser.add_argument("--out", metavar="DIR", help="where to write the PNGs (default: beside each file)")
    parser.add_argument("--scaling", action="store_true",
                        help="one speedup and one efficiency figure from all FILEs (runs of the same job)")
    return parser


def main(argv=None):
    if _missing:
        packages = " ".join(DEBIAN_PACKAGES[m] for m in _missing)
        print(f"fanout: error: fanout plot needs the Python module{'s' if len(_missing) > 1 else ''} "
              f"{', '.join(_missing)} for {sys.executable}; on Debian: apt-get install {packages}", file=sys.stderr)
        return EXIT_IO
    args = _parser().parse_args(argv)  # exits 2 on a usage error
    try:
        if args.scaling and len(args.files) < 2:
            raise UsageError("--scaling needs two or more run files of the same job at different rank counts")
        runs = [fa.load(path) for path in args.files]  # every file checked before any PNG is written
        if args.scaling:
            written = plot_scaling(runs, args.out)
        else:
            written = [path for run in runs for path in plot_run(run, args.out)]
    except (fa.ScalingError, UsageError) as e:
        print(f"fanout: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, fa.FanoutFileError) as e:
        print(f"fanout: error: {e}", file=sys.stderr)
        return EXIT_IO
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001  values no check foresaw: one message, never a traceback
        files = ", ".join(args.files)
        print(f"fanout: error: {files}: cannot plot: {type(e).__name__}: {e} (is the file damaged?)", file=sys.stderr)
        return EXIT_IO
    for path in written:
        print(path)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
