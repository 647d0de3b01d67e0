#!/usr/bin/env bash
# Starts a private Slurm cluster on this machine, everything under DIR:
#   DIR/etc/slurm.conf, DIR/etc/munge.key   config and key
#   DIR/run/                                munge socket, pid files
#   DIR/state/, DIR/spool/NODE/, DIR/tmp/NODE/   slurmctld state, slurmd spool, TmpFS
#   DIR/log/                                munged.log, slurmctld.log, slurmd-NODE.log
#   DIR/env.sh                              `source DIR/env.sh` points sbatch & co. at it
#
#   slurm/local-cluster/start.sh DIR          one node, named after this host
#   SLURM_NODES=3 slurm/local-cluster/start.sh DIR   three emulated nodes n1 n2 n3
#   SLURM_PORT=7817 ...                        slurmctld's port (default 6817);
#                                              slurmd of node i listens on SLURM_PORT+i
#
# It runs munged on a private socket, slurmctld and one slurmd per node name,
# and returns once every node is idle. Run again on a running cluster it only
# checks it (and starts a daemon that died). Stop it with stop.sh DIR.
# Runs as root or as an ordinary user (no sudo): munged, slurmctld, slurmd and
# the jobs run as whoever starts it (SlurmUser and SlurmdUser are that user;
# proctrack/linuxproc, task/none and no cgroups need no root). Needs Debian's
# slurm-wlm and munge.
# Exit codes: 0 ready, 1 a daemon did not start or a node did not come up,
# 2 usage (no DIR, a port taken, another node count than the running cluster's).
set -euo pipefail

