#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Many interfaces in many namespaces: the router of the testbed and 10 more
# namespaces of 10 interfaces each (103 interfaces in 11 namespaces) are
# attached in one request; one object load per namespace, the other hooks
# attached to the pinned program.  Traffic forwarded through the router is
# counted exactly, per flow; a re-attach is unchanged; detach leaves
# nothing.  Bounded: well under 60 s.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd tc ip bpftool jq
FLOWS="$PY $TOP/test/integration/flows.py"
UDP="$PY $TOP/test/integration/udpsend.py"
PIN=/sys/fs/bpf/flowctl
T0=$(date +%s)

testbed_up || { fail testbed "cannot create the netns testbed"; finish; exit 1; }
NX=()
for i in $(seq 0 9); do
	ns=${T_PREFIX}s$i
	ip netns add "$ns" || { fail setup "ip netns add $ns"; finish; exit 1; }
	on_cleanup "ip netns del $ns"
	NX+=("$ns")
	for ((j = 0; j < 10; j += 2)); do
		echo "link add x$j type veth peer name x$((j + 1))"
		echo "link set x$j up"
		echo "link set x$((j + 1)) up"
	done | ip -n "$ns" -batch - || { fail setup "veths in $ns"; finish; exit 1; }
done
on_cleanup "$FLOWCTL meter detach -i '${T_PREFIX}s*:*' -i '$NS0:*'"

out=$("$FLOWCTL" meter attach -i "$NS0:*" -i "${T_PREFIX}s[0-9]:*" 2>&1); rc=$?
check_eq "attach 103 interfaces in 11 namespaces: exit 0" 0 "$rc"
check_eq "one (changed) egress line per interface" 103 "$(grep -c ':egress (changed)$' <<<"$out")"
# every egress hook runs its namespace's one program
bad=0; progs=0
for ns in "$NS0" "${NX[@]}"; do
	ids=$(for d in $(ip -n "$ns" -j link show | jq -r '.[].ifname | select(. != "lo")'); do
		ip netns exec "$ns" tc -j filter show dev "$d" egress | jq -r '.[].options.prog.id // empty'
	done | sort | uniq -c)
	[ "$(wc -l <<<"$ids")" = 1 ] || bad=$((bad + 1))
	progs=$((progs + $(wc -l <<<"$ids")))
done
check_eq "one program per namespace, shared by all its interfaces" "0 11" "$bad $progs"
check_eq "one pinned program per namespace" 11 \
	"$(ls "$PIN"/{"$NS0","${T_PREFIX}"s?} 2>/dev/null | grep -c '_tc-egress$')"

# forwarded traffic: 6 flows of 500 datagrams NS1 -> NS2 through the router
ip netns exec "$NS2" $UDP --recv 10.2.0.2 7800 20 > "$T_TMP/r.count" &
RP=$!; T_PIDS+=($RP)
sleep 0.3
ip netns exec "$NS1" $UDP 10.2.0.2 7800 3000 64 46000 6
wait $RP
check_eq "3000 datagrams delivered" 3000 "$(cat "$T_TMP/r.count")"
I2=$(ip -n "$NS0" -j link show eth2 | jq '.[0].ifindex')
I1=$(ip -n "$NS0" -j link show eth1 | jq '.[0].ifindex')
per=$($FLOWS "$PIN/$NS0" | jq -s -c "[.[] | select(.dport == 7800)] | map({sport, dir, iif, oif, pkts, bytes}) | sort_by(.sport)")
check_eq "6 flows, each counted once (egress only)" 6 "$(jq 'length' <<<"$per")"
check_eq "each flow: 500 packets, 500 x (20+8+64) octets, at eth2 egress from eth1" \
	'[{"pkts":500,"bytes":46000,"dir":"egress","iif":'"$I1"',"oif":'"$I2"'}]' \
	"$(jq -c "map({pkts, bytes, dir, iif, oif}) | unique" <<<"$per")"
# (their own veths see IPv6 neighbour discovery and MLD, nothing else)
check_eq "the other namespaces counted none of the forwarded flows" 0 \
	"$(for ns in "${NX[@]}"; do $FLOWS "$PIN/$ns"; done | jq -s '[.[] | select(.dport == 7800 or .ipv == 4)] | length')"

out=$("$FLOWCTL" meter attach -i "$NS0:*" -i "${T_PREFIX}s[0-9]:*" 2>&1)
check_eq "re-attach: 103 unchanged" 103 "$(grep -c '(unchanged)$' <<<"$out")"
out=$("$FLOWCTL" meter detach -i "$NS0:*" -i "${T_PREFIX}s*:*" 2>&1); rc=$?
check_eq "detach: exit 0, 103 changed" "0 103" "$rc $(grep -c '(changed)$' <<<"$out")"
check_eq "detach removed every pin dir" 0 \
	"$(ls -d "$PIN/$NS0" "$PIN/${T_PREFIX}"s? 2>/dev/null | wc -l)"
T1=$(date +%s)
[ $((T1 - T0)) -lt 60 ] && pass "took $((T1 - T0)) s (< 60)" || fail "duration" "$((T1 - T0)) s"
finish
