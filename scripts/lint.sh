#!/usr/bin/env bash
# lint.sh — gofmt, go vet, staticcheck, and generated files up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
go tool templ generate >/dev/null 2>&1 || { echo "templ generate failed" >&2; go tool templ generate; exit 1; }
if ! git diff --quiet -- '*_templ.go' 2>/dev/null || [ -n "$(git ls-files --others --exclude-standard -- '*_templ.go')" ]; then
	echo "lint: generated templ files are stale or uncommitted; run 'make generate' and commit:" >&2
	git status --short -- '*_templ.go' >&2
	fail=1
fi
unformatted=$(gofmt -l $(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go') 2>/dev/null || true)
if [ -n "$unformatted" ]; then echo "lint: gofmt needed on:" >&2; echo "$unformatted" >&2; fail=1; fi
go vet ./... || fail=1
go tool staticcheck ./... || fail=1
exit $fail
