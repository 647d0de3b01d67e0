#!/usr/bin/env bash
# Threads versus processes in Python, measured the way the course texts
# measure it: CPU times (user / sys / total) against wall time. The Python
# side of scripts/threads-vs-processes.sh: the same is_prime
# (examples/python/primes.py, plain trial division) over the same 20 numbers
# (configs/primes.toml, configs/primes_py.toml), five ways:
#   sequential        a for loop                                  1 process
#   Pool(2)           multiprocessing.Pool(2).imap(chunksize=1)   2 processes
#   ThreadPool(2)     multiprocessing.pool.ThreadPool(2)          1 process x 2 threads (one GIL)
#   fanout 2 ranks    mpirun -n 2 fanout run configs/primes_py.toml          2 Python workers
#   fanout 2 threads  fanout run ... --set run.threads_per_rank=2 (1 rank)   2 Python workers
# Every time is that of the whole process tree, as /usr/bin/time gives it:
# the wall time of the command, and the user and system CPU of the command
# and every process under it (os.times() children fields, so Pool's workers,
# mpirun's ranks and fanout's Python workers are counted), with the cores
# kept busy and the speedup over the sequential run; then fanout report's
# own CPU line for the fanout runs, and a few sentences computed from the
# measured numbers. All five must agree on which numbers are prime.
#
# Usage: scripts/threads-vs-processes-python.sh [--fanout PATH] [--mpiexec PATH]
#                                  [--python PATH] [--repeat N] [--quick] [--keep]
#   --fanout PATH   the fanout binary (or env FANOUT; default build/fanout)
#   --mpiexec PATH  mpirun or mpiexec (or env MPIEXEC; default mpirun)
#   --python PATH   the Python that runs is_prime in every row (or env
#                   PYTHON; default python3 on PATH), fanout's job.python too
#   --repeat N      run every configuration N times (interleaved) and keep
#                   the run with the shortest wall time (default 1: the 20
#                   numbers are about 40 s of CPU per row in pure Python)
#   --quick         8 primes from 10^13 to 8x10^13 (about 0.1-0.4 s each)
#                   instead of the 20 numbers (used by the ctest check)
#   --keep          keep the HDF5 files and logs (their directory is printed)
# Exit codes: 0 ok, 1 a run failed or the rows disagree, 2 usage error or no
# fanout binary.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

fanout=${FANOUT:-}
mpiexec=${MPIEXEC:-mpirun}
python=${PYTHON:-python3}
repeat=1
quick=0
keep=0
usage() { sed -n '/^# Usage:/,/^# Exit codes/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
while [ $# -gt 0 ]; do
  case $1 in
    --fanout|--mpiexec|--python|--repeat)
      [ $# -ge 2 ] || { echo "threads-vs-processes-python: $1 needs a value" >&2; usage >&2; exit 2; }
      case $1 in --fanout) fanout=$2 ;; --mpiexec) mpiexec=$2 ;; --python) python=$2 ;; --repeat) repeat=$2 ;; esac
      shift 2 ;;
    --quick) quick=1; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "threads-vs-processes-python: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
case $repeat in ''|*[!0-9]*|0) echo "threads-vs-processes-python: --repeat needs a whole number >= 1" >&2; exit 2 ;; esac

if [ -z "$fanout" ]; then
  fanout=$root/build/fanout
  if [ ! -x "$fanout" ]; then
    echo "threads-vs-processes-python: $fanout is missing: run scripts/demo.sh first (it builds build/fanout)," >&2
    echo "or give the binary with --fanout PATH or FANOUT=PATH" >&2
    exit 2
  fi
fi
[ -x "$fanout" ] || { echo "threads-vs-processes-python: not an executable: $fanout" >&2; exit 2; }
command -v "$mpiexec" >/dev/null || { echo "threads-vs-processes-python: $mpiexec not found (install openmpi-bin)" >&2; exit 2; }
command -v "$python" >/dev/null || { echo "threads-vs-processes-python: $python not found (give one with --python PATH)" >&2; exit 2; }
python=$(command -v "$python")

