"""CPUs and workers (format 1.5): /ranks cpus is the affinity each rank had,
the binding warning appears only where threads outnumbered the CPUs and
computed, its remedy fits the machine, and report and compare say when
workers outnumbered CPUs. Also the file's descriptions and /job group.

  binding       (np 1) 2 threads: warned under mpirun's default binding, not under --bind-to none
  two_ranks     (np 2) 2 threads each: a remedy that fits the machine's CPUs; no warning for sleeping tasks
  notes         report and compare note the crowded run, not the uncrowded one; threads advice at 64 threads
  job_group     /job equals the [job] table (an array of numbers, nested tables); every field described
  older         files made 1.6, 1.5, 1.4 and 1.0-like again (no hierarchy nor message counts; variable-length
                strings, /errors messages in the compound) are still read by report, compare, predict,
                status and fanout_analysis
"""

import json
import os
import subprocess
import sys
import time

import h5py
import numpy as np

import e2e
from e2e import expect, expect_eq

# CPU-burning tasks: 20 x 0.04 s, long enough to show in CPU time, short enough to be cheap.
SPIN = ["--set", "job.tasks=20", "--set", "job.duration=0.04", "--set", "job.distribution=constant"]
WARNING = "fanout: warning:"


def mpirun(tools, np_, options, args, cwd, timeout=90):
    """`mpiexec -n NP OPTIONS fanout ARGS` (options such as --bind-to none), as e2e.run does."""
    argv = [tools.mpiexec, "-n", str(np_)] + list(options) + [tools.fanout] + list(args)
    t0 = time.monotonic()
    try:
        proc = subprocess.run(argv, cwd=cwd, env=e2e.mpi_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise e2e.Failure(f"timed out after {timeout} s: {' '.join(argv)}\nstderr: {e.stderr}")
    result = e2e.Result(argv, proc, time.monotonic() - t0)
    e2e.expect_code(result, 0)
    return result


def affinities(tools, np_, options):
    """What sched_getaffinity reports in each rank mpiexec starts with these options."""
    argv = [tools.mpiexec, "-n", str(np_)] + list(options) + [
        sys.executable, "-c", "import os; print(len(os.sched_getaffinity(0)))"]
    proc = subprocess.run(argv, env=e2e.mpi_env(), capture_output=True, text=True, timeout=60)
    expect(proc.returncode == 0, f"{' '.join(argv)} failed: {proc.stderr}")
    return sorted(int(x) for x in proc.stdout.split())


def cpus_of(path):
    with h5py.File(path, "r") as f:
        return sorted(int(x) for x in f["ranks"]["cpus"]), [int(x) for x in f["ranks"]["node_cpus"]]


def spin_run(tools, w, name, np_, options, sets):
    path = w(name)
    args = ["run", tools.config("spin.toml"), "--output", path] + SPIN
    for s in sets:
        args += ["--set", s]
    result = mpirun(tools, np_, options, args, w.path)
    return path, result


def case_binding(tools, args):
    machine = len(os.sched_getaffinity(0))
    with e2e.Workdir("cpus-binding") as w:
        bound, result = spin_run(tools, w, "bound.h5", 1, [], ["run.threads_per_rank=2"])
        cpus, node_cpus = cpus_of(bound)
        expect_eq(cpus, affinities(tools, 1, []), "/ranks cpus under the default binding (sched_getaffinity)")
        expect_eq(node_cpus, [machine], "/ranks node_cpus: the CPUs mpirun could have bound the rank to")
        e2e.check_run_file(bound, n_ranks=1, job="spin", task_count=20, policy="dynamic", threads=2)
        if cpus[0] < 2:  # mpirun bound the rank to one core: the threads shared it
            expect(WARNING in result.err, f"no binding warning with 2 threads on {cpus[0]} CPU\n{result.describe()}")
            expect("for 2 worker threads" in result.err, f"the warning does not name the threads\n{result.err}")
            if machine >= 2:
                expect("--map-by slot:PE=2" in result.err and "--bind-to none" in result.err,
                       f"1 rank x 2 threads on {machine} CPUs: expected --bind-to none or --map-by slot:PE=2\n{result.err}")
        unbound, result = spin_run(tools, w, "unbound.h5", 1, ["--bind-to", "none"], ["run.threads_per_rank=2"])
        expect(WARNING not in result.err, f"a warning under --bind-to none\n{result.describe()}")
        expect_eq(cpus_of(unbound)[0], affinities(tools, 1, ["--bind-to", "none"]),
                  "/ranks cpus under --bind-to none (sched_getaffinity)")


def case_two_ranks(tools, args):
    machine = len(os.sched_getaffinity(0))
    with e2e.Workdir("cpus-two-ranks") as w:
        path, result = spin_run(tools, w, "two.h5", 2, [], ["run.threads_per_rank=2"])
        cpus, _ = cpus_of(path)
        expect_eq(cpus, affinities(tools, 2, []), "/ranks cpus of 2 ranks under the default binding")
        if max(cpus) < 2:
            expect(WARNING in result.err, f"no warning: 2 ranks x 2 threads on {cpus} CPUs\n{result.describe()}")
            if machine < 4:  # --map-by slot:PE=2 would need 4 cores: never suggested, something that fits instead
                expect(f"too few for --map-by slot:PE=2" in result.err, f"PE=2 not ruled out on {machine} CPUs\n{result.err}")
                expect("--set run.threads_per_rank=1" in result.err or f"mpirun -n {machine // 2}" in result.err,
                       f"no remedy that fits {machine} CPUs\n{result.err}")
                expect("start mpirun with --bind-to none, or --map-by slot:PE=2" not in result.err,
                       f"PE=2 suggested on {machine} CPUs\n{result.err}")
            else:
                expect("--map-by slot:PE=2" in result.err, f"PE=2 fits {machine} CPUs, not suggested\n{result.err}")
        # The same tasks sleeping: the threads do not compete for the CPU, so no warning.
        sleep, result = spin_run(tools, w, "sleep.h5", 2, [], ["run.threads_per_rank=2", "job.mode=sleep"])
        expect(WARNING not in result.err, f"a warning for sleeping tasks\n{result.describe()}")
        expect_eq(cpus_of(sleep)[0], cpus, "/ranks cpus of the sleeping run")


def report_json(tools, *paths, command="report"):
    result = e2e.run(tools, [command] + list(paths) + ["--format", "json"])
    e2e.expect_code(result, 0)
    return json.loads(result.out)


def case_notes(tools, args):
    machine = len(os.sched_getaffinity(0))
    with e2e.Workdir("cpus-notes") as w:
        # One worker per rank, unbound: never more workers than CPUs.
        alone, _ = spin_run(tools, w, "alone.h5", 1, ["--bind-to", "none"], [])
        crowd = machine + 1  # one worker more than the machine has CPUs, unbound
        crowded, _ = spin_run(tools, w, "crowded.h5", 1, ["--bind-to", "none"], [f"run.threads_per_rank={crowd}"])
        a = report_json(tools, alone)
        expect_eq((a["cpus"], a["oversubscribed"], a["cpu_note"]), (machine, False, ""), "report of alone.h5")
        c = report_json(tools, crowded)
        expect_eq((c["cpus"], c["oversubscribed"]), (machine, True), "report of crowded.h5: cpus, oversubscribed")
        where = f"{crowd} workers (1 rank x {crowd} threads) on the {machine} CPU{'s' if machine > 1 else ''}"
        expect(where in c["cpu_note"] and "parallel efficiency" in c["cpu_note"], f"crowded.h5 note: {c['cpu_note']!r}")
        text = e2e.run_ok(tools, ["report", crowded]).out
        expect("note:      more workers than CPUs" in text, f"no note in the text report\n{text}")
        expect("note:" not in e2e.run_ok(tools, ["report", alone]).out, "a note in the report of alone.h5")
        cmp = report_json(tools, alone, crowded, command="compare")
        by_file = {os.path.basename(r["file"]): r for r in cmp["runs"]}
        expect_eq((by_file["alone.h5"]["oversubscribed"], by_file["crowded.h5"]["oversubscribed"]), (False, True),
                  "compare: oversubscribed")
        expect("crowded.h5" in cmp["cpu_note"] and "alone.h5" not in cmp["cpu_note"], f"compare note {cmp['cpu_note']!r}")
        expect("note: more workers than CPUs in" in e2e.run_ok(tools, ["compare", alone, crowded]).out,
               "no note in compare's text")
        # Sleeping tasks at 64 threads: the advice never tells the run to try what it did.
        many, _ = spin_run(tools, w, "many.h5", 1, ["--bind-to", "none"],
                           ["run.threads_per_rank=64", "job.tasks=64", "job.duration=0.01", "job.mode=sleep"])
        m = report_json(tools, many)
        expect_eq(m["kind"], "I/O-bound", "kind of sleeping tasks")
        expect("threads_per_rank=64" not in m["advice"] and "64 threads per rank already" in m["advice"],
               f"advice at 64 threads: {m['advice']!r}")
        expect_eq(m["suggested_threads_per_rank"], None, "suggested_threads_per_rank at 64 threads")


def case_job_group(tools, args):
    numbers = [2, 3, 4, 97, 1000003]
    with e2e.Workdir("cpus-job") as w:
        path = w("primes.h5")
        e2e.run_ok(tools, ["run", tools.config("primes.toml"), "--output", path,
                           "--set", f"job.numbers={numbers}"], np_=1, cwd=w.path)
        data = e2e.check_run_file(path, n_ranks=1, job="primes", task_count=len(numbers), policy="dynamic")
        with h5py.File(path, "r") as f:
            got = f["job"].attrs["numbers"]
            expect(got.dtype == np.int64 and list(got) == numbers, f"/job numbers: {got!r}")
            expect_eq(e2e.text(f["job"].attrs["kind"]), "primes", "/job kind")
            expect(dict(e2e.text(f["job"].attrs["attribute_descriptions"]))["numbers"] != "",
                   "/job numbers has no description")
            expect_eq(dict(e2e.text(f["ranks"].attrs["field_descriptions"]))["cpus"].split(":")[0],
                      "CPUs this rank's threads could run on", "/ranks cpus description")
        expect_eq(data["config"]["job"]["numbers"], numbers, "numbers in the stored config")
        # A nested table ([job.results] of the command job) is flattened with dots.
        cfg = w.write("cmd.toml", "[job]\nkind = \"command\"\ncommands = [\"echo x=1 > $FANOUT_RESULT\", "
                                  "\"echo x=2 > $FANOUT_RESULT\"]\n[job.results]\nx = \"int64\"\n"
                                  "[output]\npath = \"cmd.h5\"\n")
        e2e.run_ok(tools, ["run", cfg], np_=1, cwd=w.path)
        with h5py.File(w("cmd.h5"), "r") as f:
            expect_eq(e2e.text(f["job"].attrs["results.x"]), "int64", "/job results.x")
            expect_eq(e2e.text(f["job"].attrs["commands"]), ["echo x=1 > $FANOUT_RESULT", "echo x=2 > $FANOUT_RESULT"],
                      "/job commands")
            config = e2e.tomllib.loads(e2e.text(f.attrs["config"]))
        e2e.check_self_description(w("cmd.h5"), config)


def without_fields(f, name, fields, descriptions=False):
    """Rewrites the compound dataset /name without `fields`, keeping its units
    (and, with `descriptions`, its description and the other fields')."""
    old = f[name][()]
    keep = [n for n in old.dtype.names if n not in fields]
    new = np.empty(len(old), dtype=[(n, old.dtype[n]) for n in keep])
    for n in keep:
        new[n] = old[n]
    attrs = dict(f[name].attrs)
    del f[name]
    f.create_dataset(name, data=new, fletcher32=descriptions)  # with descriptions: a 1.6 file, checksummed
    if "units" in attrs:
        units = e2e.text(attrs["units"]).split(";")
        f[name].attrs["units"] = np.bytes_(";".join(u for u in units if u.split("=")[0] not in fields))
    if descriptions:
        f[name].attrs["description"] = attrs["description"]
        rows = [row for row in e2e.text(attrs["field_descriptions"]) if row[0] not in fields]
        f[name].attrs["field_descriptions"] = np.array(rows, dtype=np.bytes_)


FIELDS_1_7 = ["leader", "messages_in", "messages_out", "bytes_in", "bytes_out"]


def make_1_6(f):
    """Takes away what format 1.7 added: the root attribute hierarchy and five /ranks fields."""
    f.attrs["format_version"] = np.array((1, 6), dtype=np.int64)
    del f.attrs["hierarchy"]
    rows = [row for row in e2e.text(f.attrs["attribute_descriptions"]) if row[0] != "hierarchy"]
    f.attrs["attribute_descriptions"] = np.array(rows, dtype=np.bytes_)
    without_fields(f, "ranks", FIELDS_1_7, descriptions=True)


def variable_length_strings(f):
    """Every string attribute of the file as a variable-length string, the
    way fanout wrote them up to format 1.5."""
    def convert(attrs):
        for key in list(attrs):
            value = attrs[key]
            if isinstance(value, bytes) or (isinstance(value, np.ndarray) and value.dtype.kind == "S"):
                attrs.create(key, np.array(e2e.text(value), dtype=h5py.string_dtype()), dtype=h5py.string_dtype())
    convert(f.attrs)
    f.visititems(lambda name, obj: convert(obj.attrs))


def make_1_5(f):
    """Format 1.5's strings: variable-length attributes, /errors with a
    variable-length `message` and no /error_messages (datasets rewritten by
    h5py also lose their checksums, as in files before 1.6)."""
    messages = e2e.error_messages(f)
    old = f["errors"][()]
    rows = np.empty(len(old), dtype=[("id", "<u8"), ("attempt", "<u4"), ("rank", "<i4"),
                                     ("message", h5py.string_dtype())])
    for n in ("id", "attempt", "rank"):
        rows[n] = old[n]
    rows["message"] = [messages[(int(r["id"]), int(r["attempt"]))] for r in old]
    del f["errors"], f["error_messages"]
    f.create_dataset("errors", data=rows)
    f["errors"].attrs["description"] = "one row per failed attempt of a task, by task id and attempt"


def make_older(path, version):
    """Takes away what format 1.7 added, and for older versions what 1.6 and 1.5
    added (and, for 1.0, what 1.1-1.4 added too)."""
    with h5py.File(path, "r+") as f:
        make_1_6(f)
        if version == (1, 6):
            return
        make_1_5(f)
        f.attrs["format_version"] = np.array(version, dtype=np.int64)
        if version == (1, 5):
            variable_length_strings(f)
            return
        for name in ("tasks", "ranks", "phases", "errors"):
            without_fields(f, name, ["cpus", "node_cpus"] if name == "ranks" else [])
        for attr in ("wall_time", "attribute_descriptions"):
            del f.attrs[attr]
        del f["job"]
        if version == (1, 0):
            for attr in ("order", "costs", "job_hash", "sessions"):
                del f.attrs[attr]
            without_fields(f, "tasks", ["session", "cpu_shared"])
            without_fields(f, "ranks", ["node"])
            without_fields(f, "errors", ["attempt", "rank"])
        variable_length_strings(f)


def case_older(tools, args):
    sys.path.insert(0, os.path.join(tools.source_dir, "python"))
    import fanout_analysis as fa
    with e2e.Workdir("cpus-older") as w:
        one, _ = spin_run(tools, w, "one.h5", 1, ["--bind-to", "none"], [])
        two, _ = spin_run(tools, w, "two.h5", 1, ["--bind-to", "none"], ["run.threads_per_rank=2"])
        # A run with failed tasks (UTF-8 in a message comes from the config's
        # job key, not here): its messages read the same from every older layout.
        failed = w("failed.h5")
        e2e.run(tools, ["run", tools.config("spin.toml"), "--output", failed, "--set", "job.tasks=20", "--set",
                        "job.duration=0", "--set", "job.fail_every=6"], np_=1, cwd=w.path)
        expected = report_json(tools, failed)["failures"]
        expect_eq(len(expected), 3, "failures of the 1.6 file")
        for version in ((1, 6), (1, 5), (1, 4), (1, 0)):
            tag = f"{version[0]}.{version[1]}"
            old_one, old_two, old_failed = w(f"one-{tag}.h5"), w(f"two-{tag}.h5"), w(f"failed-{tag}.h5")
            for src, dst in ((one, old_one), (two, old_two), (failed, old_failed)):
                with open(src, "rb") as a, open(dst, "wb") as b:
                    b.write(a.read())
                make_older(dst, version)
            with h5py.File(old_two, "r") as f:
                expect((h5py.check_string_dtype(f.attrs.get_id("status").dtype).length is None) == (version < (1, 6)),
                       f"{tag}: status is not a variable-length string (fixed-length since 1.6)")
            expect_eq(report_json(tools, old_failed)["failures"], expected, f"failures read from a {tag} file")
            run = fa.load(old_failed)
            expect_eq([(int(i), m) for i, m in run.errors["message"].items()],
                      [(x["id"], x["message"]) for x in expected], f"fanout_analysis: messages of a {tag} file")
            expect_eq(run.attrs["status"], "failed", f"fanout_analysis: status of a {tag} file")
            r = report_json(tools, old_two)
            c = report_json(tools, old_one, old_two, command="compare")
            e2e.run_ok(tools, ["predict", old_two, "--ranks", "2"])
            status = e2e.run_ok(tools, ["status", old_two]).out
            expect("20" in status, f"status of a {tag} file:\n{status}")
            expect_eq((r["hierarchy"], r["dispatcher_messages"]), ("flat", None),
                      f"report of a {tag} file: flat dispatch, its load not recorded")
            expect("leader" not in fa.load(old_two).ranks, f"fanout_analysis: a leader column from a {tag} file")
            if version in ((1, 6), (1, 5)):  # 1.5 has CPUs and /job: the rest is about files without them
                continue
            expect_eq((r["cpus"], r["oversubscribed"], r["cpu_note"]), (None, None, ""), f"report of a {tag} file")
            expect("on 2 CPUs" not in r["advice"], f"{tag}: CPUs named in the advice: {r['advice']!r}")
            expect_eq([x["cpus"] for x in c["runs"]], [None, None], f"compare of {tag} files: cpus")
            expect_eq(c["cpu_note"], "", f"compare of {tag} files: cpu_note")
            run = fa.load(old_two)
            expect_eq((run.job_parameters, run.descriptions.get("job"), "cpus" in run.ranks), ({}, None, False),
                      f"fanout_analysis on a {tag} file")
            expect(run.wall > 0 and abs(run.wall - float(run.phases["t_end"].max())) < 1e-12, f"{tag}: wall from /phases")


if __name__ == "__main__":
    sys.exit(e2e.main({"binding": case_binding, "two_ranks": case_two_ranks, "notes": case_notes,
                       "job_group": case_job_group, "older": case_older}))
