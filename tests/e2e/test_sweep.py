#!/usr/bin/python3
"""Parameter sweeps of the command job end to end: a command template over
[params] and [sweep], typed results from $FANOUT_RESULT, the real binary
under mpirun, the file read back with h5py.

Cases:
  grid         (--np N) 3 x 4 x 2 axes (a list of floats, a range, a bool
               list) x repeat 2 of a small CPU-burning Python script; its
               results (JSON for one copy, name=value lines for the other)
               equal the formula computed here from the task id (last axis
               fastest); the same /results at N ranks and at another count;
               /tasks CPU (the children's, wait4) most of the tasks' wall time at 1 rank
  hostile      text parameters with spaces, quotes, $(...), backquotes, ;,
               newlines and braces each arrive as one argument and as
               FANOUT_PARAM_s, byte for byte; nothing in them is executed
  bad_results  tasks writing missing, mistyped, undeclared, NaN, too long or
               unparseable results fail alone, each with its message and
               command line in /errors; the others complete; exit 1
  config_errors bad [params], [sweep] and command templates: exit 2, one
               message naming FILE:LINE and the key, nothing written
  example      configs/sweep.toml (examples/sweep/oscillator.py) as its
               comment says, from the source directory: results equal the
               example's own integrate() for each task's damping and frequency
"""
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

PYTHON = "/usr/bin/python3"
OWN = ["exit_code", "signal", "cpu_user", "cpu_sys", "max_rss", "stdout_tail", "stderr_tail"]
# The job's own columns that hold the same at every rank count (not CPU or memory).
STABLE_OWN = ["exit_code", "signal", "stdout_tail", "stderr_tail"]


def toml_string(text):
    """A TOML basic string holding text exactly (control characters escaped)."""
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def read(path):
    """Status enum (name by value), /tasks, /results, /errors {id: message}, status attribute."""
    expect(os.path.isfile(path), f"no output file {path}")
    with h5py.File(path, "r") as f:
        enum = h5py.check_enum_dtype(f["tasks"].dtype["status"])
        expect(enum is not None, f"/tasks status is not an enum: {f['tasks'].dtype}")
        tasks = f["tasks"][()]
        results = {name: f["results"][name][()] for name in f["results"]}
        dtypes = {name: f["results"][name].dtype for name in f["results"]}
        errors = {i: m for (i, _), m in e2e.error_messages(f).items()}
        attrs = {k: f.attrs[k] for k in f.attrs}
    expect(np.array_equal(tasks["id"], np.arange(len(tasks))), f"{path}: /tasks id is not the row index")
    names = {v: k for k, v in enum.items()}
    status = [names[int(s)] for s in tasks["status"]]
    return status, tasks, results, dtypes, errors, attrs


def text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


# ---------------------------------------------------------------- grid

GRID_SCRIPT = r'''
import json, os, sys
args = sys.argv[1:]
x = float(args[args.index("--x") + 1])
n = int(args[args.index("--n") + 1])
flag = args[args.index("--flag") + 1]
repeat = int(os.environ["FANOUT_PARAM_repeat"])
if os.environ["FANOUT_PARAM_flag"] != flag or int(os.environ["FANOUT_PARAM_n"]) != n:
    sys.exit("FANOUT_PARAM_ and the arguments disagree")
k = 0
for i in range(n * 40000 + repeat):  # the CPU-bound part
    k += i
y = x * x * n + (0.5 if flag == "true" else -0.5) + repeat * 0.125
label = "/".join(os.environ["FANOUT_PARAM_" + p] for p in ("x", "n", "flag", "repeat"))
with open(os.environ["FANOUT_RESULT"], "w") as f:
    if repeat == 0:
        json.dump({"y": y, "k": k, "label": label, "v": [x, n], "ok": flag == "true"}, f)
    else:
        f.write(f"# name=value lines\ny = {y!r}\nk={k}\nlabel = {label}\nv = [{x!r}, {n}]\nok = {flag}\n")
'''

