#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# flowctl meter attach | detach | status on the netns testbed, with real
# traffic: every packet delivered, exact counts in the pinned maps,
# idempotence, transactional rollback, limits, root-namespace form.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd tc ip bpftool clang ping

FLOWS="$PY $TOP/test/integration/flows.py"
UDP="$PY $TOP/test/integration/udpsend.py"
PIN=/sys/fs/bpf/flowctl

testbed_up || { fail testbed "cannot create the netns testbed"; finish; exit 1; }

# sum of a field over the flows matching a jq filter
flowsum() { # PINDIR FIELD JQ-SELECT
	$FLOWS "$1" | jq -s "[.[] | select($3) | .$2] | add // 0"
}

# an L3 device (no Ethernet header) in the router: refused by name, skipped by *
ip -n "$NS0" tuntap add mode tun name tun0
out=$("$FLOWCTL" meter attach -i "$NS0:tun0" 2>&1); rc=$?
check_eq "a tun device is refused: exit 2" 2 "$rc"
grep -q "not Ethernet" <<<"$out" && pass "tun refusal says why" || fail "tun refusal message" "$out"

# --- attach: the default is egress only, as the original --------------------
out=$("$FLOWCTL" meter attach -i "$NS0:*" 2>&1); rc=$?
check_eq "default attach exit code" 0 "$rc"
check_eq "default attach prints NS:DEV:egress (changed) per device" 3 \
	"$(grep -c "^$NS0:eth[123]:egress (changed)\$" <<<"$out")"
check_eq "default attach prints no ingress line" 0 "$(grep -c ':ingress ' <<<"$out")"
n=0; e=0
for d in eth1 eth2 eth3; do
	n=$((n + $(ip netns exec "$NS0" tc -j filter show dev $d ingress | jq 'length')))
	e=$((e + $(ip netns exec "$NS0" tc -j filter show dev $d egress | jq '[.[] | select(.options.bpf_name // "" | test("tc-egress"))] | length')))
done
check_eq "default attach: no filter at ingress (tc filter show)" 0 "$n"
check_eq "default attach: the egress program on the 3 devices (tc filter show)" 3 "$e"
out=$("$FLOWCTL" meter attach -i "$NS0:*" --hooks egress 2>&1)
check_eq "--hooks egress again: unchanged" 3 "$(grep -c '(unchanged)$' <<<"$out")"
out=$("$FLOWCTL" meter status --netns "$NS0")
check_eq "status (the original's lines): eth1 egress digest" 1 \
	"$(grep -c "^$NS0:eth1:egress.digest = [0-9a-f]\{64\}\$" <<<"$out")"
check_eq "status (the original's lines): eth1 ingress <nil>" 1 \
	"$(grep -cx "$NS0:eth1:ingress = <nil>" <<<"$out")"
check_eq "status (the original's lines): limit and attached" 2 \
	"$(grep -c "^$NS0:eth1:egress\.\(limit = 65536\|attached = [0-9-]* [0-9:]* +0000 UTC\)\$" <<<"$out")"

# the agent warns once at start when both hooks are metered and a template
# has no flowDirection (the original's templates do not have it)
cat > "$T_TMP/nodir.yaml" <<EOF2
scanIntervalMilliseconds: 200
metricsAddress: 127.0.0.1:0
outputs:
- collector:
    remoteAddress: 127.0.0.1:9
templates:
- id: 1001
  template:
  - name: sourceIPv4Address
  - name: destinationIPv4Address
  - name: packetDeltaCount
EOF2
agent_warns() { # the number of double-count warnings of an agent run
	"$FLOWCTL" agent -c "$T_TMP/nodir.yaml" --no-attach --no-journal 2>"$T_TMP/ag.err" &
	local apid=$!
	wait_for 100 grep -q "agent started" "$T_TMP/ag.err"
	kill -TERM $apid; wait $apid
	grep -c "each forwarded flow twice" "$T_TMP/ag.err"
}
check_eq "agent: egress only, no double-count warning" 0 "$(agent_warns)"

