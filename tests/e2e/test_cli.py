#!/usr/bin/python3
"""The command line end to end: validate, jobs, help, a run without
mpirun (an MPI singleton), the default output path.

Cases:
  validate        good configs exit 0, bad ones 2; --print is the resolved TOML
  jobs            lists primes and spin with their parameters and columns
  help            --help of fanout and of every subcommand; no subcommand
  top_help        `fanout --help` mentions the run options too
  singleton       `fanout run` without mpirun: one rank, correct results
  default_output  without --output, output.path of the config, relative to the cwd;
                  results/ is created when missing (and said so), other directories are not
  wrong_kind      (--np N) a config where a run file goes (report, status, compare,
                  predict, plot, resume) and a run file or journal where a config
                  goes (run, validate, submit): exit 2, one message saying what was
                  expected and found and which command takes it, told by content
  once            (--np N) commands without MPI under mpirun -n N print once
                  (rank 0 runs them; a fanout inside a run's task still prints)
"""
import json
import os
import re
import struct
import sys
import tomllib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import test_errors  # noqa: E402
import test_primes  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

RUN_OPTIONS = ["--output", "--set", "--force"]


def case_validate(tools, args):
    with e2e.Workdir("validate") as w:
        # validate checks that the output directory exists, as run does; results/ run would create
        r = e2e.run(tools, ["validate", tools.config("primes.toml"), "-o", "elsewhere/primes.h5"], cwd=w.path)
        e2e.expect_code(r, 2)
        expect_eq(r.err.strip(), "fanout: error: --output elsewhere/primes.h5: output.path: the directory elsewhere "
                  "of elsewhere/primes.h5 does not exist; create it first", "validate without the output directory")
        r = e2e.run_ok(tools, ["validate", tools.config("primes.toml")], cwd=w.path)
        expect_eq(r.out.splitlines()[1:], ["note: results does not exist; fanout run will create it (the default "
                                           "output directory)"], "validate without results/")
        expect_eq(e2e.listing(w.path), [], "files after validate without results/ (it creates nothing)")
        os.makedirs(w("results"))
        before = e2e.listing(w.path)
        r = e2e.run_ok(tools, ["validate", tools.config("primes.toml")], cwd=w.path)
        expect(re.search(r": ok: job primes with 20 tasks, policy dynamic", r.out), f"validate primes:\n{r.describe()}")
        r = e2e.run_ok(tools, ["validate", tools.config("spin.toml"), "--set", "job.tasks=7",
                               "--set", "schedule.policy=static-cyclic", "--set", "run.threads_per_rank=3"], cwd=w.path)
        expect(re.search(r": ok: job spin with 7 tasks, policy static-cyclic, 3 threads per rank", r.out),
               f"validate spin with overrides:\n{r.describe()}")
        r = e2e.run_ok(tools, ["validate", tools.config("spin.toml"), "--print", "--set", "job.seed=9",
                               "--output", "elsewhere.h5"], cwd=w.path)
        toml_text = r.out.split("\n", 1)[1]
        try:
            resolved = tomllib.loads(toml_text)
        except tomllib.TOMLDecodeError as e:
            raise e2e.Failure(f"validate --print is not TOML after its first line: {e}\n{r.out}")
        expect_eq(resolved["job"]["seed"], 9, "--print: job.seed after --set")
        expect_eq(resolved["job"]["tasks"], 200, "--print: job.tasks from the config")
        expect_eq(resolved["output"]["path"], "elsewhere.h5", "--print: output.path after --output")
        expect_eq(resolved["run"]["threads_per_rank"], 1, "--print: run.threads_per_rank default")
        bad = w.write("bad.toml", '[job]\nkind = "spin"\ntasks = 0\n')
        r = e2e.run(tools, ["validate", bad], cwd=w.path)
        e2e.expect_code(r, 2)
        expect_eq(r.err.strip(), f"fanout: error: {bad}:3: job.tasks: expected a whole number from 1 to "
                  "10000000000, found 0", "validate bad.toml: message")
        # One bad number: 10^12 tasks is refused before anything is written (it
        # used to pass validate, then die of std::bad_alloc leaving a journal).
        for cmd, np_ in ((["validate"], None), (["run"], 2)):
            r = e2e.run(tools, cmd + [tools.config("spin.toml"), "--set", "job.tasks=1000000000000", "--output",
                                      "huge.h5"], np_=np_, cwd=w.path, refused=np_ is not None)
            e2e.expect_code(r, 2)
            expect(f"job.tasks: expected a whole number from 1 to 10000000000, found 1000000000000" in r.err,
                   f"{cmd[0]} with 10^12 tasks\n{r.describe()}")
        r = e2e.run(tools, ["validate", tools.config("primes.toml"), "--set", "schedule.policy=dynamc"], cwd=w.path)
        e2e.expect_code(r, 2)
        r = e2e.run(tools, ["validate", w("missing.toml")], cwd=w.path)
        e2e.expect_code(r, 2)
        expect_eq(e2e.listing(w.path), sorted(before + ["bad.toml"]), "files after validate (it writes nothing)")


