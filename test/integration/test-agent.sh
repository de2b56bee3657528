#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# flowctl agent end to end: the netns testbed, the meter on the router, a
# known number of packets over hundreds of flows (IPv4, IPv6, UDP, TCP,
# ICMP) -> the agent -> a strict test collector over UDP and over TCP
# (sequence numbers checked) and nfcapd; exact per-flow and per-hook sums,
# one record per flow per timeout rule, the JSON log with a hook, a failing
# and a hanging hook, metrics, SIGHUP with a good and a bad config.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd tc ip clang nfcapd nfdump jq curl iperf3

UDP="$PY $TOP/test/integration/udpsend.py"
TCPF="$PY $TOP/test/integration/tcpflows.py"
export FLOWCTL_PIN_ROOT=/sys/fs/bpf/flowctl

testbed_up || { fail testbed "cannot create the netns testbed"; finish; exit 1; }
"$FLOWCTL" meter attach -i "$NS0:*" --hooks both >/dev/null || { fail attach "meter attach failed"; finish; exit 1; }
on_cleanup "$FLOWCTL meter detach -i '$NS0:*'"
ifi() { ip -n "$NS0" -j link show "$1" | jq '.[0].ifindex'; }
I1=$(ifi eth1); I2=$(ifi eth2); I3=$(ifi eth3)

PU=$(free_port); PT=$(free_port); PN=$(free_port); PM=$(free_port)
mkdir -p "$T_TMP/nf"
nfcapd -b 127.0.0.1 -p "$PN" -w "$T_TMP/nf" -t 3600 >"$T_TMP/nfcapd.log" 2>&1 &
NPID=$!
T_PIDS+=($NPID)
collector_up coll 300 --udp "$PU" --tcp "$PT"

cat > "$T_TMP/fail.sh" <<'EOF'
#!/bin/sh
cat >/dev/null
exit 3
EOF
chmod +x "$T_TMP/fail.sh"
write_config() { # FILE LOGFILE
	cat > "$1" <<EOF
scanIntervalMilliseconds: 200
idleTimeoutSeconds: 2
activeTimeoutSeconds: 4
timerFinishedDrainSeconds: 1
timerTemplateFlushSeconds: 2
hookTimeoutSeconds: 1
metricsAddress: 127.0.0.1:$PM
outputs:
- collector:
    remoteAddress: 127.0.0.1:$PU
- collector:
    remoteAddress: 127.0.0.1:$PT
    transport: tcp
    reconnectIntervalSeconds: 1
- collector:
    remoteAddress: 127.0.0.1:$PN
- log:
    file: $2
    hooks:
    - name: tag
      command: "jq -c 'map(. + {hooked: true})'"
    - name: tag-shell
      shell: |
        exec jq -c 'map(. + {shell: true})'
- log:
    file: $T_TMP/bad-hooks.log
    hooks:
    - name: fails
      command: $T_TMP/fail.sh
    - name: hangs
      shell: |
        sleep 30
EOF
}
write_config "$T_TMP/agent.yaml" "$T_TMP/flows.log"

"${T_AGENT_WRAP[@]}" "$FLOWCTL" agent -c "$T_TMP/agent.yaml" --log-level debug 2>"$T_TMP/agent.err" &
APID=$!
T_PIDS+=($APID)
if wait_for 50 grep -q "agent started" "$T_TMP/agent.err"; then
	pass "agent started"
else
	fail "agent started" "$(tail -5 "$T_TMP/agent.err")"
	finish; exit 1
fi
check "agent log lines are JSON" jq -e -s 'length > 0 and all(.level and .ts and .msg)' "$T_TMP/agent.err"

