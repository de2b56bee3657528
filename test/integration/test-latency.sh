#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Forwarding latency (meter attach --latency) and the metrics' names: UDP
# forwarded through the testbed's router with the agent running; the
# original's total_latency_nanoseconds, flowctl's latency histogram and the
# flow log's per-flow mean are non-zero and agree; packets the router sends
# itself are not measured; `promtool check metrics` on the live /metrics
# reports nothing but the original families' camelCase label names.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd tc ip clang jq curl promtool

UDP="$PY $TOP/test/integration/udpsend.py"
export FLOWCTL_PIN_ROOT=/sys/fs/bpf/flowctl

testbed_up || { fail testbed "cannot create the netns testbed"; finish; exit 1; }
if ! "$FLOWCTL" meter attach --hooks both --latency -i "$NS0:*" > "$T_TMP/attach.out"; then
	fail attach "meter attach --latency failed"; finish; exit 1
fi
on_cleanup "$FLOWCTL meter detach -i '$NS0:*'"
ifi() { ip -n "$NS0" -j link show "$1" | jq '.[0].ifindex'; }
I1=$(ifi eth1); I2=$(ifi eth2)

PM=$(free_port)
cat > "$T_TMP/agent.yaml" <<EOF
scanIntervalMilliseconds: 200
idleTimeoutSeconds: 1
activeTimeoutSeconds: 30
metricsAddress: 127.0.0.1:$PM
outputs:
- log:
    file: $T_TMP/flows.log
EOF
"$FLOWCTL" agent -c "$T_TMP/agent.yaml" 2>"$T_TMP/agent.err" &
T_PIDS+=($!)
if ! wait_for 50 grep -q "agent started" "$T_TMP/agent.err"; then
	fail "agent started" "$(tail -5 "$T_TMP/agent.err")"; finish; exit 1
fi

# forwarded: NS1 -> NS2 (eth1 -> eth2), 500 datagrams of one flow
ip netns exec "$NS2" $UDP --recv 10.2.0.2 7200 20 > "$T_TMP/u.count" &
R=$!; T_PIDS+=($R)
sleep 0.3
ip netns exec "$NS1" $UDP 10.2.0.2 7200 500 100 42000 1
wait $R
check_eq "500 datagrams forwarded" 500 "$(cat "$T_TMP/u.count")"
# sent by the router itself: egress only, no stamp of its own
ip netns exec "$NS0" ping -c 5 -i 0.05 -q 10.1.0.2 >/dev/null

sample() { # NAME LABELS: the value of one sample, or empty
	grep -F "$1{$2} " "$T_TMP/metrics.txt" | awk '{print $2}'
}
L="ingress_ifindex=\"$I1\",egress_ifindex=\"$I2\",netns=\"$NS0\""
scrape() {
	curl -s "http://127.0.0.1:$PM/metrics" > "$T_TMP/metrics.txt" &&
	[ -n "$(sample flowctl_forwarding_latency_seconds_count "$L")" ]
}
wait_for 50 scrape || fail "latency series" "none for $I1 -> $I2 after 5 s"
# and until the flow has been logged (idle timeout 1 s)
wait_for 50 grep -q '"dport":7200' "$T_TMP/flows.log"
scrape

total=$(sample linux_flow_exporter_total_latency_nanoseconds "ingressIfindex=\"$I1\",egressIfindex=\"$I2\"")
count=$(sample flowctl_forwarding_latency_seconds_count "$L")
sum=$(sample flowctl_forwarding_latency_seconds_sum "$L")
inf=$(sample flowctl_forwarding_latency_seconds_bucket "$L,le=\"+Inf\"")
fwd=$(sample flowctl_packets_total "$L")
echo "# $I1 -> $I2: ${count:-?} packets measured of ${fwd:-?} metered, total ${total:-?} ns, sum ${sum:-?} s"
if $PY -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)' "${total:-0}"; then
	pass "total_latency_nanoseconds > 0 ($total)"
else
	fail "total_latency_nanoseconds" "${total:-none}"
fi
# every forwarded packet is measured once, except those the router held
# back (the first one waits for ARP: its stamp is gone when it leaves)
if [ "${count:-0}" -ge 495 ] && [ "${count:-0}" -le "${fwd:-0}" ]; then
	pass "histogram count: 495 <= $count <= packets metered ($fwd)"
else
	fail "histogram count" "count ${count:-none}, packets metered ${fwd:-none}"
fi
check_eq "histogram +Inf bucket = count" "$count" "$inf"
if $PY - "${total:-0}" "${sum:-0}" "${count:-0}" <<'EOF'
import sys
total, s, n = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
sys.exit(0 if n and abs(total - s * 1e9) <= 1e-6 * total + 1 and total / n < 1e7 else 1)
EOF
then
	pass "histogram sum = total_latency_nanoseconds, mean below 10 ms"
else
	fail "histogram sum" "total $total ns, sum $sum s, count $count"
fi
if grep -q '^flowctl_forwarding_latency_seconds_count{ingress_ifindex="0"' "$T_TMP/metrics.txt"; then
	fail "locally generated packets" "measured (ingress_ifindex 0)"
else
	pass "locally generated packets are not measured"
fi