# Open MPI refuses to run as root unless told that it is meant.
if [ "$(id -u)" = 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fanout-tvp-python.XXXXXX")
if [ "$keep" = 1 ]; then
  trap 'echo "threads-vs-processes-python: files kept in $tmp" >&2' EXIT
else
  trap 'rm -rf "$tmp"' EXIT
fi

# The driver: runs every configuration as a child process, measures the
# wall time of the command and the CPU of its whole process tree, checks
# that the rows agree, and prints the table and the sentences.
"$python" - "$root" "$tmp" "$fanout" "$mpiexec" "$python" "$repeat" "$quick" \
  "$(nproc 2>/dev/null || echo '?')" <<'PY'
import json, os, re, subprocess, sys, time

root, tmp, fanout, mpiexec, python, repeat, quick, ncpu = sys.argv[1:9]
repeat, quick = int(repeat), quick == "1"
sys.path.insert(0, os.path.join(root, "examples", "python"))
import primes  # noqa: E402  (for NUMBERS only: every row runs in a child process)

QUICK = [10000000000037, 20000000000021, 30000000000011, 40000000000001,
         50000000000053, 60000000000013, 70000000000009, 80000000000027]
numbers = QUICK if quick else primes.NUMBERS
what = (f"{len(numbers)} primes from 10^13 to 8x10^13 (--quick)" if quick else
        f"the course's {len(numbers)} numbers (configs/primes_py.toml)")

# One program for the three pure-Python rows: is_prime over the numbers,
# the answers as JSON on stdout.
PROGRAM = r'''
import json, sys
sys.path.insert(0, sys.argv[1])
from primes import is_prime
how, numbers = sys.argv[2], json.loads(sys.argv[3])
if how == "seq":
    out = [is_prime(n) for n in numbers]
else:
    if how == "pool":
        from multiprocessing import Pool
    else:
        from multiprocessing.pool import ThreadPool as Pool
    with Pool(2) as pool:  # one number at a time, as fanout's dynamic chunk 1
        out = list(pool.imap(is_prime, numbers, chunksize=1))
print(json.dumps(out))
'''

ROWS = [
    ("seq", "sequential", "1 process"),
    ("pool", "Pool(2)", "2 processes"),
    ("threadpool", "ThreadPool(2)", "1 process x 2 threads"),
    ("fanout-ranks", "fanout 2 ranks", "2 ranks x 1 thread"),
    ("fanout-threads", "fanout 2 threads", "1 rank x 2 threads"),
]

env = dict(os.environ)
env["PYTHONDONTWRITEBYTECODE"] = "1"
if os.getuid() == 0:
    env["OMPI_ALLOW_RUN_AS_ROOT"] = env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"


def command(key, out):
    if key in ("seq", "pool", "threadpool"):
        return [python, "-c", PROGRAM, os.path.join(root, "examples", "python"), key, json.dumps(numbers)]
    argv = [fanout, "run", os.path.join(root, "configs", "primes_py.toml"), "--output", out, "--force",
            "--set", f"job.python={python}", "--set", "run.progress_interval=0",
            "--set", "params.n=[" + ", ".join(map(str, numbers)) + "]"]
    if key == "fanout-ranks":
        return [mpiexec, "--oversubscribe", "-n", "2"] + argv
    return argv + ["--set", "run.threads_per_rank=2"]


def run_one(key, i):
    """Runs one configuration; its wall and the CPU of its process tree."""
    out = os.path.join(tmp, f"{key}.{i}.h5")
    argv = command(key, out)
    before, t0 = os.times(), time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    wall, after = time.monotonic() - t0, os.times()
    with open(os.path.join(tmp, f"{key}.{i}.log"), "w") as f:
        f.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        print(f"threads-vs-processes-python: this run failed ({proc.returncode}):\n  {' '.join(argv[:8])} ...",
              file=sys.stderr)
        print("".join("  " + line + "\n" for line in (proc.stdout + proc.stderr).splitlines()), file=sys.stderr)
        sys.exit(1)
    r = {"wall": wall, "cpu_user": after.children_user - before.children_user,
         "cpu_sys": after.children_system - before.children_system}
    if key.startswith("fanout"):
        rep = subprocess.run([fanout, "report", out, "--format", "json"], env=env, capture_output=True, text=True)
        if rep.returncode != 0:
            print(f"threads-vs-processes-python: fanout report {out} failed:\n{rep.stderr}", file=sys.stderr)
            sys.exit(1)
        r["report"] = json.loads(rep.stdout)
        r["answers"] = read_answers(out)
    else:
        r["answers"] = json.loads(proc.stdout)
    return r


def read_answers(path):
    """/results/is_prime of a fanout file, by task id, as h5dump prints it (TRUE / FALSE)."""
    dump = subprocess.run(["h5dump", "-d", "/results/is_prime", path], capture_output=True, text=True)
    if dump.returncode != 0:
        print(f"threads-vs-processes-python: h5dump {path} failed (install hdf5-tools):\n{dump.stderr}",
              file=sys.stderr)
        sys.exit(1)
    data = dump.stdout.split("DATA {", 1)[1].split("}", 1)[0]
    words = [w for w in re.split(r"[\s,]+", re.sub(r"\(\d+\):", " ", data)) if w]
    return [w == "TRUE" for w in words]


load_before = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
print(f"threads-vs-processes-python: {len(ROWS) * repeat} runs ({len(ROWS)} configurations x {repeat}) of {what} ...",
      file=sys.stderr)
runs = {key: [] for key, *_ in ROWS}
for i in range(1, repeat + 1):
    for key, *_ in ROWS:
        runs[key].append(run_one(key, i))
load_after = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"

# Keep, per configuration, the repetition with the shortest wall time: the
# one least disturbed by other processes on the machine.
m = {key: min(rs, key=lambda r: r["wall"]) for key, rs in runs.items()}
expected = m["seq"]["answers"]
for key, how, _ in ROWS:
    for r in runs[key]:
        if r["answers"] != expected:
            print(f"threads-vs-processes-python: {how} disagrees with the sequential run on which numbers are prime:\n"
                  f"  sequential {expected}\n  {how} {r['answers']}", file=sys.stderr)
            sys.exit(1)
for key, *_ in ROWS:
    r = m[key]
    r["cpu_total"] = r["cpu_user"] + r["cpu_sys"]
    r["cores_busy"] = r["cpu_total"] / r["wall"] if r["wall"] > 0 else 0.0
    r["speedup"] = m["seq"]["wall"] / r["wall"] if r["wall"] > 0 else 0.0

print(f"Threads versus processes in Python: {ncpu} cores, load average {load_before} before and {load_after} after;")
print(f"best of {repeat} run{'s' if repeat > 1 else ''} each (shortest wall). is_prime (examples/python/primes.py) over "
      f"{what},")
print(f"{sum(expected)} of them prime; every row agrees. Python: {python}.")
print("Times of the whole process tree, as /usr/bin/time gives them: wall of the command, CPU of it and every")
print("process under it (Pool's workers, mpirun's ranks, fanout's Python workers), start-up included.")
print()
head = (f"{'how':<17} {'workers':<22} {'CPU user':>8} {'CPU sys':>8} {'CPU total':>9} {'Wall':>7} "
        f"{'cores busy':>10} {'speedup':>8}")
print(head)
print("-" * len(head))
for key, how, shape in ROWS:
    r = m[key]
    print(f"{how:<17} {shape:<22} {r['cpu_user']:>6.2f} s {r['cpu_sys']:>6.2f} s {r['cpu_total']:>7.2f} s "
          f"{r['wall']:>5.2f} s {r['cores_busy']:>10.2f} {r['speedup']:>7.2f}x")
print()

# fanout report's own figures for its runs: the CPU line and the tasks line.
print("fanout report on its runs (its wall starts after MPI start-up; its CPU line is that of the rank processes):")
for key, how, _ in ROWS:
    if not key.startswith("fanout"):
        continue
    j = m[key]["report"]
    print(f"  {how:<17} CPU times: user {j['cpu_user']:.2f} s, sys {j['cpu_sys']:.2f} s, total {j['cpu_total']:.2f} s "
          f"/ Wall time {j['wall']:.2f} s ({j['cores_busy']:.2f} cores busy)")
    print(f"  {'':<17} tasks: {j['task_wall']:.2f} s of task time, {j['task_cpu']:.2f} s of it on CPU: {j['kind']} "
          f"(CPU/wall {j['cpu_per_wall']:.2f})")
print()

# The interpretation: every statement is computed from the numbers above,
# with thresholds; a measurement against the expectation is said as such.
s, p, t, fr, ft = (m[k] for k in ("seq", "pool", "threadpool", "fanout-ranks", "fanout-threads"))
GOOD = 1.3    # a speedup above this on 2 workers: they ran in parallel
BUSY = 1.15   # more cores busy than this: the CPU work really overlapped
out = []


def parallel(r, what, lesson):
    sp, cb = r["speedup"], r["cores_busy"]
    if sp >= GOOD and cb >= BUSY:
        return f"{what}: speedup {sp:.2f}x with {cb:.2f} cores busy: {lesson}."
    if cb >= BUSY:
        return (f"{what}: {cb:.2f} cores busy but a speedup of only {sp:.2f}x, against the about 2x expected: the "
                f"cores worked in parallel, but start-up or waiting for the last (largest) number took the rest.")
    return (f"{what}: speedup only {sp:.2f}x with {cb:.2f} cores busy, against the about 2x expected: its two "
            f"workers got about one core between them, so other processes were using the other "
            f"(load average {load_before} -> {load_after}).")


out.append(parallel(p, "Pool(2)", "each process has its own interpreter and GIL, so both cores run Python"))
if t["cores_busy"] < BUSY and t["speedup"] < GOOD:
    out.append(f"ThreadPool(2): speedup {t['speedup']:.2f}x with {t['cores_busy']:.2f} cores busy: the two threads "
               f"take turns holding the GIL, so CPU-bound Python code gets no faster with threads.")
else:
    out.append(f"ThreadPool(2): speedup {t['speedup']:.2f}x with {t['cores_busy']:.2f} cores busy, against the "
               f"about 1x (at most 1 core) expected of threads sharing one GIL.")
out.append(parallel(fr, "fanout 2 ranks", "each rank drives a Python process of its own"))
out.append(parallel(ft, "fanout 2 threads", "unlike ThreadPool, each of fanout's threads drives a Python process "
                    "of its own, so its threads do not share a GIL"))

cpus = [m[k]["cpu_total"] for k, *_ in ROWS]
cpu_list = ", ".join(f"{c:.2f}" for c in cpus)
if max(cpus) <= 1.2 * min(cpus):
    out.append(f"The CPU total is about the same in all five runs ({cpu_list} s): parallel workers do not save "
               f"work, they spread it over the cores, and the wall time shrinks instead.")
else:
    out.append(f"The CPU total differs between the runs ({cpu_list} s) by more than the 20% expected from noise "
               f"for the same work (start-up of interpreters and of mpirun counts here too).")

for key, how, _ in ROWS:
    if not key.startswith("fanout"):
        continue
    r, j = m[key], m[key]["report"]
    if j["cpu_total"] < 0.5 * j["task_cpu"]:
        out.append(f"{how}: fanout report's CPU line says {j['cpu_total']:.2f} s, less than the {j['task_cpu']:.2f} s "
                   f"of CPU its own tasks took and the {r['cpu_total']:.2f} s measured for the process tree: it "
                   f"leaves out the Python workers' CPU, so its cores busy ({j['cores_busy']:.2f}) understates "
                   f"the run; read the tasks line (or this table) instead.")
if s["cores_busy"] < 0.85:
    out.append(f"Caution: the sequential run kept only {s['cores_busy']:.2f} cores busy (about 1 expected): other "
               f"processes shared its core, which makes its wall time longer and every speedup larger than on a "
               f"quiet machine.")
for line in out:
    print(line)
PY