# --hooks both: the ingress hook is added, egress is kept: changed
out=$("$FLOWCTL" meter attach -i "$NS0:*" --hooks both -o wide 2>&1); rc=$?
check_eq "--hooks both exit code" 0 "$rc"
check_eq "--hooks both: egress unchanged (kept)" 3 "$(grep -c ':egress (unchanged) kept$' <<<"$out")"
check_eq "--hooks both: ingress changed (added)" 3 "$(grep -c ':ingress (changed) added$' <<<"$out")"
# back to egress only on eth2: its ingress filter goes, changed
out=$("$FLOWCTL" meter attach -i "$NS0:eth2" 2>&1)
check_eq "hook change both -> egress: ingress line changed" 1 "$(grep -cx "$NS0:eth2:ingress (changed)" <<<"$out")"
check_eq "hook change both -> egress: no ingress filter left on eth2" 0 \
	"$(ip netns exec "$NS0" tc -j filter show dev eth2 ingress | jq 'length')"
check_eq "status shows the choice: eth2 ingress <nil>" 1 \
	"$("$FLOWCTL" meter status --netns "$NS0" | grep -cx "$NS0:eth2:ingress = <nil>")"
out=$("$FLOWCTL" meter attach -i "$NS0:*" --hooks both 2>&1); rc=$?
check_eq "attach both hooks exit code" 0 "$rc"
check_eq "both hooks: eth2's ingress changed, the rest unchanged" "1 5" \
	"$(grep -c '(changed)$' <<<"$out") $(grep -c '(unchanged)$' <<<"$out")"
n=$("$FLOWCTL" meter status -o json --netns "$NS0" | jq '[.[0].interfaces[] | .ingress.attached, .egress.attached | select(.)] | length')
check_eq "attach prints 6 hooks attached" 6 "$n"
check_eq "agent: both hooks and a template without flowDirection: warned once" 1 "$(agent_warns)"
grep -q "$NS0:tun0: skipped" <<<"$out" && pass "NS:* skips the tun device" || fail "tun skipped" "$out"
for m in flows_0 flows_1 flow_ctl flow_ifstats flow_counters flow_events; do
	[ -e "$PIN/$NS0/tc/globals/$m" ] || fail "pin $m" "missing $PIN/$NS0/tc/globals/$m"
done
pass "maps pinned under $PIN/$NS0/tc/globals"
mode=$(stat -c %a "$PIN")
check_eq "pin root mode" 700 "$mode"
# one program per hook section and namespace, loaded by tc once, pinned,
# attached to the other hooks with object-pinned
ids=$(for d in eth1 eth2 eth3; do for h in ingress egress; do
	ip netns exec "$NS0" tc -j filter show dev $d $h | jq -r '.[].options.prog.id // empty'
done; done | sort -u | wc -l)
check_eq "6 hooks, 2 programs loaded (one per section)" 2 "$ids"
check_eq "the loaded programs are pinned in the namespace's pin dir" 2 \
	"$(ls "$PIN/$NS0" | grep -c '^[0-9a-f]\{64\}_tc-\(egress\|ingress\)$')"

# the same maps are shared by every program of the namespace
maps=$(for d in eth1 eth2 eth3; do for h in ingress egress; do
	ip netns exec "$NS0" tc -j filter show dev $d $h | jq -r '.[].options.prog.id // empty'
done; done | while read -r id; do bpftool -j prog show id "$id" | jq -c '.map_ids|sort'; done | sort -u | wc -l)
check_eq "all six programs share one set of maps" 1 "$maps"

out=$("$FLOWCTL" meter attach -i "$NS0:*" --hooks both 2>&1); rc=$?
check_eq "re-attach exit code" 0 "$rc"
check_eq "re-attach prints unchanged" 6 "$(grep -c '(unchanged)$' <<<"$out")"

out=$("$FLOWCTL" meter attach -i "$NS0:eth1" --hooks both --force 2>&1)
check_eq "--force re-attaches" 2 "$(grep -c '(changed)$' <<<"$out")"

# --- traffic: every packet delivered, exact counts ------------------------
if ip netns exec "$NS1" ping -c 5 -i 0.2 -q 10.2.0.2 | grep -q ' 0% packet loss'; then
	pass "ping through the meter: 0% loss"
else
	fail "ping through the meter" "loss"
fi
if ip netns exec "$NS1" ping -6 -c 4 -i 0.2 -q fd00:3::2 | grep -q ' 0% packet loss'; then
	pass "ping -6 through the meter: 0% loss"
else
	fail "ping -6 through the meter" "loss"
