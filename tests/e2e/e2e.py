"""Shared helpers of the end-to-end tier.

Every test script runs the real fanout binary, under a real `mpiexec -n N`
(or as an MPI singleton), in a private temporary directory, and reads the
HDF5 files it writes back with h5py and h5dump, never with fanout's own
reader. Run by /usr/bin/python3 (the interpreter that has h5py), with the
paths of the tools given on the command line by tests/e2e/CMakeLists.txt:

  test_x.py --fanout BIN --mpiexec MPIEXEC --h5dump H5DUMP --factor FACTOR
            --source-dir DIR CASE [--np N]
"""

import argparse
import atexit
import datetime
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import traceback

import h5py
import numpy as np

PHASES = ["setup", "distribute", "compute", "collect", "write"]
POLICIES = ["static-block", "static-cyclic", "dynamic", "guided"]
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

# Signs that a process crashed or dumped a stack instead of failing cleanly.
CRASH_SIGNS = [
    "Segmentation fault", "core dumped", "terminate called", "Aborted", "internal error",
    "Traceback", "HDF5-DIAG", "#000:", "stack trace", "Signal:", "on signal ",
    "what():", "free():", "double free", "AddressSanitizer", "runtime error:", "MPI_ABORT",
]

# A run as one user of the test would start it: no MPI rank variables of
# an enclosing launcher (ctest may itself be started under one).
LAUNCHER_PREFIXES = ("OMPI_COMM_WORLD_", "OMPI_MCA_ess", "PMIX_", "PMI_", "SLURM_", "OMPI_UNIVERSE", "OMPI_FILE_LOCATION")


class Failure(AssertionError):
    pass


def expect(condition, message):
    """An assertion that survives python -O and says what went wrong."""
    if not condition:
        raise Failure(message)


def expect_eq(actual, expected, what):
    if actual != expected:
        raise Failure(f"{what}: expected {expected!r}, got {actual!r}")


class Tools:
    """Paths of the programs under test and of the second readers."""

    def __init__(self, args):
        self.fanout = os.path.abspath(args.fanout)
        self.mpiexec = args.mpiexec
        self.h5dump = args.h5dump
        self.factor = args.factor
        self.source_dir = os.path.abspath(args.source_dir)
        for path in (self.fanout, self.mpiexec, self.h5dump, self.factor):
            expect(os.path.isfile(path) and os.access(path, os.X_OK), f"not an executable: {path}")

    def config(self, name):
        return os.path.join(self.source_dir, "configs", name)


_private_tmp = None


def private_tmp():
    """This test's own temporary directory for the programs it starts: the
    one tests/private-tmp.sh made for it under ctest, else one made here
    (mode 1777 like /tmp, removed at exit). Open MPI keeps its session
    directory in it rather than in /tmp/ompi.HOST.UID, which root's or
    another user's earlier runs may own: mpirun as the root of a user
    namespace (unshare -r) is uid 0 but cannot use root's /tmp/ompi.HOST.0
    ("orte_session_dir failed")."""
    global _private_tmp
    if _private_tmp is None:
        given = os.environ.get("OMPI_MCA_orte_tmpdir_base")
        if given and os.environ.get("TMPDIR") == given and os.path.isdir(given):
            _private_tmp = given
        else:
            _private_tmp = tempfile.mkdtemp(prefix="fanout-test-")
            os.chmod(_private_tmp, 0o1777)
            atexit.register(shutil.rmtree, _private_tmp, True)
    return _private_tmp


