#!/usr/bin/env bash
# Builds the fuzzers with clang (their own CMake project, beside the g++
# build) and runs each for a bounded time from its seed corpus: the config
# parser (fuzz_config, SECONDS, default 60) from configs/, tests/fuzz/seeds/
# and the bad configs of tests/e2e/test_errors.py; then the result-file parser
# (fuzz_result_file, RESULT_SECONDS, default 30) from tests/fuzz/seeds_results/;
# then the readers of damaged run files and journals (fuzz_run_files,
# RUN_FILE_SECONDS, default 20) from the real files it writes itself, with
# no allocation above 1 GB allowed (-malloc_limit_mb).
# Fails when a fuzzer finds a crash, a sanitizer report, a leak, a hang or a
# larger allocation; the input that did it is left in BUILD_DIR/artifacts/,
# BUILD_DIR/artifacts_results/ or BUILD_DIR/artifacts_run_files/ (turn it
# into a regression test).
#   tests/fuzz/run.sh BUILD_DIR [SECONDS] [RESULT_SECONDS] [RUN_FILE_SECONDS]   (ctest: fuzz_config_parser)
set -euo pipefail
source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build_dir="$1"
seconds="${2:-60}"
result_seconds="${3:-30}"
run_file_seconds="${4:-20}"
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
# No build type: the flags are the fuzz project's own (-O1, line tables, the sanitizers).
cmake -S "$source_dir/tests/fuzz" -B "$build_dir" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE= \
  "${launcher[@]}" >/dev/null
cmake --build "$build_dir" -j 2 >/dev/null

# The corpus grows in a fresh directory each time; the seeds stay as they are.
corpus="$build_dir/corpus"
seeds="$build_dir/seeds"
rm -rf "$corpus" "$seeds" "$build_dir/artifacts"
mkdir -p "$corpus" "$seeds" "$build_dir/artifacts"
cp "$source_dir"/configs/*.toml "$source_dir"/tests/fuzz/seeds/* "$seeds"/
/usr/bin/python3 - "$source_dir/tests/e2e" "$seeds" <<'PY'
import os, sys
sys.path.insert(0, sys.argv[1])
import test_errors
for case in test_errors.BAD_INPUT:
    if case.config is not None:
        data = case.config.encode() if isinstance(case.config, str) else case.config
        with open(os.path.join(sys.argv[2], "bad-" + case.name), "wb") as f:
            f.write(data)
PY
echo "fuzz_config: $(ls "$seeds" | wc -l) seeds, ${seconds} s"
# The command job reads job.file relative to the config: let that be an empty directory.
mkdir -p "$build_dir/cwd"
cd "$build_dir/cwd"
"$build_dir/fuzz_config" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -dict="$source_dir/tests/fuzz/toml.dict" -artifact_prefix="$build_dir/artifacts/" "$corpus" "$seeds"

# The result-file parser, from JSON and name=value seeds.
result_corpus="$build_dir/corpus_results"
rm -rf "$result_corpus" "$build_dir/artifacts_results"
mkdir -p "$result_corpus" "$build_dir/artifacts_results"
echo "fuzz_result_file: $(ls "$source_dir/tests/fuzz/seeds_results" | wc -l) seeds, ${result_seconds} s"
"$build_dir/fuzz_result_file" -max_total_time="$result_seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$build_dir/artifacts_results/" "$result_corpus" "$source_dir/tests/fuzz/seeds_results"

# The readers of run files and journals: seeds from the fuzzer's own real files.
run_corpus="$build_dir/corpus_run_files"
run_seeds="$build_dir/seeds_run_files"
rm -rf "$run_corpus" "$run_seeds" "$build_dir/artifacts_run_files"
mkdir -p "$run_corpus" "$run_seeds" "$build_dir/artifacts_run_files"
FANOUT_FUZZ_SEEDS="$run_seeds" "$build_dir/fuzz_run_files"
echo "fuzz_run_files: $(ls "$run_seeds" | wc -l) seeds, ${run_file_seconds} s"
"$build_dir/fuzz_run_files" -max_total_time="$run_file_seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
  -print_final_stats=1 -artifact_prefix="$build_dir/artifacts_run_files/" "$run_corpus" "$run_seeds"