die() { local code=$1; shift; echo "start.sh: error: $*" >&2; exit "$code"; }
[ $# -eq 1 ] || die 2 "usage: [SLURM_NODES=N] [SLURM_PORT=P] $0 DIR"
# munged, slurmctld and slurmd live in /usr/sbin, often not on an ordinary user's PATH.
export PATH=$PATH:/usr/sbin:/sbin
for tool in munged mungekey slurmctld slurmd sinfo scontrol ss; do
  command -v "$tool" >/dev/null || die 2 "$tool not found; install Debian's slurm-wlm, munge and iproute2"
done

mkdir -p "$1"
DIR=$(cd "$1" && pwd)
NODES=${SLURM_NODES:-1}
PORT=${SLURM_PORT:-6817}
[[ $NODES =~ ^[1-9][0-9]?$ ]] || die 2 "SLURM_NODES: expected a whole number from 1 to 99, found \"$NODES\""
[[ $PORT =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1024 ] && [ "$PORT" -le $((65535 - NODES)) ] ||
  die 2 "SLURM_PORT: expected a port from 1024 to $((65535 - NODES)), found \"$PORT\""
CONF=$DIR/etc/slurm.conf
HOST=$(hostname -s)
ME=$(id -un)   # the daemons' and the jobs' user

# Node names: this host's name for one node, n1..nN for emulated nodes.
node_names() {
  if [ "$NODES" = 1 ]; then echo "$HOST"; else seq -f 'n%g' 1 "$NODES"; fi
}

# Is the process in this pid file alive (not a zombie, which dead daemons
# stay for a few seconds on some machines)?
alive() {
  local pid state
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  [ -r "/proc/$pid/stat" ] || return 1
  state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$state" != Z ] && [ "$state" != X ]
}

port_taken() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

# --- a running cluster of another shape is an error, not something to change under its jobs
if [ -f "$CONF" ] && alive "$DIR/run/slurmctld.pid"; then
  have=$(grep -c '^NodeName=' "$CONF")
  [ "$have" = "$NODES" ] || die 2 "$DIR already runs a cluster of $have node(s), not $NODES; stop it first: $(dirname "$0")/stop.sh $DIR"
  PORT=$(sed -n 's/^SlurmctldPort=//p' "$CONF")
fi

mkdir -p "$DIR"/{etc,run,state,log}
chmod 700 "$DIR/etc"; chmod 755 "$DIR/run"   # munged wants a private key and a socket dir all may enter

# --- ports: ours if our daemon is running, otherwise they must be free
check_port() {  # PORT PIDFILE WHAT
  if alive "$2"; then return 0; fi
  if port_taken "$1"; then
    die 2 "port $1 (for $3) is taken by another program ($(ss -Hltnp "sport = :$1" | grep -o "users:.*" | head -1)); choose other ports with SLURM_PORT=N (slurmctld on N, slurmd of node i on N+i)"
  fi
}
check_port "$PORT" "$DIR/run/slurmctld.pid" slurmctld
i=0
for node in $(node_names); do
  i=$((i + 1))
  check_port $((PORT + i)) "$DIR/run/slurmd-$node.pid" "slurmd of node $node"
done

# --- config and key (written once; a running cluster keeps its own)
if [ ! -f "$DIR/etc/munge.key" ]; then
  mungekey --create --keyfile="$DIR/etc/munge.key"
  chmod 600 "$DIR/etc/munge.key"
fi
if ! alive "$DIR/run/slurmctld.pid"; then
  # slurmd -C describes this machine (CPUs, sockets, cores, memory); each emulated node gets the same.
  hardware=$(slurmd -C | head -1 | sed -e 's/^NodeName=[^ ]* //' -e 's/RealMemory=[0-9]*/RealMemory=1000/')
  {
    cat <<EOF
# Written by slurm/local-cluster/start.sh: a private cluster under $DIR.
ClusterName=fanout-local
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$PORT
SlurmUser=$ME
SlurmdUser=$ME
AuthType=auth/munge
# cred_expire: a requeued job may start again cred_expire + 1 s after it was
# requeued (Slurm's default, 120 s, is kept at real sites).
AuthInfo=socket=$DIR/run/munge.socket,cred_expire=10
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
TmpFS=$DIR/tmp/%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
# Schedule every 2 s rather than 60 (a requeued job starts soon after it may).
SchedulerParameters=sched_interval=2,bf_interval=2
# Jobs stay visible to scontrol and squeue for 5 minutes after they end.
MinJobAge=300
# Seconds between SIGTERM and SIGKILL when a job is cancelled or reaches its time limit.
KillWait=10
EOF
    i=0
    for node in $(node_names); do
      i=$((i + 1))
      echo "NodeName=$node NodeHostname=$HOST NodeAddr=127.0.0.1 Port=$((PORT + i)) $hardware State=UNKNOWN"
    done
    echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
  } >"$CONF"
fi
for node in $(node_names); do mkdir -p "$DIR/spool/$node" "$DIR/tmp/$node"; done
{
  echo "export SLURM_CONF=$CONF"
  if [ "$NODES" -gt 1 ]; then
    echo "# Emulated nodes share one machine: Open MPI's shared-memory files of their ranks would collide."
    echo "export OMPI_MCA_btl=self,tcp"
  fi
} >"$DIR/env.sh"
export SLURM_CONF=$CONF

# --- daemons
wait_for() {  # SECONDS WHAT COMMAND...: polls COMMAND every 0.1 s
  local limit=$1 what=$2 t=0
  shift 2
  until "$@"; do
    t=$((t + 1))
    [ $t -le $((limit * 10)) ] || return 1
    sleep 0.1
  done
}
fail() {  # LOG MESSAGE
  echo "start.sh: error: $2; the end of $1:" >&2
  tail -n 15 "$1" >&2 2>/dev/null || true
  exit 1
}

# slurmd (Slurm 22.05) reads the cgroup version from the file system on
# /sys/fs/cgroup and will not start without one ("No filesystem mounted on
# /sys/fs/cgroup"), even with proctrack/linuxproc and task/none. A chroot or
# container may have none there: then each slurmd gets a private mount
# namespace with a tmpfs on /sys/fs/cgroup holding only the named v1
# hierarchy "systemd" that slurmd looks for (cgroup v1 is detected and
# nothing is constrained); the machine's own mounts are left alone. That
# mount needs root: an ordinary user is told so.
slurmd_launcher=()
case "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" in
  tmpfs | cgroup2fs) ;;
  *) [ "$(id -u)" = 0 ] || die 2 "slurmd needs a cgroup file system on /sys/fs/cgroup and there is none (found: $(stat -f -c %T /sys/fs/cgroup 2>&1)); as an ordinary user this script cannot mount one for it: run it as root (sudo $0 $DIR)"
     slurmd_launcher=(unshare --mount --propagation private
       sh -c 'mount -t tmpfs -o size=1m,mode=0755 slurm-cgroup /sys/fs/cgroup && mkdir /sys/fs/cgroup/systemd &&
              mount -t cgroup -o none,name=systemd slurm-cgroup /sys/fs/cgroup/systemd && exec "$@"' sh) ;;
esac
if ! alive "$DIR/run/munged.pid"; then
  rm -f "$DIR/run/munge.socket" "$DIR/run/munge.socket.lock"
  # --force: munged otherwise wants every directory above its socket open to all
  # users (DIR may be a private temporary directory); only its user uses this cluster.
  munged --force --socket="$DIR/run/munge.socket" --key-file="$DIR/etc/munge.key" --pid-file="$DIR/run/munged.pid" \
    --log-file="$DIR/log/munged.log" --seed-file="$DIR/state/munge.seed" ||
    fail "$DIR/log/munged.log" "munged did not start"
  wait_for 10 munged test -S "$DIR/run/munge.socket" || fail "$DIR/log/munged.log" "munged made no socket"
fi
if ! alive "$DIR/run/slurmctld.pid"; then
  slurmctld -f "$CONF" || fail "$DIR/log/slurmctld.log" "slurmctld did not start"
  wait_for 20 slurmctld scontrol ping -Q >/dev/null 2>&1 || fail "$DIR/log/slurmctld.log" "slurmctld does not answer"
fi
for node in $(node_names); do
  if ! alive "$DIR/run/slurmd-$node.pid"; then
    "${slurmd_launcher[@]}" slurmd -f "$CONF" -N "$node" ||
      fail "$DIR/log/slurmd-$node.log" "slurmd of node $node did not start"
  fi
done

# --- ready when every node is idle (or running jobs: a cluster started again while in use)
ready() {
  local states
  states=$(sinfo -h -N -o '%T' 2>/dev/null) || return 1
  [ "$(grep -cE '^(idle|mixed|allocated)$' <<<"$states")" = "$NODES" ]
}
if ! wait_for 30 nodes ready; then
  sinfo -N -o '%N %T %E' >&2 || true
  fail "$DIR/log/slurmctld.log" "the node(s) did not become idle within 30 s"
fi
echo "start.sh: cluster up in $DIR: $NODES node(s) ($(node_names | paste -sd' ')), slurmctld on port $PORT"
echo "start.sh: for sbatch, squeue, scontrol: source $DIR/env.sh   ($(grep ^export "$DIR/env.sh" | paste -sd';'))"
