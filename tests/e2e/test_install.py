#!/usr/bin/python3
"""An install that stands alone, and the commit it says it was built from.

Cases:
  standalone      `cmake --install` this build into a temporary prefix, then,
                  in a private mount namespace with empty tmpfs mounted over
                  the source tree and the build tree (unshare -m): the
                  installed fanout runs the python job (configs/primes_py.toml
                  and examples/python/primes.py copied out) with the results
                  of is_prime called here; `fanout plot` draws its PNGs;
                  `fanout submit --dry-run` renders share/fanout's template;
                  fanout_analysis imports from share/fanout/python
                  (PYTHONPATH) and pip-installs from a copy of it into a
                  virtualenv, offline; without share/fanout, plot, submit
                  and the python job exit 3 naming every place looked at
                  and the variable;
                  examples/user-job builds against the prefix
                  (find_package(fanout)) and its runner runs the python job
                  and `submit --dry-run` with the prefix's files
  version         `fanout --version` and a run file's git_sha are HEAD of
                  the source tree (`git rev-parse HEAD`), "-dirty" exactly
                  when `git status` shows changed tracked files
  version_script  cmake/version.cmake in a scratch git repository: the
                  commit, "-dirty" for a changed tracked file (not for an
                  untracked one), a new commit, "unknown" outside git, and
                  the header left untouched when nothing changed
"""
import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

ROOT = os.geteuid() == 0
PYTHON = "/usr/bin/python3"
# Cheap numbers of configs/primes_py.toml (a prime, a semiprime with a small factor, an even number).
NUMBERS = [2, 142702110479723, 299593572317531, 3333333333333333, 4444444444444444]
DATA_FILES = ["python/fanout_plot.py", "python/fanout_worker.py", "python/pyproject.toml",
              "python/fanout_analysis/__init__.py", "python/fanout_analysis/runfile.py",
              "python/fanout_analysis/derived.py", "slurm/fanout.sbatch"]


def extra_args(parser):
    parser.add_argument("--cmake", default="cmake")
    parser.add_argument("--build-dir", default=None, help="the fanout build tree to install")
    parser.add_argument("--cxx", default=None, help="the C++ compiler of that build")
    parser.add_argument("--launcher", default="", help="its compiler launcher (ccache), if any")
    # Set by the standalone case for its second half, inside the namespace.
    parser.add_argument("--inside", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--hide", action="append", default=[], help=argparse.SUPPRESS)


def step(argv, what, cwd=None, env=None, timeout=300):
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    expect(proc.returncode == 0, f"{what} failed ({proc.returncode}): {' '.join(argv)}\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def version_of(tools):
    """(version, sha) of `fanout --version`: "0.1.0 (0123456789ab-dirty)"."""
    out = e2e.run_ok(tools, ["--version"]).out.strip()
    m = re.fullmatch(r"(\d+\.\d+\.\d+) \(([0-9a-f]{12,}(?:-dirty)?|unknown)\)", out)
    expect(m, f"fanout --version: {out!r}")
    return m.group(1), m.group(2)


# ---------------------------------------------------------------- standalone


def case_standalone(tools, args):
    if args.inside:
        return inside(tools, args)
    expect(args.build_dir and args.cxx, "standalone needs --build-dir and --cxx")
    source, build = os.path.realpath(tools.source_dir), os.path.realpath(args.build_dir)
    with e2e.Workdir("install") as w:
        here = os.path.realpath(w.path)
        for d in (source, build):
            expect(not (here + "/").startswith(d + "/"), f"the work directory {here} is inside {d}, which is hidden")
        prefix = w("prefix")
        step([args.cmake, "--install", args.build_dir, "--prefix", prefix], "cmake --install")
        for path in ["bin/fanout", "lib/cmake/fanout/fanoutConfig.cmake"] + ["share/fanout/" + f for f in DATA_FILES]:
            expect(os.path.isfile(os.path.join(prefix, path)), f"the install has no {path}")
        # What a user has: a config, their Python module, their own job; and this test.
        user = w.mkdir("user")
        os.makedirs(os.path.join(user, "configs"))
        for name in ("primes_py.toml", "spin.toml"):
            shutil.copy(tools.config(name), os.path.join(user, "configs"))
        shutil.copytree(os.path.join(tools.source_dir, "examples", "python"), os.path.join(user, "examples", "python"))
        shutil.copytree(os.path.join(tools.source_dir, "examples", "user-job"), os.path.join(user, "user-job"))
        tests = w.mkdir("tests")
        for name in ("test_install.py", "e2e.py"):
            shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), name), tests)

        unshare = ["unshare", "-m"] if ROOT else ["unshare", "-rm"]
        # The build tree first: it may be inside the source tree.
        hide = 'for d; do [ "$d" = -- ] && break; mount -t tmpfs -o size=1m fanout-hidden "$d" || exit 97; shift; done; ' \
               'shift; exec "$@"'
        argv = unshare + ["sh", "-c", hide, "sh", build, source, "--",
                          PYTHON, "-B", os.path.join(tests, "test_install.py"),
                          "--fanout", os.path.join(prefix, "bin", "fanout"), "--mpiexec", tools.mpiexec,
                          "--h5dump", tools.h5dump, "--factor", tools.factor, "--source-dir", user,
                          "--cmake", args.cmake, "--cxx", args.cxx, f"--launcher={args.launcher}",
                          "--inside", w.path, "--hide", build, "--hide", source, "standalone"]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=240)
        expect(proc.returncode == 0, f"inside the namespace without {source} and {build} (exit {proc.returncode}):\n"
                                     f"{proc.stdout}{proc.stderr}")
        print(proc.stdout.strip())


