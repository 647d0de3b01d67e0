#!/usr/bin/python3
"""fanout predict against measured runs, and the live progress output.

Cases:
  predict_accuracy  a 1-rank run of sleeping spin tasks predicts the 2- and 3-rank runs within 10%
  predict_shape     JSON fields, 100,000 ranks, other policies and threads, bad input; --hierarchy node and
                    --ranks-per-node: rank 0 answers fewer ranks and saturates later; its time per message
  predict_table     --ranks 1,2,4: one row per count, each the single prediction; speedup over one worker
  status_eta        a longest-first run (--costs) stopped at ~1/3: status's ETA weighs the tasks left by cost
  progress_pipe     stderr not a terminal: plain lines every run.progress_interval; none under 2 s
  progress_tty      in a pseudo-terminal (script(1)): one updating line
"""
import json
import os
import shlex
import shutil
import subprocess
import sys

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

# Sleeping tasks, so that 3 ranks on 2 cores are not slowed by sharing cores.
SLEEP = ["--set", "job.mode=sleep", "--set", "job.tasks=40", "--set", "job.duration=0.05",
         "--set", "job.distribution=lognormal", "--set", "job.sigma=0.5", "--set", "run.progress_interval=0"]


def report_wall(tools, path):
    return json.loads(e2e.run_ok(tools, ["report", path, "--format", "json"]).out)["wall"]


def predict(tools, path, *extra):
    return json.loads(e2e.run_ok(tools, ["predict", path, "--format", "json", *extra]).out)


def case_predict_accuracy(tools, args):
    with e2e.Workdir("predict-accuracy") as w:
        # Timing on a shared machine is noisy: each comparison gets two tries,
        # each try comparing a prediction with a run measured right after it.
        failures = []
        for n in (2, 3):
            for attempt in range(2):
                one = w(f"one-{n}-{attempt}.h5")
                e2e.run_ok(tools, ["run", tools.config("spin.toml"), "--output", one, *SLEEP], np_=1, cwd=w.path)
                many = w(f"many-{n}-{attempt}.h5")
                e2e.run_ok(tools, ["run", tools.config("spin.toml"), "--output", many, *SLEEP], np_=n, cwd=w.path)
                predicted = predict(tools, one, "--ranks", str(n))["wall"]
                actual = report_wall(tools, many)
                error = abs(predicted - actual) / actual
                if error <= 0.10:
                    break
                failures.append(f"{n} ranks, try {attempt + 1}: predicted {predicted:.3f} s, measured {actual:.3f} s "
                                f"({error:.0%} off)")
            else:
                raise e2e.Failure("prediction off by more than 10% twice: " + "; ".join(failures))


def case_predict_shape(tools, args):
    with e2e.Workdir("predict-shape") as w:
        one = w("one.h5")
        e2e.run_ok(tools, ["run", tools.config("spin.toml"), "--output", one, *SLEEP], np_=1, cwd=w.path)
        d = e2e.read_file(one)
        durations = d["tasks"]["t_end"] - d["tasks"]["t_start"]
        p1 = predict(tools, one, "--ranks", "1")
        for field in ("ranks", "threads", "policy", "chunk", "tasks", "task_time", "compute", "wall", "efficiency"):
            expect(field in p1, f"predict JSON lacks {field}: {p1}")
        expect_eq(p1["ranks"], 1, "ranks")
        expect(abs(p1["task_time"] - durations.sum()) < 1e-3, f"task_time {p1['task_time']} != {durations.sum()}")
        # On 1 worker the compute phase is the sum of the task times.
        expect(abs(p1["compute"] - durations.sum()) < 1e-3, f"1-worker compute {p1['compute']} != {durations.sum()}")
        # predict's JSON has 6 significant digits: compare within that.
        close = 1e-5
        big = predict(tools, one, "--ranks", "100000")
        expect(big["compute"] >= durations.max() * (1 - close), f"compute {big['compute']} below the longest task")
        expect(big["efficiency"] <= 1.0, f"efficiency {big['efficiency']} above 1")
        for extra, workers in ((["--policy", "static-block"], 2), (["--policy", "guided"], 2),
                               (["--threads", "2"], 4), (["--chunk", "3"], 2)):
            p = predict(tools, one, "--ranks", "2", *extra)
            expect(durations.sum() / workers * (1 - close) <= p["compute"] <= durations.sum() * (1 + close),
                   f"{extra}: compute {p['compute']} outside [sum/{workers}, sum]")
            expect(0 < p["efficiency"] <= 1.0, f"{extra}: efficiency {p['efficiency']}")
        r = e2e.run(tools, ["predict", w("missing.h5"), "--ranks", "2"])
        e2e.expect_code(r, 3)
        r = e2e.run(tools, ["predict", one, "--ranks", "0"])
        e2e.expect_code(r, 2)
        r = e2e.run(tools, ["predict", one, "--ranks", "2", "--chunk", "zero"])
        e2e.expect_code(r, 2)
        check_dispatch(tools, w, one)