GRID_X = [0.1, 0.25, 1.5]
GRID_N = [2, 4, 6, 8]          # { start = 2, stop = 10, step = 2 }
GRID_FLAG = [True, False]
GRID_REPEAT = 2
GRID_CONFIG = f"""[job]
kind = "command"
command = "{PYTHON} grid.py --x {{x}} --n {{n}} --flag {{flag}}"

[job.results]
y = "float64"
k = "int64"
label = "text[32]"
v = "float64[2]"
ok = "bool"

[params]
x = [0.1, 0.25, 1.5]
n = {{ start = 2, stop = 10, step = 2 }}
flag = [true, false]

[sweep]
mode = "product"
repeat = {GRID_REPEAT}

[schedule]
policy = "dynamic"
chunk = 1

[output]
path = "grid.h5"
"""


def grid_expected():
    """The results of every task, computed here from its id alone: the axes
    in written order, the last (repeat) fastest."""
    count = len(GRID_X) * len(GRID_N) * len(GRID_FLAG) * GRID_REPEAT
    rows = []
    for task in range(count):
        rest, repeat = divmod(task, GRID_REPEAT)
        rest, fi = divmod(rest, len(GRID_FLAG))
        xi, ni = divmod(rest, len(GRID_N))
        x, n, flag = GRID_X[xi], GRID_N[ni], GRID_FLAG[fi]
        m = n * 40000 + repeat
        rows.append({"y": x * x * n + (0.5 if flag else -0.5) + repeat * 0.125,
                     "k": m * (m - 1) // 2,
                     "label": f"{x!r}/{n}/{'true' if flag else 'false'}/{repeat}",
                     "v": [x, float(n)],
                     "ok": flag})
    return rows


def run_grid(tools, w, n, output):
    r = e2e.run(tools, ["run", "grid.toml", "--output", output, "--progress", "never"], np_=n, cwd=w.path)
    e2e.expect_code(r, 0)
    expect("48 of 48 tasks done (0 failed)" in r.err, f"summary line at {n} ranks: {r.err}")
    status, tasks, res, dtypes, errors, attrs = read(w(output))
    expect_eq(text(attrs["status"]), "complete", f"{output}: status attribute")
    expect_eq(int(attrs["task_count"]), 48, f"{output}: task_count")
    expect_eq(int(attrs["n_ranks"]), n, f"{output}: n_ranks")
    expect_eq(status, ["ok"] * 48, f"{output}: task statuses")
    expect_eq(errors, {}, f"{output}: /errors")
    expect_eq(sorted(res), sorted(OWN + ["y", "k", "label", "v", "ok"]), f"{output}: /results datasets")
    return tasks, res, dtypes


def case_grid(tools, args):
    n = args.np
    other = 3 if n == 1 else 1
    want = grid_expected()
    with e2e.Workdir(f"sweep-grid-np{n}") as w:
        w.write("grid.py", GRID_SCRIPT)
        w.write("grid.toml", GRID_CONFIG)
        tasks, res, dtypes = run_grid(tools, w, n, "grid.h5")

        expect_eq(str(dtypes["y"]), "float64", "y dtype")
        expect_eq(str(dtypes["k"]), "int64", "k dtype")
        expect_eq(dtypes["v"].shape, (), "v dtype is per element")
        expect_eq(res["v"].shape, (48, 2), "shape of /results/v (float64[2])")
        expect(dtypes["label"].kind == "S" and dtypes["label"].itemsize == 32, f"label dtype {dtypes['label']}")
        for task, row in enumerate(want):
            got = {"y": float(res["y"][task]), "k": int(res["k"][task]), "label": text(res["label"][task]),
                   "v": [float(a) for a in res["v"][task]], "ok": bool(res["ok"][task])}
            expect_eq(got, row, f"results of task {task} ({'JSON' if task % 2 == 0 else 'name=value'})")
        expect_eq(res["exit_code"].tolist(), [0] * 48, "exit codes")

        # The same results at another rank count.
        tasks_other, res_other, _ = run_grid(tools, w, other, "grid-other.h5")
        for name in ["y", "k", "label", "v", "ok"] + STABLE_OWN:
            expect(res[name].dtype == res_other[name].dtype and res[name].tobytes() == res_other[name].tobytes(),
                   f"/results/{name} differs between {n} and {other} ranks")

        # /tasks CPU is the children's CPU (wait4), as the job's own columns
        # say, and most of the CPU-bound tasks' wall time: checked at 1 rank,
        # where the tasks do not share the cores with more ranks than there are.
        one_tasks, one_res = (tasks, res) if n == 1 else (tasks_other, res_other)
        cpu = one_tasks["cpu_user"] + one_tasks["cpu_sys"]
        own = one_res["cpu_user"] + one_res["cpu_sys"]
        expect(np.allclose(cpu, own, atol=2e-3), f"/tasks CPU {cpu} differs from /results cpu_user + cpu_sys {own}")
        wall = one_tasks["t_end"] - one_tasks["t_start"]
        ratio = float(cpu.sum() / wall.sum())
        # About 0.9 on an idle machine; fanout's own thread's CPU alone would
        # be near 0. 0.3 leaves room for a loaded machine (a build beside it).
        expect(ratio > 0.3, f"the CPU-bound tasks used {cpu.sum():.3f} s of CPU in {wall.sum():.3f} s ({ratio:.2f})")
        expect(np.all(cpu <= wall * 1.05 + 0.02), f"a task used more CPU than its wall time: {cpu} vs {wall}")


