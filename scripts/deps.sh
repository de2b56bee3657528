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
PKGS="
make gcc pkg-config
clang llvm libclang-rt-14-dev
libbpf-dev libyaml-dev check libjson-c-dev libmicrohttpd-dev
linux-libc-dev libc6-dev
iproute2 bpftool
iperf3 tshark nfdump python3-scapy jq curl iputils-ping procps psmisc
util-linux zsh
"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	"install ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done

if [ "${1:-}" = "--check" ]; then
	if [ -n "$missing" ]; then
		echo "missing:$missing"
		exit 1
	fi
	echo "all dependencies installed"
	exit 0
fi

if [ -z "$missing" ]; then
	echo "deps: all dependencies installed"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run as root (sudo $0) to install them" >&2
	exit 1
fi

echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no, quietly.
echo "wireshark-common wireshark-common/install-setuid boolean false" |
	debconf-set-selections
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
echo "deps: done"