def check_dispatch(tools, w, one):
    """--hierarchy and --ranks-per-node: rank 0 answers fewer ranks under leaders, and saturates later."""
    flat = predict(tools, one, "--ranks", "64")
    expect_eq((flat["hierarchy"], flat["rank0_answers"], flat["leaders"]), ("flat", 63, 0), "flat dispatch at 64 ranks")
    expect(not flat["seconds_per_message_measured"] and flat["seconds_per_message"] == 1e-05,
           f"a 1-rank run records no message: the default 10 us, not {flat['seconds_per_message']}")
    node = predict(tools, one, "--ranks", "64", "--hierarchy", "node", "--ranks-per-node", "4")
    expect_eq((node["hierarchy"], node["group_size"], node["rank0_answers"], node["leaders"], node["leader_answers"]),
              ("node", 4, 3 + 15, 15, 3), "a leader per node of 4 at 64 ranks")
    expect(abs(node["rank0_messages"] - flat["rank0_messages"] * 18 / 63) <= 2e-5 * flat["rank0_messages"],
           f"rank 0's messages: {node['rank0_messages']} under leaders vs {flat['rank0_messages']} flat")
    expect_eq(node["flat_saturation_ranks"], flat["saturation_ranks"], "flat saturation whatever the hierarchy")
    expect(node["saturation_ranks"] > flat["saturation_ranks"],
           f"leaders saturate rank 0 later: {node['saturation_ranks']} vs {flat['saturation_ranks']} ranks")
    text = e2e.run_ok(tools, ["predict", one, "--ranks", "64", "--hierarchy", "node", "--ranks-per-node", "4"]).out
    expected = (f"saturates: flat dispatch keeps rank 0 busy all the time from {node['flat_saturation_ranks']} ranks "
                f"on; with a leader per 4 ranks, from {node['saturation_ranks']} ranks on")
    expect(expected in text and "leaders:   each answers 3 ranks" in text, f"predict text:\n{text}")
    # Rank 0's time per message from a file that records its messages (format 1.7): comm / messages_in.
    measured = w("measured.h5")
    shutil.copy(one, measured)
    with h5py.File(measured, "a") as f:
        r = f["ranks"][()]
        r["messages_in"][0], r["comm"][0] = 200, 0.01
        f["ranks"][...] = r
    m = predict(tools, measured, "--ranks", "64")
    expect(m["seconds_per_message_measured"] and abs(m["seconds_per_message"] - 5e-05) < 1e-12,
           f"seconds_per_message from the file: {m['seconds_per_message']}")
    expect(m["flat_saturation_ranks"] < flat["flat_saturation_ranks"], "5 times the time per message saturates sooner")
    for bad, words in ((["--hierarchy", "bogus"], ['--hierarchy: expected flat, node or a group size', '"bogus"']),
                       (["--ranks-per-node", "0"], ["--ranks-per-node", "0"])):
        r = e2e.run(tools, ["predict", one, "--ranks", "2", *bad])
        e2e.expect_code(r, 2)
        expect(all(word in r.err for word in words), f"{bad}: message\n{r.err}")


