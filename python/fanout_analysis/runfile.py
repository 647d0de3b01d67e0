"""Reading a fanout run file (docs/file-format.md) into pandas DataFrames."""

import errno
import os
import tomllib

import h5py
import numpy as np
import pandas as pd

FORMAT_NAME = "fanout"
FORMAT_MAJOR = 1  # the major version of docs/file-format.md this module reads

# What a run may have (src/core/limits.hpp): a file that claims more is damaged.
MAX_TASKS = 10**10
MAX_RANKS = 10**7
MAX_THREADS_PER_RANK = 1024
MAX_SESSIONS = 65536

# The datasets that are one compound table each, and the field they are indexed by.
_INDEX = {"tasks": "id", "ranks": "rank", "phases": "name", "errors": "id"}


class FanoutFileError(ValueError):
    """The file exists but is not a fanout run file this module can read
    (not HDF5, truncated, no format = "fanout", or another major version)."""



def open_h5(path):
    """Opens a run file read-only without HDF5's file locks, as fanout does:
    on file systems without flock (NFS, Lustre, DVS, ZFS without lock
    support) HDF5 1.10 refuses to open with them, and a file that another
    process holds open still reads. HDF5_USE_FILE_LOCKING=TRUE in the
    environment turns them back on (HDF5 itself honours it)."""
    return h5py.File(path, "r", locking=False)

def _decode(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        return [_decode(v) for v in value.tolist()]
    if isinstance(value, list):  # a row of a 2-D string attribute
        return [_decode(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode_attrs(attrs):
    out = {name: _decode(attrs[name]) for name in attrs}
    if "format_version" in out:
        out["format_version"] = tuple(int(v) for v in np.atleast_1d(attrs["format_version"]))
    return out


def _descriptions(attrs, name):
    """A [name, description] table attribute (format 1.5) as a dict; {} when absent."""
    if name not in attrs:
        return {}
    rows = _decode(attrs[name])
    return {str(row[0]): str(row[1]) for row in rows if isinstance(row, list) and len(row) == 2}


def _units(dataset):
    """The `units` attribute, field=unit;field=unit, as a dict."""
    text = _decode(dataset.attrs.get("units", ""))
    if not isinstance(text, str) or not text:
        return {}
    return dict(part.split("=", 1) for part in text.split(";") if "=" in part)


def read_dataset(dataset):
    """A dataset's values. A chunk that fails its Fletcher-32 checksum (the
    datasets of format 1.6 have one) raises FanoutFileError naming the dataset."""
    try:
        return dataset[()]
    except OSError as e:
        if "fletcher32" in str(e).lower():
            raise FanoutFileError(f"{dataset.file.filename}: dataset {dataset.name} is damaged (checksum mismatch): "
                                  "its data is not what was written") from e
        raise


def _errors(f):
    """/errors as a DataFrame with a `message` column: since format 1.6 the
    messages are bytes [message_offset, message_offset + message_length) of
    /error_messages; before, a variable-length `message` field."""
    frame = _table(f["errors"], "id")
    if "message_offset" in frame.columns:
        text = read_dataset(f["error_messages"]).tobytes() if "error_messages" in f else b""
        messages = []
        for offset, length in zip(frame["message_offset"], frame["message_length"]):
            offset, length = int(offset), int(length)
            if offset + length > len(text):
                raise FanoutFileError(f"{f.filename}: /errors: a message at bytes {offset} + {length} lies beyond the "
                                      f"{len(text)} bytes of /error_messages")
            messages.append(text[offset:offset + length].decode("utf-8", errors="replace"))
        frame = frame.drop(columns=["message_offset", "message_length"])
        frame["message"] = np.array(messages, dtype=object)
    return frame


def _table(dataset, index, raw=None):
    """A compound dataset (its values `raw` when read already) as a DataFrame:
    byte strings decoded, enums named, indexed by `index` (the column is moved
    into the index)."""
    raw = read_dataset(dataset) if raw is None else raw
    columns = {}
    for name in raw.dtype.names:
        values = raw[name]
        enum = h5py.check_enum_dtype(dataset.dtype[name])
        if enum is not None:
            known = [k for k, _ in sorted(enum.items(), key=lambda kv: kv[1])]
            if sorted(enum.values()) == list(range(len(known))) and (len(values) == 0 or values.max() < len(known)):
                columns[name] = pd.Categorical.from_codes(values.astype(np.int64), categories=known)
            else:  # values outside 0..k-1: slow path, unknown values shown as numbers
                by_value = {int(v): k for k, v in enum.items()}
                labels = [by_value.get(int(v), str(int(v))) for v in values]
                columns[name] = pd.Categorical(labels, categories=known + sorted(set(labels) - set(known)))
        elif values.dtype.kind == "S":
            columns[name] = np.array([v.decode("utf-8", errors="replace") for v in values], dtype=object)
        elif values.dtype.kind == "O":
            columns[name] = np.array([_decode(v) for v in values], dtype=object)
        else:
            columns[name] = values
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(raw)))
    if index in frame.columns:
        frame = frame.set_index(index)
    return frame


def _whole(attrs, name, low, high, default=None):
    """A root attribute of one whole number from low to high (default when absent)."""
    if name not in attrs and default is not None:
        return default
    value = attrs.get(name)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"attribute {name}: expected a whole number from {low} to {high}, found {value!r}")
    return value


