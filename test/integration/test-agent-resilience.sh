#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# flowctl agent under trouble, all with exact totals: SIGTERM at a random
# moment and a restart in the middle of traffic lose nothing; collectors
# that go away (UDP and TCP) and come back: the agent keeps running and
# counts what it could not send, and a UDP collector that restarts gets the
# templates again at once (every record it receives decodes; records its
# host refused count as not sent); a collector whose host name does not
# resolve yet is retried and counts as not sent meanwhile; a full flow map (small -l) yields
# lack-of-resources records whose totals close the gap.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd tc ip clang jq curl

UDP="$PY $TOP/test/integration/udpsend.py"

testbed_up || { fail testbed "cannot create the netns testbed"; finish; exit 1; }
"$FLOWCTL" meter attach -i "$NS0:*" --hooks both >/dev/null || { fail attach "meter attach failed"; finish; exit 1; }
on_cleanup "$FLOWCTL meter detach -i '$NS0:*'"
ifi() { ip -n "$NS0" -j link show "$1" | jq '.[0].ifindex'; }
I1=$(ifi eth1); I2=$(ifi eth2)
D=$(obs_domain "$NS0")

start_collector() { # NAME UDPPORT TCPPORT [OPTION]
	collector_up "$1" 300 ${4:-} --udp "$2" --tcp "$3"
	COLL_PID=$CPID
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
AGENT_CONF=$T_TMP/agent.yaml
AGENT_WRAP=()
start_agent() {
	AGENT_N=$((AGENT_N + 1))
	"${AGENT_WRAP[@]}" "${T_AGENT_WRAP[@]}" "$FLOWCTL" agent -c "$AGENT_CONF" --log-level debug \
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

# the totals the agent logs when it stops: records handed to the exporter,
# and per collector "ADDR (TRANSPORT): N records sent in M messages, K not
# sent"
expired() { sed -n 's/.*agent stopped: \([0-9]*\) flow records expired.*/\1/p' "$T_TMP/agent$AGENT_N.err"; }
sent() { # ADDR TRANSPORT -> "SENT NOT_SENT"
	sed -n "s/.*collector $1 ($2): \([0-9]*\) records sent in [0-9]* messages, \([0-9]*\) not sent.*/\1 \2/p" "$T_TMP/agent$AGENT_N.err"
}
# data records the collector runs decoded over UDP
udp_decoded() { # RUN...
	local r
	for r in "$@"; do
		jq '[.per_session | to_entries[] | select(.key | startswith("udp")) | .value.data_records] | add // 0' "$T_TMP/$r.json"
	done | awk '{ s += $1 } END { print s + 0 }'
}

# --- 2. the collectors go away and come back ----------------------------------
# No template refresh: a UDP collector that restarts must get the templates
# because the exporter saw its host refuse datagrams, not by luck of timing.
sed 's/^timerTemplateFlushSeconds: 1$/timerTemplateFlushSeconds: 600/' \
	"$T_TMP/agent.yaml" > "$T_TMP/agent-norefresh.yaml"
AGENT_CONF=$T_TMP/agent-norefresh.yaml
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
# the first sequence number it sees as its start (TCP sessions are new);
# it knows no template: they come first
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
check_eq "after the restart: every data set decodable (templates first)" "0 0" \
	"$(jq .unknown_template_sets "$T_TMP/c2.json") $(jq .unknown_template_sets "$T_TMP/c3.json")"
n=$(expired)
read -r us un <<< "$(sent "127.0.0.1:$PU" udp)"
read -r ts tn <<< "$(sent "127.0.0.1:$PT" tcp)"
[ "${n:-0}" -gt 0 ] && pass "agent logged its totals ($n records)" || fail "totals" "$(tail -5 "$T_TMP/agent$AGENT_N.err")"
check_eq "UDP: sent + not sent = every record" "$n" "$((${us:-0} + ${un:-0}))"
check_eq "TCP: sent + not sent = every record" "$n" "$((${ts:-0} + ${tn:-0}))"
[ "${un:-0}" -gt 0 ] && pass "UDP: records refused while down counted as not sent ($un)" ||
	fail "UDP not sent" "${un:-none}"
check_eq "UDP: records counted as sent = records the collectors decoded" \
	"${us:-none}" "$(udp_decoded c2 c3)"
AGENT_CONF=$T_TMP/agent.yaml

# --- 3. a full map: lack-of-resources records close the gap ---------------
"$FLOWCTL" meter attach -i "$NS0:*" -l 64 --hooks both --force >/dev/null 2>&1 ||
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
curl -s "http://127.0.0.1:$PM/metrics" > "$T_TMP/m4a.txt"
v=$(grep -c "netns=\"$NS1\"" "$T_TMP/m4a.txt")
[ "${v:-0}" -gt 0 ] && pass "metrics: series of the new namespace ($v)" || fail "metrics of $NS1" "none"
# the last packets, then the namespace goes away at once: the agent still
# holds its maps and drains them one last time
ip netns exec "$NS1" ping -c 3 -i 0.1 -q 10.2.0.2 >/dev/null
"$FLOWCTL" meter detach -i "$NS1:eth0" >/dev/null 2>&1
sleep 1.5
kill -0 "$APID" 2>/dev/null && pass "agent runs on after a namespace was detached" ||
	fail "agent alive after detach" "gone"
curl -s "http://127.0.0.1:$PM/metrics" > "$T_TMP/m4b.txt"
check_eq "metrics: the detached namespace's series are gone" 0 \
	"$(grep -c "netns=\"$NS1\"" "$T_TMP/m4b.txt")"
v=$(grep -c "netns=\"$NS0\"" "$T_TMP/m4b.txt")
[ "${v:-0}" -gt 0 ] && pass "metrics: the other namespace's series stay ($v)" || fail "metrics of $NS0" "none"
stop_agent
kill -TERM $C5; wait $C5
D1=$(obs_domain "$NS1")
n1=$(jq -s "[.[] | select(._domain == $D1 and (._session|tostring|startswith(\"udp\")) and .protocolIdentifier==1 and .icmpTypeCodeIPv4==2048 and .flowDirection==1) | .packetDeltaCount] | add // 0" "$T_TMP/c5.jsonl")
check_eq "a namespace metered after the agent started: all 8 echo requests exported" 8 "$n1"
grep -q "$NS1" "$T_TMP/agent$AGENT_N.err" && pass "the agent logged the namespace" ||
	fail "namespace log" "$(grep -i namespace "$T_TMP/agent$AGENT_N.err" | head -3)"

# --- 5. host names that do not resolve (yet) --------------------------------
# The agent runs in a mount namespace of its own where host names come
# from a hosts file only (no DNS: nothing leaves loopback).  20 flows a
# run: they fit the 64-entry map of section 3.
printf 'hosts: files\n' > "$T_TMP/nsswitch.conf"
printf '127.0.0.1 localhost\n' > "$T_TMP/hosts"
PL=$(free_port)
cat > "$T_TMP/agent-names.yaml" <<EOF
scanIntervalMilliseconds: 200
idleTimeoutSeconds: 1
activeTimeoutSeconds: 30
metricsAddress: 127.0.0.1:$PM
outputs:
- collector:
    remoteAddress: does-not-exist.invalid:$PL
- collector:
    remoteAddress: late-collector.test:$PU
    reconnectIntervalSeconds: 1
EOF
AGENT_CONF=$T_TMP/agent-names.yaml
AGENT_WRAP=(unshare -m sh -c 'mount --bind "$1" /etc/nsswitch.conf &&
	mount --bind "$2" /etc/hosts && shift 2 && exec "$@"' \
	sh "$T_TMP/nsswitch.conf" "$T_TMP/hosts")
start_collector c6 "$PU" "$PT"
C6=$COLL_PID
start_agent
grep -q "collector does-not-exist.invalid:$PL: cannot resolve" "$T_TMP/agent$AGENT_N.err" &&
	pass "an unresolvable name is logged with the name" ||
	fail "resolution failure log" "$(grep -i resolv "$T_TMP/agent$AGENT_N.err" | head -3)"
ip netns exec "$NS1" $UDP 10.2.0.2 7500 1000 50 46000 20
sleep 2
echo "127.0.0.1 late-collector.test" >> "$T_TMP/hosts"
wait_for 100 grep -q "collector late-collector.test:$PU: resolved" "$T_TMP/agent$AGENT_N.err" &&
	pass "a name that resolves later is picked up by a retry" ||
	fail "late resolution" "$(grep -i resolv "$T_TMP/agent$AGENT_N.err" | tail -3)"
ip netns exec "$NS1" $UDP 10.2.0.2 7501 1000 50 46500 20
sleep 2
curl -s "http://127.0.0.1:$PM/metrics" > "$T_TMP/m5.txt"
v=$(grep "^flowctl_flows_exported_total{output=\"ipfix:does-not-exist.invalid:$PL/udp\"}" "$T_TMP/m5.txt" | awk '{print $2}')
check_eq "metrics: nothing exported to the unresolvable collector" 0 "${v:-none}"
v=$(grep "^flowctl_ipfix_records_not_sent_total{collector=\"does-not-exist.invalid:$PL/udp\"}" "$T_TMP/m5.txt" | awk '{print $2}')
[ "${v:-0}" -ge 80 ] && pass "metrics: its records counted as not sent ($v >= 80 flows)" || fail "not sent (unresolvable)" "${v:-none}"
stop_agent
AGENT_WRAP=()
AGENT_CONF=$T_TMP/agent.yaml
kill -TERM $C6; wait $C6
n=$(expired)
read -r xs xn <<< "$(sent "does-not-exist.invalid:$PL" udp)"
read -r ls ln <<< "$(sent "late-collector.test:$PU" udp)"
check_eq "unresolvable: 0 sent, every record not sent" "0 $n" "${xs:-none} ${xn:-none}"
check_eq "resolved late: sent + not sent = every record" "$n" "$((${ls:-0} + ${ln:-0}))"
check_eq "resolved late: records sent = records the collector decoded" \
	"${ls:-none}" "$(udp_decoded c6)"
check_eq "resolved late: every packet sent after the resolution arrived" "1000 1000" \
	"$(psum c6 udp '.destinationTransportPort==7501 and .flowDirection==0') $(psum c6 udp '.destinationTransportPort==7501 and .flowDirection==1')"
check_eq "resolved late: no data set without its template" 0 "$(jq .unknown_template_sets "$T_TMP/c6.json")"

finish
