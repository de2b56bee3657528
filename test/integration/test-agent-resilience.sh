#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# flowctl agent under trouble, all with exact totals: SIGTERM at a random
# moment and a restart in the middle of traffic lose nothing; collectors
# that go away (UDP and TCP) and come back: the agent keeps running and
# counts what it could not send; a full flow map (small -l) yields
# lack-of-resources records whose totals close the gap.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd tc ip clang jq curl

COLL="$PY $TOP/test/integration/ipfix_collector.py"
UDP="$PY $TOP/test/integration/udpsend.py"

testbed_up || { fail testbed "cannot create the netns testbed"; finish; exit 1; }
"$FLOWCTL" meter attach -i "$NS0:*" >/dev/null || { fail attach "meter attach failed"; finish; exit 1; }
on_cleanup "$FLOWCTL meter detach -i '$NS0:*'"
ifi() { ip -n "$NS0" -j link show "$1" | jq '.[0].ifindex'; }
I1=$(ifi eth1); I2=$(ifi eth2)
D=$(obs_domain "$NS0")

start_collector() { # NAME UDPPORT TCPPORT [OPTION]
	rm -f "$T_TMP/$1.ready"
	$COLL ${4:-} --udp "$2" --tcp "$3" --bind 127.0.0.1 --out "$T_TMP/$1.json" \
		--records "$T_TMP/$1.jsonl" --ready-file "$T_TMP/$1.ready" \
		--duration 300 2>>"$T_TMP/$1.err" &
	COLL_PID=$!
	T_PIDS+=($COLL_PID)
	wait_for 50 test -e "$T_TMP/$1.ready" || fail "collector $1" "not ready"
}

PU=$(free_port); PT=$(free_port); PM=$(free_port)
cat > "$T_TMP/agent.yaml" <<EOF
scanIntervalMilliseconds: 200
idleTimeoutSeconds: 1
activeTimeoutSeconds: 30
timerTemplateFlushSeconds: 1
metricsAddress: 127.0.0.1:$PM
outputs:
- collector:
    remoteAddress: 127.0.0.1:$PU
- collector:
    remoteAddress: 127.0.0.1:$PT
    transport: tcp
    reconnectIntervalSeconds: 1
EOF

AGENT_N=0
start_agent() {
	AGENT_N=$((AGENT_N + 1))
	"$FLOWCTL" agent -c "$T_TMP/agent.yaml" --log-level debug \
		2>"$T_TMP/agent$AGENT_N.err" &
	APID=$!
	T_PIDS+=($APID)
	wait_for 50 grep -q "agent started" "$T_TMP/agent$AGENT_N.err" ||
		fail "agent $AGENT_N started" "$(tail -3 "$T_TMP/agent$AGENT_N.err")"
}
stop_agent() {
	kill -TERM "$APID"
	wait "$APID"
}

# sum of packetDeltaCount over the records of a collector run
# (only our router's domain: other metered namespaces go through the agent)
psum() { # RUN TRANSPORT JQ-SELECT
	jq -s "[.[] | select(._domain == $D and (._session|tostring|startswith(\"$2\")) and ($3)) | .packetDeltaCount // 0] | add // 0" "$T_TMP/$1.jsonl"
}

