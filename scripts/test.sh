#!/usr/bin/env bash
# The whole test suite: install what is missing, build, run every ctest tier
# (unit, MPI at 1-4 ranks, end-to-end, the config-parser fuzzer) after a
# clang-format check of the C++ sources, then the
# unit and MPI tiers again in an AddressSanitizer + UBSan build (the asan
# preset, build-asan/). Extra arguments go to ctest of the Release build
# only, and skip the asan build, e.g. scripts/test.sh -R e2e
# Run it as yourself (it takes root through sudo only to install missing
# packages) or as root; the local Slurm cluster of tests/slurm runs as you.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/common.sh

prepare
status=0
if [ $# -eq 0 ]; then
  say "clang-format (scripts/check-format.sh: the C++ sources as .clang-format lays them out)"
  bash scripts/check-format.sh || status=1
fi
say "ctest (Release build)"
(cd build && ctest --output-on-failure --timeout 300 "$@") || status=$?
if [ $# -eq 0 ]; then
  build_asan
  say "ctest (asan build: the unit and MPI tiers)"
  ctest --test-dir build-asan --output-on-failure --timeout 300 -L '^(unit|mpi)$' || status=$?
fi
exit "$status"
