#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Forwarding cost of the meter, measured against its floor.  A netns
# testbed made here (sender S, router R, sink K; veth pairs S:eth0-R:eth1
# and R:eth2-K:eth0) and a UDP flood of small datagrams (18 payload bytes,
# 16 flows) from S through R to an address behind K (K drops them: no
# socket, no ICMP), the flood pinned to one CPU.  Five setups of the
# router, interleaved over ROUNDS rounds of FLOOD_SECONDS each (best kept):
#   none          no tc program
#   empty egress  an empty tc program (returns TC_ACT_UNSPEC) on the egress
#                 hook of eth1 and eth2
#   meter egress  the meter on those hooks (flowctl meter attach
#                 --hooks egress)
#   empty both    the empty program on ingress and egress of eth1 and eth2
#   meter both    the meter on both hooks (--hooks both)
# A forwarded datagram passes eth1 ingress and eth2 egress: one program
# with "egress", two with "both".  Busy CPU per datagram = CPU time of the
# flood process (the whole forwarding runs in its softirq context over
# veth, and tick accounting charges it to that process) + the ksoftirqd
# threads' CPU time, over the datagrams the sink received.  The meter's
# cost is its extra CPU per datagram over the empty program on the same
# hooks.  No agent runs: the flow maps just hold the 16 flows.
# Needs root, clang, tc.  Takes the integration lock (it attaches meters).
# Usage: bench-forward.sh  (ROUNDS=3 FLOOD_SECONDS=2 in the environment;
# not SECONDS: bash keeps its own clock in that name)
set -eu
cd "$(dirname "$0")/.."
FLOWCTL=${FLOWCTL:-build/default/flowctl}
B=${FLOWCTL_BUILD:-build/default}
FLOOD=${FLOOD:-$B/bench/udp_flood}
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${FLOOD_SECONDS:-2}
P=bf$$x
S=${P}s R=${P}r K=${P}k
TMP=$(mktemp -d)

if [ "$(id -u)" != 0 ]; then
	echo "SKIP bench-forward: needs root"
	exit 0
fi
for c in clang tc ip taskset; do
	if ! command -v "$c" >/dev/null; then
		echo "SKIP bench-forward: missing command $c (run scripts/deps.sh)"
		exit 0
	fi
done
if [ ! -x "$FLOOD" ] || [ ! -x "$FLOWCTL" ]; then
	echo "SKIP bench-forward: build $FLOOD and $FLOWCTL first (make bench)"
	exit 0
fi

cleanup() {
	"$FLOWCTL" meter detach -i "$R:*" >/dev/null 2>&1 || true
	ip netns del "$S" 2>/dev/null || true
	ip netns del "$R" 2>/dev/null || true
	ip netns del "$K" 2>/dev/null || true
	rm -rf "/sys/fs/bpf/flowctl/$R" "$TMP"
}
trap cleanup EXIT
exec 9>/tmp/flowctl-integration.lock
flock 9

# ---- testbed --------------------------------------------------------------
for n in "$S" "$R" "$K"; do
	ip netns add "$n"
	ip -n "$n" link set lo up
done
ip link add eth0 netns "$S" type veth peer name eth1 netns "$R"
ip link add eth2 netns "$R" type veth peer name eth0 netns "$K"
ip -n "$S" addr add 10.201.1.2/24 dev eth0
ip -n "$R" addr add 10.201.1.1/24 dev eth1
ip -n "$R" addr add 10.201.2.1/24 dev eth2
ip -n "$K" addr add 10.201.2.2/24 dev eth0
for l in "$S eth0" "$R eth1" "$R eth2" "$K eth0"; do
	set -- $l
	ip -n "$1" link set "$2" up
done
ip -n "$S" route add default via 10.201.1.1
ip -n "$K" route add default via 10.201.2.1
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
# the sink does not forward: what R sends to 10.201.3.0/24 ends in K
ip -n "$R" route add 10.201.3.0/24 via 10.201.2.2
if ! ip netns exec "$S" ping -c2 -W2 10.201.2.2 >/dev/null; then
	echo "bench-forward: the testbed does not forward (ping $S -> $K)" >&2
	exit 1
fi

# ---- the empty program -------------------------------------------------------
cat >"$TMP/empty.c" <<'C'
struct __sk_buff;
__attribute__((section("tc"), used)) int empty(struct __sk_buff *skb)
{
	return -1;	/* TC_ACT_UNSPEC: continue, like the meter */
}
char _license[] __attribute__((section("license"), used)) = "GPL";
C
clang -O2 -target bpf -c "$TMP/empty.c" -o "$TMP/empty.o"

