"""The course texts' primes demo, as a function for fanout's python job.

is_prime(n) is the plain trial division the demo times: 2, then the odd
numbers up to isqrt(n). Its cost grows with the square root of n, from
nothing (2, even numbers) to a few seconds of pure Python for the large
primes, so it is CPU-bound and the 20 tasks are very uneven.

    mpirun -n 2 build/fanout run configs/primes_py.toml
    build/fanout report results/primes_py.h5

Run by hand, it checks the 20 numbers one after the other:

    python3 examples/python/primes.py
"""
import math
import sys
import time

# The demo's 20 numbers, the same as configs/primes.toml (job.numbers) and
# configs/primes_py.toml (params.n).
NUMBERS = [
    2, 142702110479723, 299593572317531, 3333333333333301, 3333333333333333,
    3333335652092209, 4444444444444423, 4444444444444444, 4444444488888889,
    5555553133149889, 5555555555555503, 5555555555555555, 6666666666666666,
    6666666666666719, 6666667141414921, 7777777536340681, 7777777777777753,
    7777777777777777, 9999999999999917, 9999999999999999,
]


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    if n == 2:
        return True
    if n % 2 == 0:
        return False

    root = math.isqrt(n)
    for i in range(3, root + 1, 2):
        if n % i == 0:
            return False
    return True


def main():
    t0 = time.perf_counter()
    for n in NUMBERS:
        t = time.perf_counter()
        prime = is_prime(n)
        print(f"{n:16}  {'P' if prime else ' '}  {time.perf_counter() - t:9.6f}s")
    print(f"Total time: {time.perf_counter() - t0:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
