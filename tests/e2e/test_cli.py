#!/usr/bin/python3
"""The command line end to end: validate, jobs, help, a run without
mpirun (an MPI singleton), the default output path.

Cases:
  validate        good configs exit 0, bad ones 2; --print is the resolved TOML
  jobs            lists primes and spin with their parameters and columns
  help            --help of fanout and of every subcommand; no subcommand
  top_help        `fanout --help` mentions the run options too
  singleton       `fanout run` without mpirun: one rank, correct results
  default_output  without --output, output.path of the config, relative to the cwd
"""
import os
import re
import sys
import tomllib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import test_primes  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

RUN_OPTIONS = ["--output", "--set", "--force"]


def case_validate(tools, args):
    with e2e.Workdir("validate") as w:
        # validate checks that the output directory exists, as run does
        r = e2e.run(tools, ["validate", tools.config("primes.toml")], cwd=w.path)
        e2e.expect_code(r, 2)
        expect_eq(r.err.strip(), f"fanout: error: {tools.config('primes.toml')}:22: output.path: the directory results "
                  "of results/primes.h5 does not exist; create it first", "validate without the output directory")
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
                                      "huge.h5"], np_=np_, cwd=w.path)
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
        w.mkdir("results")
        e2e.run_ok(tools, ["run", tools.config("spin.toml"), "--set", "job.tasks=4", "--set", "job.duration=0"],
                   np_=2, cwd=w.path)
        expect_eq(e2e.listing(w("results")), ["spin.h5"], "files in ./results after a run without --output")
        data = e2e.check_run_file(w("results", "spin.h5"), n_ranks=2, job="spin", task_count=4, policy="dynamic")
        expect_eq(data["config"]["output"]["path"], "results/spin.h5", "output.path in the stored config")
        # --set output.path works like --output.
        e2e.run_ok(tools, ["run", tools.config("spin.toml"), "--set", "job.tasks=4", "--set", "job.duration=0",
                           "--set", "output.path=results/other.h5"], np_=2, cwd=w.path)
        expect_eq(e2e.listing(w("results")), ["other.h5", "spin.h5"], "files in ./results after --set output.path")
        e2e.check_run_file(w("results", "other.h5"), n_ranks=2, job="spin", task_count=4, policy="dynamic")


if __name__ == "__main__":
    sys.exit(e2e.main({"validate": case_validate, "jobs": case_jobs, "help": case_help, "top_help": case_top_help,
                       "singleton": case_singleton, "default_output": case_default_output}))
