#!/usr/bin/env bash
# Stops the private Slurm cluster that start.sh DIR started: cancels its jobs,
# stops every slurmd, slurmctld and munged by the pids in DIR/run, and ends
# any job step process left behind (a slurmstepd writing into DIR/log).
# Idempotent: nothing running is fine. DIR (config, state, logs) stays;
# delete it yourself when done. Exit code 0, or 1 if a process would not end.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
[ -d "$1" ] || { echo "stop.sh: nothing to stop: $1 is not a directory" >&2; exit 0; }
DIR=$(cd "$1" && pwd)
export SLURM_CONF=$DIR/etc/slurm.conf

pid_of() { [ -s "$1" ] && cat "$1"; }
alive_pid() {  # a zombie (state Z) counts as gone
  local state
  [ -r "/proc/$1/stat" ] || return 1
  state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$state" != Z ] && [ "$state" != X ]
}
# Sends SIGTERM, waits up to 10 s, then SIGKILL.
end_pid() {
  local pid=$1 t
  alive_pid "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null
  for t in $(seq 100); do
    alive_pid "$pid" || return 0
    sleep 0.1
  done
  echo "stop.sh: pid $pid did not end on SIGTERM within 10 s; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null
  sleep 0.2
  ! alive_pid "$pid"
}

status=0
ctld=$(pid_of "$DIR/run/slurmctld.pid")
if [ -n "$ctld" ] && alive_pid "$ctld" && [ -f "$SLURM_CONF" ]; then
  jobs=$(squeue -h -o '%i' 2>/dev/null | paste -sd' ')
  if [ -n "$jobs" ]; then
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null
    for t in $(seq 50); do
      [ -z "$(squeue -h -t running,completing -o '%i' 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
fi
for pidfile in "$DIR"/run/slurmd-*.pid "$DIR/run/slurmctld.pid" "$DIR/run/munged.pid"; do
  [ -e "$pidfile" ] || continue
  pid=$(pid_of "$pidfile")
  if [ -n "$pid" ]; then end_pid "$pid" || status=1; fi
  rm -f "$pidfile"
done
# Job step daemons (slurmstepd) detach from slurmd and log into DIR/log: end those of this cluster.
for fd in /proc/[0-9]*/fd/*; do
  target=$(readlink "$fd" 2>/dev/null) || continue
  case $target in
    "$DIR"/log/*)
      pid=${fd#/proc/}
      pid=${pid%%/*}
      [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = slurmstepd ] && { end_pid "$pid" || status=1; }
      ;;
  esac
done 2>/dev/null
rm -f "$DIR/run/munge.socket" "$DIR/run/munge.socket.lock"
echo "stop.sh: cluster in $DIR stopped"
exit $status
