#!/usr/bin/python3
"""The command job (a task farm of shell command lines) end to end: the real
binary under mpirun, the file read back with h5py.

Cases:
  farm     (--np N) exit codes, a command that kills itself, a timeout whose
           process group is gone afterwards, CPU time and memory from wait4,
           output tails of exactly the last 4096 bytes, FANOUT_TASK_ID and
           FANOUT_RANK; fanout exits 1 and keeps every row
  file     (--np N) commands from a file beside the config (comments, blank
           lines), run from another directory; all succeed, exit 0
  errors   config errors: exit 2, one message naming the file, line and key,
           nothing written
  stopped  commands that stop themselves (the shell, a program it waits for)
           and no job.timeout: each fails alone with the stopped process
           named, instead of holding the run for ever
"""
import os
import re
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

COLUMNS = ["exit_code", "signal", "cpu_user", "cpu_sys", "max_rss", "stdout_tail", "stderr_tail"]
TAIL = 4096


def toml_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config(commands, output, timeout=None):
    lines = ['[job]', 'kind = "command"', 'commands = [' + ", ".join(toml_string(c) for c in commands) + ']']
    if timeout is not None:
        lines.append(f"timeout = {timeout}")
    lines += ["", "[output]", f"path = {toml_string(output)}", ""]
    return "\n".join(lines)


def read(path):
    with h5py.File(path, "r") as f:
        enum = h5py.check_enum_dtype(f["tasks"].dtype["status"])
        tasks = f["tasks"][()]
        results = {name: f["results"][name][()] for name in f["results"]}
        dtypes = {name: f["results"][name].dtype for name in f["results"]}
        errors = {i: m for (i, _), m in e2e.error_messages(f).items()}
        status = e2e.text(f.attrs["status"])
    return enum, tasks, results, dtypes, errors, status


