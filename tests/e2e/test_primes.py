#!/usr/bin/python3
"""primes (configs/primes.toml) end to end: correct against coreutils
`factor`, the same bits at every rank count and policy, a well-formed file
read back by h5py and by h5dump.

Cases:
  np             (--np N) each policy at N ranks: every check on every file
  across_ranks   the config as it is (dynamic) at 1, 2, 3, 4 ranks: same bits
"""
import os
import sys
import time
import tomllib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import expect, expect_eq  # noqa: E402


def config_numbers(tools):
    with open(tools.config("primes.toml"), "rb") as f:
        config = tomllib.load(f)
    numbers = config["job"]["numbers"]
    expect(len(numbers) > 0, "configs/primes.toml has no numbers")
    return config, numbers


def expected_results(tools, numbers):
    """/results as it must be, bit for bit: the numbers in task order
    (uint64) and the oracle's verdicts (uint8, 1 = prime)."""
    oracle = e2e.factor_oracle(tools, numbers)
    expect(any(oracle.values()) and not all(oracle.values()),
           "the oracle finds all or none of the numbers prime: the config is no test")
    return {
        "is_prime": (str(np.dtype(np.uint8)), np.array([oracle[n] for n in numbers], dtype=np.uint8).tobytes()),
        "number": (str(np.dtype(np.uint64)), np.array(numbers, dtype=np.uint64).tobytes()),
    }, oracle


def check_results(data, numbers, oracle, expected, where):
    res = data["results"]
    expect_eq([int(x) for x in res["number"]], numbers, f"{where}: /results/number (task i tests numbers[i])")
    wrong = [(n, int(p), oracle[n]) for n, p in zip(numbers, res["is_prime"]) if bool(p) != oracle[n]]
    expect(not wrong, f"{where}: /results/is_prime disagrees with factor for (n, fanout, factor): {wrong}")
    expect(set(int(x) for x in res["is_prime"]) <= {0, 1}, f"{where}: is_prime values other than 0 and 1")
    expect_eq(e2e.results_bytes(data), expected, f"{where}: /results bits (dtype, bytes)")


def check_assignment(data, policy, n_ranks, where):
    """static-block: contiguous blocks in rank order, sizes within one task
    of each other; static-cyclic: round robin (rank = id mod N)."""
    t = data["tasks"]
    ids, ranks = t["id"].astype(int), t["rank"].astype(int)
    if policy == "static-cyclic":
        expect(np.array_equal(ranks, ids % n_ranks), f"{where}: static-cyclic ranks {list(ranks)} are not id mod {n_ranks}")
    elif policy == "static-block":
        expect(np.all(np.diff(ranks) >= 0), f"{where}: static-block ranks {list(ranks)} are not contiguous blocks in rank order")
        sizes = [int((ranks == r).sum()) for r in range(n_ranks)]
        expect(max(sizes) - min(sizes) <= 1, f"{where}: static-block block sizes {sizes} differ by more than one")


def check_h5dump(tools, path, numbers, oracle, n_ranks):
    """A second, non-fanout reader sees the same data."""
    expect_eq(e2e.h5dump_values(tools, path, "/results/is_prime"), [int(oracle[n]) for n in numbers],
              f"h5dump -d /results/is_prime {path}")
    expect_eq(e2e.h5dump_values(tools, path, "/results/number"), numbers, f"h5dump -d /results/number {path}")
    expect_eq(e2e.h5dump_attr(tools, path, "/format"), '"fanout"', f"h5dump -a /format {path}")
    expect_eq(e2e.h5dump_attr(tools, path, "/n_ranks"), str(n_ranks), f"h5dump -a /n_ranks {path}")
    expect_eq(e2e.h5dump_attr(tools, path, "/status"), '"complete"', f"h5dump -a /status {path}")
    header = e2e.h5dump(tools, "-H", path)
    for member in ('DATASET "tasks"', 'DATASET "ranks"', 'DATASET "phases"', 'DATASET "errors"', 'GROUP "results"'):
        expect(member in header, f"h5dump -H {path} does not show {member}")


def run_primes(tools, w, n, policy, name):
    out = w(name)
    args = ["run", tools.config("primes.toml"), "--output", out]
    if policy is not None:
        args += ["--set", f"schedule.policy={policy}"]
    since = time.time()
    result = e2e.run_ok(tools, args, np_=n, cwd=w.path)
    until = time.time()
    wrote = [line for line in result.both.splitlines() if line.startswith("fanout: wrote ")]
    expect(len(wrote) == 1, f"expected one 'fanout: wrote' line (rank 0 only), got {len(wrote)}\n{result.describe()}")
    expect(f"on {n} rank" in wrote[0], f"summary line does not say {n} ranks: {wrote[0]}")
    return out, since, until


def case_np(tools, args):
    n = args.np
    expect(n is not None and n >= 1, "--np N is required")
    config, numbers = config_numbers(tools)
    expected, oracle = expected_results(tools, numbers)
    with e2e.Workdir(f"primes-np{n}") as w:
        outdir = w.mkdir("out")
        seen = {}
        for policy in e2e.POLICIES:
            path, since, until = run_primes(tools, w, n, policy, os.path.join("out", f"primes-{policy}.h5"))
            where = f"primes np {n} {policy}"
            data = e2e.check_run_file(path, n_ranks=n, job="primes", task_count=len(numbers), policy=policy,
                                      config_path=tools.config("primes.toml"), since=since, until=until,
                                      columns=["number", "is_prime"])
            expect_eq(data["config"]["job"]["numbers"], numbers, f"{where}: numbers in the stored config")
            if policy == "dynamic":
                expect_eq(e2e.attr_str(data["attrs"], "chunk"), str(config["schedule"]["chunk"]),
                          f"{where}: chunk attribute")
            check_results(data, numbers, oracle, expected, where)
            check_assignment(data, policy, n, where)
            check_h5dump(tools, path, numbers, oracle, n)
            seen[policy] = e2e.results_bytes(data)
        first = seen[e2e.POLICIES[0]]
        for policy, bits in seen.items():
            expect(bits == first, f"np {n}: /results of {policy} differ from those of {e2e.POLICIES[0]}")
        expect_eq(e2e.listing(outdir), sorted(f"primes-{p}.h5" for p in e2e.POLICIES),
                  f"np {n}: files in the output directory (no temporary files left)")


def case_across_ranks(tools, args):
    config, numbers = config_numbers(tools)
    expected, oracle = expected_results(tools, numbers)
    policy = config["schedule"]["policy"]
    with e2e.Workdir("primes-across") as w:
        bits, dumps = {}, {}
        for n in (1, 2, 3, 4):
            path, since, until = run_primes(tools, w, n, None, f"primes-np{n}.h5")
            data = e2e.check_run_file(path, n_ranks=n, job="primes", task_count=len(numbers), policy=policy,
                                      since=since, until=until, columns=["number", "is_prime"])
            check_results(data, numbers, oracle, expected, f"primes np {n}")
            bits[n] = e2e.results_bytes(data)
            dumps[n] = [e2e.h5dump(tools, "-d", f"/results/{c}", path).split("\n", 1)[1] for c in ("number", "is_prime")]
        for n in (2, 3, 4):
            expect(bits[n] == bits[1], f"/results at {n} ranks differ from those at 1 rank")
            expect(dumps[n] == dumps[1], f"h5dump of /results at {n} ranks differs from that at 1 rank")


if __name__ == "__main__":
    sys.exit(e2e.main({"np": case_np, "across_ranks": case_across_ranks}))