def _check_counts(f, attrs):
    """The root attributes' counts against fanout's limits and the datasets'
    shapes against them, before anything is read whole (a damaged count must
    not size an allocation). Returns (task count, n_ranks, threads_per_rank, sessions)."""
    n_ranks = _whole(attrs, "n_ranks", 1, MAX_RANKS)
    threads = _whole(attrs, "threads_per_rank", 1, MAX_THREADS_PER_RANK)
    sessions = _whole(attrs, "sessions", 1, MAX_SESSIONS, default=1)
    if "tasks" not in f or not isinstance(f["tasks"], h5py.Dataset) or f["tasks"].ndim != 1:
        raise ValueError("no /tasks dataset of one row per task")
    rows = f["tasks"].shape[0]
    count = _whole(attrs, "task_count", 0, MAX_TASKS, default=rows)
    if rows != count:
        raise ValueError(f"/tasks has {rows} rows, but the attribute task_count is {count}")
    if "ranks" in f and (not isinstance(f["ranks"], h5py.Dataset) or f["ranks"].shape != (n_ranks,)):
        raise ValueError(f"/ranks has the shape {getattr(f['ranks'], 'shape', None)}, but the attribute n_ranks is "
                         f"{n_ranks}")
    for group in ("results", "params"):
        if group in f:
            for name, dataset in f[group].items():
                if not isinstance(dataset, h5py.Dataset) or dataset.ndim not in (1, 2) or dataset.shape[0] != rows:
                    raise ValueError(f"/{group}/{name} has the shape {getattr(dataset, 'shape', None)} for {rows} tasks")
    return rows, n_ranks, threads, sessions


