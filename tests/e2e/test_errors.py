#!/usr/bin/python3
"""Bad input: every config, command-line and file error that `fanout run`
must catch on rank 0 before any task runs. Each exits 2 with one message
(printed once, by rank 0, never by every rank) naming FILE:LINE (or the
option), the key, what was expected and what was found; and nothing in the
working directory is created, changed or even touched (a snapshot of every
file, hidden ones included, and of every directory's mtime before and after).

Cases:
  table         (--np N) every case of BAD_INPUT: `fanout run` under mpirun -n N,
                then `fanout validate` (no MPI) with the same arguments
  table_some    (--np N, or none: run without mpirun) a few of them
  usage         (--np N) command-line usage errors, said once
  existing_output (--np N) an existing output (a file, a dangling or
                looping symbolic link): untouched without --force, replaced by
                a complete file with it; a non-UTF-8 output name used byte for byte
"""
import copy
import os
import shutil
import subprocess
import sys
import tomllib

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402

# A small, fast, valid config.
GOOD = '[job]\nkind = "spin"\ntasks = 4\nduration = 0.0\n'

# Parts of messages that list what fanout knows; one place to change when it grows.
SECTIONS = "[job], [params], [sweep], [schedule], [run], [checkpoint], [output]"
SPIN_KEYS = "kind, tasks, duration, distribution, sigma, seed, mode, fail_every, fail_on"
POLICIES = '"static-block", "static-cyclic", "dynamic", "guided"'
KINDS = '"command", "mandelbrot", "monte_carlo_pi", "prime_count", "primes", "python", "spin"'
TASKS_RANGE = "a whole number from 1 to 10000000000"
ROOT = os.geteuid() == 0


class Bad:
    """One bad input. `config` is the text of {C} (bytes or str; None: no
    file is written); args follow `run` / `validate` (default: {C} and an
    --output in {O}). In args and message, {C} is the config's path, {O} the
    output directory, {W} the working directory. A message ending in "..."
    is a prefix (the rest is the TOML library's own wording). `validate`:
    whether `fanout validate` gives the same error (it takes no --force and
    notes an existing output instead). A case of a bad output.path gives no
    --output, which would replace it. `wrap`: "nobody" runs it without
    root's right to read and write anything, "readonly" with {O} on a
    read-only mount."""

    def __init__(self, name, config, message, args=None, validate=True, wrap=None):
        self.name, self.config, self.message = name, config, message
        self.args, self.validate, self.wrap = args, validate, wrap


def job(extra):
    return GOOD + extra


