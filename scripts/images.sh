#!/usr/bin/env bash
# images.sh [NAME...] — builds the images of the sample ZApps (shop/sample/)
# on the Docker engine named by DOCKER_HOST (the local one when unset), with
# no registry: first zoe/debian:bookworm (scripts/base-image.sh), then every
# shop/sample/*/Dockerfile, parents before children.
#
# A NAME is a sample folder (jupyter, dask, batch) or "base"; none means all.
# Each Dockerfile declares the tag it builds on a "# zoe-image: TAG" line,
# the tag its ZApp descriptions use.
#
# An image is skipped when the engine already has it built from the same
# Dockerfile on the same parent image (a label records both), so running
# this again is quick; a changed Dockerfile or parent rebuilds it. Any
# failure stops the run with the build's output.
#
#   ZOE_BUILD_NETWORK  network for RUN steps (default host: the private
#                      test engines have no default bridge)
#   ZOE_IMAGE_REBUILD  set to 1 to rebuild everything
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SAMPLE=$ROOT/shop/sample
BASE=zoe/debian:bookworm
LABEL=org.zoe-analytics.build

die() { echo "images: $*" >&2; exit 1; }
log() { echo "images: $*" >&2; }

# tag_of DIR prints the tag declared by DIR/Dockerfile.
tag_of() {
	local t
	t=$(sed -n 's/^# zoe-image:[[:space:]]*\([^[:space:]]*\).*/\1/p' "$1/Dockerfile" | head -1)
	[ -n "$t" ] || die "$1/Dockerfile has no \"# zoe-image: TAG\" line"
	echo "$t"
}

# parent_of DIR prints the image of the Dockerfile's (single) FROM line.
parent_of() {
	awk 'toupper($1) == "FROM" { print $2; exit }' "$1/Dockerfile"
}

# dir_of TAG prints the sample folder whose Dockerfile builds TAG, if any.
dir_of() {
	local d
	for d in "$SAMPLE"/*/; do
		d=${d%/}
		[ -f "$d/Dockerfile" ] || continue
		[ "$(tag_of "$d")" = "$1" ] && { echo "$d"; return 0; }
	done
	return 0
}

declare -A DONE=()

build_base() {
	[ -n "${DONE[base]:-}" ] && return 0
	"$ROOT/scripts/base-image.sh" || die "base image $BASE failed"
	DONE[base]=1
}

# build DIR builds DIR's image after its parent.
build() {
	local dir=$1 tag parent parent_id fingerprint have
	tag=$(tag_of "$dir")
	[ -n "${DONE[$tag]:-}" ] && return 0
	parent=$(parent_of "$dir")
	if [ "$parent" = "$BASE" ]; then
		build_base
	else
		local pdir
		pdir=$(dir_of "$parent")
		[ -n "$pdir" ] || die "$dir/Dockerfile: FROM $parent is neither $BASE nor built here (no registry to pull it from)"
		build "$pdir"
	fi
	parent_id=$(docker image inspect -f '{{.Id}}' "$parent") || die "parent image $parent of $tag missing"
	fingerprint=$( (cat "$dir/Dockerfile"; echo "$parent_id") | sha256sum | cut -c1-16)
	have=$(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$tag" 2>/dev/null || true)
	if [ "${ZOE_IMAGE_REBUILD:-0}" != 1 ] && [ "$have" = "$fingerprint" ]; then
		log "$tag up to date"
		DONE[$tag]=1
		return 0
	fi
	log "building $tag from ${dir#"$ROOT"/}/Dockerfile"
	local out
	out=$(mktemp)
	# Only the Dockerfile is sent as context: the sample folders hold
	# descriptions and readmes the image does not need.
	if ! DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0} docker build \
		--network "${ZOE_BUILD_NETWORK:-host}" \
		--label "$LABEL=$fingerprint" \
		-t "$tag" - <"$dir/Dockerfile" >"$out" 2>&1; then
		tail -40 "$out" >&2
		rm -f "$out"
		die "docker build of $tag failed"
	fi
	rm -f "$out"
	DONE[$tag]=1
	log "$tag ready ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
}

main() {
	command -v docker >/dev/null || die "docker CLI not found"
	docker version >/dev/null 2>&1 || die "cannot reach the Docker engine at ${DOCKER_HOST:-the default socket}"
	local names=("$@") n
	if [ ${#names[@]} -eq 0 ]; then
		names=(base)
		for d in "$SAMPLE"/*/; do
			[ -f "$d/Dockerfile" ] && names+=("$(basename "$d")")
		done
	fi
	for n in "${names[@]}"; do
		if [ "$n" = base ]; then
			build_base
		elif [ -f "$SAMPLE/$n/Dockerfile" ]; then
			build "$SAMPLE/$n"
		else
			die "unknown image $n (want base or one of:$(for d in "$SAMPLE"/*/Dockerfile; do printf ' %s' "$(basename "$(dirname "$d")")"; done))"
		fi
	done
	log "done"
}

main "$@"