def _check_tasks(raw, n_ranks, threads, sessions):
    """The rows of /tasks that ran (a row never written holds zeros): id = row
    index, status 0-2, session below `sessions`, rank and thread within the
    counts (of the last session; of earlier ones, within fanout's limits),
    finite times; as fanout's own reader checks them."""
    ran = raw[raw["attempt"] > 0] if "attempt" in raw.dtype.names else raw
    rows = np.flatnonzero(raw["attempt"] > 0) if "attempt" in raw.dtype.names else np.arange(len(raw))

    def bad(mask, field, expected):
        if np.any(mask):
            i = int(np.argmax(mask))
            found = ", ".join(str(ran[name][i]) for name in field.split(", "))
            raise ValueError(f"/tasks row {int(rows[i])}: {field}: expected {expected.format(row=int(rows[i]))}, "
                             f"found {found}")

    bad(ran["id"] != rows, "id", "{row} (the row index)")
    if "status" in ran.dtype.names:
        bad(ran["status"].astype(np.int64) > 2, "status", "0 (ok), 1 (failed) or 2 (timed_out)")
    session = ran["session"].astype(np.int64) if "session" in ran.dtype.names else np.zeros(len(ran), np.int64)
    bad(session >= sessions, "session", f"0 to {sessions - 1} (the attribute sessions is {sessions})")
    last = session == sessions - 1
    rank, thread = ran["rank"].astype(np.int64), ran["thread"].astype(np.int64)
    bad((rank < 0) | (rank >= np.where(last, n_ranks, MAX_RANKS)), "rank", f"0 to {n_ranks - 1} (n_ranks - 1)")
    bad((thread < 0) | (thread >= np.where(last, threads, MAX_THREADS_PER_RANK)), "thread",
        f"0 to {threads - 1} (threads_per_rank - 1)")
    with np.errstate(invalid="ignore"):
        bad(~np.isfinite(ran["t_start"]) | ~np.isfinite(ran["t_end"]) | (ran["t_end"] < ran["t_start"]),
            "t_start, t_end", "finite times, t_end >= t_start")
        bad(~np.isfinite(ran["cpu_user"]) | ~np.isfinite(ran["cpu_sys"]) | (ran["cpu_user"] < 0) | (ran["cpu_sys"] < 0),
            "cpu_user, cpu_sys", "finite times >= 0")