# --- traffic with known counts ---------------------------------------------
ip netns exec "$NS2" $UDP --recv 10.2.0.2 7000 20 > "$T_TMP/u4.count" &
R1=$!; T_PIDS+=($R1)
ip netns exec "$NS3" $UDP --recv fd00:3::2 7001 20 > "$T_TMP/u6.count" &
R2=$!; T_PIDS+=($R2)
ip netns exec "$NS3" $TCPF --serve 10.3.0.2 7100 20 20 > "$T_TMP/tcp.count" &
R3=$!; T_PIDS+=($R3)
sleep 0.5
# a long flow crossing the active timeout (4 s): 40 echo requests in 8 s
ip netns exec "$NS1" ping -c 40 -i 0.2 -q 10.3.0.2 > "$T_TMP/longping" &
LP=$!; T_PIDS+=($LP)
ip netns exec "$NS1" $UDP 10.2.0.2 7000 3000 64 40000 300
ip netns exec "$NS1" $UDP fd00:3::2 7001 2000 32 41000 200
ip netns exec "$NS1" $TCPF 10.3.0.2 7100 20 10000
ip netns exec "$NS3" ping -c 20 -i 0.05 -q 10.1.0.2 >/dev/null
ip netns exec "$NS2" ping -6 -c 20 -i 0.05 -q fd00:1::2 >/dev/null
wait $R1 $R2 $R3 $LP
check_eq "3000 UDP/IPv4 datagrams delivered" 3000 "$(cat "$T_TMP/u4.count")"
check_eq "2000 UDP/IPv6 datagrams delivered" 2000 "$(cat "$T_TMP/u6.count")"
check_eq "20 TCP connections x 10000 bytes delivered" 200000 "$(cat "$T_TMP/tcp.count")"
grep -q ' 0% packet loss' "$T_TMP/longping" && pass "long ping: no loss" || fail "long ping" "loss"

# idle timeout 2 s + scans, then metrics while running
sleep 3.5
curl -s "http://127.0.0.1:$PM/metrics" > "$T_TMP/metrics.txt"
check "metrics: every sample has HELP and TYPE" $PY - "$T_TMP/metrics.txt" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
helps = set(re.findall(r"^# HELP (\S+) ", text, re.M))
types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
ok = bool(types)
for line in text.splitlines():
    if not line or line.startswith("#"):
        continue
    m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$", line)
    if not m:
        print("bad line", line); ok = False; continue
    name = m.group(1)
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    if name not in types and base not in types:
        print("no TYPE for", name); ok = False
    if name not in helps and base not in helps:
        print("no HELP for", name); ok = False
    float(m.group(3))
sys.exit(0 if ok else 1)
EOF
v=$(grep "^flowctl_packets_total{ingress_ifindex=\"$I1\",egress_ifindex=\"0\",netns=\"$NS0\"}" "$T_TMP/metrics.txt" | awk '{print $2}')
[ "${v:-0}" -ge 5000 ] && pass "metrics: eth1 ingress total packets ($v)" || fail "metrics: eth1 ingress total" "${v:-none}"
v=$(grep '^flowctl_flows_exported_total{output="ipfix:127.0.0.1:'"$PU"'/udp"}' "$T_TMP/metrics.txt" | awk '{print $2}')
[ "${v:-0}" -gt 1000 ] && pass "metrics: records exported to the UDP collector ($v)" || fail "metrics: exported" "${v:-none}"
v=$(grep '^flowctl_hook_failures_total{hook="fails",reason="exit"}' "$T_TMP/metrics.txt" | awk '{print $2}')
[ "${v:-0}" -ge 1 ] && pass "metrics: failing hook counted ($v)" || fail "metrics: failing hook" "${v:-none}"

# --- SIGHUP: a bad config is refused, the agent goes on --------------------
cp "$T_TMP/agent.yaml" "$T_TMP/good.yaml"
printf 'outputs:\n- collector:\n    remoteAddress: 127.0.0.1:%s\n    transport: sctp\n' "$PU" > "$T_TMP/agent.yaml"
kill -HUP $APID
wait_for 30 grep -q "reload failed" "$T_TMP/agent.err" && pass "SIGHUP with a bad config: refused" ||
	fail "SIGHUP bad config" "$(tail -3 "$T_TMP/agent.err")"
grep -q "agent.yaml:4:" "$T_TMP/agent.err" && pass "SIGHUP: the error names file:line" ||
	fail "SIGHUP error position" "$(grep -i error "$T_TMP/agent.err" | tail -2)"
kill -0 $APID 2>/dev/null && pass "agent still running after a bad reload" || fail "agent alive" "gone"
# --- SIGHUP: a good config (the log moves to another file) ----------------
write_config "$T_TMP/agent.yaml" "$T_TMP/flows2.log"
kill -HUP $APID
wait_for 30 grep -q "reload: " "$T_TMP/agent.err" && pass "SIGHUP with a good config: reloaded" ||
	fail "SIGHUP good config" "$(tail -3 "$T_TMP/agent.err")"
ip netns exec "$NS1" ping -c 3 -i 0.1 -q 10.2.0.2 >/dev/null
sleep 3

