#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Attach time of `flowctl meter attach` for 3, 30 and 300 interfaces, all in
# one namespace and spread over 30 namespaces (10 interfaces each), with the
# default hooks (egress) and with --hooks both; the BPF object is compiled
# once beforehand and reused (its compile time is printed on its own).
# Prints the ratio 300/3 (1.00: the cost does not grow with the interfaces;
# 100: linear).  Needs root.  HOOKS=both runs only --hooks both.
set -eu
FLOWCTL=${FLOWCTL:-build/default/flowctl}
P=fb$$x
NS1=${P}one
NNS=30
cleanup() {
	# the pins go with rm (quicker than a detach)
	rm -rf /sys/fs/bpf/flowctl/"$P"*
	ip netns del "$NS1" 2>/dev/null || true
	for i in $(seq 1 $NNS); do ip netns del "$P$i" 2>/dev/null || true; done
	rm -rf "$CACHE"
}
CACHE=$(mktemp -d)
trap cleanup EXIT
if [ "$(id -u)" != 0 ]; then
	echo "SKIP bench-attach: needs root"
	exit 0
fi
# veth pairs x0/x1, x2/x3, ... inside each namespace
mkns() { # NAME INTERFACES
	local i
	ip netns add "$1"
	for ((i = 0; i < $2; i += 2)); do
		echo "link add x$i type veth peer name x$((i + 1))"
		echo "link set x$i up"
		echo "link set x$((i + 1)) up"
	done | ip -n "$1" -batch -
}
mkns "$NS1" 300
for i in $(seq 1 $NNS); do mkns "$P$i" 10; done

ms() { echo $(($(date +%s%N) / 1000000)); }

# compile cost: render with a knob no one uses, so the object is built anew
t0=$(ms)
"$FLOWCTL" ebpf code-dump -l 65537 > "$CACHE/src.c"
t1=$(ms)
clang -target bpf -O2 -g -mcpu=v3 -I/usr/include/$(gcc -print-multiarch) \
	-c "$CACHE/src.c" -o "$CACHE/o.o" 2>/dev/null || true
t2=$(ms)
echo "render: $((t1 - t0)) ms, clang compile of the meter: $((t2 - t1)) ms (done once per digest)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"

# warm the object cache so every run below reuses it
"$FLOWCTL" meter attach -i "$NS1:x0" >/dev/null
"$FLOWCTL" meter attach -i "$NS1:x0" --ifstats >/dev/null 2>&1 || true
"$FLOWCTL" meter detach -i "$NS1:*" >/dev/null 2>&1

# back to nothing between the runs without `meter detach` (timed once
# below): the clsact qdiscs go with their filters, then the pins
reset() {
	local ns
	for ns in "$NS1" $(seq -f "$P%g" 1 $NNS); do
		ip -n "$ns" -j link show | jq -r '.[].ifname | select(. != "lo") | "qdisc del dev \(.) clsact"' |
			ip netns exec "$ns" tc -force -batch - 2>/dev/null || true
		rm -rf "/sys/fs/bpf/flowctl/$ns"
	done
}
timed() { # SPEC... : attach from nothing
	local t0 t1 a
	t0=$(ms); "$FLOWCTL" meter attach "$@" >/dev/null; t1=$(ms)
	a=$((t1 - t0))
	reset
	echo "$a"
}
detached() { # SPEC... : attach (untimed), then time the detach
	local t0 t1
	"$FLOWCTL" meter attach "$@" >/dev/null
	shift 2		# --hooks H
	t0=$(ms); "$FLOWCTL" meter detach "$@" >/dev/null 2>&1; t1=$(ms)
	reset
	echo $((t1 - t0))
}
run() { # HOOKS
	local h=$1 a3 a30 a300 b3 b30 b300 u300 s300 d3 d30 d300 t0 t1
	a3=$(timed --hooks "$h" -i "$NS1:x[0-2]")
	a30=$(timed --hooks "$h" -i "$NS1:x[0-9]" -i "$NS1:x[12][0-9]")
	a300=$(timed --hooks "$h" -i "$NS1:*")
	b3=$(timed --hooks "$h" -i "${P}[1-3]:x0")
	b30=$(timed --hooks "$h" -i "${P}[0-9]*:x0")
	b300=$(timed --hooks "$h" -i "${P}[0-9]*:*")
	d3=$(detached --hooks "$h" -i "$NS1:x[0-2]")
	d30=$(detached --hooks "$h" -i "$NS1:x[0-9]" -i "$NS1:x[12][0-9]")
	"$FLOWCTL" meter attach --hooks "$h" -i "$NS1:*" >/dev/null
	t0=$(ms); "$FLOWCTL" meter attach --hooks "$h" -i "$NS1:*" >/dev/null; t1=$(ms)
	u300=$((t1 - t0))
	t0=$(ms); "$FLOWCTL" meter status -o wide >/dev/null 2>&1; t1=$(ms)
	s300=$((t1 - t0))
	t0=$(ms); "$FLOWCTL" meter detach -i "$NS1:*" >/dev/null 2>&1; t1=$(ms)
	d300=$((t1 - t0))
	awk -v h="$h" -v a3="$a3" -v a30="$a30" -v a300="$a300" -v b3="$b3" \
	    -v b30="$b30" -v b300="$b300" -v u300="$u300" -v d300="$d300" \
	    -v d3="$d3" -v d30="$d30" -v s300="$s300" 'BEGIN {
		printf "--hooks %s\n", h
		printf "  interfaces          1 namespace        30 namespaces\n"
		printf "  3                 %6d ms          %6d ms (3 namespaces)\n", a3, b3
		printf "  30                %6d ms          %6d ms\n", a30, b30
		printf "  300               %6d ms          %6d ms\n", a300, b300
		printf "  ratio 300/3 (both against 3 in 1 namespace) %6.2f  %6.2f\n", a300 / a3, b300 / a3
		printf "  per interface (300) %5.1f ms          %5.1f ms\n", a300 / 300, b300 / 300
		printf "  re-attach 300 (unchanged): %d ms; meter status -o wide with 300 attached: %d ms\n", u300, s300
		printf "  detach 3 / 30 / 300 in 1 namespace: %d / %d / %d ms (300/3 = %.2f)\n", d3, d30, d300, d300 / d3
	}'
}
if [ "${HOOKS:-}" ]; then
	run "$HOOKS"
else
	run egress
	run both
fi
