#!/usr/bin/python3
"""Slurm for real: a private cluster (slurm/local-cluster/start.sh, real
munged, slurmctld and slurmd) runs the batch template and `fanout submit`;
the files are read back with h5py. A cluster that does not start fails the
test. Every case stops its cluster, and deletes its network namespaces,
also when it fails.

Cases:
  sbatch      plain `sbatch slurm/fanout.sbatch configs/primes.toml`, then
              `fanout submit --wait`: complete, correct (coreutils factor),
              the job id and the Slurm context in the file, OUTPUT.sbatch kept
  scaling     `fanout submit --scaling 1,2 --wait`: n1.h5 and n2.h5, accepted
              by `fanout compare`
  multinode   2 emulated Slurm nodes: ranks on n1 and n2, each rank's node in
              /ranks as Slurm placed it (SLURM_NODEID per rank)
  netns       plain mpirun across two network namespaces made here (a veth
              pair, Open MPI's launch agent entering the other namespace):
              ranks on two host names, recorded in /ranks (an ordinary user
              runs it as the root of a user namespace of its own)
  dry_run     `fanout submit --dry-run` for several option sets against
              tests/slurm/expected/*.sbatch; every script passes bash -n
  submit_errors  bad options, an existing output, a request sbatch refuses:
              exit 2, one message, nothing left behind
  requeue     `scancel --batch --signal=USR1` of a running job: fanout stops,
              the file is partial with no task cut, the job requeues itself,
              resumes, and the results equal an uninterrupted run's
  time_limit  1-minute jobs with Slurm's own warning (--signal=B:USR1@5)
              and more work than fits: partial, requeued, completed over
              several allocations, results equal an uninterrupted run's
"""
import os
import shutil
import socket
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY"}


def free_port_base(count):
    """A port P such that P..P+count are free on this machine now."""
    for base in range(17817, 40000, 97):
        ok = True
        for p in range(base, base + count + 1):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise e2e.Failure("no free ports for the cluster")