class Run:
    """One fanout run file, read whole into memory.

    attrs    dict of the root attributes (strings as str, numbers as int,
             format_version as a tuple (major, minor))
    tasks    DataFrame, one row per task, indexed by task id: rank, thread,
             t_start, t_end, cpu_user, cpu_sys, attempt, status ('ok',
             'failed' or 'timed_out', a categorical), session, cpu_shared
             (fields a file lacks are absent)
    ranks    DataFrame indexed by rank: host, node, pid, threads, cpus,
             node_cpus (1.5), tasks, busy, idle, comm, cpu_user, cpu_sys,
             max_rss, leader, messages_in, messages_out, bytes_in, bytes_out,
             serve
             (1.7; fields a file lacks are absent)
    phases   DataFrame indexed by phase name (setup ... write): t_start, t_end
    errors   DataFrame indexed by the failed task's id: message (0 rows when
             no task failed)
    results  DataFrame indexed by task id, one column per 1-D /results dataset
             (text columns hold bytes, as h5py gives them)
    arrays   {column: 2-D numpy array, one row per task} for the array columns
             (2-D /results datasets, such as mandelbrot's iterations)
    units    {"tasks": {"t_start": "s", ...}, "ranks": ..., "phases": ...,
             "results": {column: unit}}
    result_descriptions  {column: description}
    descriptions  what the file says each item means (format 1.5; {} in older
             files): {"attrs": {root attribute: meaning}, "tasks": {field:
             meaning}, "ranks": ..., "phases": ..., "errors": ..., "job": ...}
    job_parameters  {key: value} of the /job group (format 1.5): the [job]
             table, nested tables flattened with dots; {} in older files
             (run.config["job"] has them there)
    params   DataFrame indexed by task id, one column per sweep parameter
             (/params, format 1.4; no columns without a sweep)
    table    params, results and timings side by side (see Run.table)
    config   the resolved config (the `config` attribute) parsed as TOML
    """

    def __init__(self, path, attrs, tasks, ranks, phases, errors, results, units, result_descriptions, arrays=None,
                 params=None, descriptions=None, job=None):
        self.path = path
        self.attrs = attrs
        self.tasks = tasks
        self.ranks = ranks
        self.phases = phases
        self.errors = errors
        self.results = results
        self.units = units
        self.result_descriptions = result_descriptions
        self.arrays = arrays or {}
        self.params = params if params is not None else pd.DataFrame(index=tasks.index)
        self.descriptions = descriptions or {}
        self.job_parameters = job or {}

    def __repr__(self):
        ranks, threads = self.n_ranks, self.threads_per_rank
        return (f"<fanout run {self.path!r}: job {self.job}, {self.task_count} tasks on {ranks} "
                f"rank{'s' if ranks != 1 else ''} x {threads} thread{'s' if threads != 1 else ''}, "
                f"{self.attrs.get('status', '?')}>")

    @property
    def name(self):
        """The file name without directory and .h5 extension."""
        stem = os.path.basename(self.path)
        for ext in (".h5", ".hdf5", ".hdf"):
            if stem.endswith(ext):
                return stem[: -len(ext)]
        return stem

    @property
    def job(self):
        return self.attrs.get("job", "")

    @property
    def n_ranks(self):
        return int(self.attrs.get("n_ranks", len(self.ranks)))

    @property
    def threads_per_rank(self):
        return int(self.attrs.get("threads_per_rank", 1))

    @property
    def hierarchy(self):
        """Who dispatched work to whom (format 1.7): "flat", "node" or a group
        size as digits; "flat" in older files, which had no other dispatch."""
        return self.attrs.get("hierarchy") or "flat"

    @property
    def workers(self):
        """Worker threads in all: ranks x threads per rank."""
        return self.n_ranks * self.threads_per_rank

    @property
    def task_count(self):
        return len(self.tasks)

    @property
    def config(self):
        try:
            return tomllib.loads(self.attrs.get("config", ""))
        except tomllib.TOMLDecodeError:
            return {}

    @property
    def table(self):
        """One row per task, indexed by task id: the sweep's parameters, the
        results (text decoded to str), then status, rank, thread, seconds
        (t_end - t_start), cpu_user and cpu_sys. For example, one result over
        two parameters: run.table.pivot_table(index="x", columns="n",
        values="energy")."""
        results = self.results.copy()
        for column in results.columns:
            if results[column].dtype.kind == "S":
                results[column] = [v.decode("utf-8", errors="replace") for v in results[column]]
        timing = pd.DataFrame({"status": self.tasks["status"], "rank": self.tasks["rank"],
                               "thread": self.tasks["thread"],
                               "seconds": self.tasks["t_end"] - self.tasks["t_start"],
                               "cpu_user": self.tasks["cpu_user"], "cpu_sys": self.tasks["cpu_sys"]},
                              index=self.tasks.index)
        results = results.rename(columns={c: f"result_{c}" for c in results.columns if c in timing.columns})
        params = self.params.rename(columns={c: f"param_{c}" for c in self.params.columns
                                             if c in timing.columns or c in results.columns})
        return pd.concat([params, results, timing], axis=1)

    @property
    def ran(self):
        """The tasks that ran (a row never written has attempt 0)."""
        return self.tasks[self.tasks["attempt"] > 0]

    @property
    def wall(self):
        """The run's wall time as `fanout report` gives it: the `wall_time`
        attribute (format 1.5), else the end of the last phase (the end of
        `write`), or of the last task if the file has no phases; for a
        resumed file, plus each earlier session's wall, the end of its last
        task kept in /tasks (docs/report.md, Resumed runs)."""
        ran = self.ran
        if "session" in ran.columns and len(ran):
            last = max(int(self.attrs.get("sessions", 1)) - 1, int(ran["session"].max()))
            earlier = float(ran[ran["session"] < last].groupby("session")["t_end"].max().sum())
            ran = ran[ran["session"] == last]
        else:
            earlier = 0.0
        if "wall_time" in self.attrs:
            return earlier + float(self.attrs["wall_time"])
        if len(self.phases):
            return earlier + float(self.phases["t_end"].max())
        return earlier + (float(ran["t_end"].max()) if len(ran) else 0.0)


