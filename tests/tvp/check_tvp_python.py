"""Runs scripts/threads-vs-processes-python.sh --quick and checks its table.

Asserts: the script exits 0 (so every row agreed on which numbers are prime);
the table has its five rows (sequential, Pool(2), ThreadPool(2), fanout 2
ranks, fanout 2 threads) in that order; the printed speedup is sequential
wall / wall of the row and cores busy is CPU total / wall; ThreadPool keeps
at most about one core busy (one GIL); every row's CPU total is at least 70%
of the sequential run's (the CPU of Pool's workers and of fanout's Python
workers is counted). Only ratios are checked, never absolute times, and no
speedup: on a shared 2-core machine other work decides it.
"""
import argparse
import re
import subprocess
import sys

ROWS = ["sequential", "Pool(2)", "ThreadPool(2)", "fanout 2 ranks", "fanout 2 threads"]
ROW = re.compile(
    r"^(?P<how>sequential|Pool\(2\)|ThreadPool\(2\)|fanout 2 ranks|fanout 2 threads)\s+"
    r"(?:1 process|2 processes|1 process x 2 threads|2 ranks x 1 thread|1 rank x 2 threads)\s+"
    r"(?P<user>[\d.]+) s\s+(?P<sys>[\d.]+) s\s+(?P<total>[\d.]+) s\s+(?P<wall>[\d.]+) s\s+"
    r"(?P<busy>[\d.]+)\s+(?P<speedup>[\d.]+)x$")
THREADPOOL_BUSY_MAX = 1.15
CPU_SHARE_MIN = 0.7


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bash", default="bash")
    ap.add_argument("--script", required=True)
    ap.add_argument("--fanout", required=True)
    ap.add_argument("--mpiexec", required=True)
    args = ap.parse_args()

    cmd = [args.bash, args.script, "--quick", "--fanout", args.fanout, "--mpiexec", args.mpiexec]
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=170)
    print(proc.stdout)
    print(proc.stderr, file=sys.stderr)
    failures = []
    if proc.returncode != 0:
        failures.append(f"the script exited with {proc.returncode}, expected 0")
    rows = [m for m in map(ROW.match, proc.stdout.splitlines()) if m]
    found = [m["how"] for m in rows]
    if found != ROWS:
        failures.append(f"table rows {found}, expected {ROWS}")
    else:
        r = {m["how"]: {k: float(m[k]) for k in ("user", "sys", "total", "wall", "busy", "speedup")} for m in rows}
        seq = r["sequential"]
        for how, v in r.items():
            if v["wall"] <= 0:
                failures.append(f"{how}: wall {v['wall']} s")
                continue
            expected = seq["wall"] / v["wall"]
            if abs(v["speedup"] - expected) > 0.02 * expected + 0.02:
                failures.append(f"{how}: speedup {v['speedup']}x but the walls give {expected:.2f}x")
            if abs(v["busy"] - v["total"] / v["wall"]) > 0.02 * v["busy"] + 0.02:
                failures.append(f"{how}: cores busy {v['busy']} but CPU total / wall is {v['total'] / v['wall']:.2f}")
            if v["total"] < CPU_SHARE_MIN * seq["total"]:
                failures.append(f"{how}: CPU total {v['total']} s, less than {CPU_SHARE_MIN} x the sequential "
                                f"{seq['total']} s for the same work (a process's CPU not counted?)")
        if r["ThreadPool(2)"]["busy"] > THREADPOOL_BUSY_MAX:
            failures.append(f"ThreadPool(2): {r['ThreadPool(2)']['busy']} cores busy, expected at most "
                            f"{THREADPOOL_BUSY_MAX} (threads of one interpreter share its GIL)")
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print("ok: five rows that agree; ThreadPool within one core; every row's CPU counted")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