class Cluster:
    """`with Cluster(tools, w, nodes) as c:` a private Slurm cluster under
    w/cluster, stopped on the way out whatever happened."""

    def __init__(self, tools, w, nodes=1):
        self.tools, self.w, self.nodes = tools, w, nodes
        self.dir = w("cluster")
        self.scripts = os.path.join(tools.source_dir, "slurm", "local-cluster")

    def __enter__(self):
        env = dict(os.environ, SLURM_NODES=str(self.nodes), SLURM_PORT=str(free_port_base(self.nodes)))
        proc = subprocess.run(["bash", os.path.join(self.scripts, "start.sh"), self.dir], env=env,
                              capture_output=True, text=True, timeout=90)
        if proc.returncode != 0:
            self.stop()
            raise e2e.Failure(f"the local Slurm cluster did not start (exit {proc.returncode}):\n"
                              f"{proc.stdout}{proc.stderr}")
        self.env = e2e.mpi_env()
        self.env["SLURM_CONF"] = os.path.join(self.dir, "etc", "slurm.conf")
        self.env["FANOUT"] = self.tools.fanout  # what plain sbatch of the template runs
        self.env["FANOUT_SIGNAL_DELAY"] = "1"  # fanout starts within a second here
        if self.nodes > 1:
            self.env["OMPI_MCA_btl"] = "self,tcp"  # emulated nodes share /dev/shm
        return self

    def stop(self):
        proc = subprocess.run(["bash", os.path.join(self.scripts, "stop.sh"), self.dir],
                              capture_output=True, text=True, timeout=90)
        return proc

    def __exit__(self, kind, value, tb):
        proc = self.stop()
        if kind is None:
            expect(proc.returncode == 0, f"stop.sh failed:\n{proc.stdout}{proc.stderr}")
            for pidfile in os.listdir(os.path.join(self.dir, "run")):
                expect(not pidfile.endswith(".pid"), f"stop.sh left {pidfile}")
        return False

    def run(self, argv, timeout=120, cwd=None):
        t0 = time.monotonic()
        try:
            proc = subprocess.run(argv, cwd=cwd or self.w.path, env=self.env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise e2e.Failure(f"timed out after {timeout} s: {' '.join(argv)}\nstdout: {e.stdout}\n"
                              f"stderr: {e.stderr}\n{self.logs()}")
        return e2e.Result(argv, proc, time.monotonic() - t0)

    def fanout(self, args, timeout=120):
        return self.run([self.tools.fanout] + list(args), timeout)

    def job_state(self, job_id):
        r = self.run(["scontrol", "--oneliner", "show", "job", job_id])
        expect(r.code == 0, f"scontrol show job {job_id} failed:\n{r.describe()}")
        fields = dict(f.split("=", 1) for f in r.out.split() if "=" in f)
        return fields

    def wait_job(self, job_id, timeout=120):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            fields = self.job_state(job_id)
            if fields["JobState"] in FINAL_STATES:
                return fields
            time.sleep(0.5)
        raise e2e.Failure(f"job {job_id} did not end within {timeout} s: {self.job_state(job_id)}\n{self.logs()}")

    def logs(self):
        out = ""
        for name in sorted(os.listdir(os.path.join(self.dir, "log"))):
            with open(os.path.join(self.dir, "log", name), errors="replace") as f:
                out += f"--- {name} (end) ---\n" + "".join(f.readlines()[-15:])
        return out


def job_log(w, pattern_dir, job_id):
    for name in os.listdir(pattern_dir):
        if name.endswith(f"{job_id}.out"):
            with open(os.path.join(pattern_dir, name)) as f:
                return f.read()
    return "(no log)"


def primes_expectation(tools):
    import tomllib
    with open(tools.config("primes.toml"), "rb") as f:
        numbers = tomllib.load(f)["job"]["numbers"]
    oracle = e2e.factor_oracle(tools, numbers)
    return numbers, oracle


def check_primes(path, numbers, oracle, n_ranks, job_id):
    data = e2e.check_run_file(path, n_ranks=n_ranks, job="primes", task_count=len(numbers), policy="dynamic",
                              columns=["number", "is_prime"])
    res = data["results"]
    expect_eq([int(x) for x in res["number"]], numbers, f"{path}: /results/number")
    expect_eq([bool(x) for x in res["is_prime"]], [oracle[n] for n in numbers],
              f"{path}: /results/is_prime against coreutils factor")
    a = data["attrs"]
    expect_eq(e2e.attr_str(a, "slurm_job_id"), job_id, f"{path}: slurm_job_id")
    expect_eq(e2e.attr_str(a, "slurm_partition"), "debug", f"{path}: slurm_partition")
    expect(e2e.attr_str(a, "slurm_nodelist") != "", f"{path}: empty slurm_nodelist")
    return data


def nodes_of(data):
    return [n.decode() for n in data["ranks"]["node"]]


# ---------------------------------------------------------------- cases


def case_sbatch(tools, args):
    numbers, oracle = primes_expectation(tools)
    host = socket.gethostname().split(".")[0]
    with e2e.Workdir("slurm-sbatch") as w, Cluster(tools, w) as c:
        # 1. The template as a user submits it, resources on the sbatch command line.
        template = os.path.join(tools.source_dir, "slurm", "fanout.sbatch")
        r = c.run(["sbatch", "--parsable", "--nodes=1", "--ntasks-per-node=2", "--time=00:05:00", template,
                   tools.config("primes.toml"), "--output", "plain.h5"])
        expect(r.code == 0, f"sbatch failed:\n{r.describe()}")
        job_id = r.out.strip().split(";")[0]
        end = c.wait_job(job_id)
        log = job_log(w, w.path, job_id)
        expect_eq(end["JobState"], "COMPLETED", f"job {job_id} state (log:\n{log})")
        expect("srun --mpi=pmix" in log, f"the job did not launch with srun --mpi=pmix:\n{log}")
        data = check_primes(w("plain.h5"), numbers, oracle, 2, job_id)
        expect_eq(nodes_of(data), [host, host], "plain.h5: /ranks node")
        expect_eq(e2e.attr_str(data["attrs"], "slurm_time_limit"), "00:05:00", "plain.h5: slurm_time_limit")

        # 2. fanout submit --wait: the report of the finished run on stdout.
        r = c.fanout(["submit", tools.config("primes.toml"), "--nodes", "1", "--ntasks-per-node", "2",
                      "--time", "00:05:00", "--output", "submitted.h5", "--wait"])
        e2e.expect_code(r, 0)
        first = r.out.splitlines()[0]
        expect(first.startswith("submitted job ") and "results: submitted.h5" in first,
               f"first line of fanout submit: {first!r}")
        job_id = first.split()[2].rstrip(":")
        expect("status:    complete: 20 ok" in r.out, f"no report of the finished run:\n{r.out}")
        data = check_primes(w("submitted.h5"), numbers, oracle, 2, job_id)
        expect(os.path.isfile(w("submitted.h5.sbatch")), "submitted.h5.sbatch was not kept beside the output")
        expect(os.path.isfile(w(f"submitted.h5.{job_id}.out")), f"no job log submitted.h5.{job_id}.out")
        with open(w("submitted.h5.sbatch")) as f:
            script = f.read()
        expect(f"FANOUT=${{FANOUT:-{tools.fanout}}}" in script, "the kept script does not name this fanout binary")
        expect_eq(sorted(e2e.listing(w.path)),
                  sorted(["cluster", "plain.h5", f"fanout-{end['JobId']}.out", "submitted.h5",
                          "submitted.h5.sbatch", f"submitted.h5.{job_id}.out"]),
                  "files in the work directory (nothing else left behind)")


def case_scaling(tools, args):
    with e2e.Workdir("slurm-scaling") as w, Cluster(tools, w) as c:
        sets = ["--set", "job.tasks=40", "--set", "job.duration=0.01", "--set", "job.mode=sleep"]
        r = c.fanout(["submit", tools.config("spin.toml"), "--scaling", "1,2", "--ntasks-per-node", "2",
                      "--time", "00:05:00"] + sets + ["--wait"], timeout=180)
        e2e.expect_code(r, 0)
        expect_eq(sorted(os.listdir(w("runs", "spin"))),
                  sorted(["n1.h5", "n2.h5", "n1.h5.sbatch", "n2.h5.sbatch"]
                         + [n for n in os.listdir(w("runs", "spin")) if n.endswith(".out")]),
                  "files of the study")
        ids = [line.split()[2].rstrip(":") for line in r.out.splitlines() if line.startswith("submitted job ")]
        expect_eq(len(ids), 2, f"jobs submitted:\n{r.out}")
        for n, job_id in zip((1, 2), ids):
            path = w("runs", "spin", f"n{n}.h5")
            data = e2e.check_run_file(path, n_ranks=n, job="spin", task_count=40, policy="dynamic")
            expect_eq(e2e.attr_str(data["attrs"], "slurm_job_id"), job_id, f"{path}: slurm_job_id")
        expect("compare:  job spin, 2 runs" in r.out, f"--wait did not print the comparison:\n{r.out}")
        cmp = c.fanout(["compare", w("runs", "spin", "n1.h5"), w("runs", "spin", "n2.h5")])
        e2e.expect_code(cmp, 0)
        rows = [line for line in cmp.out.splitlines() if "n1.h5" in line or "n2.h5" in line]
        expect(len(rows) >= 2, f"fanout compare does not list both runs:\n{cmp.out}")


def case_multinode(tools, args):
    with e2e.Workdir("slurm-multinode") as w, Cluster(tools, w, nodes=2) as c:
        # Node leaders: one per emulated node (the flat path is every other test's).
        sets = ["--set", "job.tasks=40", "--set", "job.duration=0.01", "--set", "job.mode=sleep",
                "--set", 'schedule.hierarchy="node"']
        r = c.fanout(["submit", tools.config("spin.toml"), "--nodes", "2", "--ntasks-per-node", "2",
                      "--time", "00:05:00", "--output", "multi.h5"] + sets + ["--wait"], timeout=180)
        e2e.expect_code(r, 0)
        data = e2e.check_run_file(w("multi.h5"), n_ranks=4, job="spin", task_count=40, policy="dynamic")
        nodes = nodes_of(data)
        expect_eq(sorted(set(nodes)), ["n1", "n2"], f"multi.h5: nodes of the ranks {nodes}")
        # Where Slurm put each rank, asked of Slurm itself in a step of the same shape.
        r = c.run(["srun", "--nodes=2", "--ntasks-per-node=2", "--mpi=pmix", "sh", "-c",
                   "echo $SLURM_PROCID $SLURMD_NODENAME"])
        expect(r.code == 0, f"srun failed:\n{r.describe()}")
        placed = dict(line.split() for line in r.out.splitlines())
        expect_eq(nodes, [placed[str(k)] for k in range(4)], "multi.h5: /ranks node against Slurm's placement")
        expect_eq(e2e.attr_str(data["attrs"], "slurm_nodelist"), "n[1-2]", "multi.h5: slurm_nodelist")
        hosts = {h.decode() for h in data["ranks"]["host"]}
        expect_eq(len(hosts), 1, f"emulated nodes share one host name: {hosts}")
        # Each node's first rank leads it (rank 0 serves leaders only, so on
        # its node rank 1 leads the rest, here nobody); leaders report to 0.
        expect_eq(e2e.attr_str(data["attrs"], "hierarchy"), "node", "multi.h5: hierarchy")
        first = {}
        for k, node in enumerate(nodes):
            first.setdefault(node, k)
        group = [first[node] for node in nodes]
        second = next((k for k in range(1, 4) if group[k] == 0), None)
        group = [second if k > 0 and g == 0 else g for k, g in enumerate(group)]
        leaders = [0 if k == 0 or group[k] == k else group[k] for k in range(4)]
        expect_eq([int(x) for x in data["ranks"]["leader"]], leaders, f"multi.h5: /ranks leader (nodes {nodes})")
        tasks = data["tasks"]
        expect_eq(sorted(int(i) for i in tasks["id"]), list(range(40)), "multi.h5: every task once under leaders")


class Namespaces:
    """Two network namespaces joined by a veth pair with link-local
    addresses, deleted on the way out whatever happened."""

    def __init__(self):
        tag = f"fo{os.getpid() % 100000}"
        self.names = [f"{tag}a", f"{tag}b"]
        self.addrs = [f"169.254.{os.getpid() % 200 + 20}.1", f"169.254.{os.getpid() % 200 + 20}.2"]
        self.hosts = ["fanout-node-a", "fanout-node-b"]

    def ip(self, *argv):
        proc = subprocess.run(["ip"] + list(argv), capture_output=True, text=True, timeout=30)
        expect(proc.returncode == 0, f"ip {' '.join(argv)} failed: {proc.stderr}")

    def __enter__(self):
        try:
            a, b = self.names
            self.ip("netns", "add", a)
            self.ip("netns", "add", b)
            self.ip("link", "add", f"{a}v", "type", "veth", "peer", "name", f"{b}v")
            for ns, addr in zip(self.names, self.addrs):
                self.ip("link", "set", f"{ns}v", "netns", ns)
                self.ip("-n", ns, "addr", "add", f"{addr}/24", "dev", f"{ns}v")
                self.ip("-n", ns, "link", "set", f"{ns}v", "up")
                self.ip("-n", ns, "link", "set", "lo", "up")
        except BaseException:
            self.delete()
            raise
        return self

    def delete(self):
        for ns in self.names:
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True, timeout=30)

    def __exit__(self, kind, value, tb):
        self.delete()
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        if kind is None:
            expect(not any(ns in listed for ns in self.names), f"namespaces left behind: {listed}")
        return False