def inside(tools, args):
    """The standalone case in its mount namespace: args.inside is the work
    directory, tools.source_dir the user's copies, tools.fanout the install's."""
    w = e2e.Workdir.__new__(e2e.Workdir)
    w.path = args.inside
    for d in args.hide:  # empty, or gone under the tmpfs of the directory that holds it
        seen = os.listdir(d) if os.path.exists(d) else []
        expect(seen == [], f"{d} is still visible: {seen[:5]}")
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(tools.fanout)))
    share = os.path.join(prefix, "share", "fanout")
    t0 = time.monotonic()
    timings = []

    def lap(what):
        nonlocal t0
        timings.append(f"{what} {time.monotonic() - t0:.1f} s")
        t0 = time.monotonic()

    # The runner's build takes longest: start it, and the pip install, first.
    build = w("user-build")
    configure = [args.cmake, "-S", os.path.join(tools.source_dir, "user-job"), "-B", build,
                 f"-DCMAKE_PREFIX_PATH={prefix}", f"-DCMAKE_CXX_COMPILER={args.cxx}"]
    if args.launcher:
        configure.append(f"-DCMAKE_CXX_COMPILER_LAUNCHER={args.launcher}")
    env = dict(os.environ, CCACHE_BASEDIR=w.path)  # the same relative paths every time: ccache hits
    runner_build = subprocess.Popen(["sh", "-c", shlex.join(configure) + " && " + shlex.join([args.cmake, "--build", build])],
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pip = start_pip(w, share)

    version, sha = version_of(tools)
    numbers_set = "params.n=[" + ", ".join(str(n) for n in NUMBERS) + "]"
    config = tools.config("primes_py.toml")
    expected = primes_expected(tools)

    # The python job: fanout_worker.py from share/fanout/python.
    path = w("primes.h5")
    e2e.run_ok(tools, ["run", config, "--output", path, "--set", numbers_set], np_=2, cwd=w.path, timeout=60)
    check_primes(path, expected, sha, version)
    lap("python job")

    # fanout plot: fanout_plot.py and fanout_analysis from share/fanout/python.
    r = e2e.run_ok(tools, ["plot", path, "--out", w("plots")], timeout=120)
    pngs = [line for line in r.out.splitlines() if line.endswith(".png")]
    expect(len(pngs) >= 3, f"fanout plot wrote {pngs}:\n{r.describe()}")
    for png in pngs:
        with open(png, "rb") as f:
            expect(f.read(8) == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG")
    lap("plot")

    # fanout submit --dry-run: share/fanout/slurm/fanout.sbatch filled in.
    check_submit(tools, w, config, share, tools.fanout)

    # The package, by PYTHONPATH: the documented directory alone.
    out = step([PYTHON, "-c", "import fanout_analysis as fa, sys; r = fa.load(sys.argv[1]); "
                "print(fa.__file__); print(len(r.tasks))", path],
               "import fanout_analysis with PYTHONPATH", env=dict(os.environ, PYTHONPATH=os.path.join(share, "python")))
    expect_eq(out.split(), [os.path.join(share, "python", "fanout_analysis", "__init__.py"), str(len(NUMBERS))],
              "fanout_analysis from PYTHONPATH=PREFIX/share/fanout/python: its file and the tasks of the run")
    lap("import")

    # Without share/fanout: every place looked at, and the variable.
    away = share + ".away"
    os.rename(share, away)
    try:
        r = e2e.run(tools, ["plot", path, "--out", w("plots2")])
        e2e.expect_code(r, 3)
        for text in ("cannot find fanout_plot.py", os.path.join(share, "python", "fanout_plot.py") +
                     " (beside the executable)", "(the source tree it was built from)", "set FANOUT_PYTHON_DIR to"):
            expect(text in r.err, f"fanout plot without share/fanout does not say {text!r}:\n{r.describe()}")
        # (spin: the python job's config would fail first, for want of fanout_worker.py)
        r = e2e.run(tools, ["submit", tools.config("spin.toml"), "--nodes", "1", "--ntasks-per-node", "2", "--time",
                            "00:10:00", "--dry-run"], cwd=w.path)
        e2e.expect_code(r, 3)
        for text in ("cannot find fanout.sbatch", os.path.join(share, "slurm", "fanout.sbatch"),
                     "set FANOUT_SBATCH_TEMPLATE to"):
            expect(text in r.err, f"fanout submit without share/fanout does not say {text!r}:\n{r.describe()}")
        r = e2e.run(tools, ["run", config, "--output", w("none.h5"), "--set", numbers_set], cwd=w.path)
        e2e.expect_code(r, 3)
        expect("cannot find fanout_worker.py" in r.err, f"the python job without share/fanout:\n{r.describe()}")
        expect(not os.path.exists(w("none.h5")), "a run that could not start wrote its file")
    finally:
        os.rename(away, share)
    lap("errors")

    finish_pip(pip, w, version, path)
    lap("pip")

    # The user's runner, built against the prefix alone.
    out, _ = runner_build.communicate(timeout=240)
    expect(runner_build.returncode == 0, f"building examples/user-job against {prefix} failed:\n{out}")
    lap("runner build")
    runner = e2e.Tools.__new__(e2e.Tools)
    runner.__dict__.update(tools.__dict__)
    runner.fanout = os.path.join(build, "my_runner")
    listing = e2e.run_ok(runner, ["jobs"]).out
    for kind in ("perfect", "python"):
        expect(f"\n{kind}: " in listing, f"my_runner jobs does not list {kind}:\n{listing}")
    path = w("runner.h5")
    e2e.run_ok(runner, ["run", config, "--output", path, "--set", numbers_set], np_=1, cwd=w.path, timeout=60)
    check_primes(path, expected, sha, version)
    check_submit(runner, w, config, share, runner.fanout)
    lap("runner")
    print("; ".join(timings))


def primes_expected(tools):
    import importlib.util
    spec = importlib.util.spec_from_file_location("user_primes", os.path.join(tools.source_dir, "examples", "python",
                                                                              "primes.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [module.is_prime(n) for n in NUMBERS]


def check_primes(path, expected, sha, version):
    with h5py.File(path, "r") as f:
        expect_eq(e2e.attr_str(f.attrs, "status"), "complete", f"{path}: status")
        expect_eq([bool(x) for x in f["results/is_prime"][()]], expected, f"{path}: /results/is_prime")
        expect_eq([int(x) for x in f["params/n"][()]], NUMBERS, f"{path}: /params/n")
        expect_eq(e2e.attr_str(f.attrs, "git_sha"), sha, f"{path}: git_sha (fanout --version's)")
        expect_eq(e2e.attr_str(f.attrs, "fanout_version"), version, f"{path}: fanout_version")


def check_submit(tools, w, config, share, binary):
    r = e2e.run_ok(tools, ["submit", config, "--nodes", "1", "--ntasks-per-node", "2", "--time", "00:10:00",
                           "--output", w("submitted.h5"), "--dry-run"], cwd=w.path)
    template = os.path.join(share, "slurm", "fanout.sbatch")
    for text in (f"# Rendered from {template} by:", "#SBATCH --job-name=fanout-primes_py",
                 f"FANOUT=${{FANOUT:-{binary}}}"):
        expect(text in r.out, f"submit --dry-run of {binary} does not show {text!r}:\n{r.out}")
    expect(not os.path.exists(w("submitted.h5.sbatch")), "submit --dry-run wrote the script")


def start_pip(w, share):
    """pip install of fanout_analysis from a copy of the installed python/
    (pip builds in its source directory) into a virtualenv that sees
    Debian's packages (numpy, pandas, h5py, setuptools, pip): offline."""
    shutil.copytree(os.path.join(share, "python"), w("pysrc"))
    venv = w("venv")
    script = f'"{PYTHON}" -m venv --system-site-packages --without-pip "{venv}" && ' \
             f'"{venv}/bin/python" -m pip install --no-build-isolation --no-index --no-cache-dir "{w("pysrc")}"'
    return subprocess.Popen(["sh", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"))


def finish_pip(pip, w, version, path):
    out, _ = pip.communicate(timeout=240)
    expect(pip.returncode == 0, f"pip install of fanout_analysis failed:\n{out}")
    shutil.rmtree(w("pysrc"))  # only the installed package may answer now
    out = step([w("venv", "bin", "python"), "-c",
                "import importlib.metadata as m, sys, fanout_analysis as fa; print(m.version('fanout-analysis')); "
                "print(fa.__file__); print(len(fa.load(sys.argv[1]).tasks))", path],
               "import fanout_analysis in the virtualenv", cwd=w.path)
    lines = out.split()
    expect_eq(lines[0], version, "the pip-installed fanout-analysis's version (fanout --version's)")
    expect(lines[1].startswith(w("venv") + "/"), f"fanout_analysis imported from {lines[1]}, not the virtualenv")
    expect_eq(lines[2], str(len(NUMBERS)), "the tasks fanout_analysis.load reads")


# ---------------------------------------------------------------- version


def git(source, *argv):
    return step(["git", "-C", source, *argv], f"git {' '.join(argv)}").strip()


def case_version(tools, args):
    version, sha = version_of(tools)
    inside_git = subprocess.run(["git", "-C", tools.source_dir, "rev-parse", "--is-inside-work-tree"],
                                capture_output=True, text=True)
    if inside_git.returncode != 0:  # a source tree without git (an unpacked archive)
        expect_eq(sha, "unknown", f"fanout --version outside a git checkout ({tools.source_dir})")
        return
    head = git(tools.source_dir, "rev-parse", "HEAD")
    dirty = git(tools.source_dir, "status", "--porcelain", "--untracked-files=no") != ""
    stale = ("; was the build not rebuilt since the last commit or change? (cmake --build regenerates the "
             "version header)")
    expect(sha.removesuffix("-dirty") == head[:len(sha.removesuffix("-dirty"))],
           f"fanout --version says {sha}, the source tree's HEAD is {head}{stale}")
    expect(sha.endswith("-dirty") == dirty,
           f"fanout --version says {sha}, but `git status` of {tools.source_dir} shows "
           f"{'changed tracked files' if dirty else 'no changed tracked file'}{stale}")
    with e2e.Workdir("version") as w:
        path = e2e.run_spin(tools, w, 1, "spin.h5", ["job.tasks=2", "job.duration=0"])
        with h5py.File(path, "r") as f:
            expect_eq(e2e.attr_str(f.attrs, "git_sha"), sha, f"{path}: git_sha")
            expect_eq(e2e.attr_str(f.attrs, "fanout_version"), version, f"{path}: fanout_version")


def case_version_script(tools, args):
    script = os.path.join(tools.source_dir, "cmake", "version.cmake")
    template = os.path.join(tools.source_dir, "src", "core", "version.hpp.in")
    with e2e.Workdir("version-script") as w:
        repo, header = w.mkdir("repo"), w("version.hpp")

        def generate(source=repo):
            step([args.cmake, f"-DSOURCE_DIR={source}", f"-DINPUT={template}", f"-DOUTPUT={header}",
                  "-DPROJECT_VERSION=9.8.7", "-P", script], "cmake/version.cmake")
            with open(header) as f:
                text = f.read()
            m = re.search(r'VERSION = "([^"]*)";.*GIT_SHA = "([^"]*)";', text, re.S)
            expect(m, f"{header}: no VERSION and GIT_SHA:\n{text}")
            expect_eq(m.group(1), "9.8.7", f"{header}: VERSION")
            return m.group(2)

        def mtime_kept(what):
            """generate() with the header dated in the past: unchanged text must stay unwritten."""
            os.utime(header, (1_000_000_000, 1_000_000_000))
            sha = generate()
            expect_eq(os.stat(header).st_mtime, 1_000_000_000, f"{header}'s time after {what} (rewritten)")
            return sha

        expect_eq(generate(w.mkdir("not-git")), "unknown", "outside a git checkout")
        git(repo, "init", "-q")
        for key, value in (("user.name", "t"), ("user.email", "t@example.org"), ("commit.gpgsign", "false")):
            git(repo, "config", key, value)
        w.write("repo/a.txt", "one\n")
        git(repo, "add", "a.txt")
        git(repo, "commit", "-q", "-m", "one")
        first = git(repo, "rev-parse", "HEAD")
        expect_eq(generate(), first[:12], "a clean checkout")
        expect_eq(mtime_kept("the same commit again"), first[:12], "the same commit again")
        w.write("repo/untracked.txt", "x\n")
        expect_eq(mtime_kept("an untracked file"), first[:12], "an untracked file")
        w.write("repo/a.txt", "two\n")
        expect_eq(generate(), first[:12] + "-dirty", "a changed tracked file")
        git(repo, "commit", "-q", "-am", "two")
        second = git(repo, "rev-parse", "HEAD")
        expect(second != first, "a second commit")
        expect_eq(generate(), second[:12], "after the commit")


if __name__ == "__main__":
    sys.exit(e2e.main({"standalone": case_standalone, "version": case_version, "version_script": case_version_script},
                      extra_args))