empty_on() { # HOOK...
	local h d
	for d in eth1 eth2; do
		ip netns exec "$R" tc qdisc add dev "$d" clsact
		for h in "$@"; do
			ip netns exec "$R" tc filter add dev "$d" "$h" pref 100 \
				handle 1 bpf da obj "$TMP/empty.o" sec tc
		done
	done
}
empty_off() {
	local d
	for d in eth1 eth2; do
		ip netns exec "$R" tc qdisc del dev "$d" clsact 2>/dev/null || true
	done
}
meter_on() { # egress | both
	"$FLOWCTL" meter attach --hooks "$1" -i "$R:eth1" -i "$R:eth2" >/dev/null
}
meter_off() {
	"$FLOWCTL" meter detach -i "$R:*" >/dev/null 2>&1 || true
	empty_off	# what tc deleted behind flowctl's back
}

ticks() { # CPU ticks of the ksoftirqd threads
	local p t=0
	for p in $(pgrep -x 'ksoftirqd/[0-9]*' 2>/dev/null || true); do
		[ -r "/proc/$p/stat" ] || continue
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
	done
	echo "$t"
}
rx() { ip netns exec "$K" cat /sys/class/net/eth0/statistics/rx_packets; }

# one flood: prints "pps ns_per_packet"
flood() {
	local r0 r1 k0 k1 out sent cpu hz
	hz=$(getconf CLK_TCK)
	r0=$(rx); k0=$(ticks)
	out=$(ip netns exec "$S" taskset -c 1 "$FLOOD" 10.201.3.1 9 \
		"$SECONDS_PER_RUN" 18 16)
	sleep 0.2
	r1=$(rx); k1=$(ticks)
	sent=${out#sent=}; sent=${sent%% *}
	cpu=${out##*cpu_s=}
	awk -v r=$((r1 - r0)) -v s="$SECONDS_PER_RUN" -v c="$cpu" \
		-v k=$((k1 - k0)) -v hz="$hz" 'BEGIN {
		if (r <= 0) { print "0 0"; exit }
		printf "%.0f %.1f\n", r / s, (c + k / hz) * 1e9 / r
	}'
}

SETUPS="none empty_egress meter_egress empty_both meter_both"
declare -A PPS NS
setup_on() {
	case $1 in
	none) ;;
	empty_egress) empty_on egress ;;
	empty_both) empty_on ingress egress ;;
	meter_egress) meter_on egress ;;
	meter_both) meter_on both ;;
	esac
}
setup_off() {
	case $1 in
	meter_*) meter_off ;;
	*) empty_off ;;
	esac
}

# warm up: the meter's object compiled and cached, ARP resolved
meter_on both; flood >/dev/null; meter_off
for ((round = 0; round < ROUNDS; round++)); do
	for s in $SETUPS; do
		setup_on "$s"
		read -r pps ns < <(flood)
		setup_off "$s"
		if [ "${pps:-0}" = 0 ]; then
			echo "bench-forward: $s: the sink received nothing" >&2
			continue
		fi
		# best of the rounds: the lowest CPU per packet
		if [ -z "${NS[$s]:-}" ] || awk -v a="$ns" -v b="${NS[$s]}" \
			'BEGIN { exit !(a < b) }'; then
			NS[$s]=$ns
			PPS[$s]=$pps
		fi
	done
done

for s in $SETUPS; do
	if [ -z "${NS[$s]:-}" ]; then
		echo "bench-forward: no measurement of $s in $ROUNDS rounds" >&2
		exit 1
	fi
done
echo "forwarding: UDP, 18-byte payload, 16 flows, S -> R -> K over veth," \
	"flood on CPU 1, best of $ROUNDS x ${SECONDS_PER_RUN}s"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "  %-14s %12s %16s\n" setup "packets/s" "CPU ns/packet"
for s in $SETUPS; do
	printf "  %-14s %12s %16s\n" "${s/_/ }" "${PPS[$s]}" "${NS[$s]}"
done
awk -v n="${NS[none]}" -v ee="${NS[empty_egress]}" -v me="${NS[meter_egress]}" \
	-v eb="${NS[empty_both]}" -v mb="${NS[meter_both]}" 'BEGIN {
	printf "  tc hook + empty program:  egress %+.1f ns, both %+.1f ns per packet (over none)\n", ee - n, eb - n
	printf "  meter over the empty program: egress %+.1f ns, both %+.1f ns per packet\n", me - ee, mb - eb
	if (ee - n > 0)
		printf "  meter extra / hook cost: egress %.2f, both %.2f (goal <= 1)\n", (me - ee) / (ee - n), (mb - eb) / (eb - n)
}'