def case_predict_table(tools, args):
    with e2e.Workdir("predict-table") as w:
        one = w("one.h5")
        e2e.run_ok(tools, ["run", tools.config("spin.toml"), "--output", one, *SLEEP], np_=1, cwd=w.path)
        d = e2e.read_file(one)
        task_time = float((d["tasks"]["t_end"] - d["tasks"]["t_start"]).sum())
        phases = d["phases"]
        fixed = float(sum(p["t_end"] - p["t_start"] for p in phases if p["name"] != b"compute"))
        table = predict(tools, one, "--ranks", "1,2,4")["predictions"]
        expect_eq([r["ranks"] for r in table], [1, 2, 4], "rows")
        for row in table:
            single = predict(tools, one, "--ranks", str(row["ranks"]))
            expect_eq(row, single, f"the table's row at {row['ranks']} ranks vs --ranks {row['ranks']}")
            expect(abs(row["one_worker_wall"] - (fixed + task_time)) < 1e-5 * (fixed + task_time) + 1e-6,
                   f"one_worker_wall {row['one_worker_wall']} vs fixed + task time {fixed + task_time}")
            expect(abs(row["speedup"] - row["one_worker_wall"] / row["wall"]) < 1e-4 * row["speedup"],
                   f"speedup {row['speedup']} is not over one worker")
            expect(abs(row["speedup_vs_recorded"] - float(phases["t_end"].max()) / row["wall"])
                   < 1e-4 * row["speedup_vs_recorded"], f"speedup_vs_recorded {row['speedup_vs_recorded']}")
        expect(abs(table[0]["speedup"] - 1) < 1e-5, f"speedup at 1 worker {table[0]['speedup']}")
        text = e2e.run_ok(tools, ["predict", one, "--ranks", "1,2,4"]).out
        rows = [l.split() for l in text.splitlines() if l.split() and l.split()[0] in ("1", "2", "4")]
        expect_eq([r[0] for r in rows], ["1", "2", "4"], f"text table rows:\n{text}")
        for r, j in zip(rows, table):
            expect(abs(float(r[4]) - j["speedup"]) <= 0.006, f"text speedup {r[4]} vs JSON {j['speedup']}")
        for bad in ("2,,4", "0,2", "2,x"):
            r = e2e.run(tools, ["predict", one, "--ranks", bad])
            e2e.expect_code(r, 2)
            expect(f'in "{bad}"' in r.err, f"--ranks {bad}: message\n{r.err}")


