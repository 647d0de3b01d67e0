#!/usr/bin/env bash
# The whole test suite: install what is missing, build, run every ctest tier
# (unit, MPI at 1-4 ranks, end-to-end). Extra arguments go to ctest,
# e.g. scripts/test.sh -R e2e
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/common.sh

prepare
say "ctest"
cd build
ctest --output-on-failure --timeout 300 "$@"
