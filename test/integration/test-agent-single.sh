#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# One agent per pin root: a second agent is refused (exit 1, the first
# one's pid in the message) and touches nothing, the first keeps exporting
# every packet exactly once; flowctl flush and flowctl ipfix dump are
# refused while an agent runs.  SIGHUP with interfaces added to the config
# attaches them.  The agents export with udpSegmentation: true.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd tc ip clang jq curl

UDP="$PY $TOP/test/integration/udpsend.py"

testbed_up || { fail testbed "cannot create the netns testbed"; finish; exit 1; }
on_cleanup "$FLOWCTL meter detach -i '$NS0:*'"
D=$(obs_domain "$NS0")
ifi() { ip -n "$NS0" -j link show "$1" | jq '.[0].ifindex'; }
I2=$(ifi eth2)

PU=$(free_port); PM=$(free_port); PM2=$(free_port)
write_config() { # FILE METRICSPORT INTERFACES...
	local f=$1 pm=$2
	shift 2
	{
		echo "scanIntervalMilliseconds: 200"
		echo "idleTimeoutSeconds: 1"
		echo "drainThreads: 1"
		echo "metricsAddress: 127.0.0.1:$pm"
		if [ $# -gt 0 ]; then
			echo "interfaces:"
			for i in "$@"; do echo "- \"$i\""; done
		fi
		echo "outputs:"
		echo "- collector:"
		echo "    remoteAddress: 127.0.0.1:$PU"
		# runs of messages as one UDP_SEGMENT send: the strict
		# collector still gets every packet once, in sequence
		echo "    udpSegmentation: true"
	} > "$f"
}
write_config "$T_TMP/agent.yaml" "$PM" "$NS0:eth1"
# the second agent's config differs only by its metrics port: it must not
# get as far as serving metrics, attaching or draining
write_config "$T_TMP/agent2.yaml" "$PM2" "$NS0:eth1" "$NS0:eth3"

collector_up c 300 --udp "$PU"
C1=$CPID

# --- an output it cannot open: the agent stops with nothing attached ------
write_config "$T_TMP/badlog.yaml" "$PM" "$NS0:eth1"
: >"$T_TMP/a-file"	# a log "directory" that is a file: it cannot be made
printf -- '- log:\n    file: %s/a-file/flows.log\n' "$T_TMP" >>"$T_TMP/badlog.yaml"
timeout 30 "${T_AGENT_WRAP[@]}" "$FLOWCTL" agent -c "$T_TMP/badlog.yaml" --log-level debug \
	2>"$T_TMP/badlog.err"
rc=$?
check "a log it cannot open: the agent fails at start (exit $rc)" \
	test "$rc" -ne 0 -a "$rc" -ne 124
check "... naming the log" grep -q "a-file/flows.log" "$T_TMP/badlog.err"
check "... and attached nothing (not half started)" \
	bash -c "! tc -n $NS0 filter show dev eth1 egress | grep -q bpf"

"${T_AGENT_WRAP[@]}" "$FLOWCTL" agent -c "$T_TMP/agent.yaml" --log-level debug 2>"$T_TMP/agent.err" &
APID=$!
T_PIDS+=($APID)
wait_for 100 grep -q "agent started" "$T_TMP/agent.err" ||
	fail "agent started" "$(tail -3 "$T_TMP/agent.err")"
check "drainThreads: 1 is the agent's number of drain threads" \
	grep -q "scan every 200 ms, 1 drain thread(s)" "$T_TMP/agent.err"
check "udpSegmentation: true is in use for its collector" \
	grep -q "127.0.0.1:$PU: udpSegmentation: runs of messages" "$T_TMP/agent.err"
attached() { # DEV HOOK
	tc -n "$NS0" filter show dev "$1" "$2" 2>/dev/null | grep -q bpf
}
check "first agent attached eth1 from its config (egress, the default)" attached eth1 egress
check "... and not its ingress hook" bash -c "! tc -n $NS0 filter show dev eth1 ingress | grep -q bpf"

# --- a second agent: refused, touches nothing ---------------------------
# from NS2 to NS1: leaves the router through eth1 (egress, metered)
ip netns exec "$NS1" $UDP --recv 10.1.0.2 7700 30 > "$T_TMP/r1.count" &
RP=$!; T_PIDS+=($RP)
sleep 0.3
ip netns exec "$NS2" $UDP 10.1.0.2 7700 6000 50 47000 20 &
SP=$!; T_PIDS+=($SP)
sleep 0.3
timeout 20 "${T_AGENT_WRAP[@]}" "$FLOWCTL" agent -c "$T_TMP/agent2.yaml" 2>"$T_TMP/agent2.err"
check_eq "second agent refused: exit 1" 1 "$?"
check "the refusal names the running agent's pid ($APID)" \
	grep -q "agent (pid $APID)" "$T_TMP/agent2.err"
echo "  $(head -1 "$T_TMP/agent2.err")"
check "the second agent attached nothing (eth3 of its config)" \
	bash -c "! tc -n $NS0 filter show dev eth3 egress | grep -q bpf"
check "the second agent did not serve metrics" \
	bash -c "! curl -s -m 1 http://127.0.0.1:$PM2/metrics"

# --- flush while the agent runs: refused; ipfix dump only reads ------------
"$FLOWCTL" flush -A >"$T_TMP/flush.out" 2>"$T_TMP/flush.err"
check_eq "flush -A while an agent runs: exit 1" 1 "$?"
check "flush: the message names the agent's pid" \
	grep -q "agent (pid $APID)" "$T_TMP/flush.err"
echo "  $(head -1 "$T_TMP/flush.err")"
# (the dump sends what it reads to its own collector: read while the
# traffic runs, those flows are counted again, by design, and must not
# reach the agent's collector checked below)
PD=$(free_port)
sed "s/127.0.0.1:$PU/127.0.0.1:$PD/" "$T_TMP/agent.yaml" >"$T_TMP/dump.yaml"
collector_up d 60 --udp "$PD"
"$FLOWCTL" ipfix dump -c "$T_TMP/dump.yaml" >"$T_TMP/dump.out" 2>"$T_TMP/dump.err"
check_eq "ipfix dump while an agent runs: it only reads (exit 0)" 0 "$?"
check "ipfix dump: no agent lock taken" \
	bash -c "! grep -q 'agent (pid' '$T_TMP/dump.err'"

wait $SP $RP
check_eq "6000 datagrams delivered" 6000 "$(cat "$T_TMP/r1.count")"

# --- SIGHUP: interfaces added to the config are attached -------------------
check "eth2 not metered before the reload" bash -c "! tc -n $NS0 filter show dev eth2 egress | grep -q bpf"
write_config "$T_TMP/agent.yaml" "$PM" "$NS0:eth1" "$NS0:eth2"
kill -HUP "$APID"
wait_for 100 grep -q "reload: [0-9]* collector" "$T_TMP/agent.err" ||
	fail "reload" "$(tail -3 "$T_TMP/agent.err")"
check "SIGHUP: eth2 added to interfaces is attached (egress)" attached eth2 egress
check "SIGHUP: ... and not at ingress (the default)" bash -c "! tc -n $NS0 filter show dev eth2 ingress | grep -q bpf"
check "SIGHUP: the attach is logged" grep -q "attaching the meter to $NS0:eth2" "$T_TMP/agent.err"
ip netns exec "$NS2" $UDP --recv 10.2.0.2 7701 30 > "$T_TMP/r2.count" &
RP=$!; T_PIDS+=($RP)
sleep 0.3
ip netns exec "$NS1" $UDP 10.2.0.2 7701 1000 50 48000 10
wait $RP
sleep 2				# idle timeout + scans
kill -TERM "$APID"; wait "$APID"
check_eq "first agent: clean exit" 0 "$?"
sleep 0.5
kill -TERM $C1; wait $C1

psum() { # JQ-SELECT
	jq -s "[.[] | select(._domain == $D and ($1)) | .packetDeltaCount // 0] | add // 0" "$T_TMP/c.jsonl"
}
check_eq "first agent kept exporting: every packet at eth1 egress once" 6000 \
	"$(psum ".destinationTransportPort==7700 and .flowDirection==1")"
check_eq "one record per flow (nothing split between two agents)" 20 \
	"$(jq -s "[.[] | select(._domain == $D and .destinationTransportPort==7700)] | length" "$T_TMP/c.jsonl")"
check_eq "after the reload: eth2 egress metered, every packet" 1000 \
	"$(psum ".destinationTransportPort==7701 and .flowDirection==1 and .egressInterface==$I2")"

finish