# ---------------------------------------------------------------- hostile

HOSTILE = [
    "a b",
    "'; touch PWNED; '",
    "$(touch PWNED2)",
    "`touch PWNED3`",
    "line1\nline2",
    '"quote"',
    "{x}",
    "",
    "'",
    "\\",
    "-n",
    "*",
    "~",
    "$HOME ${HOME}",
    "a;b|c&d>e<f",
    "tab\there  two spaces ",
    "\u00fc \u00e9 \u2603",
    "; touch PWNED4 #",
    "\"$(touch PWNED5)\"",
    "back\\slash 'single' \"double\" $((1+1))",
]

HOSTILE_SCRIPT = r'''
import json, os, sys
with open(os.environ["FANOUT_RESULT"], "w") as f:
    json.dump({"argc": len(sys.argv) - 1, "a0": sys.argv[1], "a1": sys.argv[2], "a2": sys.argv[3],
               "a3": sys.argv[4], "env": os.environ["FANOUT_PARAM_s"]}, f)
'''


def case_hostile(tools, args):
    with e2e.Workdir("sweep-hostile") as w:
        w.write("hostile.py", HOSTILE_SCRIPT)
        # {s} twice, {{s}} a literal {s}, ${FANOUT_TASK_ID} a shell variable.
        command = f"{PYTHON} hostile.py {{s}} {{{{s}}}} {{s}} ${{FANOUT_TASK_ID}}"
        w.write("hostile.toml", "\n".join([
            "[job]", 'kind = "command"', f"command = {toml_string(command)}",
            "", "[job.results]", 'argc = "int64"', 'a0 = "text[256]"', 'a1 = "text[256]"', 'a2 = "text[256]"',
            'a3 = "text[256]"', 'env = "text[256]"',
            "", "[params]", "s = [" + ", ".join(toml_string(s) for s in HOSTILE) + "]",
            "", "[output]", 'path = "hostile.h5"', ""]))
        r = e2e.run(tools, ["run", "hostile.toml", "--progress", "never"], np_=2, cwd=w.path)
        e2e.expect_code(r, 0)
        status, tasks, res, dtypes, errors, attrs = read(w("hostile.h5"))
        expect_eq(errors, {}, "/errors")
        expect_eq(status, ["ok"] * len(HOSTILE), "task statuses")
        for task, value in enumerate(HOSTILE):
            got = {"argc": int(res["argc"][task]), "a0": text(res["a0"][task]), "a1": text(res["a1"][task]),
                   "a2": text(res["a2"][task]), "a3": text(res["a3"][task]), "env": text(res["env"][task])}
            expect_eq(got, {"argc": 4, "a0": value, "a1": "{s}", "a2": value, "a3": str(task), "env": value},
                      f"task {task}, parameter {value!r}: its arguments and FANOUT_PARAM_s")
        pwned = [os.path.join(root, name) for root, dirs, files in os.walk(w.path)
                 for name in dirs + files if name.startswith("PWNED")]
        expect(not pwned, f"a parameter was executed by the shell: {pwned}")
        expect_eq(sorted(os.listdir(w.path)), ["hostile.h5", "hostile.py", "hostile.toml"], "files in the run directory")


