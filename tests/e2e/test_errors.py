#!/usr/bin/python3
"""Bad input under mpirun: exit 2, the message printed once (by rank 0, not
by every rank) naming FILE:LINE and the key, and nothing written: no output
file, no hidden .NAME.partial-* file.

Cases:
  bad_config        (--np N) broken TOML files
  bad_config_some   (--np N) three of them (for more ranks, in less time)
  bad_set           (--np N) broken --set overrides and command-line options
  missing_config    (--np N) a config file that does not exist
  missing_dir       (--np N) an output directory that does not exist
  existing_output   (--np N) an existing output: untouched without --force,
                    replaced by a complete file with it
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

# A small, fast, valid config.
GOOD = '[job]\nkind = "spin"\ntasks = 4\nduration = 0.0\n'

SPIN_KEYS = "kind, tasks, duration, distribution, sigma, seed, mode, fail_every, fail_on"
POLICY_CHOICES = '"static-block", "static-cyclic", "dynamic", "guided"'

# name: (config text, expected message with {F} for the file's path; a
# trailing "..." means the rest is the TOML library's own wording).
BAD_CONFIGS = {
    "syntax": ('[job]\nkind = "spin"\ntasks = = 4\n',
               "{F}:3:9: TOML syntax error: ..."),
    "duplicate_key": ('[job]\nkind = "spin"\nmode = "cpu"\nmode = "sleep"\n',
                      "{F}:4:8: TOML syntax error: ..."),
    "unknown_key": ('[job]\nkind = "spin"\ntaks = 4\n',
                    '{F}:3: job.taks: unknown key; expected one of: ' + SPIN_KEYS + ' (did you mean "tasks"?)'),
    "wrong_type": ('[job]\nkind = "spin"\ntasks = "ten"\n',
                   '{F}:3: job.tasks: expected a whole number from 1 to 1000000000000, found "ten" (a string)'),
    "float_for_whole": ('[job]\nkind = "spin"\ntasks = 2.5\n',
                        "{F}:3: job.tasks: expected a whole number from 1 to 1000000000000, found 2.5 (a float)"),
    "out_of_range": ('[job]\nkind = "spin"\ntasks = 0\n',
                     "{F}:3: job.tasks: expected a whole number from 1 to 1000000000000, found 0"),
    "negative_duration": ('[job]\nkind = "spin"\nduration = -1\n',
                          "{F}:3: job.duration: expected a number from 0 to 86400, found -1"),
    "unknown_policy": ('[job]\nkind = "spin"\ntasks = 4\nduration = 0.0\n\n[schedule]\npolicy = "dynamc"\n',
                       '{F}:7: schedule.policy: expected one of ' + POLICY_CHOICES
                       + ', found "dynamc" (did you mean "dynamic"?)'),
    "unknown_kind_typo": ('[job]\nkind = "spinn"\n',
                          '{F}:2: job.kind: expected one of "command", "mandelbrot", "monte_carlo_pi", "prime_count", "primes", "spin", found "spinn" (did you mean "spin"?)'),
    "unknown_kind": ('# a job that does not exist\n[job]\nkind = "matrix"\n',
                     '{F}:3: job.kind: expected one of "command", "mandelbrot", "monte_carlo_pi", "prime_count", "primes", "spin", found "matrix"'),
    "unknown_section": ('[job]\nkind = "spin"\n\n[shedule]\npolicy = "dynamic"\n',
                        "{F}:4: [shedule]: unknown section; expected the tables [job], [schedule], [run], [checkpoint], [output] "
                        "(did you mean [schedule]?)"),
    "no_job": ('[schedule]\npolicy = "dynamic"\n',
               "{F}: job: missing; expected a [job] table with a kind"),
    "threads_zero": ('[job]\nkind = "spin"\ntasks = 2\n\n[run]\nthreads_per_rank = 0\n',
                     "{F}:6: run.threads_per_rank: expected a whole number from 1 to 1024, found 0"),
    "negative_number": ('[job]\nkind = "primes"\nnumbers = [7,\n  -2]\n',
                        "{F}:4: job.numbers[1]: expected a whole number >= 0, found -2"),
    "output_path_type": ('[job]\nkind = "spin"\ntasks = 2\n\n[output]\npath = 5\n',
                         "{F}:6: output.path: expected a string, found 5 (an integer)"),
}


def expect_one_error(result, message, what):
    """Exit 2, and the message printed exactly once, as rank 0's single
    `fanout: error:` line (a message ending in ... is a prefix)."""
    e2e.expect_code(result, 2)
    lines = [line for line in result.both.splitlines() if "fanout: error:" in line or "error:" in line.lower()]
    expect(len(lines) == 1, f"{what}: expected one error line, got {len(lines)}: {lines}\n{result.describe()}")
    full = "fanout: error: " + message
    if full.endswith("..."):
        prefix = full[:-3]
        ok = lines[0].startswith(prefix) and len(lines[0]) > len(prefix)
    else:
        ok = lines[0] == full
    expect(ok, f"{what}: wrong message\n  expected: {full}\n  got:      {lines[0]}")
    expect("[rank" not in result.both, f"{what}: a rank-prefixed message (a local, not a collective, error)\n"
           f"{result.describe()}")


def expect_nothing_written(outdir, what):
    left = e2e.listing(outdir)
    expect(left == [], f"{what}: files left in the output directory: {left}")


def case_bad_config(tools, args, names=None):
    n = args.np
    with e2e.Workdir(f"bad-config-np{n}") as w:
        confdir, outdir = w.mkdir("configs"), w.mkdir("out")
        for name in names or BAD_CONFIGS:
            text, message = BAD_CONFIGS[name]
            path = os.path.join(confdir, f"{name}.toml")
            with open(path, "w") as f:
                f.write(text)
            argv = ["run", path]
            if "[output]" not in text:  # --output would override a broken output.path
                argv += ["--output", os.path.join(outdir, f"{name}.h5")]
            result = e2e.run(tools, argv, np_=n, cwd=outdir)
            expect_one_error(result, message.format(F=path), name)
            expect_nothing_written(outdir, name)
            # validate agrees, alone and without MPI.
            v = e2e.run(tools, ["validate", path], cwd=outdir)
            expect_one_error(v, message.format(F=path), f"validate {name}")
        if names:
            return
        # A relative path is named as given.
        rel = os.path.join("configs", "unknown_policy.toml")
        result = e2e.run(tools, ["run", rel, "--output", os.path.join("out", "x.h5")], np_=n, cwd=w.path)
        expect_one_error(result, BAD_CONFIGS["unknown_policy"][1].format(F=rel), "relative config path")
        expect_nothing_written(outdir, "relative config path")


def case_bad_set(tools, args):
    n = args.np
    with e2e.Workdir(f"bad-set-np{n}") as w:
        config, outdir = w.write("good.toml", GOOD), w.mkdir("out")
        out = os.path.join(outdir, "x.h5")
        cases = [
            ("schedule.policy=dynamc", '--set schedule.policy=dynamc: schedule.policy: expected one of '
             + POLICY_CHOICES + ', found "dynamc" (did you mean "dynamic"?)'),
            ("job.taks=3", '--set job.taks=3: job.taks: unknown key; expected one of: ' + SPIN_KEYS
             + ' (did you mean "tasks"?)'),
            ("job.tasks=0", "--set job.tasks=0: job.tasks: expected a whole number from 1 to 1000000000000, found 0"),
            ("run.threads_per_rank=two", "--set run.threads_per_rank=two: run.threads_per_rank: expected a whole "
             "number from 1 to 1024, found \"two\" (a string)"),
            ("schedule.policy", "--set schedule.policy: expected KEY=VALUE (for example schedule.policy=dynamic)"),
            ("policy=dynamic", '--set policy=dynamic: expected a dotted key SECTION.KEY (for example '
             'run.threads_per_rank), found "policy"'),
            ("job.tasks=[1", "--set job.tasks=[1: the value is not valid TOML: ..."),
            ("job.kind.x=1", "--set job.kind.x=1: kind is not a table"),
        ]
        for assignment, message in cases:
            result = e2e.run(tools, ["run", config, "--output", out, "--set", assignment], np_=n, cwd=w.path)
            expect_one_error(result, message, f"--set {assignment}")
            expect_nothing_written(outdir, f"--set {assignment}")
        # The last --set of a key wins; an error in an earlier one is still an error.
        result = e2e.run(tools, ["run", config, "--output", out, "--set", "job.tasks=0", "--set", "job.tasks=2"],
                         np_=n, cwd=w.path)
        e2e.expect_code(result, 0)
        os.remove(out)
        # Command-line usage errors: exit 2, said once.
        for argv, message in [
            (["run", config, "--bogus"], "The following argument was not expected: --bogus"),
            (["run"], "CONFIG is required"),
            (["run", config, "--set"], "--set: 1 required KEY=VALUE missing"),
        ]:
            result = e2e.run(tools, argv, np_=n, cwd=w.path)
            e2e.expect_code(result, 2)
            expect_eq(result.both.count(message), 1, f"{' '.join(argv)}: times {message!r} is printed\n"
                      f"{result.describe()}")
            expect_nothing_written(outdir, " ".join(argv))


def case_missing_config(tools, args):
    n = args.np
    with e2e.Workdir(f"missing-config-np{n}") as w:
        outdir = w.mkdir("out")
        path = w("no-such.toml")
        result = e2e.run(tools, ["run", path, "--output", os.path.join(outdir, "x.h5")], np_=n, cwd=w.path)
        expect_one_error(result, f"{path}: cannot read the config file: No such file or directory", "missing config")
        expect_nothing_written(outdir, "missing config")
        expect(not os.path.exists(path), "the missing config was created")
        # A directory is not a config either.
        result = e2e.run(tools, ["run", outdir, "--output", os.path.join(outdir, "x.h5")], np_=n, cwd=w.path)
        e2e.expect_code(result, 2)
        expect(result.both.count("fanout: error: " + outdir + ": ") == 1,
               f"a directory as config: no single error naming it\n{result.describe()}")
        expect_nothing_written(outdir, "directory as config")


def case_missing_dir(tools, args):
    n = args.np
    with e2e.Workdir(f"missing-dir-np{n}") as w:
        config = w.write("good.toml", GOOD)
        before = e2e.listing(w.path)
        target = w("no-such-dir", "x.h5")
        result = e2e.run(tools, ["run", config, "--output", target], np_=n, cwd=w.path)
        expect_one_error(result, f"--output {target}: output.path: the directory {w('no-such-dir')} of {target} "
                         "does not exist; create it first", "--output in a missing directory")
        expect_eq(e2e.listing(w.path), before, "files after a run into a missing directory (nothing created)")
        # An output path that is a directory.
        outdir = w.mkdir("out")
        result = e2e.run(tools, ["run", config, "--output", outdir, "--force"], np_=n, cwd=w.path)
        expect_one_error(result, f"--output {outdir}: output.path: {outdir} is a directory", "--output DIRECTORY")
        expect_nothing_written(outdir, "--output DIRECTORY")
        # The same through output.path in the config: named by FILE:LINE like every config error.
        config2 = w.write("outpath.toml", GOOD + '\n[output]\npath = "no-such-dir/x.h5"\n')
        before = e2e.listing(w.path)
        result = e2e.run(tools, ["run", config2], np_=n, cwd=w.path)
        expect_eq(e2e.listing(w.path), before, "files after a run into a missing directory (nothing created)")
        expect_one_error(result, f"{config2}:7: output.path: the directory no-such-dir of no-such-dir/x.h5 does not "
                         "exist; create it first", "output.path in a missing directory")


def case_existing_output(tools, args):
    n = args.np
    with e2e.Workdir(f"existing-np{n}") as w:
        config, outdir = w.write("good.toml", GOOD), w.mkdir("out")
        # Something that is not ours: untouched without --force.
        target = os.path.join(outdir, "x.h5")
        with open(target, "w") as f:
            f.write("precious data, not HDF5\n")
        os.utime(target, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
        before = e2e.fingerprint(target)
        result = e2e.run(tools, ["run", config, "--output", target], np_=n, cwd=w.path)
        expect_one_error(result, f"--output {target}: output.path: {target} already exists; pass --force to replace "
                         "it (it stays untouched until the new file is complete) or --output to write elsewhere",
                         "existing output without --force")
        expect_eq(e2e.fingerprint(target), before, "the existing file (size, mtime, inode, sha256) after a refused run")
        expect_eq(e2e.listing(outdir), ["x.h5"], "files in the output directory after a refused run")

        # With --force it is replaced by a complete run file, and nothing else is left.
        e2e.run_ok(tools, ["run", config, "--output", target, "--force"], np_=n, cwd=w.path)
        e2e.check_run_file(target, n_ranks=n, job="spin", task_count=4, policy="dynamic",
                           columns=["duration"])
        expect_eq(e2e.listing(outdir), ["x.h5"], "files in the output directory after --force")
        replaced = e2e.fingerprint(target)
        expect(replaced != before, "--force did not replace the file")

        # A fanout file is protected the same way, and --force replaces it with the new run.
        result = e2e.run(tools, ["run", config, "--output", target, "--set", "job.tasks=6"], np_=n, cwd=w.path)
        e2e.expect_code(result, 2)
        expect_eq(e2e.fingerprint(target), replaced, "an existing run file after a refused run")
        e2e.run_ok(tools, ["run", config, "--output", target, "--set", "job.tasks=6", "--force"], np_=n, cwd=w.path)
        e2e.check_run_file(target, n_ranks=n, job="spin", task_count=6, policy="dynamic",
                           columns=["duration"])
        expect_eq(e2e.listing(outdir), ["x.h5"], "files in the output directory after the second --force")


def case_bad_config_some(tools, args):
    """A few broken configs, for the larger rank counts."""
    case_bad_config(tools, args, names=["syntax", "unknown_key", "unknown_policy"])


if __name__ == "__main__":
    sys.exit(e2e.main({"bad_config": case_bad_config, "bad_config_some": case_bad_config_some, "bad_set": case_bad_set, "missing_config": case_missing_config,
                       "missing_dir": case_missing_dir, "existing_output": case_existing_output}))
