#!/usr/bin/env bash
# test.sh — every test of Zoe, on a fresh Debian machine: installs what is
# missing, starts private services (scripts/testenv.sh), checks that
# generated files and formatting are current, runs all Go tests with -race
# and a short fuzzing pass, then stops what it started.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH=$PATH:/usr/local/go/bin:$(go env GOPATH)/bin

trap 'scripts/testenv.sh down' EXIT
scripts/testenv.sh up
. .testenv/env

echo "== lint (gofmt, go vet, staticcheck, templ generate)"
scripts/lint.sh

echo "== go test -race ./..."
go test -race -count=1 -timeout 40m ./... 2>&1 | tee .testenv/go-test.log

echo "== fuzzing (short)"
scripts/fuzz.sh 20000x