kill -TERM $APID
wait $APID; rc=$?
check_eq "agent exits 0 on SIGTERM" 0 "$rc"
grep -q "agent stopped" "$T_TMP/agent.err" && pass "agent logs its stop" || fail "agent stop log" ""
kill -TERM $CPID; wait $CPID
kill -TERM $NPID; wait $NPID 2>/dev/null

# --- what the collectors saw -------------------------------------------------
S=$T_TMP/coll.json
check_eq "collector: no sequence error" 0 "$(jq .sequence_errors "$S")"
check_eq "collector: no malformed message" 0 "$(jq .malformed "$S")"
check_eq "collector: no data set without template" 0 "$(jq .unknown_template_sets "$S")"
check_eq "collector: no empty set" 0 "$(jq .empty_sets "$S")"
check_eq "collector: export time never went back" 0 "$(jq .export_time_backwards "$S")"
check "collector: options records received" jq -e '.options_records > 0' "$S"

R=$T_TMP/coll.jsonl
# per session: one UDP exporter socket, TCP connections
sessions() { jq -s -r '[.[]._session] | unique | .[]' "$R"; }
nsess=$(sessions | wc -l)
[ "$nsess" -ge 2 ] && pass "records over UDP and TCP ($nsess sessions)" || fail "sessions" "$nsess"

# sums per transport session and hook for a selection of records
# (only the records of our router's domain: other metered namespaces on
# this machine export through the same agent)
D=$(obs_domain "$NS0")
sum() { # SESSION-PREFIX JQ-SELECT FIELD
	jq -s "[.[] | select(._domain == $D and (._session|tostring|startswith(\"$1\")) and ($2)) | .$3] | add // 0" "$R"
}
count() {
	jq -s "[.[] | select(._domain == $D and (._session|tostring|startswith(\"$1\")) and ($2))] | length" "$R"
}
for tr in udp tcp; do
	u4="(.protocolIdentifier==17 and .destinationTransportPort==7000 and .sourceIPv4Address==\"10.1.0.2\")"
	check_eq "$tr: UDP/IPv4 ingress eth1 packets" 3000 "$(sum $tr "$u4 and .flowDirection==0 and .ingressInterface==$I1" packetDeltaCount)"
	check_eq "$tr: UDP/IPv4 egress eth2 packets" 3000 "$(sum $tr "$u4 and .flowDirection==1 and .egressInterface==$I2" packetDeltaCount)"
	check_eq "$tr: UDP/IPv4 octets = 3000 x 92" 276000 "$(sum $tr "$u4 and .flowDirection==0" octetDeltaCount)"
	check_eq "$tr: UDP/IPv4 300 flows per hook, one record each (idle)" "300 300" \
		"$(count $tr "$u4 and .flowDirection==0 and .flowEndReason==1") $(count $tr "$u4 and .flowDirection==1 and .flowEndReason==1")"
	per=$(jq -s "[.[] | select((._session|tostring|startswith(\"$tr\")) and $u4 and .flowDirection==0) | .packetDeltaCount] | unique" "$R" | jq -c .)
	check_eq "$tr: every UDP/IPv4 flow has exactly 10 packets" "[10]" "$per"
	u6="(.protocolIdentifier==17 and .destinationTransportPort==7001)"
	check_eq "$tr: UDP/IPv6 ingress packets" 2000 "$(sum $tr "$u6 and .flowDirection==0" packetDeltaCount)"
	check_eq "$tr: UDP/IPv6 egress packets" 2000 "$(sum $tr "$u6 and .flowDirection==1" packetDeltaCount)"
	check_eq "$tr: UDP/IPv6 octets = 2000 x 80" 160000 "$(sum $tr "$u6 and .flowDirection==1" octetDeltaCount)"
	check_eq "$tr: UDP/IPv6 200 flows per hook" 400 "$(count $tr "$u6")"
	ic="(.protocolIdentifier==1 and .icmpTypeCodeIPv4==2048 and .sourceIPv4Address==\"10.3.0.2\" and .destinationIPv4Address==\"10.1.0.2\")"
	check_eq "$tr: ICMP echo 20 per hook" "20 20" \
		"$(sum $tr "$ic and .flowDirection==0" packetDeltaCount) $(sum $tr "$ic and .flowDirection==1" packetDeltaCount)"
	check_eq "$tr: icmpTypeCodeIPv4 = 8*256" 2048 \
		"$(jq -s "[.[] | select($ic)][0].icmpTypeCodeIPv4" "$R")"
	i6="(.protocolIdentifier==58 and .icmpTypeCodeIPv6==32768 and .sourceIPv6Address==\"fd00:2::2\" and .destinationIPv6Address==\"fd00:1::2\")"
	check_eq "$tr: ICMPv6 echo 20 per hook" "20 20" \
		"$(sum $tr "$i6 and .flowDirection==0" packetDeltaCount) $(sum $tr "$i6 and .flowDirection==1" packetDeltaCount)"
	lp="(.protocolIdentifier==1 and .icmpTypeCodeIPv4==2048 and .sourceIPv4Address==\"10.1.0.2\" and .destinationIPv4Address==\"10.3.0.2\")"
	check_eq "$tr: long flow: 40 packets over its records" 40 "$(sum $tr "$lp and .flowDirection==0" packetDeltaCount)"
	na=$(count $tr "$lp and .flowDirection==0 and .flowEndReason==2")
	[ "$na" -ge 1 ] && pass "$tr: long flow: active-timeout records ($na)" || fail "$tr: active timeout" "$na"
	# the last active-timeout record may take the last packets: then no
	# idle record follows (a record never carries zero packets)
	check_eq "$tr: long flow: at most one idle record" 1 \
		"$(( $(count $tr "$lp and .flowDirection==0 and .flowEndReason==1") <= 1 ))"
	check_eq "$tr: no record with zero packets" 0 "$(count $tr "has(\"packetDeltaCount\") and .packetDeltaCount==0")"
	tc="(.protocolIdentifier==6 and .destinationTransportPort==7100)"
	ti=$(sum $tr "$tc and .flowDirection==0" packetDeltaCount)
	te=$(sum $tr "$tc and .flowDirection==1" packetDeltaCount)
	[ "$ti" -gt 0 ] && [ "$ti" = "$te" ] && pass "$tr: TCP: same packets at both hooks ($ti)" ||
		fail "$tr: TCP hooks" "$ti vs $te"
	check_eq "$tr: TCP: 20 flows per hook ended by FIN (reason 3)" 40 \
		"$(count $tr "$tc and .flowEndReason==3")"
