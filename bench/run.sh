#!/usr/bin/env bash
# fanout's benchmark suite: builds fanout and the baselines, then runs the nine
# benchmarks of docs/performance.md, each against its baselines in the same
# invocation (alternating, several repeats, medians and ratios).
#
#   bench/run.sh [--quick] [--build-dir DIR] [--fanout BIN] [bench.py options...]
#
#   --quick          3 repeats and smaller sizes (about 3 minutes instead of about 8)
#   --build-dir DIR  where to build fanout and the baselines (default: build/)
#   --fanout BIN     use this fanout binary instead of building one
#   other options go to bench/bench.py: --only 1,3  --repeats N  --json FILE  --keep DIR
#
# Installs the Debian packages it needs when they are missing (apt-get; sudo
# when not root): fanout's own list in scripts/lib/common.sh, which includes
# python3-mpi4py and GNU parallel for the baselines.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=../scripts/lib/common.sh
source scripts/lib/common.sh

build_dir=build
fanout=
pass=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --build-dir=*) build_dir=${1#*=}; shift ;;
    --fanout) fanout=$2; shift 2 ;;
    --fanout=*) fanout=${1#*=}; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) pass+=("$1"); shift ;;
  esac
done

ensure_packages
mpi_env

if [ -z "$fanout" ]; then
  say "building fanout (Release) into $build_dir/"
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  cmake --build "$build_dir" --target fanout -j "$(jobs_count)" >/dev/null
  fanout=$build_dir/fanout
fi

# The C++ baselines: plain mpicxx, the same flags as a Release build.
baselines=$build_dir/bench
mkdir -p "$baselines"
for src in bench/baselines/*.cpp; do
  name=$(basename "$src" .cpp)
  if [ ! -x "$baselines/$name" ] || [ "$src" -nt "$baselines/$name" ]; then
    say "building baseline $name"
    mpicxx -O2 -std=c++20 -DOMPI_SKIP_MPICXX -Wall -Wextra -o "$baselines/$name" "$src"
  fi
done

say "running the benchmarks (tables on stdout, progress on stderr)"
exec /usr/bin/python3 -B bench/bench.py --fanout "$fanout" --baselines "$baselines" "${pass[@]}"