# --- 1. SIGTERM at a random moment, restart mid-traffic ---------------------
start_collector c1 "$PU" "$PT"
C1=$COLL_PID
start_agent
ip netns exec "$NS2" $UDP --recv 10.2.0.2 7200 30 > "$T_TMP/r1.count" &
RP=$!; T_PIDS+=($RP)
sleep 0.3
ip netns exec "$NS1" $UDP 10.2.0.2 7200 20000 50 42000 500 &
SP=$!; T_PIDS+=($SP)
# a random moment inside the send (it takes about 2-4 s)
sleep "0.$((RANDOM % 9 + 1))"
stop_agent; rc=$?
check_eq "SIGTERM mid-traffic: exit 0" 0 "$rc"
start_agent                  # restart while the sender still runs
sleep "0.$((RANDOM % 9 + 1))"
stop_agent
start_agent
wait $SP $RP
check_eq "20000 datagrams delivered" 20000 "$(cat "$T_TMP/r1.count")"
sleep 2                      # idle timeout + scans
stop_agent
kill -TERM $C1; wait $C1
sel="(.protocolIdentifier==17 and .destinationTransportPort==7200)"
for tr in udp tcp; do
	check_eq "$tr: 3 agent runs, ingress: every packet exported once" 20000 \
		"$(psum c1 $tr "$sel and .flowDirection==0")"
	check_eq "$tr: 3 agent runs, egress: every packet exported once" 20000 \
		"$(psum c1 $tr "$sel and .flowDirection==1")"
done
check_eq "collector: no sequence error over 3 agent runs" 0 "$(jq .sequence_errors "$T_TMP/c1.json")"
check "forced-end records at the SIGTERMs" jq -e -s \
	"[.[] | select($sel and .flowEndReason==4)] | length > 0" "$T_TMP/c1.jsonl"

# --- 2. the collectors go away and come back ----------------------------------
start_collector c2 "$PU" "$PT"
C2=$COLL_PID
start_agent
ip netns exec "$NS1" $UDP 10.2.0.2 7300 1000 50 43000 100
sleep 1.5
kill -TERM $C2; wait $C2               # both collectors down
ip netns exec "$NS1" $UDP 10.2.0.2 7301 1000 50 43500 100
sleep 2.5                              # flows expire while nobody listens
kill -0 "$APID" 2>/dev/null && pass "agent keeps running with its collectors down" ||
	fail "agent alive" "it exited"
curl -s "http://127.0.0.1:$PM/metrics" > "$T_TMP/m2.txt"
ne=$(grep "^flowctl_ipfix_send_errors_total{collector=\"127.0.0.1:$PU/udp\"}" "$T_TMP/m2.txt" | awk '{print $2}')
[ "${ne:-0}" -ge 1 ] && pass "UDP send errors counted ($ne)" || fail "UDP send errors" "${ne:-none}"
nt=$(grep "^flowctl_ipfix_records_not_sent_total{collector=\"127.0.0.1:$PT/tcp\"}" "$T_TMP/m2.txt" | awk '{print $2}')
[ "${nt:-0}" -ge 200 ] && pass "TCP records not sent counted ($nt >= 200 flows)" || fail "TCP not sent" "${nt:-none}"
# a collector that restarts joins the running UDP session mid-way: it takes
# the first sequence number it sees as its start (TCP sessions are new)
start_collector c3 "$PU" "$PT" --accept-first-seq
C3=$COLL_PID
sleep 2.5                              # TCP reconnects within 1 s back-off
ip netns exec "$NS1" $UDP 10.2.0.2 7302 1000 50 44000 100
sleep 2
stop_agent
kill -TERM $C3; wait $C3
check_eq "before the outage: UDP collector got 1000 per hook" "1000 1000" \
	"$(psum c2 udp '.destinationTransportPort==7300 and .flowDirection==0') $(psum c2 udp '.destinationTransportPort==7300 and .flowDirection==1')"
check_eq "before the outage: TCP collector got 1000 per hook" "1000 1000" \
	"$(psum c2 tcp '.destinationTransportPort==7300 and .flowDirection==0') $(psum c2 tcp '.destinationTransportPort==7300 and .flowDirection==1')"
check_eq "after the outage: UDP collector gets every packet again" "1000 1000" \
	"$(psum c3 udp '.destinationTransportPort==7302 and .flowDirection==0') $(psum c3 udp '.destinationTransportPort==7302 and .flowDirection==1')"
check_eq "after the outage: TCP reconnected, every packet again" "1000 1000" \
	"$(psum c3 tcp '.destinationTransportPort==7302 and .flowDirection==0') $(psum c3 tcp '.destinationTransportPort==7302 and .flowDirection==1')"