# ---------------------------------------------------------------- bad results

BAD_SCRIPT = r'''
import json, os, sys
case = sys.argv[1]
task = int(os.environ["FANOUT_TASK_ID"])
good = {"energy": task * 1.5, "steps": task * 7, "label": f"ok{task}"}
path = os.environ["FANOUT_RESULT"]
def write(text):
    with open(path, "w") as f:
        f.write(text)
if case in ("good", "exit_3"):
    write(json.dumps(good))
elif case == "good_lines":
    write("".join(f"{k} = {v}\n" for k, v in good.items()))
elif case == "missing_file":
    pass
elif case == "missing_one":
    del good["steps"]
    write(json.dumps(good))
elif case == "wrong_type":
    write(json.dumps({**good, "energy": "abc"}))
elif case == "float_for_int":
    write(json.dumps({**good, "steps": 2.5}))
elif case == "undeclared":
    write(json.dumps({**good, "bogus": 1}))
elif case == "nan_int_lines":
    write(f"energy = 1.0\nsteps = nan\nlabel = x\n")
elif case == "nan_int_json":
    write(json.dumps({**good, "steps": float("nan")}))  # NaN: not JSON
elif case == "too_long":
    write(json.dumps({**good, "label": "123456789"}))
elif case == "garbage":
    write("hello world\nthis is not a result\n")
elif case == "empty":
    write("")
elif case == "out_of_range":
    write(json.dumps({**good, "steps": 1e30}))
elif case == "nan_float":
    write("energy = nan\nsteps = 3\nlabel = x\n")
if case == "exit_3":
    sys.exit(3)
'''

DECLARED = "energy, label, steps"
# (case, the message in /errors before "; command: ..."; None: the task succeeds)
BAD_CASES = [
    ("good", None),
    ("missing_file", f"no results: the command wrote nothing to $FANOUT_RESULT (expected {DECLARED})"),
    ("missing_one", "missing result steps"),
    ("good_lines", None),
    ("wrong_type", 'result energy (float64): found "abc", not a number'),
    ("float_for_int", "result steps (int64): found 2.5, not a whole number"),
    ("undeclared", f'"bogus" is not a declared result (declared: {DECLARED})'),
    ("good", None),
    ("nan_int_lines", "result steps (int64): found nan, not a whole number"),
    ("nan_int_json", "the result file starts with { but is not valid JSON (nor name=value lines)"),
    ("too_long", "result label: a text of 9 bytes is too long for text[8]"),
    ("garbage", "line 1 of the result file is not name=value (nor is the file one JSON object)"),
    ("empty", f"no results: the result file is empty (expected {DECLARED})"),
    ("out_of_range", "result steps (int64): 1e+30 is out of range (-9223372036854775808 to 9223372036854775807)"),
    ("exit_3", "exit code 3"),
    ("nan_float", None),  # NaN is a float64 like any other
    ("good_lines", None),
]