def job_blocks(text):
    """{job kind: its block of `fanout jobs` output}."""
    blocks, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^(\w+): ", line)
        if m:
            current = m.group(1)
            blocks[current] = []
        elif line.startswith("Run settings"):
            current = "settings"
            blocks[current] = []
        elif current:
            blocks[current].append(line)
    return {k: "\n".join(v) for k, v in blocks.items()}


def case_jobs(tools, args):
    r = e2e.run_ok(tools, ["jobs"])
    blocks = job_blocks(r.out)
    expected = {
        "primes": (["numbers"], ["number", "is_prime"]),
        "spin": (["tasks", "duration", "distribution", "sigma", "seed", "mode"], ["duration"]),
        "command": (["commands", "file", "timeout"],
                    ["exit_code", "signal", "cpu_user", "cpu_sys", "max_rss", "stdout_tail", "stderr_tail"]),
    }
    for kind, (params, columns) in expected.items():
        expect(kind in blocks, f"fanout jobs does not list {kind}:\n{r.out}")
        block = blocks[kind]
        expect("parameters" in block and "result columns" in block, f"{kind}: no parameters / result columns:\n{block}")
        params_part, columns_part = block.split("result columns", 1)
        for p in params:
            expect(re.search(rf"^\s+{p}\s", params_part, re.M), f"fanout jobs: {kind} does not list parameter {p}")
        for c in columns:
            expect(re.search(rf"^\s+{c}\s", columns_part, re.M), f"fanout jobs: {kind} does not list column {c}")
    expect(re.search(r"^\s+tasks\s.*\(default 100\)", blocks["spin"], re.M), "spin tasks default not shown")
    expect(re.search(r"^\s+numbers\s.*\(required\)", blocks["primes"], re.M), "primes numbers not marked required")
    expect(re.search(r'^\s+mode\s.*"cpu".*"sleep"', blocks["spin"], re.M), "spin mode choices not shown")
    for key in ("schedule.policy", "schedule.chunk", "run.threads_per_rank", "output.path"):
        expect(key in blocks.get("settings", ""), f"fanout jobs does not list the run setting {key}:\n{r.out}")
    expect_eq(r.err, "", "fanout jobs: stderr")


