#!/usr/bin/env bash
# Where fanout's time goes on empty tasks: perf stat and a perf profile of
#   mpirun -n 2 fanout run configs/spin.toml --set job.tasks=N --set job.duration=0
# grouped by thread and by kind of work (docs/performance.md, "What limits fanout").
#
#   bench/profile.sh [--fanout BIN] [--tasks N] [--policy P]     (default: build/fanout, 1000000, dynamic)
#
# Needs perf (Debian package linux-perf, installed when missing) and a kernel
# that lets root profile (perf_event_paranoid); rank processes are profiled
# through mpirun, the children inherit the counters.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fanout=build/fanout tasks=1000000 policy=dynamic
while [ $# -gt 0 ]; do
  case "$1" in
    --fanout) fanout=$2; shift 2 ;;
    --tasks) tasks=$2; shift 2 ;;
    --policy) policy=$2; shift 2 ;;
    *) echo "usage: bench/profile.sh [--fanout BIN] [--tasks N] [--policy P]" >&2; exit 2 ;;
  esac
done
if ! command -v perf >/dev/null; then
  sudo=(); [ "$(id -u)" = 0 ] || sudo=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends linux-perf
fi
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fanout-profile.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
run=(mpirun -n 2 "$fanout" run configs/spin.toml --output "$tmp/run.h5" --force --set "job.tasks=$tasks"
     --set job.duration=0 --set "schedule.policy=$policy" --set run.progress_interval=0)

echo "== perf stat: ${run[*]}"
perf stat -e task-clock,context-switches,cpu-migrations -- "${run[@]}" 2>&1 >/dev/null | grep -E "task-clock|context|migrations|elapsed|user|sys"
echo "== perf record (4 kHz), samples by thread and by kind of work"
perf record -q -F 4000 -o "$tmp/perf.data" -- "${run[@]}" >/dev/null 2>&1
perf report -i "$tmp/perf.data" --no-children --sort pid,sym --stdio 2>/dev/null | grep '%' |
/usr/bin/python3 -c '
import collections, re, sys
kinds = [
    ("CPU-time readings (getrusage) and syscall entry", r"getrusage|get_task_mm|_copy_to_user|ns_to_kernel|do_syscall_64|entry_SYSCALL|syscall_return|thread_cpu_times|clock_gettime"),
    ("HDF5 writer (sort, copy, deflate)", r"introsort|insertion_sort|RunWriter|H5|deflate|crc|adler|longest_match|compress"),
    ("thread wake-ups, locks, context switches", r"futex|pthread_cond|lll_lock|try_to_wake|finish_task_switch|schedule|raw_spin|wake_up"),
    ("MPI progress and copies", r"opal|ompi|mca_|btl|pml|vader"),
    ("memcpy/memmove", r"memmove|memcpy|memset"),
]
threads, kind, names = collections.Counter(), collections.Counter(), {}
for line in sys.stdin:
    m = re.match(r"\s*([\d.]+)%\s+(\d+):(\S+)\s+\[(.)\]\s+(.*)", line)
    if not m:
        continue
    pct, tid, comm, sym = float(m.group(1)), m.group(2), m.group(3), m.group(5)
    threads[f"{comm} {tid}"] += pct
    kind[next((k for k, rx in kinds if re.search(rx, sym)), "other (task loop, records, scheduling, ...)")] += pct
print("by thread (the two fanout processes have 2 threads each: main = coordinator, and one worker):")
for t, p in threads.most_common(8):
    print(f"  {p:5.1f}%  {t}")
print("by kind of work:")
for k, p in kind.most_common():
    print(f"  {p:5.1f}%  {k}")
'
