#!/usr/bin/env bash
# Checks that fanout's C++ sources are laid out as .clang-format says.
#   scripts/check-format.sh [FILE...]    prints the diff, exits 1 if any file differs
#   scripts/check-format.sh --fix [FILE...]   reformats them in place
# Without FILEs: every C++ file git knows under src/, jobs/, tests/ and bench/.
# Needs clang-format 14 (Debian 12: apt-get install clang-format; scripts/lib/common.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

fix=false
if [ "${1:-}" = "--fix" ]; then
  fix=true
  shift
fi
format=""
for candidate in clang-format-14 clang-format; do
  if command -v "$candidate" >/dev/null; then format=$candidate; break; fi
done
if [ -z "$format" ]; then
  echo "check-format.sh: clang-format not found; on Debian: apt-get install clang-format" >&2
  exit 2
fi
if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.cc' | grep -E '^(src|jobs|tests|bench)/')
fi

if $fix; then
  "$format" -i --style=file "${files[@]}"
  exit 0
fi
differ=0
changed=0
for file in "${files[@]}"; do
  if ! out=$(diff -u --label "$file" --label "$file (formatted)" "$file" <("$format" --style=file "$file")); then
    printf '%s\n' "$out"
    differ=$((differ + 1))
    changed=$((changed + $(printf '%s\n' "$out" | grep -c '^[-+][^-+]' || true)))
  fi
done
if [ "$differ" -gt 0 ]; then
  echo "check-format.sh: $differ of ${#files[@]} files differ from .clang-format ($changed lines added or removed);" \
       "scripts/check-format.sh --fix reformats them" >&2
  exit 1
fi
echo "check-format.sh: ${#files[@]} files formatted as .clang-format says" >&2
