#!/usr/bin/env bash
# testenv.sh up|down|env — the private services Zoe's tests run against.
#
#   up    installs what is missing (Debian packages), then starts two private
#         Docker engines, a private image registry and a private PostgreSQL
#         cluster under .testenv/,
#         imports the test images, and writes .testenv/env (source it to run
#         single tests by hand: `. .testenv/env && go test -race ./store/`).
#   down  stops everything `up` started.
#
# Every part that cannot start fails the run with a message saying which and
# why; nothing is skipped. Engine data roots are kept in $ZOE_TEST_CACHE
# (default /var/tmp/zoe-test) so images survive between runs.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN=${ZOE_TESTENV_DIR:-$ROOT/.testenv}
CACHE=${ZOE_TEST_CACHE:-/var/tmp/zoe-test}
PKGS=(docker.io docker-registry postgresql debootstrap busybox-static slapd ldap-utils chromium iproute2 iptables)

die() { echo "testenv: $*" >&2; exit 1; }
log() { echo "testenv: $*" >&2; }

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root (or sudo) to run: $*"; fi
}

install_missing() {
	local missing=()
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing Debian packages: ${missing[*]}"
	as_root apt-get update -qq || die "apt-get update failed"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$RUN/apt.log" 2>&1 ||
		{ tail -20 "$RUN/apt.log" >&2; die "could not install ${missing[*]}"; }
	# Where an init system runs, Debian's docker-registry starts a
	# system-wide registry on port 5000; the tests start their own.
	if [[ " ${missing[*]} " == *" docker-registry "* ]] && command -v systemctl >/dev/null &&
		systemctl is-active --quiet docker-registry 2>/dev/null; then
		as_root systemctl disable --now docker-registry >/dev/null 2>&1 || true
	fi
}

pg_bin() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	[ -n "$d" ] || die "PostgreSQL binaries not found under /usr/lib/postgresql"
	echo "$d"
}

stop_pid() { # pidfile
	local pf=$1 pid
	[ -f "$pf" ] || return 0
	pid=$(cat "$pf" 2>/dev/null || true)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$pf"
}

# start_docker N POOL EXTRA...: a private engine with its own data root,
# exec root, socket and pidfile, and no default bridge so that two engines
# never fight over docker0.
start_docker() {
	local n=$1 pool=$2; shift 2
	local sock=$RUN/docker$n.sock
	# Already up (a previous `up`): keep it, other test runs may be using it.
	if [ -f "$RUN/docker$n.pid" ] && kill -0 "$(cat "$RUN/docker$n.pid")" 2>/dev/null &&
		docker -H "unix://$sock" version >/dev/null 2>&1; then
		return 0
	fi
	stop_pid "$RUN/docker$n.pid"
	mkdir -p "$CACHE/docker$n" "$RUN/docker$n-exec"
	as_root dockerd \
		--data-root "$CACHE/docker$n" --exec-root "$RUN/docker$n-exec" \
		--host "unix://$sock" --pidfile "$RUN/docker$n.pid" \
		--bridge=none --default-address-pool "base=$pool,size=24" \
		--storage-driver overlay2 "$@" >"$RUN/docker$n.log" 2>&1 &
	for _ in $(seq 1 120); do
		if docker -H "unix://$sock" version >/dev/null 2>&1; then
			as_root chmod 666 "$sock"
			# The data root is cached for its images; the containers and
			# networks in it are a previous run's leftovers, which nobody
			# uses now that the engine was not running. Networks hold
			# subnets of the address pool: left to pile up over runs they
			# exhaust it ("could not find an available, non-overlapping
			# IPv4 address pool").
			local ids
			ids=$(docker -H "unix://$sock" ps -aq)
			[ -z "$ids" ] || docker -H "unix://$sock" rm -f $ids >/dev/null ||
				die "removing the containers a previous run left on engine $n"
			docker -H "unix://$sock" network prune -f >/dev/null ||
				die "removing the networks a previous run left on engine $n"
			return 0
		fi
		sleep 0.5
	done
	tail -30 "$RUN/docker$n.log" >&2
	die "Docker engine $n did not start (log: $RUN/docker$n.log)"
}

start_postgres() {
	local bin pgdata=$RUN/pg
	bin=$(pg_bin)
	if [ -f "$pgdata/data/postmaster.pid" ] && "$bin/pg_isready" -q -h "$pgdata" -U zoe 2>/dev/null; then
		return 0
	fi
	stop_postgres
	rm -rf "$pgdata"
	mkdir -p "$pgdata"
	local runas=()
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$pgdata"
		runas=(runuser -u postgres --)
	fi
	"${runas[@]}" "$bin/initdb" -D "$pgdata/data" -U zoe --auth=trust -E UTF8 >"$RUN/pg-initdb.log" 2>&1 ||
		{ tail -20 "$RUN/pg-initdb.log" >&2; die "initdb failed"; }
	"${runas[@]}" "$bin/pg_ctl" -D "$pgdata/data" -l "$pgdata/postgres.log" -w -t 60 \
		-o "-k $pgdata -c listen_addresses='' -c max_connections=200 -c fsync=off" start >/dev/null ||
		{ tail -20 "$pgdata/postgres.log" >&2; die "PostgreSQL did not start"; }
	"$bin/createdb" -h "$pgdata" -U zoe zoe || die "createdb failed"
}

