#!/usr/bin/env bash
# bench.sh — Zoe's benchmarks (`make bench`), on the machine in front of
# you: launch overhead, service proxy, portal, scheduler pass, memory. Each
# figure comes with the limit measured in the same run (raw Docker, the
# service reached directly, bare net/http). Results go to stdout and to
# .testenv/bench/results-<date>.md; docs/benchmarks.md explains them.
#
# It starts the private test services (scripts/testenv.sh up) when they are
# not running, and stops them at the end only if it started them.
#
#   BENCH_RUNS      sequential launches of each kind (default 10)
#   BENCH_PARALLEL  launches at once (default 20)
#   BENCH_BURSTS    rounds of launches at once, each kind once a round (default 5)
#   BENCH_DURATION  length of each load measurement (default 5s)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH=$PATH:/usr/local/go/bin
RUNS=${BENCH_RUNS:-10}
PARALLEL=${BENCH_PARALLEL:-20}
BURSTS=${BENCH_BURSTS:-5}
DURATION=${BENCH_DURATION:-5s}
OUT=$ROOT/.testenv/bench
mkdir -p "$OUT"

running() { [ -f .testenv/docker1.pid ] && kill -0 "$(cat .testenv/docker1.pid)" 2>/dev/null && [ -f .testenv/env ]; }
if running; then
	echo "== test services already running: leaving them up afterwards" >&2
else
	trap 'scripts/testenv.sh down' EXIT
	scripts/testenv.sh up
fi
. .testenv/env

echo "== build" >&2
go build -o "$OUT/zoe" ./cmd/zoe
go build -o "$OUT/launch" ./bench/launch
go build -o "$OUT/web" ./bench/web
CGO_ENABLED=0 go build -o "$OUT/echo" ./bench/echo

# The proxy's service: bench/echo alone in an image, imported (no registry).
img=$(mktemp -d)
cp "$OUT/echo" "$img/echo"
tar -C "$img" -c echo | docker -H "$ZOE_TEST_DOCKER_HOST" import \
	-c 'CMD ["/echo", "-listen", ":8080"]' - zoe/bench-echo:latest >/dev/null
rm -rf "$img"

RESULTS=$OUT/results-$(date -u +%Y%m%dT%H%M%SZ).md
{
	echo "## Run of $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (with local changes)')"
	echo
	echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB RAM, $(uname -sr), $(go version | cut -d' ' -f3), Docker $(docker -H "$ZOE_TEST_DOCKER_HOST" version -f '{{.Server.Version}}'), $(ls -d /usr/lib/postgresql/*/ | sort -V | tail -1 | xargs basename | sed 's/^/PostgreSQL /')."
	echo
	echo "Load average when the run started: $(cut -d" " -f1-3 /proc/loadavg) (other work on the machine skews every figure; rerun on a quiet machine)."
	echo
} | tee "$RESULTS"

step() { echo "== $*" >&2; }

step "scheduler: one pass, 10,000 queued x 1,000 hosts"
{
	echo "### Scheduler: one pass over 10,000 queued requests and 1,000 hosts"
	echo
	echo '```'
	go test -run '^$' -bench 'BenchmarkPlan10kx1k' -benchtime 5x -count 1 ./scheduler/ | grep -E '^Benchmark|^cpu'
	echo '```'
	echo
} | tee -a "$RESULTS"

step "launch overhead ($RUNS sequential runs of each kind, $PARALLEL at once in $BURSTS rounds)"
"$OUT/launch" -runs "$RUNS" -parallel "$PARALLEL" -bursts "$BURSTS" -cpuprofile "$OUT/launch.pprof" | tee -a "$RESULTS"

step "proxy, portal and memory on SQLite"
"$OUT/web" -zoe "$OUT/zoe" -echo "$OUT/echo" -d "$DURATION" | tee -a "$RESULTS"

step "portal and memory on PostgreSQL"
"$OUT/web" -zoe "$OUT/zoe" -echo "$OUT/echo" -d "$DURATION" -postgres "$ZOE_TEST_POSTGRES_URL" -pieces portal,memory | tee -a "$RESULTS"

step "done: $RESULTS (CPU profile of the launches: go tool pprof $OUT/launch $OUT/launch.pprof)"