def mpi_env():
    """The environment of every fanout process: Open MPI allowed to run as
    root and to put more ranks than cores on this machine, with a temporary
    directory of this test's own (private_tmp), set here rather than trusted
    to the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(LAUNCHER_PREFIXES)}
    env["TMPDIR"] = env["OMPI_MCA_orte_tmpdir_base"] = private_tmp()
    env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
    env.setdefault("OMPI_MCA_pml", "ob1")
    env.setdefault("OMPI_MCA_btl", "self,vader,tcp")
    env["LC_ALL"] = "C"
    return env


class Result:
    def __init__(self, argv, proc, seconds):
        self.argv = argv
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.seconds = seconds

    @property
    def both(self):
        return self.out + self.err

    def describe(self):
        return (f"command: {' '.join(self.argv)}\nexit code: {self.code}\n"
                f"--- stdout ---\n{self.out}--- stderr ---\n{self.err}--------------")


# Once a rank exits non-zero, mpirun tears the job down: it signals the ranks
# left and sleeps its odls_base_sigkill_timeout (1 s) before it kills them
# and exits, 1-2 s in all, even when every rank has exited already. A run of
# `fanout run` or `resume` that is refused before any task starts (a bad
# config, option or file: rank 0 finds it and every rank returns the same
# code after MPI_Finalize, so nothing is left to end) needs no such wait:
# run(..., refused=True) sets it to 0. Not for commands without MPI under
# mpirun (each rank exits on its own; rank 0 may still be printing), nor for
# runs that started tasks, nor where a test signals mpirun.
REFUSED_ENV = {"OMPI_MCA_odls_base_sigkill_timeout": "0"}


def run(tools, args, np_=None, cwd=None, timeout=90, prefix=(), env=None, refused=False):
    """Runs `fanout ARGS`, under `mpiexec -n NP` if np_ is given, else as a
    plain process (an MPI singleton for `run`); `prefix` goes before it all
    (e.g. setpriv); `env`: variables added to mpi_env(); `refused`: a run or
    resume expected to be refused before any task (REFUSED_ENV). Returns a
    Result."""
    if np_ is None:
        argv = list(prefix) + [tools.fanout] + list(args)
    else:
        argv = list(prefix) + [tools.mpiexec, "-n", str(np_), "--oversubscribe", tools.fanout] + list(args)
    if refused:
        expect(args[0] in ("run", "resume"), f"refused=True: for run and resume (MPI), not {args[0]}")
        env = {**REFUSED_ENV, **(env or {})}
    t0 = time.monotonic()
    try:
        proc = subprocess.run(argv, cwd=cwd, env={**mpi_env(), **(env or {})}, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise Failure(f"timed out after {timeout} s (a hang or deadlock): {' '.join(argv)}\n"
                      f"stdout: {e.stdout}\nstderr: {e.stderr}")
    return Result(argv, proc, time.monotonic() - t0)


def run_spin(tools, w, n, name, sets):
    """Runs configs/spin.toml at n ranks with `--set` overrides, writing w/name; returns the path."""
    path = w(name)
    argv = ["run", tools.config("spin.toml"), "--output", path]
    for s in sets:
        argv += ["--set", s]
    run_ok(tools, argv, np_=n, cwd=w.path)
    return path


def expect_code(result, code):
    expect(result.code == code, f"expected exit code {code}, got {result.code}\n{result.describe()}")
    expect_clean(result)


def expect_clean(result):
    """No signal, no core dump, no stack trace, no HDF5 error stack."""
    expect(result.code >= 0, f"killed by signal {-result.code}\n{result.describe()}")
    expect(result.code not in (134, 139), f"exit code {result.code} looks like an abort or a crash\n{result.describe()}")
    for sign in CRASH_SIGNS:
        expect(sign not in result.both, f"output contains {sign!r} (a crash or a stack dump)\n{result.describe()}")


def run_ok(tools, args, np_=None, cwd=None, timeout=90, env=None):
    result = run(tools, args, np_, cwd, timeout, env=env)
    expect_code(result, 0)
    return result


class Workdir:
    """A private temporary directory, for `with Workdir(name) as w:`; removed
    when the block passes, kept (and its path printed) when it fails."""

    def __init__(self, name):
        self.path = tempfile.mkdtemp(prefix=f"fanout-e2e-{name}-")

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            print(f"(files kept in {self.path})", file=sys.stderr)
        return False

    def __call__(self, *parts):
        return os.path.join(self.path, *parts)

    def mkdir(self, *parts):
        p = self(*parts)
        os.makedirs(p, exist_ok=True)
        return p

    def write(self, name, text):
        p = self(name)
        with open(p, "w") as f:
            f.write(text)
        return p


# ---------------------------------------------------------------- readers


def read_file(path):
    """Everything in a fanout run file, read with h5py (not with fanout)."""
    expect(os.path.isfile(path), f"no output file {path}")
    expect(h5py.is_hdf5(path), f"{path} is not an HDF5 file")
    out = {}
    with h5py.File(path, "r") as f:
        out["attrs"] = {k: f.attrs[k] for k in f.attrs}
        out["members"] = sorted(f.keys())
        for name in ("tasks", "ranks", "phases", "errors"):
            expect(name in f, f"{path}: no /{name} dataset")
            expect(isinstance(f[name], h5py.Dataset), f"{path}: /{name} is not a dataset")
            out[name] = f[name][()]
            out[name + "_dtype"] = f[name].dtype
        expect("results" in f and isinstance(f["results"], h5py.Group), f"{path}: no /results group")
        out["results"] = {}
        out["results_dtype"] = {}
        for name, ds in f["results"].items():
            out["results"][name] = ds[()]
            out["results_dtype"][name] = ds.dtype
    return out


def text(value):
    """A string attribute (fixed-length since format 1.6: h5py gives bytes),
    or an array of them (nested lists), as str."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.dtype.kind in "SO":
        return [text(v) for v in value.tolist()]
    if isinstance(value, list):
        return [text(v) for v in value]
    return value