fi
ip netns exec "$NS2" $UDP --recv 10.2.0.2 7000 10 > "$T_TMP/udp.count" &
rpid=$!
T_PIDS+=($rpid)
sleep 0.5
ip netns exec "$NS1" $UDP 10.2.0.2 7000 300 100 40000 1
wait $rpid
check_eq "300 UDP datagrams delivered" 300 "$(cat "$T_TMP/udp.count")"

# TCP: a 2 MB transfer with iperf3 (segments as counted on the wire)
ip netns exec "$NS3" iperf3 -s -1 -B 10.3.0.2 -p 5201 >/dev/null 2>&1 &
T_PIDS+=($!)
sleep 0.5
if ip netns exec "$NS1" iperf3 -c 10.3.0.2 -p 5201 -n 2M -J > "$T_TMP/iperf.json" 2>&1; then
	pass "TCP transfer through the meter"
else
	fail "TCP transfer through the meter" "$(tail -3 "$T_TMP/iperf.json")"
fi

P0=$PIN/$NS0
ifi() { ip -n "$NS0" -j link show "$1" | jq '.[0].ifindex'; }
I1=$(ifi eth1); I2=$(ifi eth2); I3=$(ifi eth3)
$FLOWS "$P0" > "$T_TMP/flows.json"

icmp_sel='.proto==1 and .src=="10.1.0.2" and .dst=="10.2.0.2"'
check_eq "ICMP echo: 5 packets at eth1 ingress" 5 \
	"$(flowsum "$P0" pkts "$icmp_sel and .dir==\"ingress\" and .iif==$I1")"
check_eq "ICMP echo: 5 packets at eth2 egress (iif eth1, oif eth2)" 5 \
	"$(flowsum "$P0" pkts "$icmp_sel and .dir==\"egress\" and .iif==$I1 and .oif==$I2")"
check_eq "ICMP echo: type 8 code 0 in dport" 2048 \
	"$($FLOWS "$P0" | jq -s "[.[] | select($icmp_sel)][0].dport")"
check_eq "ICMP echo: 84 bytes per packet (IP length)" 420 \
	"$(flowsum "$P0" bytes "$icmp_sel and .dir==\"ingress\"")"
check_eq "ICMP echo reply: 5 packets at eth2 ingress" 5 \
	"$(flowsum "$P0" pkts ".proto==1 and .src==\"10.2.0.2\" and .dst==\"10.1.0.2\" and .dir==\"ingress\" and .iif==$I2")"
check_eq "ICMPv6 echo: 4 packets at eth1 ingress" 4 \
	"$(flowsum "$P0" pkts ".proto==58 and .src==\"fd00:1::2\" and .dst==\"fd00:3::2\" and .dir==\"ingress\" and .dport==32768")"
check_eq "ICMPv6 echo reply: 4 packets at eth1 egress" 4 \
	"$(flowsum "$P0" pkts ".proto==58 and .src==\"fd00:3::2\" and .dst==\"fd00:1::2\" and .dir==\"egress\" and .oif==$I1 and .dport==33024")"
udp_sel='.proto==17 and .sport==40000 and .dport==7000'
check_eq "UDP: 300 packets at eth1 ingress" 300 \
	"$(flowsum "$P0" pkts "$udp_sel and .dir==\"ingress\"")"
check_eq "UDP: 300 packets at eth2 egress" 300 \
	"$(flowsum "$P0" pkts "$udp_sel and .dir==\"egress\" and .oif==$I2")"
check_eq "UDP: octets = 300 x (20 + 8 + 100)" 38400 \
	"$(flowsum "$P0" bytes "$udp_sel and .dir==\"ingress\"")"
