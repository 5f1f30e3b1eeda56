#!/usr/bin/env bash
# base-image.sh — makes zoe/debian:bookworm, the base of the sample ZApp
# images, without a registry: debootstrap builds a minimal Debian root file
# system from the machine's Debian mirror and `docker import` turns it into an
# image on the engine named by DOCKER_HOST (the local one when unset).
#
# Nothing is done when the engine already has the image. The root file system
# tarball is cached in ${ZOE_IMAGE_CACHE:-/var/tmp/zoe-images} so that other
# engines (the private test engines, a second host) get it in seconds.
#
#   ZOE_DEBIAN_MIRROR  mirror to use (default: the one apt uses on this machine)
#   ZOE_IMAGE_REBUILD  set to 1 to ignore the cached tarball and the image
set -euo pipefail

IMAGE=zoe/debian:bookworm
SUITE=bookworm
CACHE=${ZOE_IMAGE_CACHE:-/var/tmp/zoe-images}
TARBALL=$CACHE/debian-$SUITE-minbase.tar

die() { echo "base-image: $*" >&2; exit 1; }
log() { echo "base-image: $*" >&2; }

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root (or sudo) to run: $*"; fi
}

# mirror prints the Debian mirror apt uses here: the first URI of a deb822
# stanza for the suite itself (not -security), else the first matching line
# of sources.list, else deb.debian.org.
mirror() {
	if [ -n "${ZOE_DEBIAN_MIRROR:-}" ]; then
		echo "$ZOE_DEBIAN_MIRROR"
		return
	fi
	local m=""
	if [ -r /etc/apt/sources.list.d/debian.sources ]; then
		m=$(awk -v suite="$SUITE" '
			/^[[:space:]]*$/ { if (uri != "" && ok) { print uri; exit } uri = ""; ok = 0; next }
			/^URIs:/ { uri = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
			END { if (uri != "" && ok) print uri }
		' /etc/apt/sources.list.d/debian.sources | head -1)
	fi
	if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
		m=$(awk -v suite="$SUITE" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/ && $(i+1) == suite) { print $i; exit } }' /etc/apt/sources.list)
	fi
	echo "${m:-http://deb.debian.org/debian}"
}

security_mirror() {
	local m=""
	if [ -r /etc/apt/sources.list.d/debian.sources ]; then
		m=$(awk -v suite="$SUITE-security" '
			/^[[:space:]]*$/ { if (uri != "" && ok) { print uri; exit } uri = ""; ok = 0; next }
			/^URIs:/ { uri = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
			END { if (uri != "" && ok) print uri }
		' /etc/apt/sources.list.d/debian.sources | head -1)
	fi
	echo "${m:-http://deb.debian.org/debian-security}"
}

# make_tarball debootstraps into a scratch directory, trims what containers
# never use, and writes $TARBALL atomically.
make_tarball() {
	command -v debootstrap >/dev/null || die "debootstrap not installed (apt-get install debootstrap)"
	local m sm dir
	m=$(mirror)
	sm=$(security_mirror)
	dir=$(mktemp -d "${TMPDIR:-/tmp}/zoe-rootfs.XXXXXX")
	SCRATCH=$dir
	log "debootstrap --variant=minbase $SUITE from $m (a few minutes)"
	mkdir -p "$CACHE"
	as_root debootstrap --variant=minbase "$SUITE" "$dir" "$m" >"$CACHE/debootstrap.log" 2>&1 ||
		{ tail -30 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }

	# The same trimming as Debian's official slim images: no manuals, no
	# translations, no package caches, no recommended packages; it keeps
	# every image built on this base small.
	as_root tee "$dir/etc/dpkg/dpkg.cfg.d/zoe-slim" >/dev/null <<-'EOF'
		path-exclude /usr/share/doc/*
		path-include /usr/share/doc/*/copyright
		path-exclude /usr/share/man/*
		path-exclude /usr/share/info/*
		path-exclude /usr/share/locale/*
		path-exclude /usr/share/lintian/*
	EOF
	as_root tee "$dir/etc/apt/apt.conf.d/zoe-slim" >/dev/null <<-'EOF'
		APT::Install-Recommends "false";
		APT::Install-Suggests "false";
		Acquire::Languages "none";
		DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
	EOF
	as_root tee "$dir/etc/apt/sources.list" >/dev/null <<-EOF
		deb $m $SUITE main
		deb $m $SUITE-updates main
		deb $sm $SUITE-security main
	EOF
	as_root sh -c "rm -rf '$dir'/usr/share/doc/*/[!c]* '$dir'/usr/share/man/* '$dir'/usr/share/info/* '$dir'/usr/share/locale/* \
		'$dir'/var/cache/apt/archives/*.deb '$dir'/var/cache/apt/*.bin '$dir'/var/lib/apt/lists/* '$dir'/var/log/*.log '$dir'/tmp/*"

	as_root tar --numeric-owner -C "$dir" -cf "$TARBALL.tmp" . || die "could not write $TARBALL"
	mv "$TARBALL.tmp" "$TARBALL"
	log "root file system cached in $TARBALL ($(du -h "$TARBALL" | cut -f1))"
}

SCRATCH=""
# The scratch root is owned by root after debootstrap; remove it as root.
cleanup() { [ -z "$SCRATCH" ] || as_root rm -rf "$SCRATCH"; }
trap cleanup EXIT

main() {
	command -v docker >/dev/null || die "docker CLI not found"
	docker version >/dev/null 2>&1 || die "cannot reach the Docker engine at ${DOCKER_HOST:-the default socket}"
	if [ "${ZOE_IMAGE_REBUILD:-0}" != 1 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
		log "$IMAGE already present"
		return 0
	fi
	if [ "${ZOE_IMAGE_REBUILD:-0}" = 1 ] || [ ! -s "$TARBALL" ]; then
		make_tarball
	fi
	log "importing $IMAGE"
	docker import \
		-c 'ENV LANG=C.UTF-8' \
		-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		-c 'CMD ["bash"]' \
		-m "debootstrap --variant=minbase $SUITE" \
		"$TARBALL" "$IMAGE" >/dev/null || die "docker import of $TARBALL failed"
	log "$IMAGE ready ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
}

main "$@"
