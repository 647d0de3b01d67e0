#!/usr/bin/python3
"""A sweep's file as its users read it: `fanout report` naming the sweep,
`report --by PARAM` in text, JSON and CSV, /params read by h5py, and the
Python loader's table (parameters, results and timings side by side).

Case:
  by_param  (--np N) a 3 x 2 x repeat 2 sweep of sh commands where one value
            of x fails every task and the tasks' durations grow with n;
            report --by x / --by n against figures computed from /tasks and
            /params with h5py; the loader's table and a pivot of a result
"""
import csv
import io
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

CONFIG = """
[job]
kind = "command"
# x = 3 fails; every task sleeps n centiseconds and reports x * n
command = "sleep 0.0{n}; test {x} != 3 && echo product=$(({x} * {n})) > $FANOUT_RESULT"
[job.results]
product = "int64"
[params]
x = [1, 2, 3]
n = [1, 4]
[sweep]
repeat = 2
[output]
path = "sweep.h5"
"""


def case_by_param(tools, args):
    with e2e.Workdir("sweep-report") as w:
        config = w("sweep.toml")
        with open(config, "w") as f:
            f.write(CONFIG)
        result = e2e.run(tools, ["run", config], np_=args.np, cwd=w.path)
        e2e.expect_code(result, 1)  # the four tasks of x = 3 failed
        path = w("sweep.h5")
        with h5py.File(path, "r") as f:
            x, n, rep = f["params/x"][()], f["params/n"][()], f["params/repeat"][()]
            tasks = f["tasks"][()]
            product = f["results/product"][()]
            errors = f["errors"][()]
            messages = e2e.error_messages(f)
            group = dict(f["params"].attrs)
        expect_eq(x.tolist(), [1] * 4 + [2] * 4 + [3] * 4, "/params/x (outermost)")
        expect_eq(n.tolist(), [1, 1, 4, 4] * 3, "/params/n")
        expect_eq(rep.tolist(), [0, 1] * 6, "/params/repeat (innermost)")
        expect_eq(e2e.attr_str(group, "describe"), "x (3) x n (2) x repeat (2) = 12 tasks", "/params describe")
        failed = tasks["status"] != 0
        expect_eq(failed.tolist(), (x == 3).tolist(), "failed tasks are exactly those of x = 3")
        expect_eq(product[~failed].tolist(), (x * n)[~failed].tolist(), "/results/product")
        expect_eq(sorted(int(e["id"]) for e in errors), [8, 9, 10, 11], "/errors ids")
        for e in errors:
            message = messages[(int(e["id"]), int(e["attempt"]))]
            expect(message.startswith("exit code 1; command: sleep 0.0") and "test 3 != 3" in message,
                   f"a failed template task names its command line: {message!r}")

        text = e2e.run_ok(tools, ["report", path]).out
        expect("sweep:     x (3) x n (2) x repeat (2) = 12 tasks" in text, f"report names the sweep:\n{text}")
        summary = json.loads(e2e.run_ok(tools, ["report", path, "--format", "json"]).out)
        expect_eq(summary["sweep"], "x (3) x n (2) x repeat (2) = 12 tasks", "report --format json: sweep")

        seconds = tasks["t_end"] - tasks["t_start"]
        cpu = tasks["cpu_user"] + tasks["cpu_sys"]
        by_x = json.loads(e2e.run_ok(tools, ["report", path, "--by", "x", "--format", "json"]).out)
        expect_eq(by_x["by"], "x", "--by x: by")
        expect_eq([g["value"] for g in by_x["groups"]], [1, 2, 3], "--by x: values in order")
        for g in by_x["groups"]:
            mine = x == g["value"]
            expect_eq((g["tasks"], g["ok"], g["failed"], g["not_run"]),
                      (4, 0 if g["value"] == 3 else 4, 4 if g["value"] == 3 else 0, 0), f"--by x={g['value']}: counts")
            expect(abs(g["mean"] - seconds[mine].mean()) < 1e-5, f"--by x={g['value']}: mean {g['mean']}")
            expect(abs(g["max"] - seconds[mine].max()) < 1e-5, f"--by x={g['value']}: max {g['max']}")
            expect(abs(g["cpu_per_wall"] - cpu[mine].sum() / seconds[mine].sum()) < 1e-3,
                   f"--by x={g['value']}: cpu_per_wall {g['cpu_per_wall']}")
        by_n = e2e.run_ok(tools, ["report", path, "--by", "n", "--format", "csv"]).out
        rows = list(csv.DictReader(io.StringIO(by_n)))
        expect_eq([r["n"] for r in rows], ["1", "4"], "--by n --format csv: values")
        expect(float(rows[1]["mean"]) > float(rows[0]["mean"]),
               f"--by n: sleeping 0.04 s takes longer than 0.01 s:\n{by_n}")
        expect_eq([r["failed"] for r in rows], ["2", "2"], "--by n: failures per value")
        by_text = e2e.run_ok(tools, ["report", path, "--by", "n"]).out
        expect(by_text.startswith(f"tasks of {path} by parameter n (2 values):"), f"--by n text:\n{by_text}")

        bad = e2e.run(tools, ["report", path, "--by", "y"])
        e2e.expect_code(bad, 2)
        expect_eq(bad.err.strip(), f"fanout: error: --by y: {path} has no parameter \"y\"; its parameters are n, "
                                   "repeat, x", "--by an unknown parameter")

        check_loader(tools, path, x, n, product, failed)


def check_loader(tools, path, x, n, product, failed):
    """fanout_analysis: the table, and a pivot of a result over two parameters."""
    sys.path.insert(0, os.path.join(tools.source_dir, "python"))
    import fanout_analysis as fa
    run = fa.load(path)
    expect_eq(list(run.params.columns), ["x", "n", "repeat"], "loader: params in axis order")
    table = run.table
    for column in ("x", "n", "repeat", "product", "exit_code", "status", "rank", "seconds", "cpu_user", "cpu_sys"):
        expect(column in table.columns, f"loader: table has no column {column}: {list(table.columns)}")
    expect_eq(table["x"].tolist(), x.tolist(), "loader: table x")
    ok = table[table["status"] == "ok"]
    pivot = ok.pivot_table(index="x", columns="n", values="product")
    expect_eq(pivot.loc[2, 4], 8, "loader: pivot of product over x and n")
    expect_eq(int((table["status"] == "failed").sum()), int(failed.sum()), "loader: failed tasks")


if __name__ == "__main__":
    sys.exit(e2e.main({"by_param": case_by_param}))