def case_status_eta(tools, args):
    """The brief's case: uneven spin tasks, longest first by an earlier run's
    times, stopped early; the tasks left are the short ones."""
    import signal
    import time
    uneven = ["--set", "job.mode=sleep", "--set", "job.tasks=100", "--set", "job.duration=0.12",
              "--set", "job.distribution=lognormal", "--set", "job.sigma=1.2", "--set", "run.progress_interval=0",
              "--set", "checkpoint.interval=0.1"]
    with e2e.Workdir("status-eta") as w:
        earlier = w("earlier.h5")
        e2e.run_ok(tools, ["run", tools.config("spin.toml"), "--output", earlier, *uneven], np_=2, cwd=w.path)
        path = w("lf.h5")
        argv = [tools.mpiexec, "-n", "2", "--oversubscribe", tools.fanout, "run", tools.config("spin.toml"),
                "--output", path, "--costs", earlier, "--progress", "never", *uneven]
        proc = subprocess.Popen(argv, cwd=w.path, env=e2e.mpi_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60 and proc.poll() is None:
            r = e2e.run(tools, ["status", path])
            if r.code == 0 and " done (" in r.out and int(r.out.split(" done (")[0].split()[-1]) >= 4:
                break
            time.sleep(0.05)
        if proc.poll() is not None:
            raise e2e.Failure(f"the run ended before it could be stopped: {proc.communicate()}")
        os.kill(proc.pid, signal.SIGUSR1)
        proc.communicate(timeout=60)
        d = e2e.read_file(path)
        t = d["tasks"]
        ran = t["attempt"] > 0
        expect(0 < ran.sum() < 100, f"{ran.sum()} of 100 tasks done: not an interrupted run")
        costs = e2e.read_file(earlier)["tasks"]
        costs = costs["t_end"] - costs["t_start"]
        elapsed = float(t["t_end"][ran].max() - t["t_start"][ran].min())
        want = elapsed * costs[~ran].sum() / costs[ran].sum()
        by_count = (~ran).sum() / (ran.sum() / elapsed)
        out = e2e.run_ok(tools, ["status", path]).out
        eta = [l for l in out.splitlines() if l.strip().startswith("ETA:")]
        expect(len(eta) == 1 and "per unit of cost" in eta[0] and earlier in eta[0], f"ETA line:\n{out}")
        got = float(eta[0].split()[1])
        expect(abs(got - want) <= 0.006 * want + 1e-3, f"ETA {got} s vs {want:.4g} s (cost-weighted, from h5py)")
        expect(got < by_count, f"ETA {got} s is not below the count-based {by_count:.3g} s: the short tasks are left")


# 3 s of sleeping tasks for one worker; PROGRESS_RUN_2 the same time for two.
PROGRESS_RUN = ["--set", "job.mode=sleep", "--set", "job.tasks=30", "--set", "job.duration=0.1",
                "--set", "job.distribution=constant"]
PROGRESS_RUN_2 = ["--set", "job.mode=sleep", "--set", "job.tasks=60", "--set", "job.duration=0.1",
                  "--set", "job.distribution=constant"]


def case_progress_pipe(tools, args):
    with e2e.Workdir("progress-pipe") as w:
        r = e2e.run_ok(tools, ["run", tools.config("spin.toml"), "--output", w("a.h5"), *PROGRESS_RUN_2,
                               "--set", "run.progress_interval=1"], np_=2, cwd=w.path)
        lines = [l for l in r.err.splitlines() if l.startswith("fanout: ") and "/60 tasks (" in l]
        expect(len(lines) >= 1, f"no progress line in a 3 s run with interval 1:\n{r.describe()}")
        expect("\r" not in r.err, "a carriage return in progress written to a pipe")
        for l in lines:
            expect("tasks/s" in l and "ETA" in l and "cores busy" in l, f"progress line: {l}")
        r = e2e.run_ok(tools, ["run", tools.config("spin.toml"), "--output", w("b.h5"), "--set", "job.tasks=4",
                               "--set", "job.duration=0", "--set", "run.progress_interval=1"], np_=2, cwd=w.path)
        expect("/4 tasks (" not in r.err, f"progress output for a run under 2 s:\n{r.describe()}")
        r = e2e.run_ok(tools, ["run", tools.config("spin.toml"), "--output", w("c.h5"), *PROGRESS_RUN_2,
                               "--set", "run.progress_interval=1", "--progress", "never"], np_=2, cwd=w.path)
        expect("/60 tasks (" not in r.err, f"progress output with --progress never:\n{r.describe()}")


def in_terminal(tools, argv, cwd):
    """Runs argv in a pseudo-terminal made by script(1); returns what the terminal got."""
    command = " ".join(shlex.quote(a) for a in argv)
    proc = subprocess.run(["script", "-qec", command, "/dev/null"], cwd=cwd, env=e2e.mpi_env(),
                          capture_output=True, timeout=90)  # bytes: text mode would turn \r into \n
    out = proc.stdout.decode("utf-8", "replace")
    expect(proc.returncode == 0, f"{command} in a terminal: exit {proc.returncode}\n{out}{proc.stderr!r}")
    return out


def case_progress_tty(tools, args):
    with e2e.Workdir("progress-tty") as w:
        # A singleton sees the terminal itself: auto gives the updating line.
        out = in_terminal(tools, [tools.fanout, "run", tools.config("spin.toml"), "--output", w("a.h5"), *PROGRESS_RUN],
                          w.path)
        updates = out.count("\r\x1b[Kfanout: ")
        expect(updates >= 1, f"no updating progress line in a terminal:\n{out!r}")
        expect("/30 tasks (" in out, f"progress line content:\n{out!r}")
        # Under mpirun rank 0 writes into a pipe to mpirun, whose stderr is the terminal: auto sees it.
        out = in_terminal(tools, [tools.mpiexec, "-n", "2", "--oversubscribe", tools.fanout, "run",
                                  tools.config("spin.toml"), "--output", w("m.h5"), *PROGRESS_RUN_2], w.path)
        expect(out.count("\r\x1b[Kfanout: ") >= 1, f"no updating line under mpirun in a terminal:\n{out!r}")
        # --progress always draws the line whatever stderr is.
        out = in_terminal(tools, [tools.mpiexec, "-n", "2", "--oversubscribe", tools.fanout, "run",
                                  tools.config("spin.toml"), "--output", w("b.h5"), *PROGRESS_RUN_2,
                                  "--progress", "always"], w.path)
        expect(out.count("\r\x1b[Kfanout: ") >= 1, f"no updating line with --progress always:\n{out!r}")
        # The updating line is ended before the summary, which starts a line of its own.
        expect("\nfanout: wrote " in out.replace("\r\n", "\n"), f"the summary line does not start a line:\n{out!r}")


if __name__ == "__main__":
    sys.exit(e2e.main({"predict_accuracy": case_predict_accuracy, "predict_shape": case_predict_shape,
                       "predict_table": case_predict_table, "status_eta": case_status_eta,
                       "progress_pipe": case_progress_pipe, "progress_tty": case_progress_tty}))
