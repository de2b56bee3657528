#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Install, with apt-get, every Debian package flowctl needs to build, run and
# test.  Idempotent: packages already installed are not touched, and nothing
# is fetched when nothing is missing.
#
#   scripts/deps.sh          install what is missing (needs root)
#   scripts/deps.sh --check  list what is missing, exit 1 if anything is
set -eu

# libclang-rt-14-dev: clang's sanitizer and libFuzzer runtimes (make fuzz,
# the fuzz suite of make check); only recommended by Debian 12's clang-14,
# so --no-install-recommends below would leave it out.
# podman, runc, debootstrap: the container test (test-container.sh) builds
# scripts/Dockerfile on a base image made with debootstrap, no registry;
# runc is named so that podman's "crun | runc" is met by runc (the runtime
# the test uses), debian-archive-keyring so that debootstrap checks the
# archive's signatures.  systemd: systemd-analyze verify of the unit.
PKGS="
make gcc pkg-config
clang llvm libclang-rt-14-dev
libbpf-dev libcyaml-dev libyaml-dev check libjson-c-dev libmicrohttpd-dev
linux-libc-dev libc6-dev
iproute2 bpftool
iperf3 tshark nfdump python3-scapy jq curl iputils-ping procps psmisc valgrind
util-linux zsh
podman runc debootstrap debian-archive-keyring systemd
"

# promtool (test-metrics-lint: `promtool check metrics` on /metrics) ships
# only in Debian's prometheus package (19 MB, 96 MB installed with a web UI,
# and a Prometheus server that its postinst would start): only its promtool
# binary (48 MB, needs libc6 alone) is taken out of the package fetched by
# apt-get download, into /usr/local/bin.
PROMTOOL_PKG=prometheus
PROMTOOL=/usr/local/bin/promtool

missing=""
promtool_missing=""
command -v promtool >/dev/null 2>&1 || promtool_missing=1
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	"install ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done

if [ "${1:-}" = "--check" ]; then
	if [ -n "$missing$promtool_missing" ]; then
		echo "missing:$missing${promtool_missing:+ promtool (from $PROMTOOL_PKG)}"
		exit 1
	fi
	echo "all dependencies installed"
	exit 0
fi

if [ -z "$missing$promtool_missing" ]; then
	echo "deps: all dependencies installed"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run as root (sudo $0) to install them" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
if [ -n "$missing" ]; then
	echo "deps: installing:$missing"
	# tshark asks whether non-root users may capture; answer no, quietly.
	echo "wireshark-common wireshark-common/install-setuid boolean false" |
		debconf-set-selections
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi
if [ -n "$promtool_missing" ]; then
	echo "deps: promtool from $PROMTOOL_PKG (the binary only)"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# _apt fetches into the directory: let it write there
	chmod 0777 "$tmp"
	(cd "$tmp" && apt-get download -q "$PROMTOOL_PKG")
	dpkg-deb --fsys-tarfile "$tmp"/"$PROMTOOL_PKG"_*.deb |
		tar -x -C "$tmp" ./usr/bin/promtool
	install -m 0755 "$tmp/usr/bin/promtool" "$PROMTOOL"
	"$PROMTOOL" --version | head -1
fi
echo "deps: done"