def case_farm(tools, args):
    n = args.np
    marker = f"30.{os.getpid()}"  # a sleep no other test starts
    big = "seq 1 3000"  # 13893 bytes, more than one tail
    burn = "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done"
    commands = [
        "echo hello; echo oops >&2",                       # 0 ok
        "exit 3",                                          # 1 exit code 3
        "kill -KILL $$",                                   # 2 killed by SIGKILL
        'echo "$FANOUT_TASK_ID $FANOUT_RANK"',             # 3 environment
        f"sleep {marker} & sleep {marker}; echo never",    # 4 timed out, a background sleep too
        f"{big}; {big} >&2",                               # 5 long output on both
        burn,                                              # 6 CPU time
        "kill -TERM $$",                                   # 7 killed by SIGTERM
        "true",                                            # 8
    ]
    expected_big = "".join(f"{i}\n" for i in range(1, 3001)).encode()
    expect(len(expected_big) > TAIL, "the long output is longer than a tail")
    with e2e.Workdir(f"command-farm-np{n}") as w:
        w.write("farm.toml", config(commands, "farm.h5", timeout=1.5))
        t0 = time.monotonic()
        r = e2e.run(tools, ["run", "farm.toml"], np_=n, cwd=w.path)
        seconds = time.monotonic() - t0
        e2e.expect_code(r, 1)
        expect("9 of 9 tasks done (4 failed)" in r.err, f"summary line: {r.err}")
        expect(seconds < 25, f"the run took {seconds:.1f} s: the timeout did not stop the 30 s sleep")
        time.sleep(0.2)
        left = e2e.processes_with(f"sleep {marker}")
        expect(not left, f"processes of the timed-out task are still running: {left}")

        enum, tasks, res, dtypes, errors, status = read(w("farm.h5"))
        expect_eq(status, "failed", "status attribute")
        expect_eq(dict(enum), {"ok": 0, "failed": 1, "timed_out": 2}, "the status enum")
        expect_eq(sorted(res), sorted(COLUMNS), "/results datasets")
        expect_eq(str(dtypes["stdout_tail"]), "|S4096", "stdout_tail dtype (fixed-length bytes)")
        expect_eq(str(dtypes["exit_code"]), "int32", "exit_code dtype")
        expect_eq(len(tasks), len(commands), "rows of /tasks")
        expect(np.all(tasks["attempt"] == 1), f"every task ran once: {tasks['attempt']}")
        expect(set(tasks["rank"].tolist()) <= set(range(n)), f"ranks {tasks['rank']}")

        want_status = ["ok", "failed", "failed", "ok", "timed_out", "ok", "ok", "failed", "ok"]
        expect_eq([{v: k for k, v in enum.items()}[int(s)] for s in tasks["status"]], want_status, "task statuses")
        expect_eq(errors, {1: "exit code 3", 2: "killed by signal 9 (SIGKILL)",
                           4: "timed out after 1.5 s; killed by signal 15 (SIGTERM)",
                           7: "killed by signal 15 (SIGTERM)"}, "/errors")
        expect_eq(res["exit_code"].tolist(), [0, 3, -1, 0, -1, 0, 0, -1, 0], "exit_code")
        expect_eq(res["signal"].tolist(), [0, 0, 9, 0, 15, 0, 0, 15, 0], "signal")

        out, err = res["stdout_tail"], res["stderr_tail"]
        expect_eq((out[0], err[0]), (b"hello\n", b"oops\n"), "task 0 tails")
        expect_eq(out[3], f"3 {tasks['rank'][3]}\n".encode(), "FANOUT_TASK_ID and FANOUT_RANK of task 3")
        expect_eq(out[4], b"", "the timed-out task printed nothing")
        expect_eq(len(out[5]), TAIL, "length of a long stdout tail")
        expect_eq(out[5], expected_big[-TAIL:], "stdout tail: exactly the last 4096 bytes")
        expect_eq(err[5], expected_big[-TAIL:], "stderr tail: exactly the last 4096 bytes")
        expect_eq((out[1], err[1], out[8]), (b"", b"", b""), "empty tails")

        cpu = res["cpu_user"] + res["cpu_sys"]
        expect(cpu[6] > 0.02, f"the CPU-burning command used {cpu[6]} s of CPU")
        expect(cpu[6] > 5 * cpu[8], f"burning {cpu[6]} s vs true {cpu[8]} s")
        expect(np.all(cpu >= 0) and np.all(cpu < 30), f"CPU times {cpu}")
        expect(np.all(res["max_rss"] > 0), f"max_rss {res['max_rss']}")
        wall = tasks["t_end"] - tasks["t_start"]
        expect(1.5 <= wall[4] < 1.5 + 2 + 5, f"the timed-out task took {wall[4]} s (timeout 1.5 s, grace 2 s)")
        expect(cpu[6] <= wall[6] + 0.05, f"CPU {cpu[6]} s within the wall {wall[6]} s of the task")


def case_file(tools, args):
    n = args.np
    with e2e.Workdir(f"command-file-np{n}") as w:
        w.mkdir("cfg")
        w.mkdir("elsewhere")
        lines = ["# the task list", "", "echo first", "   # an indented comment", "\t", "echo second # a shell comment",
                 'printf "%s" "$FANOUT_TASK_ID"', "echo 'a # in quotes'"]
        w.write(os.path.join("cfg", "tasks.txt"), "\n".join(lines) + "\n")
        w.write(os.path.join("cfg", "c.toml"), '[job]\nkind = "command"\nfile = "tasks.txt"\n\n[output]\npath = "out.h5"\n')
        e2e.run_ok(tools, ["run", os.path.join("..", "cfg", "c.toml")], np_=n, cwd=w("elsewhere"))
        path = w("elsewhere", "out.h5")
        d = e2e.check_run_file(path, n_ranks=n, job="command", task_count=4, policy="dynamic", columns=COLUMNS)
        expect_eq(list(d["results"]["stdout_tail"]), [b"first\n", b"second\n", b"2", b"a # in quotes\n"], "stdout tails")
        expect_eq(list(d["results"]["exit_code"]), [0, 0, 0, 0], "exit codes")
        expect_eq(d["config"]["job"]["file"], w("cfg", "tasks.txt"), "the resolved config names the file absolutely")
        # --set job.file=PATH: relative to the working directory.
        e2e.run_ok(tools, ["run", os.path.join("..", "cfg", "c.toml"), "--set", "job.file=../cfg/tasks.txt",
                           "--output", "again.h5"], np_=n, cwd=w("elsewhere"))
        with h5py.File(w("elsewhere", "again.h5"), "r") as f:
            expect_eq(len(f["tasks"]), 4, "tasks of the --set run")


