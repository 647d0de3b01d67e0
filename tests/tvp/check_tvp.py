"""Runs scripts/threads-vs-processes.sh --quick and checks its table.

Asserts: the script exits 0; the table has its six rows (primes and sleep,
each sequential, 2 threads, 2 processes) in that order; the printed speedup
is sequential wall / wall of the row; CPU-bound primes gets a speedup above
1.3 with 2 threads and with 2 processes; every sleep row keeps CPU total /
wall below 0.2. Only ratios are checked, never absolute times.
"""
import argparse
import re
import subprocess
import sys

ROWS = [
    ("primes (CPU-bound)", "sequential"),
    ("primes (CPU-bound)", "2 threads"),
    ("primes (CPU-bound)", "2 processes"),
    ("sleep (I/O-bound)", "sequential"),
    ("sleep (I/O-bound)", "2 threads"),
    ("sleep (I/O-bound)", "2 processes"),
]
ROW = re.compile(
    r"^(?P<workload>primes \(CPU-bound\)|sleep \(I/O-bound\))\s+(?P<how>sequential|2 threads|2 processes)\s+"
    r"\d+ ranks? x \d+ threads?\s+"
    r"(?P<user>[\d.]+) s\s+(?P<sys>[\d.]+) s\s+(?P<total>[\d.]+) s\s+(?P<wall>[\d.]+) s\s+"
    r"(?P<busy>[\d.]+)\s+(?P<speedup>[\d.]+)x$")
SPEEDUP_MIN = 1.3
SLEEP_CPU_PER_WALL_MAX = 0.2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bash", default="bash")
    ap.add_argument("--script", required=True)
    ap.add_argument("--fanout", required=True)
    ap.add_argument("--mpiexec", required=True)
    args = ap.parse_args()

    cmd = [args.bash, args.script, "--quick", "--fanout", args.fanout, "--mpiexec", args.mpiexec]
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=220)
    print(proc.stdout)
    print(proc.stderr, file=sys.stderr)
    failures = []
    if proc.returncode != 0:
        failures.append(f"the script exited with {proc.returncode}, expected 0")

    rows = []
    for line in proc.stdout.splitlines():
        m = ROW.match(line)
        if m:
            rows.append(m)
    found = [(m["workload"], m["how"]) for m in rows]
    if found != ROWS:
        failures.append(f"table rows {found}, expected {ROWS}")
    else:
        r = {(m["workload"].split()[0], m["how"]): {k: float(m[k]) for k in
             ("user", "sys", "total", "wall", "busy", "speedup")} for m in rows}
        for (workload, how), v in r.items():
            if v["wall"] <= 0:
                failures.append(f"{workload} {how}: wall {v['wall']} s")
                continue
            expected = r[(workload, "sequential")]["wall"] / v["wall"]
            # Both walls are printed to 0.01 s: allow for the rounding.
            if abs(v["speedup"] - expected) > 0.02 * expected + 0.02:
                failures.append(f"{workload} {how}: speedup {v['speedup']}x but the walls give {expected:.2f}x")
        for how in ("2 threads", "2 processes"):
            wall = r[("primes", how)]["wall"]
            s = r[("primes", "sequential")]["wall"] / wall if wall > 0 else 0.0
            if s <= SPEEDUP_MIN:
                failures.append(f"primes {how}: speedup {s:.2f}x over sequential, expected > {SPEEDUP_MIN}x "
                                f"(C++ threads and MPI ranks both run CPU-bound work in parallel)")
        for how in ("sequential", "2 threads", "2 processes"):
            v = r[("sleep", how)]
            if v["wall"] > 0 and v["total"] / v["wall"] >= SLEEP_CPU_PER_WALL_MAX:
                failures.append(f"sleep {how}: CPU/wall {v['total'] / v['wall']:.2f}, expected < "
                                f"{SLEEP_CPU_PER_WALL_MAX} (tasks that only wait)")

    for f in failures:
        print("FAIL:", f)
    if not failures:
        print("ok: six rows; primes faster with 2 threads and 2 processes; sleep CPU/wall below 0.2")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