def case_bad_results(tools, args):
    with e2e.Workdir("sweep-bad-results") as w:
        w.write("bad.py", BAD_SCRIPT)
        w.write("bad.toml", "\n".join([
            "[job]", 'kind = "command"', f'command = "{PYTHON} bad.py {{case}}"',
            "", "[job.results]", 'energy = "float64"', 'steps = "int64"', 'label = "text[8]"',
            "", "[params]", "case = [" + ", ".join(toml_string(c) for c, _ in BAD_CASES) + "]",
            "", "[output]", 'path = "bad.h5"', ""]))
        r = e2e.run(tools, ["run", "bad.toml", "--progress", "never"], np_=2, cwd=w.path)
        e2e.expect_code(r, 1)
        failing = [i for i, (_, message) in enumerate(BAD_CASES) if message]
        expect(f"{len(BAD_CASES)} of {len(BAD_CASES)} tasks done ({len(failing)} failed)" in r.err,
               f"summary line: {r.err}")
        status, tasks, res, dtypes, errors, attrs = read(w("bad.h5"))
        expect_eq(text(attrs["status"]), "failed", "status attribute")
        expect_eq(status, ["failed" if message else "ok" for _, message in BAD_CASES], "task statuses")
        want_errors = {i: f"{message}; command: {PYTHON} bad.py {case}"
                       for i, (case, message) in enumerate(BAD_CASES) if message}
        expect_eq(errors, want_errors, "/errors")
        expect_eq(str(dtypes["energy"]), "float64", "energy dtype")
        expect_eq(str(dtypes["steps"]), "int64", "steps dtype")
        for task, (case, message) in enumerate(BAD_CASES):
            if message:
                continue
            energy = float(res["energy"][task])
            if case == "nan_float":
                expect(np.isnan(energy), f"task {task}: energy {energy} is not NaN")
                expect_eq((int(res["steps"][task]), text(res["label"][task])), (3, "x"), f"task {task} results")
            else:
                expect_eq((energy, int(res["steps"][task]), text(res["label"][task])), (task * 1.5, task * 7, f"ok{task}"),
                          f"task {task} ({case}) results")
        expect_eq(int(res["exit_code"][14]), 3, "the exit code of the task that exited with 3")
        expect_eq([int(c) for i, c in enumerate(res["exit_code"]) if i != 14], [0] * (len(BAD_CASES) - 1),
                  "the exit codes of the other tasks")


# ---------------------------------------------------------------- config errors

JOB = '[job]\nkind = "command"\ncommand = "/usr/bin/python3 run.py {x}"\n'
CONFIG_ERRORS = {
    # name: (config text, the error after "FILE:LINE: ", the text on LINE)
    "empty_list": (JOB + "\n[params]\nx = []\n",
                   "params.x: expected a non-empty list of values, found []", "x = []"),
    "mixed_list": (JOB + '\n[params]\nx = [1, "a"]\n',
                   'params.x: expected values of one type (numbers, strings or booleans), found a mix: [1, "a"]',
                   "x = [1"),
    "bad_mode": (JOB + '\n[params]\nx = [1, 2]\n\n[sweep]\nmode = "cross"\n',
                 'sweep.mode: expected one of "product", "zip", found "cross"', "mode ="),
    "unknown_slot": ('[job]\nkind = "command"\ncommand = "/usr/bin/python3 run.py {x} {y}"\n\n[params]\nx = [1, 2]\n',
                     "job.command: {y} names no parameter; the parameters are x (write {{ and }} for literal braces)",
                     "command ="),
    "zip_lengths": (JOB + '\n[params]\nx = [1, 2]\ny = [1, 2, 3]\n\n[sweep]\nmode = "zip"\n',
                    'params.y: mode "zip" takes the axes together, so they must be of one length: params.x has 2 '
                    "values, params.y has 3", "y ="),
    "range_step_0": (JOB + "\n[params]\nx = { start = 0, stop = 5, step = 0 }\n",
                     "params.x.step: expected a whole number other than 0, found 0", "x = {"),
    "log_from_0": (JOB + '\n[params]\nx = { from = 0, to = 1, num = 3, scale = "log" }\n',
                   "params.x: a log scale needs from and to above 0, found from = 0, to = 1", "x = {"),
    "repeat_0": (JOB + "\n[params]\nx = [1]\n\n[sweep]\nrepeat = 0\n",
                 "sweep.repeat: expected a whole number from 1 to 10000000000, found 0", "repeat ="),
    "reserved_name": (JOB + "\n[params]\nx = [1]\nrepeat = [1, 2]\n",
                      "params.repeat: \"repeat\" is the name of the copy number that [sweep] repeat adds; name the "
                      "parameter otherwise", "repeat ="),
    "no_params": (JOB, "job.command: a command template runs once per combination of [params], and the config has no "
                       "[params] (for example [params] x = [1, 2, 3]); for fixed command lines use commands",
                  "command ="),
    "result_type": (JOB + '\n[job.results]\nenergy = "float"\n\n[params]\nx = [1]\n',
                    "job.results.energy: expected one of bool, uint8, int32, int64, uint32, uint64, float64, text[N], "
                    'or an array T[N] of one of them, found "float" (a string)', "energy ="),
    "nul_text": (JOB + '\n[params]\nx = ["a\\u0000b"]\n', "params.x[0]: a text parameter cannot hold a NUL character",
                 "x = ["),
}

