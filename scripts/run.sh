#!/usr/bin/env bash
# run.sh — Zoe on a fresh Debian machine, in one command (make run):
# installs Docker's engine when it is missing and starts it when nothing
# answers, builds the sample ZApps' images (cached), then runs
# `zoe serve` with the embedded store and the sample shop on :8080.
# Extra arguments go to zoe serve (e.g. scripts/run.sh --listen :9000).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH=$PATH:/usr/local/go/bin

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else echo "run.sh: need root (or sudo) for: $*" >&2; exit 1; fi
}

if ! command -v dockerd >/dev/null; then
	echo "run.sh: installing Docker (Debian's docker.io)"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null
fi
if ! docker version >/dev/null 2>&1; then
	if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
		as_root systemctl start docker
	else
		echo "run.sh: starting dockerd (log: /var/log/zoe-dockerd.log)"
		as_root sh -c 'nohup dockerd >/var/log/zoe-dockerd.log 2>&1 &'
	fi
	for _ in $(seq 1 60); do docker version >/dev/null 2>&1 && break; sleep 0.5; done
	docker version >/dev/null 2>&1 || { echo "run.sh: the Docker engine did not start; see /var/log/zoe-dockerd.log" >&2; exit 1; }
fi

scripts/images.sh
go build -o zoe ./cmd/zoe
exec ./zoe serve --zapp-shop-path "${ZOE_ZAPP_SHOP_PATH:-shop/sample}" "$@"