def error_messages(f):
    """{(id, attempt): message} of /errors in an open run file: since format 1.6
    bytes [message_offset, message_offset + message_length) of /error_messages,
    before a variable-length field `message`."""
    rows = f["errors"][()]
    names = rows.dtype.names or ()
    attempts = rows["attempt"] if "attempt" in names else np.ones(len(rows), dtype=np.uint32)
    if "message" in names:
        messages = [text(m) for m in rows["message"]]
    else:
        data = f["error_messages"][()].tobytes()
        messages = [data[int(o):int(o) + int(n)].decode("utf-8") for o, n in zip(rows["message_offset"],
                                                                                 rows["message_length"])]
    return {(int(i), int(a)): m for i, a, m in zip(rows["id"], attempts, messages)}


def attr_str(attrs, name):
    expect(name in attrs, f"root attribute {name} missing")
    v = attrs[name]
    if isinstance(v, bytes):
        v = v.decode()
    expect(isinstance(v, str), f"root attribute {name} is not a string: {v!r}")
    return v


def attr_int(attrs, name):
    expect(name in attrs, f"root attribute {name} missing")
    v = np.asarray(attrs[name])
    expect(v.shape == () and np.issubdtype(v.dtype, np.integer), f"root attribute {name} is not an integer: {v!r}")
    return int(v)


def iso_time(attrs, name):
    text = attr_str(attrs, name)
    expect(ISO_UTC.match(text), f"{name} = {text!r} is not ISO-8601 UTC (YYYY-MM-DDTHH:MM:SSZ)")
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def results_bytes(data):
    """The /results datasets as (name, dtype, raw bytes): equal means bit-identical."""
    return {name: (str(data["results_dtype"][name]), data["results"][name].tobytes())
            for name in sorted(data["results"])}