def case_help(tools, args):
    r = e2e.run_ok(tools, ["--help"])
    for word in ("run", "validate", "jobs", "report", "--version", "Exit codes", "0 ok", "1 tasks failed",
                 "2 usage", "3 I/O error", "4 interrupted"):
        expect(word in r.out, f"fanout --help does not mention {word!r}:\n{r.out}")
    r = e2e.run_ok(tools, ["run", "--help"])
    for word in RUN_OPTIONS + ["CONFIG", "KEY=VALUE", "PATH", "-o"]:
        expect(word in r.out, f"fanout run --help does not mention {word}:\n{r.out}")
    r = e2e.run_ok(tools, ["validate", "--help"])
    for word in ("--set", "--output", "--print", "CONFIG"):
        expect(word in r.out, f"fanout validate --help does not mention {word}:\n{r.out}")
    r = e2e.run_ok(tools, ["report", "--help"])
    for word in ("--format", "json", "FILE"):
        expect(word in r.out, f"fanout report --help does not mention {word}:\n{r.out}")
    e2e.run_ok(tools, ["jobs", "--help"])
    r = e2e.run_ok(tools, ["--version"])
    expect(re.match(r"^\d+\.\d+\.\d+ \(([0-9a-f]{12,}(-dirty)?|unknown)\)$", r.out.strip()),
           f"fanout --version: {r.out!r}")
    r = e2e.run(tools, [])
    e2e.expect_code(r, 2)
    expect("subcommand" in r.both.lower(), f"fanout without a subcommand does not say one is needed:\n{r.describe()}")
    r = e2e.run(tools, ["frobnicate"])
    e2e.expect_code(r, 2)
    # Under mpirun, help is printed once, by rank 0.
    r = e2e.run_ok(tools, ["run", "--help"], np_=2)
    expect_eq(r.out.count("--force"), 1, f"times --force appears in `mpirun -n 2 fanout run --help`\n{r.describe()}")


def case_top_help(tools, args):
    r = e2e.run_ok(tools, ["--help"])
    missing = [o for o in RUN_OPTIONS if o not in r.out]
    expect(not missing, f"fanout --help does not mention the options {missing}:\n{r.out}")


def case_singleton(tools, args):
    config, numbers = test_primes.config_numbers(tools)
    expected, oracle = test_primes.expected_results(tools, numbers)
    with e2e.Workdir("singleton") as w:
        path = w("primes.h5")
        r = e2e.run_ok(tools, ["run", tools.config("primes.toml"), "--output", path], cwd=w.path)
        expect("on 1 rank" in r.err, f"the summary line does not say 1 rank:\n{r.describe()}")
        data = e2e.check_run_file(path, n_ranks=1, job="primes", task_count=len(numbers),
                                  policy=config["schedule"]["policy"], columns=["number", "is_prime"])
        test_primes.check_results(data, numbers, oracle, expected, "singleton primes")
        test_primes.check_h5dump(tools, path, numbers, oracle, 1)
        expect(np.all(data["tasks"]["rank"] == 0), "a singleton task not on rank 0")
        # Threads work without mpirun too.
        path = w("spin.h5")
        e2e.run_ok(tools, ["run", tools.config("spin.toml"), "--output", path, "--set", "job.tasks=16",
                           "--set", "job.duration=0.01", "--set", "run.threads_per_rank=2"], cwd=w.path)
        data = e2e.check_run_file(path, n_ranks=1, job="spin", task_count=16, policy="dynamic", threads=2)
        expect_eq(sorted(set(int(x) for x in data["tasks"]["thread"])), [0, 1], "threads used by a singleton")
        expect_eq(e2e.listing(w.path), ["primes.h5", "spin.h5"], "files after the singleton runs")
        r = e2e.run_ok(tools, ["report", path], cwd=w.path)
        expect(re.search(r"on 1 rank x 2 threads", r.out), f"report of the singleton run:\n{r.out}")


