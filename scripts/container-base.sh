#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Make the base images of scripts/Dockerfile (debian:12, debian:12-slim)
# without an image registry: debootstrap a minimal Debian 12 from its
# default mirror and `podman import` it under both names.  Only what is
# missing from podman's image store is made, so a second run costs nothing.
#
#   scripts/container-base.sh           make the images if missing (root)
#   scripts/container-base.sh --force   make them again
#
# debian:12       debootstrap --variant=minbase bookworm, apt caches removed
# debian:12-slim  the same without documentation, man pages and locales,
#                 and with dpkg told not to install them (as Debian's own
#                 slim images do)
set -eu

BASE=docker.io/library/debian:12
SLIM=docker.io/library/debian:12-slim
PODMAN=${PODMAN:-podman --runtime runc --cgroup-manager=cgroupfs}

force=
case "${1:-}" in
--force) force=1 ;;
"") ;;
*) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

have() { $PODMAN image exists "$1"; }
if [ -z "$force" ] && have "$BASE" && have "$SLIM"; then
	echo "container-base: $BASE and $SLIM present"
	exit 0
fi
for c in debootstrap podman tar; do
	command -v "$c" >/dev/null || {
		echo "container-base: missing $c (run scripts/deps.sh)" >&2
		exit 1
	}
done
if [ "$(id -u)" != 0 ]; then
	echo "container-base: debootstrap needs root" >&2
	exit 1
fi

dir=$(mktemp -d /var/tmp/flowctl-base.XXXXXX)
trap 'rm -rf "$dir"' EXIT
root=$dir/rootfs
echo "container-base: debootstrap --variant=minbase bookworm (log: $dir/debootstrap.log)"
if ! debootstrap --variant=minbase bookworm "$root" >"$dir/debootstrap.log" 2>&1; then
	tail -20 "$dir/debootstrap.log" >&2
	echo "container-base: debootstrap failed" >&2
	exit 1
fi
# what an image does not need: downloaded packages and package lists (the
# Dockerfile runs apt-get update), the host's name and resolver
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
	"$root"/var/log/*.log "$root"/var/cache/debconf/*-old \
	"$root"/var/lib/dpkg/*-old
: >"$root/etc/hostname"
: >"$root/etc/resolv.conf"

import() { # NAME
	tar --numeric-owner --xattrs -C "$root" -c . |
		$PODMAN import -q --change 'CMD ["/bin/bash"]' - "$1" >/dev/null
	echo "container-base: imported $1 ($($PODMAN image inspect -f '{{.Size}}' "$1") bytes)"
}
import "$BASE"

cat >"$root/etc/dpkg/dpkg.cfg.d/flowctl-slim" <<'EOF'
# no documentation, man pages or locales in this image
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* \
	"$root"/usr/share/locale/* "$root"/usr/share/lintian/*
import "$SLIM"