def case_errors(tools, args):
    job = '[job]\nkind = "command"\n'
    cases = {
        "none": (job, '{F}:1: job.commands: missing; expected commands = ["...", ...], file = "PATH" '
                      '(one command per line) or command = "prog --x {{x}}" with [params]'),
        "empty": (job + "commands = []\n", "{F}:3: job.commands: expected a non-empty array of non-empty strings, found []"),
        "both": (job + 'commands = ["true"]\nfile = "tasks.txt"\n', "{F}:4: job.file: give only one of commands, file and command (a template over [params])"),
        "missing_file": (job + 'file = "nope.txt"\n', "{F}:3: job.file: cannot read {D}/nope.txt: No such file or directory"),
        "bad_timeout": (job + 'commands = ["true"]\ntimeout = -1\n',
                        "{F}:4: job.timeout: expected a number from 0.001 to 31536000, found -1"),
    }
    with e2e.Workdir("command-errors") as w:
        for name, (text, message) in cases.items():
            cfg = w.write(f"{name}.toml", text + '\n[output]\npath = "out.h5"\n')
            r = e2e.run(tools, ["run", cfg], np_=2, cwd=w.path, refused=True)
            e2e.expect_code(r, 2)
            want = "fanout: error: " + message.format(F=cfg, D=w.path)
            lines = [line for line in r.both.splitlines() if "error:" in line]
            expect_eq(lines, [want], f"{name}: the error lines")
            expect(not os.path.exists(w("out.h5")), f"{name}: an output file was written")
            r = e2e.run(tools, ["validate", cfg], cwd=w.path)
            e2e.expect_code(r, 2)
            expect(re.search(re.escape(message.format(F=cfg, D=w.path)), r.err), f"{name}: validate says {r.err}")


def case_stopped(tools, args):
    commands = [
        "echo before",                                   # 0 ok
        "kill -STOP $$",                                 # 1 the shell stops itself
        "sh -c 'kill -TSTP $$'; echo never",             # 2 a program the shell waits for stops
        "echo after",                                    # 3 ok
    ]
    with e2e.Workdir("command-stopped") as w:
        w.write("stop.toml", config(commands, "stop.h5"))
        r = e2e.run(tools, ["run", "stop.toml"], np_=2, cwd=w.path, timeout=60)
        e2e.expect_code(r, 1)
        e2e.expect_clean(r)
        enum, tasks, res, dtypes, errors, status = read(w("stop.h5"))
        names = {v: k for k, v in enum.items()}
        expect_eq([names[int(s)] for s in tasks["status"]], ["ok", "failed", "failed", "ok"], "task statuses")
        expect_eq(sorted(errors), [1, 2], "tasks with errors")
        for i in (1, 2):
            expect(re.fullmatch(r"process \d+ \(sh\) of the command was stopped \(SIGSTOP, SIGTSTP, SIGTTIN or "
                                r"SIGTTOU\) and would never have finished: the command was killed", errors[i]),
                   f"task {i}'s error: {errors[i]}")
        expect_eq(res["stdout_tail"][2], b"", "the stopped task's shell never went on")
        wall = tasks["t_end"] - tasks["t_start"]
        expect(max(wall[1], wall[2]) < 10, f"the stopped tasks took {wall} s (looked at every second)")


if __name__ == "__main__":
    sys.exit(e2e.main({"farm": case_farm, "file": case_file, "errors": case_errors, "stopped": case_stopped}))