def case_default_output(tools, args):
    with e2e.Workdir("default-output") as w:
        # results/ is made when missing, once (rank 0), and said so.
        r = e2e.run_ok(tools, ["run", tools.config("spin.toml"), "--set", "job.tasks=4", "--set", "job.duration=0"],
                       np_=2, cwd=w.path)
        expect_eq(r.err.count("fanout: created results/ (the default output directory) for results/spin.h5\n"), 1,
                  f"times the run says it created results/\n{r.describe()}")
        expect_eq(e2e.listing(w("results")), ["spin.h5"], "files in ./results after a run without --output")
        data = e2e.check_run_file(w("results", "spin.h5"), n_ranks=2, job="spin", task_count=4, policy="dynamic")
        expect_eq(data["config"]["output"]["path"], "results/spin.h5", "output.path in the stored config")
        # --set output.path works like --output.
        r = e2e.run_ok(tools, ["run", tools.config("spin.toml"), "--set", "job.tasks=4", "--set", "job.duration=0",
                               "--set", "output.path=results/other.h5"], np_=2, cwd=w.path)
        expect_eq(e2e.listing(w("results")), ["other.h5", "spin.h5"], "files in ./results after --set output.path")
        e2e.check_run_file(w("results", "other.h5"), n_ranks=2, job="spin", task_count=4, policy="dynamic")
        expect("created" not in r.err, f"a run into an existing results/ says it created it\n{r.describe()}")
        # A config without output.path (the default results/<kind>.h5), from another directory.
        sub = w.mkdir("sub")
        config = w.write("bare.toml", '[job]\nkind = "spin"\ntasks = 3\nduration = 0\n')
        r = e2e.run_ok(tools, ["run", config], np_=2, cwd=sub)
        expect("fanout: created results/ (the default output directory) for results/spin.h5" in r.err, r.describe())
        expect_eq(e2e.listing(os.path.join(sub, "results")), ["spin.h5"], "files in sub/results")
        # Any other missing directory is the user's to make: exit 2, nothing made.
        r = e2e.run(tools, ["run", config, "-o", "made-up/x.h5"], np_=2, cwd=sub, refused=True)
        test_errors.expect_one_error(r, "--output made-up/x.h5: output.path: the directory made-up of made-up/x.h5 "
                                     "does not exist; create it first", "a missing directory given with --output")
        expect_eq(e2e.listing(sub), ["results"], "files in sub after the refused run")


def refused(argv, np_):
    """Whether e2e.run may tear mpirun down at once: a run or resume (MPI,
    collective) under mpirun, not a command without MPI."""
    return np_ is not None and argv[0] in ("run", "resume")


def case_wrong_kind(tools, args):
    n = args.np or 2
    with e2e.Workdir(f"wrong-kind-np{n}") as w:
        with open(tools.config("spin.toml")) as f:
            spin = f.read()
        # Told by content: a config named .h5 and a run file named .toml are what they hold.
        configs = [w.write("sim.toml", spin), w.write("sim-config.h5", spin)]
        e2e.run_ok(tools, ["run", configs[0], "-o", w("good.h5"), "--set", "job.tasks=3", "--set", "job.duration=0"])
        e2e.run_ok(tools, ["run", configs[0], "-o", w("done.toml"), "--set", "job.tasks=3", "--set",
                           "job.duration=0"])
        journal = w("stopped.h5.journal")
        with open(journal, "wb") as f:  # a journal's header (docs/file-format.md#the-checkpoint-journal)
            f.write(b"FANOUT JOURNAL\n\0" + struct.pack("<IQQQ", 1, 3, 8, 1))
        before = e2e.snapshot(w.path)
        for c in configs:
            message = (f"{c}: expected a run file (HDF5, as fanout run writes), found a config (TOML); to run it: "
                       f"fanout run {c} (add --resume to continue its interrupted run)")
            for argv, np_ in [(["report", c], None), (["report", c, "--format", "json"], None), (["status", c], None),
                              (["compare", w("good.h5"), c], None), (["predict", c, "--ranks", "2"], None),
                              (["plot", c, "--out", w.path], None), (["resume", c], n), (["report", c], n)]:
                test_errors.expect_one_error(e2e.run(tools, argv, np_=np_, cwd=w.path, refused=refused(argv, np_)),
                                             message, " ".join(argv))
        for bad, found, advice in [
                (w("done.toml"), "an HDF5 file (a run file, as fanout run writes)",
                 "to summarise it: fanout report {0}; to continue it if it was interrupted: fanout resume {0}"),
                (journal, "the checkpoint journal of a run",
                 "to see how far it got: fanout status {0}; to continue it: fanout resume {0}")]:
            message = f"{bad}: expected a config (TOML), found {found}; " + advice.format(bad)
            for argv, np_ in [(["run", bad], n), (["run", bad, "-o", w("x.h5")], None), (["validate", bad], None),
                              (["submit", bad, "--nodes", "1", "--ntasks-per-node", "1", "--time", "00:10:00",
                                "--dry-run"], None)]:
                test_errors.expect_one_error(e2e.run(tools, argv, np_=np_, cwd=w.path, refused=refused(argv, np_)),
                                             message, " ".join(argv))
        message = (f"{journal}: expected a run file (HDF5), found the checkpoint journal of a run; to see how far it "
                   f"got: fanout status {journal}; to continue it: fanout resume {journal}")
        for argv in (["report", journal], ["predict", journal, "--ranks", "2"], ["plot", journal]):
            test_errors.expect_one_error(e2e.run(tools, argv, cwd=w.path), message, " ".join(argv))
        expect_eq(e2e.snapshot_diff(before, e2e.snapshot(w.path)), [], "files touched by the refused commands")
        # A text file that is neither stays an I/O error (exit 3), as before.
        notes = w.write("notes.h5", "not a run, not a config\n")
        r = e2e.run(tools, ["report", notes], cwd=w.path)
        e2e.expect_code(r, 3)
        expect_eq(r.err, f"fanout: error: {notes}: not an HDF5 file (or truncated)\n", "report of a text file")


