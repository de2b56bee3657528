#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The agent killed at the two worst points of a drain (FLOWCTL_TEST_KILL_POINT,
# lib/agent.c), not at a random moment as in test-agent-crash.sh:
#  - before-persist: the idle buffer was read and merged into the cache,
#    nothing of it is in the crash journal yet;
#  - after-persist: the journal holds it and names the buffer, which is not
#    emptied yet.
# Each time the next agent must export every packet exactly once: nothing
# lost in the first case (the buffer was not emptied), nothing twice in the
# second (it empties the buffer instead of draining it).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd tc ip clang jq

UDP="$PY $TOP/test/integration/udpsend.py"
N=3000			# datagrams per case
NF=30			# flows (100 datagrams each)

testbed_up || { fail testbed "cannot create the netns testbed"; finish; exit 1; }
"$FLOWCTL" meter attach -i "$NS0:*" >/dev/null || { fail attach "meter attach failed"; finish; exit 1; }
on_cleanup "$FLOWCTL meter detach -i '$NS0:*'"
D=$(obs_domain "$NS0")

PU=$(free_port)
cat > "$T_TMP/agent.yaml" <<EOF
scanIntervalMilliseconds: 200
idleTimeoutSeconds: 2
activeTimeoutSeconds: 30
timerTemplateFlushSeconds: 1
outputs:
- collector:
    remoteAddress: 127.0.0.1:$PU
EOF
collector_up c 300 --udp "$PU"

AGENT_N=0
run_agent() { # [ENV=VALUE]: start an agent, its pid in APID
	AGENT_N=$((AGENT_N + 1))
	env "$@" "${T_AGENT_WRAP[@]}" "$FLOWCTL" agent -c "$T_TMP/agent.yaml" --no-attach \
		--log-level debug 2>"$T_TMP/agent$AGENT_N.err" &
	APID=$!
	T_PIDS+=($APID)
}

case_n=0
for point in before-persist after-persist; do
	case_n=$((case_n + 1))
	port=$((7700 + case_n))
	# the traffic is in the kernel's buffers before the agent starts
	ip netns exec "$NS2" $UDP --recv 10.2.0.2 "$port" 20 > "$T_TMP/r$case_n.count" &
	RP=$!; T_PIDS+=($RP)
	sleep 0.3
	ip netns exec "$NS1" $UDP 10.2.0.2 "$port" "$N" 50 47000 "$NF"
	wait $RP
	check_eq "$point: $N datagrams delivered" "$N" "$(cat "$T_TMP/r$case_n.count")"

	run_agent FLOWCTL_TEST_KILL_POINT=$point
	wait "$APID"; rc=$?
	check_eq "$point: the agent killed itself there (SIGKILL: 137)" 137 "$rc"
	check "$point: it said where" grep -q "FLOWCTL_TEST_KILL_POINT=$point" "$T_TMP/agent$AGENT_N.err"

	run_agent
	wait_for 50 grep -q "agent started" "$T_TMP/agent$AGENT_N.err" ||
		fail "$point: next agent started" "$(tail -3 "$T_TMP/agent$AGENT_N.err")"
	if [ "$point" = after-persist ]; then
		check "$point: the next agent emptied the buffer the journal holds" \
			grep -q "flow buffer(s) read by the killed agent emptied" "$T_TMP/agent$AGENT_N.err"
	fi
	sleep 3.5		# idle timeout and scans: the flows leave
	kill -TERM "$APID"; wait "$APID"; rc=$?
	check_eq "$point: clean stop: exit 0" 0 "$rc"
done
sleep 0.5
kill -TERM $CPID; wait $CPID

case_n=0
for point in before-persist after-persist; do
	case_n=$((case_n + 1))
	port=$((7700 + case_n))
	sel="._domain == $D and .protocolIdentifier==17 and .destinationTransportPort==$port"
	off=$(jq -s "[.[] | select($sel)] | group_by(.sourceTransportPort) | map(map(.packetDeltaCount) | add) | map(select(. != $((N / NF)))) | length" "$T_TMP/c.jsonl")
	nfl=$(jq -s "[.[] | select($sel) | .sourceTransportPort] | unique | length" "$T_TMP/c.jsonl")
	sum=$(jq -s "[.[] | select($sel) | .packetDeltaCount] | add // 0" "$T_TMP/c.jsonl")
	echo "$point: sent $N exported $sum ($nfl flows, $off not exact)"
	check_eq "$point: every packet exported exactly once" "$N" "$sum"
	check_eq "$point: all $NF flows, each exactly $((N / NF)) packets" "$NF 0" "$nfl $off"
done

finish