done

# nfcapd saw the same
nf() { nfdump -R "$T_TMP/nf" -q -o 'fmt:%pkt' "$1" 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
check_eq "nfdump: UDP/IPv4 packets over both hooks" 6000 "$(nf 'proto udp and dst port 7000')"
check_eq "nfdump: UDP/IPv6 packets over both hooks" 4000 "$(nf 'proto udp and dst port 7001')"
check_eq "nfdump: ICMP echo from 10.3.0.2" 40 "$(nf 'proto icmp and icmp-type 8 and src ip 10.3.0.2 and dst ip 10.1.0.2')"

# --- the JSON log ----------------------------------------------------------
n1=$(wc -l < "$T_TMP/flows.log"); n2=$(wc -l < "$T_TMP/flows2.log" 2>/dev/null || echo 0)
nb=$(wc -l < "$T_TMP/bad-hooks.log")
nu=$(jq -s '[.[] | select((._session|tostring|startswith("udp")) and has("packetDeltaCount"))] | length' "$R")
check_eq "log: one line per record (both files) = records over UDP" "$nu" "$((n1 + n2))"
check_eq "log with failing hooks: no record lost" "$nu" "$nb"
check "log: both hooks ran on every line" jq -e -s 'all(.hooked == true and .shell == true)' "$T_TMP/flows.log"
check "log: original fields" jq -e -s 'all(.msg == "flowlog" and has("src") and has("dst") and has("pkts") and has("bytes") and has("start") and has("end") and has("finished") and has("ingressIfindex"))' "$T_TMP/flows.log"
check "log with failing hooks: lines unmodified" jq -e -s 'all(has("hooked") | not)' "$T_TMP/bad-hooks.log"
[ "$n2" -gt 0 ] && pass "log: after the reload lines go to the new file ($n2)" || fail "log after reload" "none"
grep -q '"hook.*hangs\|hangs.*timed out\|timeout' "$T_TMP/agent.err" && pass "hanging hook reported" ||
	fail "hanging hook reported" "$(grep -i hang "$T_TMP/agent.err" | head -2)"

finish