stop_postgres() {
	local bin
	bin=$(pg_bin)
	[ -f "$RUN/pg/data/postmaster.pid" ] || return 0
	local runas=()
	[ "$(id -u)" = 0 ] && runas=(runuser -u postgres --)
	"${runas[@]}" "$bin/pg_ctl" -D "$RUN/pg/data" -m fast -w stop >/dev/null 2>&1 || true
}

# import_busybox SOCK: zoe/busybox:test, a ~1 MB image made from Debian's
# busybox-static, for tests that need a container but no particular software.
import_busybox() {
	local sock=$1
	docker -H "unix://$sock" image inspect zoe/busybox:test >/dev/null 2>&1 && return 0
	local d
	d=$(mktemp -d)
	mkdir -p "$d/bin" "$d/tmp" "$d/etc"
	cp /bin/busybox "$d/bin/busybox"
	for a in sh ls cat echo sleep wc env head tail true false id hostname mkdir rm nc httpd wget grep sed awk printf; do ln -s busybox "$d/bin/$a"; done
	echo "root:x:0:0:root:/root:/bin/sh" >"$d/etc/passwd"
	tar -C "$d" -c . | docker -H "unix://$sock" import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' - zoe/busybox:test >/dev/null ||
		die "could not import zoe/busybox:test"
	rm -rf "$d"
}

listening() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_registry: a private image registry (Debian's docker-registry, the
# distribution registry v2) on a free loopback port, with its storage under
# $RUN, for the image pull tests. Engines trust plain-HTTP registries on
# 127.0.0.0/8 without configuration. The Debian package's own service (port
# 5000) is never used: it may not be running, or be another user's.
start_registry() {
	local dir=$RUN/registry port
	if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null && [ -f "$dir/port" ] &&
		listening "$(cat "$dir/port")"; then
		REGISTRY_PORT=$(cat "$dir/port")
		return 0
	fi
	stop_pid "$dir/pid"
	command -v docker-registry >/dev/null || die "docker-registry not found after installing it"
	rm -rf "$dir"
	mkdir -p "$dir/storage"
	for port in $(seq 35000 35100); do
		listening "$port" || break
	done
	cat >"$dir/config.yml" <<EOC
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOC
	docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
	echo $! >"$dir/pid"
	echo "$port" >"$dir/port"
	for _ in $(seq 1 100); do
		if listening "$port"; then
			REGISTRY_PORT=$port
			return 0
		fi
		sleep 0.1
	done
	tail -20 "$dir/registry.log" >&2
	die "the image registry did not start (log: $dir/registry.log)"
}

up() {
	mkdir -p "$RUN" "$CACHE"
	install_missing
	command -v dockerd >/dev/null || die "dockerd not found after installing docker.io"
	[ -x /bin/busybox ] || die "busybox-static not installed"
	log "starting Docker engines"
	# Address pools of the two engines' networks; another set of test
	# services on the same machine needs other ones (ZOE_TEST_POOLS).
	read -r pool1 pool2 <<<"${ZOE_TEST_POOLS:-10.201 10.202}"
	start_docker 1 "$pool1.0.0/16"
	# The second engine leaves iptables to the first: two engines rewriting
	# the same chains would undo each other's rules.
	start_docker 2 "$pool2.0.0/16" --iptables=false --ip6tables=false
	log "starting PostgreSQL"
	start_postgres
	log "starting the image registry"
	start_registry
	import_busybox "$RUN/docker1.sock"
	import_busybox "$RUN/docker2.sock"
	# The sample ZApps' images, for the end-to-end tests (Jupyter through
	# the proxy). Cached in the engine's data root: a re-run takes a second.
	log "building the sample ZApps' images (first time: a few minutes)"
	DOCKER_HOST="unix://$RUN/docker1.sock" "$ROOT/scripts/images.sh" >"$RUN/images.log" 2>&1 ||
		{ tail -30 "$RUN/images.log" >&2; die "building the sample images failed (log: $RUN/images.log)"; }
	log "starting slapd"
	"$ROOT/scripts/testenv-ldap.sh" up "$RUN" || die "slapd did not start"
	cat >"$RUN/env" <<EOV
export ZOE_TEST_DOCKER_HOST=unix://$RUN/docker1.sock
export ZOE_TEST_DOCKER_HOST2=unix://$RUN/docker2.sock
export ZOE_TEST_POSTGRES_URL='postgres://zoe@/zoe?host=$RUN/pg&sslmode=disable'
export ZOE_TEST_REGISTRY=127.0.0.1:$REGISTRY_PORT
EOV
	cat "$RUN/ldap.env" >>"$RUN/env"
	log "ready; environment in $RUN/env"
}

down() {
	[ -x "$ROOT/scripts/testenv-ldap.sh" ] && "$ROOT/scripts/testenv-ldap.sh" down "$RUN" || true
	stop_postgres || true
	stop_pid "$RUN/registry/pid"
	stop_pid "$RUN/docker1.pid"
	stop_pid "$RUN/docker2.pid"
}

case "${1:-}" in
up) up ;;
down) down ;;
env) cat "$RUN/env" ;;
*) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