BAD_INPUT = [
    # TOML syntax: FILE:LINE:COLUMN.
    Bad("syntax", '[job]\nkind = "spin"\ntasks = = 4\n', "{C}:3:9: TOML syntax error: ..."),
    Bad("duplicate_key", '[job]\nkind = "spin"\nmode = "cpu"\nmode = "sleep"\n', "{C}:4:8: TOML syntax error: ..."),
    Bad("unterminated_string", '[job]\nkind = "spin\ntasks = 4\n', "{C}:2:13: TOML syntax error: ..."),
    Bad("invalid_utf8", b'[job]\nkind = "sp\xffin"\n', "{C}:2:10: TOML syntax error: ..."),
    Bad("integer_overflow", '[job]\nkind = "spin"\ntasks = 99999999999999999999\n', "{C}:3:29: TOML syntax error: ..."),
    Bad("key_without_value", '[job]\nkind = "spin"\ntasks\n', "{C}:3:6: TOML syntax error: ..."),
    # Found by the fuzzer (tests/fuzz) in toml++ 3.3: nan and inf in arrays and tables (its formatter's
    # undefined behaviour, avoided since), and inputs its Debian build answers cleanly.
    Bad("control_char_in_table_header", b'[\x1d]\nkind = "spin"\n',
        "{C}:1:2: TOML syntax error: Error while parsing key: expected bare key starting character or string "
        "delimiter, saw '\\u001D'"),
    Bad("nan_in_array_of_tables", '[[job]]\nkind = "spin"\nx = nan\n',
        '{C}:1: job: expected a table [job], found [{ kind = "spin", x = nan }] (an array of tables)'),
    Bad("inf_in_array_for_whole", '[job]\nkind = "spin"\ntasks = [inf, -inf]\n',
        "{C}:3: job.tasks: expected " + TASKS_RANGE + ", found [inf, -inf] (an array)"),
    Bad("non_ascii_in_key", b'job\xc8\x94ind = "spin"\n',
        "{C}:1:4: TOML syntax error: Error while parsing key-value pair: expected '=', saw '\u0214'"),
    Bad("non_ascii_after_line_ending_backslash", '[job]\nkind = """\\\n\u00a7spin"""\n',
        '{C}:2: job.kind: expected one of ' + KINDS + ', found "\u00a7spin" (did you mean "spin"?)'),
    # Tables.
    Bad("unknown_section", '[job]\nkind = "spin"\n\n[shedule]\npolicy = "dynamic"\n',
        "{C}:4: [shedule]: unknown section; expected the tables " + SECTIONS + " (did you mean [schedule]?)"),
    Bad("key_outside_tables", 'policy = "dynamic"\n' + GOOD,
        "{C}:1: policy: unknown key; expected the tables " + SECTIONS),
    Bad("job_not_a_table", 'job = "spin"\n', '{C}:1: job: expected a table [job], found "spin" (a string)'),
    Bad("job_array_of_tables", '[[job]]\nkind = "spin"\n',
        '{C}:1: job: expected a table [job], found [{ kind = "spin" }] (an array of tables)'),
    Bad("no_job", '[schedule]\npolicy = "dynamic"\n', "{C}: job: missing; expected a [job] table with a kind"),
    Bad("empty_file", "", "{C}: job: missing; expected a [job] table with a kind"),
    Bad("no_kind", "[job]\ntasks = 3\n", "{C}:1: job.kind: missing; expected one of " + KINDS),
    Bad("subtable_in_job", job("\n[job.extra]\nx = 1\n"),
        "{C}:6: job.extra: unknown key; expected one of: " + SPIN_KEYS),
    # Names: jobs, policies, choices.
    Bad("unknown_kind_typo", '[job]\nkind = "spinn"\n',
        '{C}:2: job.kind: expected one of ' + KINDS + ', found "spinn" (did you mean "spin"?)'),
    Bad("unknown_kind", '# a job that does not exist\n[job]\nkind = "matrix"\n',
        '{C}:3: job.kind: expected one of ' + KINDS + ', found "matrix"'),
    Bad("kind_not_a_string", "[job]\nkind = 5\n", "{C}:2: job.kind: expected one of " + KINDS + ", found 5 (an integer)"),
    Bad("unknown_policy", job('\n[schedule]\npolicy = "dynamc"\n'),
        "{C}:7: schedule.policy: expected one of " + POLICIES + ', found "dynamc" (did you mean "dynamic"?)'),
    Bad("policy_not_a_string", job("\n[schedule]\npolicy = 1\n"),
        "{C}:7: schedule.policy: expected one of " + POLICIES + ", found 1 (an integer)"),
    Bad("unknown_order", job('\n[schedule]\norder = "shortest-first"\n'),
        '{C}:7: schedule.order: expected one of "auto", "given", "longest-first", found "shortest-first" '
        '(did you mean "longest-first"?)'),
    Bad("unknown_distribution", job('distribution = "lognorml"\n'),
        '{C}:5: job.distribution: expected one of "constant", "uniform", "lognormal", found "lognorml" '
        '(did you mean "lognormal"?)'),
    Bad("unknown_mode", job('mode = "gpu"\n'), '{C}:5: job.mode: expected one of "cpu", "sleep", found "gpu" (did you mean "cpu"?)'),
    # Keys.
    Bad("unknown_key", '[job]\nkind = "spin"\ntaks = 4\n',
        "{C}:3: job.taks: unknown key; expected one of: " + SPIN_KEYS + ' (did you mean "tasks"?)'),
    Bad("unknown_output_key", job('\n[output]\npaht = "x.h5"\n'),
        '{C}:7: output.paht: unknown key; expected one of: path (did you mean "path"?)'),
    # Types.
    Bad("string_for_whole", '[job]\nkind = "spin"\ntasks = "ten"\n',
        '{C}:3: job.tasks: expected ' + TASKS_RANGE + ', found "ten" (a string)'),
    Bad("float_for_whole", '[job]\nkind = "spin"\ntasks = 2.5\n',
        "{C}:3: job.tasks: expected " + TASKS_RANGE + ", found 2.5 (a float)"),
    Bad("bool_for_number", '[job]\nkind = "spin"\nduration = true\n',
        "{C}:3: job.duration: expected a number from 0 to 86400, found true (a boolean)"),
    Bad("date_for_whole", job("\n[run]\nthreads_per_rank = 1979-05-27\n"),
        "{C}:7: run.threads_per_rank: expected a whole number from 1 to 1024, found 1979-05-27 (a date or time)"),
    Bad("array_for_path", job('\n[output]\npath = ["a.h5"]\n'),
        '{C}:7: output.path: expected a string, found ["a.h5"] (an array)', args=["{C}"]),
    Bad("integer_for_path", job("\n[output]\npath = 5\n"), "{C}:7: output.path: expected a string, found 5 (an integer)",
        args=["{C}"]),
    Bad("numbers_not_an_array", '[job]\nkind = "primes"\nnumbers = 7\n',
        "{C}:3: job.numbers: expected a non-empty array of whole numbers >= 0, found 7 (an integer)"),
    Bad("string_in_numbers", '[job]\nkind = "primes"\nnumbers = [1, 2,\n  "x"]\n',
        '{C}:4: job.numbers[2]: expected a whole number >= 0, found "x" (a string)'),
    # Ranges.
    Bad("tasks_zero", '[job]\nkind = "spin"\ntasks = 0\n', "{C}:3: job.tasks: expected " + TASKS_RANGE + ", found 0"),
    Bad("negative_duration", '[job]\nkind = "spin"\nduration = -1\n',
        "{C}:3: job.duration: expected a number from 0 to 86400, found -1"),
    Bad("nan_duration", '[job]\nkind = "spin"\nduration = nan\n',
        "{C}:3: job.duration: expected a number from 0 to 86400, found nan"),
    Bad("threads_zero", job("\n[run]\nthreads_per_rank = 0\n"),
        "{C}:7: run.threads_per_rank: expected a whole number from 1 to 1024, found 0"),
    Bad("threads_too_many", job("\n[run]\nthreads_per_rank = 2000\n"),
        "{C}:7: run.threads_per_rank: expected a whole number from 1 to 1024, found 2000"),
    Bad("negative_progress_interval", job("\n[run]\nprogress_interval = -1\n"),
        "{C}:7: run.progress_interval: expected a whole number from 0 to 86400, found -1"),
    Bad("chunk_zero", job("\n[schedule]\nchunk = 0\n"),
        '{C}:7: schedule.chunk: expected "auto" or a whole number >= 1, found 0'),
    Bad("chunk_word", job('\n[schedule]\nchunk = "big"\n'),
        '{C}:7: schedule.chunk: expected "auto" or a whole number >= 1, found "big"'),
    Bad("empty_numbers", '[job]\nkind = "primes"\nnumbers = []\n',
        "{C}:3: job.numbers: expected a non-empty array of whole numbers >= 0, found []"),
    Bad("negative_in_numbers", '[job]\nkind = "primes"\nnumbers = [7,\n  -2]\n',
        "{C}:4: job.numbers[1]: expected a whole number >= 0, found -2"),
    Bad("empty_output_path", job('\n[output]\npath = ""\n'), '{C}:7: output.path: expected a non-empty string, found ""', args=["{C}"]),
    # Settings that do not combine.
    Bad("longest_first_static_block", job('\n[schedule]\npolicy = "static-block"\norder = "longest-first"\n'),
        '{C}:8: schedule.order: "longest-first" does not combine with policy "static-block" (it would give the '
        "longest tasks all to rank 0); use dynamic, guided or static-cyclic"),
    Bad("longest_first_without_costs", '[job]\nkind = "primes"\nnumbers = [7]\n\n[schedule]\norder = "longest-first"\n',
        '{C}:6: schedule.order: "longest-first" needs task costs, and job "primes" does not estimate them; '
        "pass an earlier run of this config with --costs FILE"),
    # --set overrides.
    Bad("set_unknown_key", GOOD, '--set job.taks=3: job.taks: unknown key; expected one of: ' + SPIN_KEYS
        + ' (did you mean "tasks"?)', args=["{C}", "-o", "{O}/x.h5", "--set", "job.taks=3"]),
    Bad("set_bad_value", GOOD, '--set run.threads_per_rank=two: run.threads_per_rank: expected a whole number from 1 '
        'to 1024, found "two" (a string)', args=["{C}", "-o", "{O}/x.h5", "--set", "run.threads_per_rank=two"]),
    Bad("set_unknown_policy", GOOD, "--set schedule.policy=dynamc: schedule.policy: expected one of " + POLICIES
        + ', found "dynamc" (did you mean "dynamic"?)', args=["{C}", "-o", "{O}/x.h5", "--set", "schedule.policy=dynamc"]),
    Bad("set_without_value", GOOD, "--set schedule.policy: expected KEY=VALUE (for example schedule.policy=dynamic)",
        args=["{C}", "-o", "{O}/x.h5", "--set", "schedule.policy"]),
    Bad("set_undotted_key", GOOD, '--set policy=dynamic: expected a dotted key SECTION.KEY (for example '
        'run.threads_per_rank), found "policy"', args=["{C}", "-o", "{O}/x.h5", "--set", "policy=dynamic"]),
    Bad("set_key_too_deep", GOOD, '--set job.kind.x=1: expected a dotted key SECTION.KEY (for example '
        'run.threads_per_rank), found "job.kind.x"', args=["{C}", "-o", "{O}/x.h5", "--set", "job.kind.x=1"]),
    Bad("set_unknown_section", GOOD, "--set sched.policy=dynamic: [sched]: unknown section; expected the tables "
        + SECTIONS, args=["{C}", "-o", "{O}/x.h5", "--set", "sched.policy=dynamic"]),
    Bad("set_invalid_toml", GOOD, "--set job.tasks=[1: the value is not valid TOML: ...",
        args=["{C}", "-o", "{O}/x.h5", "--set", "job.tasks=[1"]),
    Bad("set_nul_in_path", GOOD, '--set output.path="{O}/a\\u0000b.h5": output.path: expected a file path, found a '
        "NUL character in it", args=["{C}", "--set", 'output.path="{O}/a\\u0000b.h5"']),
    # The config file itself.
    Bad("missing_config", None, "{W}/no-such.toml: cannot read the config file: No such file or directory",
        args=["{W}/no-such.toml", "-o", "{O}/x.h5"]),
    Bad("config_is_a_directory", None, "{O}: cannot read the config file: Is a directory", args=["{O}", "-o", "{O}/x.h5"]),
    Bad("config_endless", None, "/dev/zero: cannot read the config file: larger than 16 MiB",
        args=["/dev/zero", "-o", "{O}/x.h5"]),
    Bad("command_file_endless", '[job]\nkind = "command"\nfile = "/dev/zero"\n',
        "{C}:3: job.file: cannot read /dev/zero: larger than 256 MiB"),
    Bad("config_not_readable", GOOD, "{C}: cannot read the config file: Permission denied", wrap="nobody"),
    # --costs FILE.
    Bad("costs_missing", GOOD, "--costs {W}/no-such.h5: cannot open: No such file or directory",
        args=["{C}", "-o", "{O}/x.h5", "--costs", "{W}/no-such.h5"]),
    Bad("costs_a_directory", GOOD, "--costs {O}: not a regular file", args=["{C}", "-o", "{O}/x.h5", "--costs", "{O}"]),
    Bad("costs_not_hdf5", GOOD, "--costs {O}/precious.h5: not an HDF5 file (or truncated)",
        args=["{C}", "-o", "{O}/x.h5", "--costs", "{O}/precious.h5"]),
    Bad("costs_a_config", GOOD, "--costs {C}: expected a run file (HDF5, as fanout run writes), found a config "
        "(TOML); to run it: fanout run {C} (add --resume to continue its interrupted run)",
        args=["{C}", "-o", "{O}/x.h5", "--costs", "{C}"]),
    Bad("costs_of_another_job", '[job]\nkind = "primes"\nnumbers = [7]\n',
        '--costs {W}/spin.h5: a run of job "spin", but this config runs job "primes"',
        args=["{C}", "-o", "{O}/x.h5", "--costs", "{W}/spin.h5"]),
    # The output.
    Bad("output_dir_missing", GOOD, "--output {W}/no-such-dir/x.h5: output.path: the directory {W}/no-such-dir of "
        "{W}/no-such-dir/x.h5 does not exist; create it first", args=["{C}", "--output", "{W}/no-such-dir/x.h5"]),
    Bad("output_path_dir_missing", job('\n[output]\npath = "no-such-dir/x.h5"\n'),
        "{C}:7: output.path: the directory no-such-dir of no-such-dir/x.h5 does not exist; create it first",
        args=["{C}"]),
    Bad("output_is_a_directory", GOOD, "--output {O}: output.path: {O} is a directory",
        args=["{C}", "--output", "{O}", "--force"], validate=False),
    Bad("output_exists", GOOD, "--output {O}/precious.h5: output.path: {O}/precious.h5 already exists; pass --force "
        "to replace it (it stays untouched until the new file is complete) or --output to write elsewhere",
        args=["{C}", "--output", "{O}/precious.h5"], validate=False),
    Bad("output_dir_not_writable", GOOD, "--output {W}/ro/x.h5: output.path: cannot write in {W}/ro: Permission denied",
        args=["{C}", "--output", "{W}/ro/x.h5"], wrap="nobody"),
    Bad("output_read_only_mount", GOOD, "--output {O}/x.h5: output.path: cannot write in {O}: Read-only file system",
        wrap="readonly"),
    Bad("output_name_too_long", GOOD, "--output {O}/" + "n" * 240 + ".h5: output.path: the file name is 243 bytes "
        "long; expected at most 223 in {O} (its limit of 255, less room for the temporary names beside it)",
        args=["{C}", "--output", "{O}/" + "n" * 240 + ".h5"]),
]


