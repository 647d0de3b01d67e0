#!/usr/bin/env bash
# The primes demo: install what is missing, build, run the 20 numbers of the
# course texts on one MPI rank per core, and print the report.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/common.sh

prepare
n=$(jobs_count)
say "mpirun -n $n build/fanout run configs/primes.toml"
# --oversubscribe: nproc may count hardware threads that Open MPI does not
# count as slots; --force: running the demo twice replaces the old result.
mpirun --oversubscribe -n "$n" build/fanout run configs/primes.toml --force
say "build/fanout report results/primes.h5"
build/fanout report results/primes.h5
