#!/usr/bin/env bash
# Runs every fuzz target in the module for FUZZTIME each (default 10s).
# A crasher is written by `go test` to the package's testdata/fuzz/<Target>/,
# where it becomes a regression input that every later `go test` run replays:
# commit it with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-10s}"
failed=0
count=0
while IFS= read -r line; do
  file=${line%%:*}
  target=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"${line#*:}")
  pkg="$(dirname "$file")"
  count=$((count + 1))
  printf '== %s %s (%s)\n' "$pkg" "$target" "$fuzztime"
  if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"; then
    echo "!! $pkg $target found a failure (see $pkg/testdata/fuzz/$target)"
    failed=$((failed + 1))
  fi
done < <(grep -rEo '^func Fuzz[A-Za-z0-9_]*' --include='*_test.go' . | sort)
echo "fuzz: $count targets, $failed failed"
[ "$failed" -eq 0 ]