def fill(text, subst):
    """{C}, {O} and {W} replaced (messages hold other braces: TOML tables)."""
    for key, value in subst.items():
        text = text.replace("{" + key + "}", value)
    return text


def prefix_for(wrap, w):
    """The command that puts the process where the case needs it."""
    if wrap == "nobody":
        # Root reads and writes anything: drop to nobody (the working directory is world-readable).
        return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if ROOT else []
    if wrap == "readonly":
        # A private mount namespace with a read-only tmpfs over the output directory.
        unshare = ["unshare", "-m"] if ROOT else ["unshare", "-rm"]
        return unshare + ["sh", "-c", f'mount -t tmpfs -o ro none "{w("out")}" && exec "$0" "$@"']
    return []


def prepare(tools, w):
    """The working directory every case starts from: a spin run file, an
    existing output, a read-only directory. Returns the tools to run as
    nobody: a copy of the binary here, in case the build tree is private."""
    os.chmod(w.path, 0o755)
    outdir = w.mkdir("out")
    e2e.run_ok(tools, ["run", "-o", w("spin.h5"), "--set", "job.tasks=2", "--set", "job.duration=0",
                       tools.config("spin.toml")], cwd=w.path)
    with open(os.path.join(outdir, "precious.h5"), "w") as f:
        f.write("precious data, not HDF5\n")
    with open(os.path.join(outdir, ".hidden"), "w") as f:
        f.write("a hidden file\n")
    os.chmod(w.mkdir("ro"), 0o555)
    w.mkdir("configs")
    nobody = copy.copy(tools)
    nobody.fanout = shutil.copy(tools.fanout, w.mkdir("bin"))
    return nobody


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
    expect_eq(result.out, "", f"{what}: stdout")


