#!/usr/bin/env bash
# fuzz.sh BUDGET — runs every fuzz target briefly (go test -fuzz).
# BUDGET is -fuzztime: a count of inputs such as 20000x (the default), or a
# duration. A duration can fail a clean run with "context deadline
# exceeded" and no crasher on Go 1.26 (a race in the fuzzing coordinator
# at the deadline, go.dev/issue/75804, fixed in Go 1.27); a count has no
# deadline to race.
set -euo pipefail
cd "$(dirname "$0")/.."
d=${1:-20000x}
for f in $(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do
	pkg=./$(dirname "${f#./}")
	for t in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | cut -d' ' -f2); do
		echo "fuzz $pkg $t ($d)"
		go test -run '^$' -fuzz "^$t\$" -fuzztime "$d" "$pkg"
	done
done