def as_namespace_root(timeout):
    """Runs this test again as the root of a user namespace of its own, with
    a network namespace (the veth pair starts there) and a private /run
    (where `ip netns` keeps its names): how an ordinary user makes network
    namespaces without sudo. Its mpirun runs as uid 0 there, in the private
    session directory of e2e.mpi_env (root's /tmp/ompi.HOST.0 is not its)."""
    argv = ["unshare", "--user", "--map-root-user", "--mount", "--net", "sh", "-c",
            'mount -t tmpfs -o mode=0755 fanout-run /run && exec "$0" "$@"',
            sys.executable, "-B", os.path.abspath(sys.argv[0])] + sys.argv[1:]
    try:
        proc = subprocess.run(argv, env=dict(os.environ, FANOUT_IN_USER_NAMESPACE="1"), capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise e2e.Failure(f"the case in a user namespace timed out after {timeout} s:\n{e.stdout}\n{e.stderr}")
    sys.stdout.write(proc.stdout)
    expect(proc.returncode == 0, f"the case as the root of a user namespace failed (exit {proc.returncode}): "
           f"{' '.join(argv)}\n{proc.stderr}")


def case_netns(tools, args):
    if os.geteuid() != 0 and os.environ.get("FANOUT_IN_USER_NAMESPACE") != "1":
        as_namespace_root(timeout=150)
        return
    with e2e.Workdir("slurm-netns") as w, Namespaces() as ns:
        # Open MPI "logs in" to the other host through this agent instead of ssh.
        cases = "\n".join(f"  {addr}) ns={name}; host={host} ;;"
                          for addr, name, host in zip(ns.addrs, ns.names, ns.hosts))
        agent = w.write("agent.sh", f"""#!/bin/sh
# plm_rsh_agent: HOST COMMAND... runs COMMAND in HOST's network namespace, under its host name.
target=$1; shift
case $target in
{cases}
  *) echo "agent.sh: unknown host $target" >&2; exit 1 ;;
esac
exec ip netns exec $ns unshare --uts sh -c "hostname $host; $*"
""")
        os.chmod(agent, 0o755)
        mpirun = (f"{tools.mpiexec} --mca plm_rsh_agent {agent} --host {ns.addrs[0]}:2,{ns.addrs[1]}:2 -n 4 "
                  f"--mca btl self,tcp {tools.fanout} run {tools.config('spin.toml')} --output {w('netns.h5')} "
                  "--set job.tasks=40 --set job.duration=0.01 --set job.mode=sleep")
        argv = ["ip", "netns", "exec", ns.names[0], "unshare", "--uts", "sh", "-c",
                f"hostname {ns.hosts[0]}; exec {mpirun}"]
        try:
            proc = subprocess.run(argv, cwd=w.path, env=e2e.mpi_env(), capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired as e:
            raise e2e.Failure(f"mpirun across namespaces timed out:\n{e.stdout}\n{e.stderr}")
        result = e2e.Result(argv, proc, 0)
        e2e.expect_code(result, 0)
        data = e2e.check_run_file(w("netns.h5"), n_ranks=4, job="spin", task_count=40, policy="dynamic")
        nodes = nodes_of(data)
        expect_eq(nodes, [ns.hosts[0]] * 2 + [ns.hosts[1]] * 2, "netns.h5: /ranks node")
        expect_eq([h.decode() for h in data["ranks"]["host"]], nodes, "netns.h5: /ranks host (no Slurm: the host)")
        tasks = data["tasks"]
        on_b = int(np.sum(tasks["rank"] >= 2))
        expect(on_b > 0, "no task ran on the second namespace's ranks")


def reference_results(tools, w, sets):
    """/results of an uninterrupted run of spin.toml with `sets`, by plain mpirun
    (with 64 threads, so that sleeping tasks take little wall time)."""
    path = e2e.run_spin(tools, w, 2, "reference.h5", sets + ["run.threads_per_rank=64"])
    return e2e.results_bytes(e2e.read_file(path))


def sets_args(sets):
    return [a for s in sets for a in ("--set", s)]


def check_partial(path, task_count):
    """A partial file as the interrupted job left it: some tasks done, none cut."""
    data = e2e.read_file(path)
    expect_eq(e2e.attr_str(data["attrs"], "status"), "partial", f"{path}: status after the stop")
    t = data["tasks"]
    done = t[t["attempt"] > 0]
    expect(0 < len(done) < task_count, f"{path}: {len(done)} of {task_count} tasks done; expected some, not all")
    expect(np.all(done["t_end"] > done["t_start"]), f"{path}: a finished task has no duration")
    expect(np.all(done["status"] == 0), f"{path}: a task did not finish ok (cut short?): {done['status']}")
    return len(done)


def check_resumed(path, task_count, job_id, reference, sets_min=2):
    data = e2e.read_file(path)
    a = data["attrs"]
    expect_eq(e2e.attr_str(a, "status"), "complete", f"{path}: status after the requeued job")
    expect_eq(e2e.attr_str(a, "slurm_job_id"), job_id, f"{path}: slurm_job_id (kept across requeues)")
    t = data["tasks"]
    expect(np.all(t["attempt"] >= 1) and np.all(t["status"] == 0), f"{path}: tasks not all run ok")
    expect_eq(e2e.results_bytes(data), reference, f"{path}: /results against an uninterrupted run")
    if "session" in (t.dtype.names or ()):
        sessions = sorted(set(int(x) for x in t["session"]))
        expect(len(sessions) >= sets_min, f"{path}: tasks of {sessions} sessions; expected work from each allocation")


def wait_for(what, predicate, timeout, c):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise e2e.Failure(f"{what} did not happen within {timeout} s\n{c.logs()}")


def case_requeue(tools, args):
    sets = ["job.tasks=120", "job.duration=0.1", "job.distribution=lognormal", "job.mode=sleep", "schedule.chunk=1"]
    with e2e.Workdir("slurm-requeue") as w:
        reference = reference_results(tools, w, sets)
        with Cluster(tools, w) as c:
            template = os.path.join(tools.source_dir, "slurm", "fanout.sbatch")
            r = c.run(["sbatch", "--parsable", "--nodes=1", "--ntasks-per-node=2", "--time=00:05:00", template,
                       tools.config("spin.toml"), "--output", "requeued.h5"] + sets_args(sets))
            expect(r.code == 0, f"sbatch failed:\n{r.describe()}")
            job_id = r.out.strip().split(";")[0]
            log = w(f"fanout-{job_id}.out")
            # Stop it once fanout is under way (its tasks take 6 s on 2 ranks).
            wait_for("the job's start", lambda: c.job_state(job_id)["JobState"] == "RUNNING", 60, c)
            time.sleep(2.5)
            r = c.run(["scancel", "--batch", "--signal=USR1", job_id])
            expect(r.code == 0, f"scancel --signal=USR1 failed:\n{r.describe()}")
            # The job requeues itself and waits (BeginTime) before it runs again: look at the partial file then.
            wait_for("the requeue", lambda: c.job_state(job_id).get("Restarts") == "1", 60, c)
            done = check_partial(w("requeued.h5"), 120)
            end = c.wait_job(job_id, timeout=120)
            with open(log) as f:
                text = f.read()
            expect_eq(end["JobState"], "COMPLETED", f"job {job_id} after the requeue (log:\n{text})")
            for line in ("SIGUSR1: asking the ranks to stop", "fanout exited with status 4",
                         f"work is left: requeueing job {job_id}", "(restart 1)", "--resume",
                         "fanout exited with status 0"):
                expect(line in text, f"the job's log lacks {line!r}:\n{text}")
            check_resumed(w("requeued.h5"), 120, job_id, reference)
            print(f"requeue: {done} of 120 tasks before the stop")


def case_time_limit(tools, args):
    # 40 s of sleeping tasks on 2 ranks in 1-minute jobs whose warning is asked
    # for 5 s before the limit: Slurm checks every 30 s and sends it once the
    # job is within 5 + 30 s of its limit, so 25 to 55 s into each allocation.
    # fanout's own check stops handing out tasks 31 s before the limit (its
    # 30 s for the file and a 1 s task), so the first allocation stops at 29 s
    # at the latest, with at most 58 of the 80 tasks done: the rest take a
    # second allocation.
    sets = ["job.tasks=80", "job.duration=1.0", "job.distribution=uniform", "job.mode=sleep", "schedule.chunk=1",
            "run.grace=5"]
    with e2e.Workdir("slurm-time-limit") as w:
        reference = reference_results(tools, w, sets)
        with Cluster(tools, w) as c:
            template = os.path.join(tools.source_dir, "slurm", "fanout.sbatch")
            r = c.run(["sbatch", "--parsable", "--nodes=1", "--ntasks-per-node=2", "--time=00:01:00",
                       "--signal=B:USR1@5", template, tools.config("spin.toml"), "--output", "limited.h5"]
                      + sets_args(sets))
            expect(r.code == 0, f"sbatch failed:\n{r.describe()}")
            job_id = r.out.strip().split(";")[0]
            wait_for("the first requeue", lambda: c.job_state(job_id).get("Restarts") == "1", 120, c)
            check_partial(w("limited.h5"), 80)
            end = c.wait_job(job_id, timeout=300)
            with open(w(f"fanout-{job_id}.out")) as f:
                text = f.read()
            expect_eq(end["JobState"], "COMPLETED", f"job {job_id} (log:\n{text})")
            # Stopped by Slurm's warning or by fanout's own time-limit check, whichever came first.
            expect(("SIGUSR1" in text or "the Slurm time limit is" in text) and "requeueing" in text,
                   f"no warning signal or time-limit stop, and requeue, in the log:\n{text}")
            check_resumed(w("limited.h5"), 80, job_id, reference)


DRY_RUNS = {
    # expected file: the submit options after CONFIG
    "one_node.sbatch": ["--nodes", "1", "--ntasks-per-node", "2", "--time", "00:10:00"],
    "site.sbatch": ["--nodes", "4", "--ntasks-per-node", "32", "--time", "1-00:00:00", "--partition", "compute",
                    "--account", "proj42", "--threads-per-rank", "4", "--output", "out/run 1.h5",
                    "--set", "job.tasks=1000"],
    "scaling.sbatch": ["--scaling", "1,3", "--ntasks-per-node", "2", "--time", "00:05:00"],
}


def case_dry_run(tools, args):
    template = os.path.join(tools.source_dir, "slurm", "fanout.sbatch")
    regenerate = os.environ.get("FANOUT_REGENERATE_EXPECTED") == "1"
    with e2e.Workdir("slurm-dry-run") as w:
        os.mkdir(w("configs"))
        shutil.copy(tools.config("spin.toml"), w("configs", "spin.toml"))
        for name, options in DRY_RUNS.items():
            r = e2e.run(tools, ["submit", "configs/spin.toml"] + options + ["--dry-run"], cwd=w.path)
            # (not expect_code: its crash signs, such as "signal ", are in the script's comments)
            expect(r.code == 0 and r.err == "", f"--dry-run {name} failed:\n{r.describe()}")
            got = r.out.replace(tools.fanout, "@FANOUT@").replace(template, "@TEMPLATE@")
            expected_path = os.path.join(HERE, "expected", name)
            if regenerate:
                with open(expected_path, "w") as f:
                    f.write(got)
            with open(expected_path) as f:
                expected = f.read()
            if got != expected:
                import difflib
                diff = "".join(difflib.unified_diff(expected.splitlines(True), got.splitlines(True),
                                                    expected_path, "fanout submit --dry-run"))
                raise e2e.Failure(f"--dry-run {' '.join(options)} differs from {expected_path} "
                                  f"(FANOUT_REGENERATE_EXPECTED=1 rewrites it after a deliberate change):\n{diff}")
            syntax = subprocess.run(["bash", "-n"], input=r.out, capture_output=True, text=True)
            expect(syntax.returncode == 0, f"bash -n rejects the script of {name}: {syntax.stderr}")
            expect_eq(e2e.listing(w.path), ["configs"], f"--dry-run {name} wrote files")


def case_submit_errors(tools, args):
    with e2e.Workdir("slurm-submit-errors") as w:
        spin = tools.config("spin.toml")
        base = ["submit", spin, "--ntasks-per-node", "2"]
        for argv, message in [
            (base + ["--nodes", "1", "--time", "10:00"], 'fanout: error: --time: expected HH:MM:SS (or D-HH:MM:SS), '
                                                         'found "10:00"\n'),
            (base + ["--nodes", "1", "--time", "00:02:59"], "fanout: error: --time: 00:02:59 is too short: the job asks "
                                                            "Slurm for SIGUSR1 120 s before its limit (to stop and "
                                                            "requeue cleanly), and Slurm may send it 30 s earlier still; "
                                                            "give at least 00:03:00\n"),
            (base + ["--time", "00:10:00"], "fanout: error: --nodes: required (the number of nodes; or give "
                                            "--scaling for a study)\n"),
            (base + ["--nodes", "1", "--time", "00:10:00", "--scaling", "1,2"], None),
            (base + ["--nodes", "1", "--time", "00:10:00", "--set", "job.bogus=1"], None),
        ]:
            r = e2e.run(tools, argv, cwd=w.path)
            e2e.expect_code(r, 2)
            if message:
                expect_eq(r.err, message, f"stderr of fanout {' '.join(argv[1:])}")
            expect_eq(r.err.count("error"), 1, f"one error message: {r.err}")
        expect_eq(e2e.listing(w.path), [], "files written by refused submissions")
        with Cluster(tools, w) as c:
            w.write("taken.h5", "not mine")
            r = c.fanout(base + ["--nodes", "1", "--time", "00:10:00", "--output", "taken.h5"])
            e2e.expect_code(r, 2)
            expect("taken.h5 already exists" in r.err, f"message for an existing output: {r.err}")
            r = c.fanout(base + ["--nodes", "1", "--time", "00:10:00", "--output", "x.h5", "--partition", "nope"])
            e2e.expect_code(r, 2)
            expect("sbatch refused x.h5.sbatch" in r.err and "partition" in r.err.lower(),
                   f"message for a refused job: {r.err}")
            expect(not os.path.exists(w("x.h5.sbatch")), "the script of a refused job was left behind")


if __name__ == "__main__":
    sys.exit(e2e.main({"sbatch": case_sbatch, "scaling": case_scaling, "multinode": case_multinode,
                       "netns": case_netns, "dry_run": case_dry_run, "submit_errors": case_submit_errors,
                       "requeue": case_requeue, "time_limit": case_time_limit}))