def expect_nothing_written(outdir, what):
    """No file left in outdir (for tests of other jobs that share expect_one_error)."""
    left = e2e.listing(outdir)
    expect(left == [], f"{what}: files left in the output directory: {left}")


def run_table(tools, args, names=None):
    n = args.np
    cases = [c for c in BAD_INPUT if names is None or c.name in names]
    failures = []
    with e2e.Workdir(f"bad-input-np{n}") as w:
        as_nobody = prepare(tools, w)
        for case in cases:
            subst = {"W": w.path, "O": w("out"), "C": w("configs", f"{case.name}.toml")}
            if case.config is not None:
                with open(subst["C"], "wb") as f:
                    f.write(case.config.encode() if isinstance(case.config, str) else case.config)
                if case.wrap == "nobody":
                    os.chmod(subst["C"], 0o644 if case.args else 0o000)
            argv = [fill(a, subst) for a in (case.args or ["{C}", "--output", "{O}/x.h5"])]
            message = fill(case.message, subst)
            before = e2e.snapshot(w.path)
            prefix = prefix_for(case.wrap, w)
            try:
                who = as_nobody if case.wrap == "nobody" else tools
                result = e2e.run(who, ["run"] + argv, np_=n, cwd=w.path, prefix=prefix, refused=True)
                expect_one_error(result, message, f"{case.name} (run)")
                if case.validate:
                    result = e2e.run(who, ["validate"] + argv, cwd=w.path, prefix=prefix)
                    expect_one_error(result, message, f"{case.name} (validate)")
                changes = e2e.snapshot_diff(before, e2e.snapshot(w.path))
                expect(not changes, f"{case.name}: files touched: {changes}")
            except e2e.Failure as e:
                failures.append(str(e))
        expect(not failures, f"{len(failures)} of {len(cases)} bad inputs failed:\n" + "\n\n".join(failures))
        if names:
            return
        # A relative config path is named as given.
        before = e2e.snapshot(w.path)
        result = e2e.run(tools, ["run", os.path.join("configs", "unknown_policy.toml"), "-o", "out/x.h5"], np_=n,
                         cwd=w.path, refused=True)
        expect_one_error(result, fill(next(c for c in BAD_INPUT if c.name == "unknown_policy").message,
                                      {"C": os.path.join("configs", "unknown_policy.toml")}), "relative config path")
        expect_eq(e2e.snapshot_diff(before, e2e.snapshot(w.path)), [], "files touched (relative config path)")