check_eq "UDP: TTL seen at the router's ingress is 64" 64 \
	"$($FLOWS "$P0" | jq -s "[.[] | select($udp_sel and .dir==\"ingress\")][0].maxttl")"
check_eq "UDP: TTL at egress is 63 (decremented)" 63 \
	"$($FLOWS "$P0" | jq -s "[.[] | select($udp_sel and .dir==\"egress\")][0].minttl")"

# TCP: the receiver's byte count plus headers must match what the meter saw
tcp_sel='.proto==6 and .src=="10.1.0.2" and .dst=="10.3.0.2" and .dport==5201'
# flags and end of flow on a connection that surely ends with a FIN (iperf3's
# data connection may be torn down after the client has gone)
ip netns exec "$NS3" $PY "$TOP/test/integration/tcpflows.py" --serve 10.3.0.2 7100 1 10 >/dev/null &
T_PIDS+=($!)
sleep 0.3
ip netns exec "$NS1" $PY "$TOP/test/integration/tcpflows.py" 10.3.0.2 7100 1 100000
sleep 0.2
fin_sel='.proto==6 and .src=="10.1.0.2" and .dport==7100 and .dir=="ingress"'
flags=$($FLOWS "$P0" | jq -s "[.[] | select($fin_sel)][0].flags")
if [ $((flags & 0x13)) -eq $((0x13)) ]; then
	pass "TCP: SYN, ACK and FIN seen"
else
	fail "TCP flags" "flags=$flags"
fi
check_eq "TCP: end of flow flagged" 1 "$($FLOWS "$P0" | jq -s "[.[] | select($fin_sel)][0].end")"
tcp_in=$(flowsum "$P0" pkts "$tcp_sel and .dir==\"ingress\"")
tcp_out=$(flowsum "$P0" pkts "$tcp_sel and .dir==\"egress\"")
check_eq "TCP: same packet count at ingress and egress (GSO counted as segments)" "$tcp_in" "$tcp_out"

# --- status --------------------------------------------------------------
st=$("$FLOWCTL" meter status -o json --netns "$NS0")
check_eq "status: 6 hooks attached" 6 \
	"$(jq '[.[0].interfaces[] | .ingress.attached, .egress.attached | select(.)] | length' <<<"$st")"
check_eq "status: flow limit" 65536 "$(jq '.[0].flowLimit' <<<"$st")"
"$FLOWCTL" meter status -o wide | grep -q "^$NS0 .*eth2 .*egress .*attached" &&
	pass "status -o wide lists $NS0 eth2 egress" || fail "status -o wide" "no line"

# --- limits ----------------------------------------------------------------
out=$("$FLOWCTL" meter attach -i "$NS0:eth1" -l 1024 2>&1); rc=$?
check_eq "other flow limit without --force: exit 2" 2 "$rc"
grep -q -- "--force" <<<"$out" && pass "limit conflict names --force" ||
	fail "limit conflict message" "$out"
out=$("$FLOWCTL" meter attach -i "$NS0:eth1" -l 1024 --hooks both --force 2>&1); rc=$?
check_eq "--force with a new limit: exit 0" 0 "$rc"
lim=$(bpftool -j map show pinned "$P0/tc/globals/flows_0" | jq .max_entries)
check_eq "new limit pinned" 1024 "$lim"
# the other interfaces of the namespace were re-attached to the new maps
n=$("$FLOWCTL" meter status -o json --netns "$NS0" | jq '[.[0].interfaces[] | .ingress.attached, .egress.attached | select(.)] | length')
check_eq "every hook of the namespace still attached after the pin swap" 6 "$n"
if ip netns exec "$NS1" ping -c 2 -i 0.2 -q 10.2.0.2 | grep -q ' 0% packet loss'; then
	pass "traffic after the pin swap"
else
	fail "traffic after the pin swap" "loss"
fi
check_eq "the new maps count it" 2 \
	"$(flowsum "$P0" pkts "$icmp_sel and .dir==\"ingress\" and .iif==$I1")"

# --- errors: nothing half-attached ---------------------------------------
"$FLOWCTL" meter detach -i "$NS0:*" >/dev/null 2>&1
out=$("$FLOWCTL" meter attach -i "$NS0:eth1" -i "$NS0:nope0" 2>&1); rc=$?
check_eq "missing device: exit 2" 2 "$rc"
grep -q "$NS0:nope0" <<<"$out" && pass "missing device named" || fail "missing device message" "$out"
out=$("$FLOWCTL" meter attach -i "${T_PREFIX}none:eth0" 2>&1); rc=$?
check_eq "missing namespace: exit 2" 2 "$rc"
grep -q "does not exist" <<<"$out" && pass "missing namespace named" || fail "missing namespace message" "$out"
[ -e "$P0" ] && fail "no pins after refused requests" "$P0 exists" || pass "no pins after refused requests"

# a foreign filter at our pref/handle on eth3: refused before anything
# changes in that namespace; $NS1:eth0, attached before, is rolled back
cat > "$T_TMP/foreign.c" <<'EOF2'
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
SEC("classifier") int foreign(struct __sk_buff *skb) { return TC_ACT_UNSPEC; }
char _license[] SEC("license") = "GPL";
EOF2
clang -target bpf -O2 -I/usr/include/$(gcc -print-multiarch) -c "$T_TMP/foreign.c" -o "$T_TMP/foreign.o"
ip netns exec "$NS0" tc qdisc add dev eth3 clsact
ip netns exec "$NS0" tc filter add dev eth3 egress pref 100 handle 1 bpf da obj "$T_TMP/foreign.o" sec classifier
out=$("$FLOWCTL" meter attach -i "$NS1:eth0" -i "$NS0:*" 2>&1); rc=$?
check_eq "foreign filter: exit 2" 2 "$rc"
grep -q "not flowctl's" <<<"$out" && pass "foreign filter named" || fail "foreign filter message" "$out"
grep -q "rolled back" <<<"$out" && pass "rollback reported" || fail "rollback message" "$out"
left=0
for d in eth1 eth2; do for h in ingress egress; do
	left=$((left + $(ip netns exec "$NS0" tc -j filter show dev $d $h 2>/dev/null | jq 'length')))
done; done
check_eq "rollback left no filter on eth1/eth2" 0 "$left"
check_eq "rollback: $NS1:eth0 attached before was taken off" 0 \
	"$(ip netns exec "$NS1" tc -j filter show dev eth0 egress 2>/dev/null | jq 'length')"
[ -e "$PIN/$NS1" ] && fail "rollback removed $NS1's new pins" "$PIN/$NS1 exists" || pass "rollback removed $NS1's new pins"
[ -e "$P0" ] && fail "rollback removed the new pins" "$P0 exists" || pass "rollback removed the new pins"
check_eq "the foreign filter is untouched" 1 \
	"$(ip netns exec "$NS0" tc -j filter show dev eth3 egress | jq '[.[] | select(.options.bpf_name=="foreign.o:[classifier]")] | length')"
ip netns exec "$NS0" tc qdisc del dev eth3 clsact

# a template clang refuses: clang's own message and the command, nothing done
printf 'this is not C;\n' > "$T_TMP/broken.c"
out=$(FLOWCTL_EBPF_TEMPLATE="$T_TMP/broken.c" "$FLOWCTL" meter attach -i "$NS0:eth1" 2>&1); rc=$?
check_eq "clang failure: exit 1" 1 "$rc"
grep -q "error:" <<<"$out" && grep -q "command: clang" <<<"$out" &&
	pass "clang failure: its message and the command are shown" || fail "clang failure message" "$out"
n=$(ip netns exec "$NS0" tc -j filter show dev eth1 ingress 2>/dev/null | jq 'length')
check_eq "clang failure: nothing attached" 0 "${n:-0}"

# FLOWCTL_EBPF_TEMPLATE naming no template: usage error at once (no
# endless read of /dev/zero, no empty render of a directory), nothing done
for bad in /dev/zero "$T_TMP"; do
	out=$(timeout 20 env FLOWCTL_EBPF_TEMPLATE="$bad" "$FLOWCTL" meter attach -i "$NS0:eth1" 2>&1); rc=$?
	check_eq "template $bad: exit 2" 2 "$rc"
	grep -q "not a regular file" <<<"$out" && pass "template $bad: reason given" ||
		fail "template $bad message" "$out"
done
n=$(ip netns exec "$NS0" tc -j filter show dev eth1 ingress 2>/dev/null | jq 'length')
check_eq "bad template: nothing attached" 0 "${n:-0}"

# a program the verifier rejects (ingress only): the egress hook attached
# just before is rolled back, the error names the hook and shows the log
cat > "$T_TMP/reject.c" <<'EOF2'
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
SEC("tc-egress") int fine(struct __sk_buff *skb)
{
	(void)skb;
	return TC_ACT_UNSPEC;
}
/* reads the packet without a bounds check: the verifier says no */
SEC("tc-ingress") int unchecked(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;

	return data[20];
}
char _license[] SEC("license") = "GPL";
EOF2
out=$(FLOWCTL_EBPF_TEMPLATE="$T_TMP/reject.c" "$FLOWCTL" meter attach -i "$NS0:eth1" --hooks both 2>&1); rc=$?
check_eq "verifier rejection: exit 1" 1 "$rc"
grep -q "$NS0:eth1:ingress" <<<"$out" && pass "verifier rejection names the hook" ||
	fail "verifier rejection hook" "$out"
grep -qi "invalid access to packet\|R[0-9] .*invalid\|verifier" <<<"$out" &&
	pass "verifier rejection shows the verifier log" || fail "verifier log" "$out"
grep -q "rolled back" <<<"$out" && pass "verifier rejection: rollback reported" ||
	fail "verifier rollback message" "$out"
left=$(( $(ip netns exec "$NS0" tc -j filter show dev eth1 ingress 2>/dev/null | jq 'length') +
	 $(ip netns exec "$NS0" tc -j filter show dev eth1 egress 2>/dev/null | jq 'length') ))
check_eq "verifier rejection: no filter left" 0 "$left"
[ -e "$P0" ] && fail "verifier rejection: pins removed" "$P0 exists" ||
	pass "verifier rejection: pins removed"

# --- dry run -----------------------------------------------------------------
out=$("$FLOWCTL" meter attach -i "$NS0:eth2" --dry 2>&1); rc=$?
check_eq "--dry exit 0" 0 "$rc"
grep -q "TC_BPF_MNT=$RUN_DIR/bpffs/flowctl/$NS0 ip netns exec $NS0 tc filter add dev eth2 egress pref 100 chain 0 handle 0x1 bpf da obj" <<<"$out" &&
	pass "--dry prints the tc command" || fail "--dry output" "$out"
n=$(ip netns exec "$NS0" tc -j filter show dev eth2 egress 2>/dev/null | jq 'length')
check_eq "--dry attached nothing" 0 "${n:-0}"

# --- concurrent invocations are serialised --------------------------------
"$FLOWCTL" meter attach -i "$NS0:eth1" > "$T_TMP/c1" 2>&1 &
c1=$!
"$FLOWCTL" meter attach -i "$NS0:eth1" > "$T_TMP/c2" 2>&1 &
c2=$!
wait $c1; r1=$?; wait $c2; r2=$?
check_eq "two concurrent attaches both succeed" "0 0" "$r1 $r2"
check_eq "one attached, the other found it unchanged" "1 1" \
	"$(cat "$T_TMP/c1" "$T_TMP/c2" | grep -c '(changed)$') $(cat "$T_TMP/c1" "$T_TMP/c2" | grep -c '(unchanged)$')"

# --- knobs: per-packet interface totals in the kernel -------------------------
out=$("$FLOWCTL" meter attach -i "$NS0:eth1" --hooks both --ifstats 2>&1)
check_eq "--ifstats: another digest replaces both hooks" 2 "$(grep -c '(changed)$' <<<"$out")"
ip netns exec "$NS1" ping -c 3 -i 0.1 -q 10.2.0.2 >/dev/null
I1=$(ip -n "$NS0" -j link show eth1 | jq '.[0].ifindex')
n=$(bpftool -j map dump pinned "$P0/tc/globals/flow_ifstats" |
	jq "[.[] | (.formatted // .) | select(.key.ingress_ifindex == $I1 and .key.direction == 0) | .value.packets] | add // 0")
[ "$n" -ge 3 ] && pass "--ifstats: the kernel counts interface totals ($n)" || fail "--ifstats totals" "$n"
out=$("$FLOWCTL" meter attach -i "$NS0:eth1" --hooks both 2>&1)
check_eq "back to the default knobs: changed" 2 "$(grep -c '(changed)$' <<<"$out")"

# --- detach ------------------------------------------------------------------
"$FLOWCTL" meter attach -i "$NS0:*" --hooks both >/dev/null 2>&1
out=$("$FLOWCTL" meter detach -i "$NS0:*" -o wide 2>&1); rc=$?
check_eq "detach exit code" 0 "$rc"
check_eq "detach prints the original's NS:DEV (changed), both hooks detached" 3 \
	"$(grep -c "^$NS0:eth[123] (changed) egress=detached ingress=detached\$" <<<"$out")"
left=0
for d in eth1 eth2 eth3; do for h in ingress egress; do
	left=$((left + $(ip netns exec "$NS0" tc -j filter show dev $d $h 2>/dev/null | jq 'length')))
done; done
check_eq "detach left no filter" 0 "$left"
[ -e "$P0" ] && fail "detach removed the pins" "$P0 exists" || pass "detach removed the pins"
q=$(ip netns exec "$NS0" tc -j qdisc show dev eth1 | jq '[.[] | select(.kind=="clsact")] | length')
check_eq "detach removed the empty clsact" 0 "$q"

# --- shell patterns in both parts, matched exactly -----------------------
out=$("$FLOWCTL" meter attach -i "${T_PREFIX}[12]:e*0" 2>&1); rc=$?
check_eq "pattern attach exit code" 0 "$rc"
check_eq "pattern ${T_PREFIX}[12]:e*0 selects exactly $NS1:eth0 and $NS2:eth0" \
	"$NS1:eth0:egress (changed) $NS2:eth0:egress (changed)" "$(grep ':egress' <<<"$out" | sort | tr '\n' ' ' | sed 's/ $//')"
[ -e "$PIN/$NS3" ] || [ -e "$PIN/$NS0" ] && fail "pattern: other namespaces untouched" "pins of $NS0/$NS3" ||
	pass "pattern: other namespaces untouched"
out=$("$FLOWCTL" meter attach -i "${T_PREFIX}?:th*" 2>&1); rc=$?
check_eq "no partial match of a device pattern (th* vs eth0): exit 2" 2 "$rc"
grep -q "no device matches 'th\*'" <<<"$out" && pass "device pattern without match named" ||
	fail "device pattern message" "$out"
out=$("$FLOWCTL" meter attach -i "${T_PREFIX:1}*:eth0" 2>&1); rc=$?
check_eq "no partial match of a namespace pattern: exit 2" 2 "$rc"
grep -q "no network namespace matches" <<<"$out" && pass "namespace pattern without match named" ||
	fail "namespace pattern message" "$out"
out=$("$FLOWCTL" meter attach -i "${T_PREFIX}1:eth" 2>&1); rc=$?
check_eq "a name is not a prefix: ${T_PREFIX}1:eth exit 2" 2 "$rc"
out=$("$FLOWCTL" meter detach -i "${T_PREFIX}[0-3]:*" 2>&1); rc=$?
check_eq "pattern detach exit code" 0 "$rc"
check_eq "pattern detach: the two metered devices changed" 2 "$(grep -c '(changed)$' <<<"$out")"
[ -e "$PIN/$NS1" ] || [ -e "$PIN/$NS2" ] && fail "pattern detach removed the pins" "still there" ||
	pass "pattern detach removed the pins"

# --- the older form and the root namespace -----------------------------
out=$("$FLOWCTL" meter attach --netns "$NS0" -n eth1 2>&1)
check_eq "older form --netns NS -n DEV" 1 "$(grep -c "^$NS0:eth1:egress (changed)$" <<<"$out")"
"$FLOWCTL" meter detach --netns "$NS0" -n eth1 >/dev/null 2>&1

if [ -e "$PIN/DEFAULT" ]; then
	skip "root namespace form" "$PIN/DEFAULT is in use on this machine"
else
	RA=${T_PREFIX}a
	ip link add "$RA" type veth peer name eth9 netns "$NS3"
	on_cleanup "ip link del $RA"
	ip addr add 198.51.100.1/30 dev "$RA"
	ip link set "$RA" up
	ip -n "$NS3" addr add 198.51.100.2/30 dev eth9
	ip -n "$NS3" link set eth9 up
	if ! ip route get 198.51.100.2 | grep -q "dev $RA"; then
		fail "root form" "198.51.100.2 is not routed to $RA on this host"
	fi
	on_cleanup "$FLOWCTL meter detach -i $RA"
	out=$("$FLOWCTL" meter attach -i "$RA" 2>&1); rc=$?
	check_eq "root form: attach exit 0" 0 "$rc"
	check_eq "root form: prints DEFAULT:DEV:egress" 1 "$(grep -c "^DEFAULT:$RA:egress (changed)$" <<<"$out")"
	ping -c 3 -i 0.2 -q 198.51.100.2 >/dev/null
	check_eq "root form: 3 echo requests at egress" 3 \
		"$(flowsum "$PIN/DEFAULT" pkts '.proto==1 and .dst=="198.51.100.2" and .dir=="egress"')"
	"$FLOWCTL" meter detach -i "$RA" >/dev/null 2>&1
	[ -e "$PIN/DEFAULT" ] && fail "root form: pins removed" "still there" ||
		pass "root form: pins removed"
fi

finish