check_eq "after the outage: no sequence error" 0 "$(jq .sequence_errors "$T_TMP/c3.json")"
check "after the outage: the TCP session sent templates again" jq -e \
	'.template_records > 0' "$T_TMP/c3.json"

# --- 3. a full map: lack-of-resources records close the gap ---------------
"$FLOWCTL" meter attach -i "$NS0:*" -l 64 --force >/dev/null 2>&1 ||
	fail "attach -l 64" "refused"
start_collector c4 "$PU" "$PT"
C4=$COLL_PID
start_agent
ip netns exec "$NS2" $UDP --recv 10.2.0.2 7400 20 > "$T_TMP/r4.count" &
RP=$!; T_PIDS+=($RP)
sleep 0.3
# 400 flows into a 64-entry map, faster than a scan: most cannot get a slot
ip netns exec "$NS1" $UDP 10.2.0.2 7400 4000 40 45000 400
wait $RP
check_eq "4000 datagrams delivered with a full map" 4000 "$(cat "$T_TMP/r4.count")"
sleep 2
stop_agent
kill -TERM $C4; wait $C4
for tr in udp tcp; do
	fl=$(psum c4 $tr ".destinationTransportPort==7400 and .flowDirection==0 and .ingressInterface==$I1")
	ov=$(psum c4 $tr ".flowEndReason==5 and .flowDirection==0 and .ingressInterface==$I1")
	[ "$ov" -gt 0 ] && pass "$tr: lack-of-resources records ($ov packets)" || fail "$tr: reason 5" "none"
	check_eq "$tr: flows + lack-of-resources = 4000 at eth1 ingress" 4000 "$((fl + ov))"
	fl=$(psum c4 $tr ".destinationTransportPort==7400 and .flowDirection==1 and .egressInterface==$I2")
	ov=$(psum c4 $tr ".flowEndReason==5 and .flowDirection==1 and .egressInterface==$I2")
	check_eq "$tr: flows + lack-of-resources = 4000 at eth2 egress" 4000 "$((fl + ov))"
done
check "map-full events woke the agent" grep -q "map-full" "$T_TMP/agent$AGENT_N.err"

# --- 4. namespaces metered and detached while the agent runs -------------
start_collector c5 "$PU" "$PT"
C5=$COLL_PID
start_agent
"$FLOWCTL" meter attach -i "$NS1:eth0" >/dev/null 2>&1 || fail "attach $NS1" "refused"
on_cleanup "$FLOWCTL meter detach -i '$NS1:eth0'"
ip netns exec "$NS1" ping -c 5 -i 0.1 -q 10.2.0.2 >/dev/null
sleep 2
# the last packets, then the namespace goes away at once: the agent still
# holds its maps and drains them one last time
ip netns exec "$NS1" ping -c 3 -i 0.1 -q 10.2.0.2 >/dev/null
"$FLOWCTL" meter detach -i "$NS1:eth0" >/dev/null 2>&1
sleep 1.5
kill -0 "$APID" 2>/dev/null && pass "agent runs on after a namespace was detached" ||
	fail "agent alive after detach" "gone"
stop_agent
kill -TERM $C5; wait $C5
D1=$(obs_domain "$NS1")
n1=$(jq -s "[.[] | select(._domain == $D1 and (._session|tostring|startswith(\"udp\")) and .protocolIdentifier==1 and .icmpTypeCodeIPv4==2048 and .flowDirection==1) | .packetDeltaCount] | add // 0" "$T_TMP/c5.jsonl")
check_eq "a namespace metered after the agent started: all 8 echo requests exported" 8 "$n1"
grep -q "$NS1" "$T_TMP/agent$AGENT_N.err" && pass "the agent logged the namespace" ||
	fail "namespace log" "$(grep -i namespace "$T_TMP/agent$AGENT_N.err" | head -3)"

finish