def case_table(tools, args):
    expect(len(BAD_INPUT) >= 30, f"only {len(BAD_INPUT)} bad inputs in the table")
    run_table(tools, args)


def case_table_some(tools, args):
    """A few, for other rank counts (and a run without mpirun)."""
    run_table(tools, args, names=["syntax", "unknown_key", "unknown_policy", "config_not_readable", "costs_missing",
                                  "output_dir_missing", "output_read_only_mount"])


def case_usage(tools, args):
    n = args.np
    with e2e.Workdir(f"usage-np{n}") as w:
        config, outdir = w.write("good.toml", GOOD), w.mkdir("out")
        before = e2e.snapshot(w.path)
        # The last --set of a key wins; an error in an earlier one is still an error.
        result = e2e.run(tools, ["run", config, "--output", w("out", "x.h5"), "--set", "job.tasks=0", "--set",
                                 "job.tasks=2"], np_=n, cwd=w.path)
        e2e.expect_code(result, 0)
        os.remove(w("out", "x.h5"))
        before = e2e.snapshot(w.path)
        # Command-line usage errors: exit 2, said once.
        for argv, message in [
            (["run", config, "--bogus"], "The following argument was not expected: --bogus"),
            (["run"], "CONFIG is required"),
            (["run", config, "--set"], "--set: 1 required KEY=VALUE missing"),
            (["run", config, "--progress", "sometimes"], "--progress: sometimes not in {auto,always,never}"),
        ]:
            result = e2e.run(tools, argv, np_=n, cwd=w.path)
            e2e.expect_code(result, 2)
            expect_eq(result.both.count(message), 1, f"{' '.join(argv)}: times {message!r} is printed\n"
                      f"{result.describe()}")
        expect_eq(e2e.snapshot_diff(before, e2e.snapshot(w.path)), [], "files touched by usage errors")
        expect_eq(e2e.listing(outdir), [], "files in the output directory")


