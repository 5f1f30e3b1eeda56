#!/usr/bin/env bash
# fuzz.sh DURATION — runs every fuzz target briefly (go test -fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
d=${1:-10s}
for f in $(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do
	pkg=./$(dirname "${f#./}")
	for t in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | cut -d' ' -f2); do
		echo "fuzz $pkg $t ($d)"
		go test -run '^$' -fuzz "^$t\$" -fuzztime "$d" "$pkg"
	done
done
