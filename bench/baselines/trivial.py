"""The trivial function of benchmark 10 (bench/bench.py): fanout's python job
calls it as trivial:double, and the Python baselines (py_python_job.py) map
the same function."""


def double(n):
    return 2 * n