def case_existing_output(tools, args):
    n = args.np
    with e2e.Workdir(f"existing-np{n}") as w:
        config, outdir = w.write("good.toml", GOOD), w.mkdir("out")
        # Something that is not ours: untouched without --force (BAD_INPUT's output_exists).
        target = os.path.join(outdir, "x.h5")
        with open(target, "w") as f:
            f.write("precious data, not HDF5\n")
        before = e2e.fingerprint(target)

        # With --force it is replaced by a complete run file, and nothing else is left.
        e2e.run_ok(tools, ["run", config, "--output", target, "--force"], np_=n, cwd=w.path)
        e2e.check_run_file(target, n_ranks=n, job="spin", task_count=4, policy="dynamic",
                           columns=["duration"])
        expect_eq(e2e.listing(outdir), ["x.h5"], "files in the output directory after --force")
        replaced = e2e.fingerprint(target)
        expect(replaced != before, "--force did not replace the file")

        # A fanout file is protected the same way, and --force replaces it with the new run.
        result = e2e.run(tools, ["run", config, "--output", target, "--set", "job.tasks=6"], np_=n, cwd=w.path,
                         refused=True)
        e2e.expect_code(result, 2)
        expect_eq(e2e.fingerprint(target), replaced, "an existing run file after a refused run")
        e2e.run_ok(tools, ["run", config, "--output", target, "--set", "job.tasks=6", "--force"], np_=n, cwd=w.path)
        e2e.check_run_file(target, n_ranks=n, job="spin", task_count=6, policy="dynamic",
                           columns=["duration"])
        expect_eq(e2e.listing(outdir), ["x.h5"], "files in the output directory after the second --force")

        # A symbolic link at the output path exists too, dangling or a loop:
        # refused without --force (exit 2, the link untouched), replaced with it.
        for name, points_to in (("dangling.h5", "nowhere.h5"), ("loop.h5", "loop.h5")):
            link = os.path.join(outdir, name)
            os.symlink(points_to, link)
            result = e2e.run(tools, ["run", config, "--output", link], np_=n, cwd=w.path, refused=True)
            expect_one_error(result, f"--output {link}: output.path: {link} already exists (a symbolic link, which "
                             "--force replaces); pass --force to replace it (it stays untouched until the new file "
                             "is complete) or --output to write elsewhere", f"a {name} symbolic link")
            expect(os.path.islink(link) and os.readlink(link) == points_to, f"{link}: the link was touched")
            expect_eq(e2e.listing(outdir), sorted(["x.h5", name]), f"files in the output directory after the refused {name}")
            e2e.run_ok(tools, ["run", config, "--output", link, "--force"], np_=n, cwd=w.path)
            expect(not os.path.islink(link), f"{link}: still a link after --force")
            e2e.check_run_file(link, n_ranks=n, job="spin", task_count=4, policy="dynamic", columns=["duration"])
            os.remove(link)

        # A file name that is not UTF-8 is used byte for byte (not re-encoded).
        # Its messages carry the same bytes: read them as bytes.
        raw = os.path.join(os.fsencode(outdir), b"caf\xe9-\xff.h5")
        argv = [tools.mpiexec, "-n", str(n), "--oversubscribe", tools.fanout, "run", config, "--output", raw]
        proc = subprocess.run(argv, cwd=w.path, env=e2e.mpi_env(), capture_output=True, timeout=90)
        expect(proc.returncode == 0 and b"fanout: wrote " + raw in proc.stderr,
               f"a run to a non-UTF-8 --output: exit {proc.returncode}\n{proc.stderr!r}")
        expect_eq(sorted(os.listdir(os.fsencode(outdir))), [b"caf\xe9-\xff.h5", b"x.h5"],
                  "file names (bytes) in the output directory after a non-UTF-8 --output")
        # The stored config is TOML (UTF-8): there, each byte that is not UTF-8 is U+FFFD.
        with h5py.File(raw, "r") as f:
            expect_eq(e2e.text(f.attrs["status"]), "complete", "status of the run with a non-UTF-8 name")
            expect_eq(len(f["tasks"]), 4, "tasks of the run with a non-UTF-8 name")
            stored = tomllib.loads(e2e.text(f.attrs["config"]))["output"]["path"]
        expect_eq(stored, os.path.join(outdir, "caf\ufffd-\ufffd.h5"), "output.path in the stored config")
        proc = subprocess.run(argv, cwd=w.path, env=e2e.mpi_env(), capture_output=True, timeout=90)
        expect(proc.returncode == 2 and b"output.path: " + raw + b" already exists" in proc.stderr,
               f"the same non-UTF-8 --output again: exit {proc.returncode} (expected 2)\n{proc.stderr!r}")


if __name__ == "__main__":
    sys.exit(e2e.main({"table": case_table, "table_some": case_table_some, "usage": case_usage,
                       "existing_output": case_existing_output}))