# the flow log: the forwarded flow's egress record has a mean
rec=$(jq -c 'select(.dport == 7200 and .direction == "egress")' "$T_TMP/flows.log" | head -1)
mean=$(jq -r '.latencyMeanNs // 0' <<<"${rec:-{\}}")
np=$(jq -r '.latencyPackets // 0' <<<"${rec:-{\}}")
if [ "${mean:-0}" -gt 0 ] && [ "${np:-0}" -ge 495 ] && [ "$np" = "$count" ]; then
	pass "flow log: latencyMeanNs $mean over $np packets"
else
	fail "flow log latency" "${rec:-no record}"
fi
ing=$(jq -c 'select(.dport == 7200 and .direction == "ingress") | has("latencyMeanNs")' "$T_TMP/flows.log" | head -1)
check_eq "flow log: no latency on the ingress record" false "$ing"

# promtool: only the original families' findings: their camelCase label
# names, and the unit in the original's latency name (both kept for old
# dashboards); nothing about flowctl's own families
promtool check metrics < "$T_TMP/metrics.txt" > "$T_TMP/promtool.out" 2>&1
echo "# promtool: $(sort -u "$T_TMP/promtool.out" | wc -l) distinct finding(s)"
bad=$(sort -u "$T_TMP/promtool.out" | grep -v -E \
	-e "^linux_flow_exporter_(total_pkts|total_bytes|overflow_pkts|overflow_bytes|total_latency_nanoseconds) label names should be written in 'snake_case' not 'camelCase'\$" \
	-e '^linux_flow_exporter_total_latency_nanoseconds use base unit "seconds" instead of "nanoseconds"$')
if [ -z "$bad" ] &&
   grep -q "^linux_flow_exporter_total_latency_nanoseconds label names" "$T_TMP/promtool.out" &&
   grep -q "^flowctl_forwarding_latency_seconds_bucket{" "$T_TMP/metrics.txt"; then
	pass "promtool check metrics: only the original families' names and labels"
else
	fail "promtool check metrics" "$bad"
fi
# --latency with the egress hook alone (the default): the ingress hooks
# get the stamp-only program, the forwarded flow is counted once (egress)
# and still measured.
kill -TERM "${T_PIDS[0]}"; wait "${T_PIDS[0]}"
"$FLOWCTL" meter attach --latency -i "$NS0:*" > "$T_TMP/attach2.out" 2>&1 ||
	fail "attach --latency (egress)" "$(cat "$T_TMP/attach2.out")"
bn() { ip netns exec "$NS0" tc -j filter show dev eth1 "$1" | jq -r '[.[] | .options.bpf_name // empty][0]'; }
case "$(bn ingress)" in
*tc-ingress-stamp*) pass "egress + --latency: eth1 ingress runs the stamp-only program" ;;
*) fail "egress + --latency: ingress stamp" "ingress: $(bn ingress)" ;;
esac
case "$(bn egress)" in
*tc-egress*) pass "egress + --latency: eth1 egress runs the meter" ;;
*) fail "egress + --latency: egress meter" "egress: $(bn egress)" ;;
esac
out=$("$FLOWCTL" meter attach --latency -i "$NS0:*" -o wide 2>&1)
check_eq "egress + --latency again: every hook kept (egress and the stamp)" "0 yes" \
	"$(grep -c -E 'added|replaced|removed' <<<"$out") $(grep -q ':eth1:ingress (unchanged) kept' <<<"$out" && echo yes)"
sed -i "s|file: .*|file: $T_TMP/flows2.log|" "$T_TMP/agent.yaml"
"$FLOWCTL" agent -c "$T_TMP/agent.yaml" 2>"$T_TMP/agent2.err" &
A2=$!; T_PIDS+=($A2)
wait_for 50 grep -q "agent started" "$T_TMP/agent2.err" || fail "agent 2 started" "$(tail -3 "$T_TMP/agent2.err")"
ip netns exec "$NS2" $UDP --recv 10.2.0.2 7201 20 > "$T_TMP/u2.count" &
R=$!; T_PIDS+=($R)
sleep 0.3
ip netns exec "$NS1" $UDP 10.2.0.2 7201 300 100 42100 1
wait $R
check_eq "300 datagrams forwarded" 300 "$(cat "$T_TMP/u2.count")"
wait_for 50 grep -q '"dport":7201' "$T_TMP/flows2.log"
sleep 0.5
recs=$(jq -c 'select(.dport == 7201)' "$T_TMP/flows2.log")
check_eq "egress + --latency: one record, at egress" '["egress"]' "$(jq -s -c 'map(.direction)' <<<"$recs")"
np=$(jq -r '.latencyPackets // 0' <<<"$(head -1 <<<"$recs")")
mean=$(jq -r '.latencyMeanNs // 0' <<<"$(head -1 <<<"$recs")")
if [ "${np:-0}" -ge 295 ] && [ "${np:-0}" -le 300 ] && [ "${mean:-0}" -gt 0 ]; then
	pass "egress + --latency: $np of 300 packets measured, mean $mean ns"
else
	fail "egress + --latency: measured" "${recs:-no record}"
fi
out=$("$FLOWCTL" meter attach -i "$NS0:*" -o wide 2>&1)
check_eq "without --latency again: the stamp is removed from every ingress hook" \
	"$(grep -c ':ingress' <<<"$out") yes" "$(grep -c ':ingress.*removed' <<<"$out") $(grep -q ':eth1:ingress (changed) removed' <<<"$out" && echo yes)"
check_eq "eth1 ingress has no filter left" "" "$(bn ingress | sed 's/null//')"
finish