def check_run_file(path, *, n_ranks, job, task_count, policy, threads=1, config_path=None,
                   since=None, until=None, columns=None):
    """The structural checks every complete run file must pass. Returns the
    data read by h5py."""
    d = read_file(path)
    a = d["attrs"]
    where = f"{path}"

    # Root attributes.
    expect_eq(attr_str(a, "format"), "fanout", f"{where}: format")
    fv = np.asarray(a.get("format_version"))
    expect(fv.shape == (2,) and np.issubdtype(fv.dtype, np.integer), f"{where}: format_version {fv!r} is not [major, minor]")
    expect_eq([int(x) for x in fv], [1, 7], f"{where}: format_version")
    expect_eq(attr_str(a, "job"), job, f"{where}: job")
    expect_eq(attr_str(a, "status"), "complete", f"{where}: status")
    expect_eq(attr_int(a, "n_ranks"), n_ranks, f"{where}: n_ranks")
    expect_eq(attr_int(a, "threads_per_rank"), threads, f"{where}: threads_per_rank")
    expect_eq(attr_int(a, "task_count"), task_count, f"{where}: task_count")
    expect_eq(attr_str(a, "scheduler"), policy, f"{where}: scheduler")
    expect(attr_str(a, "chunk") != "", f"{where}: empty chunk attribute")
    expect(attr_str(a, "fanout_version") != "", f"{where}: empty fanout_version")
    expect(attr_str(a, "git_sha") != "", f"{where}: empty git_sha")
    expect("Open MPI" in attr_str(a, "mpi_library"), f"{where}: mpi_library {attr_str(a, 'mpi_library')!r}")
    cl = attr_str(a, "command_line")
    expect(" run " in cl, f"{where}: command_line {cl!r} does not record the run command")
    if config_path:
        expect(config_path in cl, f"{where}: command_line {cl!r} does not name the config {config_path}")
    created, finished = iso_time(a, "created"), iso_time(a, "finished")
    expect(created <= finished, f"{where}: created {created} after finished {finished}")
    if since is not None:
        lo = datetime.datetime.fromtimestamp(int(since) - 2, datetime.timezone.utc)
        hi = datetime.datetime.fromtimestamp(int(until) + 2, datetime.timezone.utc)
        expect(lo <= created and finished <= hi, f"{where}: created {created} / finished {finished} not within "
               f"the test's own run [{lo}, {hi}] (not UTC?)")
    try:
        config = tomllib.loads(attr_str(a, "config"))
    except tomllib.TOMLDecodeError as e:
        raise Failure(f"{where}: the config attribute is not TOML: {e}\n{attr_str(a, 'config')}")
    expect_eq(config.get("job", {}).get("kind"), job, f"{where}: config job.kind")
    expect_eq(config.get("schedule", {}).get("policy"), policy, f"{where}: config schedule.policy")
    expect_eq(config.get("run", {}).get("threads_per_rank"), threads, f"{where}: config run.threads_per_rank")
    expect(os.path.basename(str(config.get("output", {}).get("path"))) == os.path.basename(path),
           f"{where}: config output.path {config.get('output', {}).get('path')!r} is not this file")
    d["config"] = config

    # /tasks: one row per task, id == row index, every task once.
    t = d["tasks"]
    names = set(t.dtype.names or ())
    for field in ("id", "rank", "thread", "status", "attempt", "t_start", "t_end", "cpu_user", "cpu_sys", "cpu_shared"):
        expect(field in names, f"{where}: /tasks has no field {field} (fields {sorted(names)})")
    expect_eq(len(t), task_count, f"{where}: rows of /tasks")
    expect(np.array_equal(t["id"], np.arange(task_count)), f"{where}: /tasks id is not the row index: {t['id']}")
    expect_eq(len(set(int(i) for i in t["id"])), task_count, f"{where}: distinct task ids")
    expect(np.all((t["rank"] >= 0) & (t["rank"] < n_ranks)), f"{where}: /tasks rank outside [0, {n_ranks}): {t['rank']}")
    expect(np.all((t["thread"] >= 0) & (t["thread"] < threads)), f"{where}: /tasks thread outside [0, {threads}): {t['thread']}")
    expect(np.all(t["t_start"] >= 0), f"{where}: negative t_start: {t['t_start']}")
    expect(np.all(t["t_end"] >= t["t_start"]), f"{where}: t_end < t_start in /tasks")
    expect(np.all(t["cpu_user"] >= 0) and np.all(t["cpu_sys"] >= 0), f"{where}: negative task CPU time")
    expect(np.all((t["cpu_shared"] == 0) | (t["cpu_shared"] == 1)), f"{where}: cpu_shared not 0 or 1: {t['cpu_shared']}")
    expect(np.all(t["attempt"] == 1), f"{where}: attempt is not 1 everywhere: {t['attempt']}")
    status_enum = h5py.check_enum_dtype(d["tasks_dtype"]["status"])
    expect(status_enum is not None and status_enum.get("ok") is not None,
           f"{where}: /tasks status is not an enum with an 'ok' value: {d['tasks_dtype']['status']}")
    expect(np.all(t["status"] == status_enum["ok"]), f"{where}: a task's status is not ok: {t['status']}")
    expect_eq(len(d["errors"]), 0, f"{where}: rows of /errors")

    # /phases: the five phases in order, times never going back.
    p = d["phases"]
    phase_names = [n.decode() if isinstance(n, bytes) else str(n) for n in p["name"]]
    expect_eq(phase_names, PHASES, f"{where}: /phases names")
    expect(p["t_start"][0] >= 0, f"{where}: setup starts before 0: {p['t_start'][0]}")
    for i in range(len(p)):
        expect(p["t_end"][i] >= p["t_start"][i], f"{where}: phase {phase_names[i]} ends before it starts: {p[i]}")
        if i + 1 < len(p):
            expect(p["t_start"][i + 1] >= p["t_end"][i],
                   f"{where}: phase {phase_names[i + 1]} starts before {phase_names[i]} ends: {p}")
    compute = p[PHASES.index("compute")]
    expect(np.all(t["t_start"] >= compute["t_start"]) and np.all(t["t_end"] <= compute["t_end"]),
           f"{where}: tasks outside the compute phase [{compute['t_start']}, {compute['t_end']}]")
    wall = float(p["t_end"][-1])

    # /ranks: one row per rank, tasks adding up, busy and CPU consistent with /tasks.
    r = d["ranks"]
    expect_eq(len(r), n_ranks, f"{where}: rows of /ranks")
    expect_eq([int(x) for x in r["rank"]], list(range(n_ranks)), f"{where}: /ranks rank column")
    expect_eq(int(r["tasks"].sum()), task_count, f"{where}: sum of /ranks tasks")
    expect(np.all(r["threads"] == threads), f"{where}: /ranks threads {r['threads']} != {threads}")
    expect_eq(len(set(int(x) for x in r["pid"])), n_ranks, f"{where}: distinct pids in /ranks")
    expect(np.all(r["pid"] > 0) and np.all(r["max_rss"] > 0), f"{where}: pid or max_rss not positive in /ranks")
    for row in r:
        k = int(row["rank"])
        mine = t[t["rank"] == k]
        host = row["host"].decode() if isinstance(row["host"], bytes) else str(row["host"])
        expect(host != "", f"{where}: rank {k} has no host name")
        expect_eq(int(row["tasks"]), len(mine), f"{where}: /ranks tasks of rank {k} vs its rows in /tasks")
        busy = float((mine["t_end"] - mine["t_start"]).sum())
        expect(abs(row["busy"] - busy) <= 1e-6 + 1e-9 * len(mine),
               f"{where}: rank {k} busy {row['busy']} != the sum of its task times {busy}")
        expect(row["busy"] <= threads * wall + 1e-6, f"{where}: rank {k} busy {row['busy']} > threads x wall {wall}")
        expect(row["idle"] >= 0 and row["comm"] >= 0, f"{where}: negative idle or comm for rank {k}")
        cpu = float(row["cpu_user"] + row["cpu_sys"])
        task_cpu = float((mine["cpu_user"] + mine["cpu_sys"]).sum())
        expect(row["cpu_user"] >= 0 and row["cpu_sys"] >= 0, f"{where}: negative CPU for rank {k}")
        expect(cpu + 1e-5 * (len(mine) + 1) >= task_cpu,
               f"{where}: rank {k} CPU {cpu} is less than the CPU of its own tasks {task_cpu}")

    check_self_description(path, config)
    expect(np.all(r["cpus"] >= 1) and np.all(r["node_cpus"] >= r["cpus"]),
           f"{where}: /ranks cpus {r['cpus']} or node_cpus {r['node_cpus']} not recorded")
    expect(abs(float(a["wall_time"]) - wall) < 1e-9, f"{where}: wall_time {a['wall_time']} != the end of write {wall}")
    # Format 1.7: the hierarchy the run used, each rank's leader, the runner's messages.
    hierarchy = attr_str(a, "hierarchy")
    expect(hierarchy in ("flat", "node") or (hierarchy.isdigit() and int(hierarchy) >= 1),
           f"{where}: hierarchy {hierarchy!r} is not flat, node or a group size")
    expect(np.all((r["leader"] >= 0) & (r["leader"] < n_ranks)) and r["leader"][0] == 0,
           f"{where}: /ranks leader {r['leader']} outside [0, {n_ranks}) or rank 0's not 0")
    if hierarchy == "flat":
        expect(np.all(r["leader"] == 0), f"{where}: flat dispatch, yet /ranks leader is {r['leader']}")
    # Every message one rank sent during the task loop another received.
    expect_eq(int(r["messages_in"].sum()), int(r["messages_out"].sum()), f"{where}: /ranks messages in vs out")
    expect_eq(int(r["bytes_in"].sum()), int(r["bytes_out"].sum()), f"{where}: /ranks bytes in vs out")

    # /results: one value per task in every column of the job.
    if columns is not None:
        expect_eq(sorted(d["results"]), sorted(columns), f"{where}: /results datasets")
    for name, values in d["results"].items():  # array columns: one row per task
        expect_eq(values.shape[:1], (task_count,), f"{where}: shape of /results/{name}")
    return d


