#!/usr/bin/env python3
"""A damped harmonic oscillator, x'' + 2 zeta omega x' + omega^2 x = 0,
integrated with semi-implicit (symplectic) Euler at a fixed step from
x = 1, v = 0 to time --t-end. Pure standard library, one task of a sweep.

Writes its results as one JSON object to the file named by $FANOUT_RESULT
(or prints it when the variable is not set, for a run by hand):
  final_energy  float64  (v^2 + omega^2 x^2) / 2 at the end
  steps         int64    the number of steps taken
  peak          float64  the largest |x| in the second half of the run
"""
import argparse
import json
import math
import os
import sys


def integrate(damping, frequency, t_end, dt):
    steps = int(round(t_end / dt))
    x, v = 1.0, 0.0
    k = frequency * frequency
    c = 2.0 * damping * frequency
    half = steps // 2
    peak = 0.0
    for i in range(steps):
        v -= (k * x + c * v) * dt  # velocity first, then position with the new velocity
        x += v * dt
        if i >= half and abs(x) > peak:
            peak = abs(x)
    energy = 0.5 * (v * v + k * x * x)
    return {"final_energy": energy, "steps": steps, "peak": peak}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--damping", type=float, required=True, help="damping ratio zeta >= 0")
    parser.add_argument("--frequency", type=float, required=True, help="angular frequency omega > 0")
    parser.add_argument("--t-end", type=float, default=30.0, help="time to integrate to")
    parser.add_argument("--dt", type=float, default=1e-4, help="the fixed time step")
    args = parser.parse_args()
    if args.damping < 0 or args.frequency <= 0 or args.dt <= 0 or args.t_end <= 0:
        sys.exit("oscillator.py: need damping >= 0, frequency > 0, dt > 0 and t-end > 0")
    if args.frequency * args.dt >= 1:
        sys.exit(f"oscillator.py: frequency x dt = {args.frequency * args.dt} >= 1: the scheme is unstable")
    results = integrate(args.damping, args.frequency, args.t_end, args.dt)
    if not all(math.isfinite(results[k]) for k in ("final_energy", "peak")):
        sys.exit(f"oscillator.py: the solution blew up: {results}")
    text = json.dumps(results)
    path = os.environ.get("FANOUT_RESULT")
    if path:
        with open(path, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