def load(path):
    """Reads a fanout run file. Raises FileNotFoundError if it does not exist
    and FanoutFileError if it is not a readable fanout 1.x run file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: cannot open: {os.strerror(errno.ENOENT)}")
    if not os.path.isfile(path):
        raise FanoutFileError(f"{path}: not a regular file")
    if not h5py.is_hdf5(path):
        raise FanoutFileError(f"{path}: not an HDF5 file (or truncated)")
    try:
        f = open_h5(path)
    except OSError as e:
        raise FanoutFileError(f"{path}: cannot open as HDF5: the file is truncated or damaged "
                              f"(or still being written); HDF5 says: {e}") from e
    with f:
        try:
            attrs = _decode_attrs(f.attrs)
        except (OSError, KeyError, ValueError, RuntimeError) as e:  # a damaged root group (checksums, since 1.5)
            raise FanoutFileError(f"{path}: cannot read: {e}") from e
        if attrs.get("format") != FORMAT_NAME:
            raise FanoutFileError(f'{path}: an HDF5 file, but not a fanout run file (no format = "fanout" attribute)')
        version = attrs.get("format_version", ())
        if len(version) < 1 or version[0] != FORMAT_MAJOR:
            shown = ".".join(str(v) for v in version) or "?"
            raise FanoutFileError(f"{path}: format version {shown}, but fanout_analysis reads "
                                  f"{FORMAT_MAJOR}.x only")
        try:
            _, n_ranks, threads, sessions = _check_counts(f, attrs)
            raw_tasks = read_dataset(f["tasks"])
            _check_tasks(raw_tasks, n_ranks, threads, sessions)
            tables = {}
            units = {}
            descriptions = {"attrs": _descriptions(f.attrs, "attribute_descriptions")}
            for name, index in _INDEX.items():
                if name in f:
                    tables[name] = _errors(f) if name == "errors" else _table(f[name], index, raw_tasks if name == "tasks" else None)
                    units[name] = _units(f[name])
                    descriptions[name] = _descriptions(f[name].attrs, "field_descriptions")
            job = {}
            if "job" in f and isinstance(f["job"], h5py.Group):  # since 1.5
                descriptions["job"] = _descriptions(f["job"].attrs, "attribute_descriptions")
                job = {k: _decode(v) for k, v in f["job"].attrs.items()
                       if k not in ("description", "attribute_descriptions")}
            if "errors" in tables and "id" not in tables["errors"].index.names and "task" in tables["errors"]:
                tables["errors"] = tables["errors"].set_index("task").rename_axis("id")  # 1.0 files before 4bb38b7
            columns, arrays, units["results"], result_descriptions = {}, {}, {}, {}
            if "results" in f:
                for column, dataset in f["results"].items():
                    (columns if dataset.ndim == 1 else arrays)[column] = read_dataset(dataset)
                    if "units" in dataset.attrs:
                        units["results"][column] = _decode(dataset.attrs["units"])
                    result_descriptions[column] = _decode(dataset.attrs.get("description", ""))
            params = {}
            if "params" in f:
                for column, dataset in f["params"].items():
                    values = read_dataset(dataset)
                    if values.dtype.kind == "S":
                        values = np.array([v.decode("utf-8", errors="replace") for v in values], dtype=object)
                    params[column] = values
                order = _decode(f["params"].attrs.get("names", ""))
                names = [n for n in order.split(",") if n in params] if isinstance(order, str) else []
                params = {n: params[n] for n in names + sorted(set(params) - set(names))}
        except FanoutFileError:
            raise
        except (OSError, KeyError, ValueError, RuntimeError, TypeError) as e:
            raise FanoutFileError(f"{path}: cannot read: {e} (the file is damaged)") from e
    tasks = tables.get("tasks")
    if tasks is None:
        raise FanoutFileError(f"{path}: a fanout file without /tasks")
    empty = {
        "ranks": pd.DataFrame(index=pd.Index([], name="rank")),
        "phases": pd.DataFrame({"t_start": [], "t_end": []}, index=pd.Index([], name="name")),
        "errors": pd.DataFrame({"message": pd.Series([], dtype=object)}, index=pd.Index([], name="id", dtype=np.uint64)),
    }
    for name, frame in empty.items():
        tables.setdefault(name, frame)
    lengths = {len(v) for v in columns.values()}
    index = tasks.index if lengths <= {len(tasks)} else pd.RangeIndex(max(lengths), name="id")
    results = pd.DataFrame(columns, index=index)
    params = pd.DataFrame(params, index=index) if params else pd.DataFrame(index=index)
    return Run(path, attrs, tasks, tables["ranks"], tables["phases"], tables["errors"], results, units,
               result_descriptions, arrays, params, descriptions, job)