SLURM_ATTRS = ["slurm_job_id", "slurm_array_task_id", "slurm_nodelist", "slurm_partition", "slurm_cpus_per_task",
               "slurm_time_limit"]


def flatten_job(table, prefix=""):
    """The [job] table as the /job group stores it: nested tables flattened with dots."""
    out = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(flatten_job(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def check_self_description(path, config):
    """Format 1.5: a description for every field of the compound datasets and
    every root attribute, /job equal to the config's [job] table, and the
    slurm_* attributes all six inside Slurm, none outside."""
    with h5py.File(path, "r") as f:
        for name in ("tasks", "ranks", "phases", "errors"):
            ds = f[name]
            expect(isinstance(text(ds.attrs.get("description")), str) and text(ds.attrs["description"]),
                   f"{path}: /{name} has no description")
            described = dict(text(ds.attrs["field_descriptions"]))
            expect_eq(list(described), list(ds.dtype.names), f"{path}: /{name} field_descriptions names")
            empty = [k for k, v in described.items() if not v]
            expect(not empty, f"{path}: /{name} fields without a description: {empty}")
        described = dict(text(f.attrs["attribute_descriptions"]))
        expect_eq(sorted(described), sorted(f.attrs), f"{path}: attribute_descriptions names")
        empty = [k for k, v in described.items() if not v]
        expect(not empty, f"{path}: root attributes without a description: {empty}")
        slurm = [k for k in f.attrs if k.startswith("slurm_")]
        if "slurm_job_id" in f.attrs:
            expect_eq(sorted(slurm), sorted(SLURM_ATTRS), f"{path}: slurm attributes inside Slurm")
            expect(text(f.attrs["slurm_job_id"]) != "", f"{path}: empty slurm_job_id")
        else:
            expect_eq(slurm, [], f"{path}: slurm attributes outside Slurm")
        expect("job" in f and isinstance(f["job"], h5py.Group), f"{path}: no /job group")
        job = {k: text(v) for k, v in f["job"].attrs.items() if k not in ("description", "attribute_descriptions")}
        expected = flatten_job(config.get("job", {}))
        expect_eq(sorted(job), sorted(expected), f"{path}: /job attributes")
        for key, value in expected.items():
            got = job[key]
            kinds = {bool if isinstance(v, bool) else float if isinstance(v, (int, float)) else type(v)
                     for v in value} if isinstance(value, list) else set()
            if isinstance(value, list) and len(kinds) == 1 and kinds <= {bool, float, str}:
                expect_eq([x.item() if hasattr(x, "item") else x for x in got], value, f"{path}: /job/{key}")
            elif isinstance(value, list):  # empty, nested or mixed: its TOML text
                expect(isinstance(got, str), f"{path}: /job/{key}: expected TOML text, got {got!r}")
            else:
                got = got.item() if hasattr(got, "item") else got
                expect(got == value and type(got) is type(value), f"{path}: /job/{key}: expected {value!r}, got {got!r}")
        described = dict(text(f["job"].attrs["attribute_descriptions"]))
        expect_eq(sorted(described), sorted(f["job"].attrs), f"{path}: /job attribute_descriptions names")


# ---------------------------------------------------------------- h5dump


def h5dump(tools, *args):
    proc = subprocess.run([tools.h5dump] + list(args), capture_output=True, text=True, timeout=60)
    expect(proc.returncode == 0, f"h5dump {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout


def h5dump_values(tools, path, dataset):
    """The values of a 1-d integer dataset as h5dump prints them."""
    text = h5dump(tools, "-d", dataset, path)
    m = re.search(r"DATA \{\n(.*?)\n\s*\}", text, re.S)
    expect(m, f"h5dump -d {dataset}: no DATA block in\n{text}")
    body = re.sub(r"\(\d+\):", " ", m.group(1))
    return [int(x) for x in re.split(r"[,\s]+", body.strip()) if x]


def h5dump_attr(tools, path, attr):
    text = h5dump(tools, "-a", attr, path)
    m = re.search(r"DATA \{\n\s*\(0\): (.*?)\n", text)
    expect(m, f"h5dump -a {attr}: no DATA in\n{text}")
    return m.group(1).strip()


# ---------------------------------------------------------------- oracle


def factor_oracle(tools, numbers):
    """{n: is n prime} from coreutils factor: prime iff its one factor is n."""
    proc = subprocess.run([tools.factor] + [str(n) for n in numbers], capture_output=True, text=True, timeout=60)
    expect(proc.returncode == 0, f"factor failed: {proc.stderr}")
    out = {}
    for line in proc.stdout.splitlines():
        head, _, tail = line.partition(":")
        factors = tail.split()
        out[int(head)] = len(factors) == 1 and int(factors[0]) == int(head)
    expect(all(n in out for n in numbers), f"factor did not answer for every number: {proc.stdout}")
    return out


def processes_with(*markers):
    """Live (not zombie) processes whose command line contains every marker."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if all(m in cmdline for m in markers) and state != "Z":
            found.append((int(pid), cmdline.strip()))
    return found


def listing(directory):
    return sorted(os.listdir(directory))


def snapshot(directory):
    """Everything under directory, hidden files included: each path with its
    type, size, mtime and (files) sha256, and each directory's own mtime, so
    a file made and removed again shows too."""
    out = {}
    for root, dirs, files in os.walk(directory):
        st = os.stat(root)
        out[os.path.relpath(root, directory) + "/"] = ("dir", st.st_mode, st.st_mtime_ns)
        for name in files:
            path = os.path.join(root, name)
            if os.path.islink(path) or not os.path.isfile(path):
                out[os.path.relpath(path, directory)] = ("other", os.lstat(path).st_mode)
            elif os.access(path, os.R_OK):
                out[os.path.relpath(path, directory)] = fingerprint(path)
            else:
                st = os.stat(path)
                out[os.path.relpath(path, directory)] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return out


def snapshot_diff(before, after):
    """What changed between two snapshots, as readable lines."""
    lines = [f"new: {p}" for p in sorted(set(after) - set(before))]
    lines += [f"gone: {p}" for p in sorted(set(before) - set(after))]
    lines += [f"changed: {p}" for p in sorted(set(before) & set(after)) if before[p] != after[p]]
    return lines


def fingerprint(path):
    st = os.stat(path)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return (st.st_size, st.st_mtime_ns, st.st_ino, digest)


# ---------------------------------------------------------------- main


def main(cases, extra_args=None):
    """Parses the common arguments and runs the one CASE named: a function
    case(tools, args). Exit 0 on success, 1 with a message on failure."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--fanout", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--h5dump", default=shutil.which("h5dump") or "h5dump")
    parser.add_argument("--factor", default=shutil.which("factor") or "factor")
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--np", type=int, default=None)
    parser.add_argument("case", choices=sorted(cases))
    if extra_args:
        extra_args(parser)
    args = parser.parse_args()
    tools = Tools(args)
    t0 = time.monotonic()
    try:
        cases[args.case](tools, args)
    except Failure as e:
        print(f"FAIL {args.case}{'' if args.np is None else f' (np {args.np})'}: {e}", file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc()
        print(f"ERROR {args.case}: the test itself broke (see above)", file=sys.stderr)
        return 1
    print(f"ok {args.case}{'' if args.np is None else f' np {args.np}'} ({time.monotonic() - t0:.1f} s)")
    return 0