# Also run at 2 ranks under mpirun (each mpirun takes about a second).
UNDER_MPIRUN = {"empty_list", "bad_mode", "unknown_slot", "zip_lengths"}


def case_config_errors(tools, args):
    with e2e.Workdir("sweep-config-errors") as w:
        w.write("run.py", "raise SystemExit('never run')\n")
        for name, (config, message, marker) in CONFIG_ERRORS.items():
            text_ = config + '\n[output]\npath = "out.h5"\n'
            cfg = w.write(f"{name}.toml", text_)
            lines = [i + 1 for i, line in enumerate(text_.splitlines()) if line.startswith(marker)]
            expect_eq(len(lines), 1, f"{name}: lines starting with {marker!r} in the test's own config")
            want = f"fanout: error: {cfg}:{lines[0]}: {message}"
            before = e2e.snapshot(w.path)
            if name in UNDER_MPIRUN:
                r = e2e.run(tools, ["run", cfg], np_=2, cwd=w.path, refused=True)
                e2e.expect_code(r, 2)
                got = [line for line in r.both.splitlines() if "error" in line]
                expect_eq(got, [want], f"{name}: the error lines of run at 2 ranks")
            r = e2e.run(tools, ["run", cfg], cwd=w.path)
            e2e.expect_code(r, 2)
            expect_eq(r.err.strip(), want, f"{name}: run without mpirun")
            expect_eq(r.out, "", f"{name}: stdout of run without mpirun")
            expect_eq(e2e.snapshot_diff(before, e2e.snapshot(w.path)), [], f"{name}: files written or changed")
            r = e2e.run(tools, ["validate", cfg], cwd=w.path)
            e2e.expect_code(r, 2)
            expect_eq(r.err.strip(), want, f"{name}: validate")


# ---------------------------------------------------------------- example

def case_example(tools, args):
    sys.dont_write_bytecode = True  # nothing written into the source tree
    sys.path.insert(0, os.path.join(tools.source_dir, "examples", "sweep"))
    import oscillator  # noqa: E402  (the example program itself)
    damping = [0.0, 0.05, 0.2, 0.5]
    frequency = [1.0, 2.5, 4.0]  # { from = 1.0, to = 4.0, num = 3 }
    with e2e.Workdir("sweep-example") as w:
        out = w("sweep.h5")
        r = e2e.run(tools, ["run", tools.config("sweep.toml"), "--output", out, "--progress", "never"], np_=2,
                    cwd=tools.source_dir)
        e2e.expect_code(r, 0)
        status, tasks, res, dtypes, errors, attrs = read(out)
        expect_eq(status, ["ok"] * 12, "task statuses")
        expect_eq(sorted(set(res) - set(OWN)), ["final_energy", "peak", "steps"], "declared results")
        for task in range(12):
            d, f = damping[task // 3], frequency[task % 3]
            want = oscillator.integrate(d, f, 30.0, 1e-4)
            got = {"final_energy": float(res["final_energy"][task]), "steps": int(res["steps"][task]),
                   "peak": float(res["peak"][task])}
            expect_eq(got, want, f"task {task} (damping {d}, frequency {f})")
        energy = res["final_energy"].reshape(4, 3)
        expect(np.allclose(energy[0], 0.5 * np.array(frequency) ** 2, rtol=1e-3),
               f"undamped energies {energy[0]} are not omega^2 / 2")
        expect(np.all(np.diff(energy, axis=0) < 0), f"energy does not fall with damping: {energy}")
        wall = float(tasks["t_end"].max() - tasks["t_start"].min())
        expect(wall < 10, f"the example's tasks took {wall:.1f} s")


CASES = {"grid": case_grid, "hostile": case_hostile, "bad_results": case_bad_results,
         "config_errors": case_config_errors, "example": case_example}

if __name__ == "__main__":
    sys.exit(e2e.main(CASES))