def case_once(tools, args):
    n = args.np or 2
    with e2e.Workdir(f"once-np{n}") as w:
        good = w("good.h5")
        e2e.run_ok(tools, ["run", tools.config("spin.toml"), "-o", good, "--set", "job.tasks=6",
                           "--set", "job.duration=0"], np_=n, cwd=w.path)
        other = w("other.h5")
        e2e.run_ok(tools, ["run", tools.config("spin.toml"), "-o", other, "--set", "job.tasks=6",
                           "--set", "job.duration=0"], cwd=w.path)
        pngs = w.mkdir("pngs")
        # Each command's output, run alone, must come out exactly once under mpirun -n N.
        for argv in (["report", good], ["report", good, "--format", "json"], ["status", good],
                     ["compare", good, other], ["predict", good, "--ranks", "3"], ["jobs"],
                     ["validate", tools.config("spin.toml"), "-o", w("new.h5")],
                     ["plot", good, "--out", pngs],
                     ["submit", tools.config("spin.toml"), "--nodes", "1", "--ntasks-per-node", "2", "--time",
                      "00:10:00", "--output", w("slurm.h5"), "--dry-run"]):
            alone = e2e.run_ok(tools, argv, cwd=w.path)
            under = e2e.run_ok(tools, argv, np_=n, cwd=w.path)
            expect(alone.out.strip() != "", f"{' '.join(argv)} printed nothing alone\n{alone.describe()}")
            expect_eq(under.out, alone.out, f"stdout of {' '.join(argv)} under mpirun -n {n} (printed once)")
        expect_eq(e2e.listing(pngs), ["good-durations.png", "good-timeline.png", "good-utilisation.png"],
                  "PNGs after plot (alone, then under mpirun)")
        # A fanout started by a task of a run inherits the launcher's variables
        # (OMPI_COMM_WORLD_RANK of its rank), but it is no rank: it prints on every rank.
        line = f"{tools.fanout} status {good} > out-$FANOUT_TASK_ID.txt; echo $FANOUT_RANK > rank-$FANOUT_TASK_ID.txt"
        config = w.write("nested.toml", f"""[job]
kind = "command"
commands = {json.dumps([line] * 6)}
[schedule]
policy = "static-cyclic"
""")
        e2e.run_ok(tools, ["run", config, "-o", w("nested.h5")], np_=n, cwd=w.path)
        expected = e2e.run_ok(tools, ["status", good], cwd=w.path).out
        ranks = set()
        for task in range(6):
            with open(w(f"out-{task}.txt")) as f:
                expect_eq(f.read(), expected, f"fanout status run by task {task}")
            with open(w(f"rank-{task}.txt")) as f:
                ranks.add(int(f.read()))
        expect_eq(ranks, set(range(min(n, 6))), "ranks whose tasks ran fanout status")


if __name__ == "__main__":
    sys.exit(e2e.main({"validate": case_validate, "jobs": case_jobs, "help": case_help, "top_help": case_top_help,
                       "singleton": case_singleton, "default_output": case_default_output,
                       "wrong_kind": case_wrong_kind, "once": case_once}))
