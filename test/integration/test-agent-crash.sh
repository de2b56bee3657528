#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# flowctl agent killed with SIGKILL in the middle of traffic, then started
# again: the flows its cache held (drained from the kernel, not yet
# exported) come back from its crash journal and are exported once; nothing
# is counted twice.  Two kills per round (one early, one late in the send),
# a clean stop at the end; exact totals per flow and per hook.
# CRASH_ROUNDS=N repeats the send N times (to measure the loss);
# CRASH_AGENT_OPTS=--no-journal measures it without the journal.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd tc ip clang jq

UDP="$PY $TOP/test/integration/udpsend.py"
ROUNDS=${CRASH_ROUNDS:-1}
N=40000			# datagrams per round (about 2 s)
NF=50			# flows per round (800 datagrams each)

testbed_up || { fail testbed "cannot create the netns testbed"; finish; exit 1; }
"$FLOWCTL" meter attach -i "$NS0:*" --hooks both >/dev/null || { fail attach "meter attach failed"; finish; exit 1; }
on_cleanup "$FLOWCTL meter detach -i '$NS0:*'"
D=$(obs_domain "$NS0")

PU=$(free_port); PM=$(free_port)
# long timeouts: the flows stay in the agent's cache while the traffic runs
cat > "$T_TMP/agent.yaml" <<EOF
scanIntervalMilliseconds: 200
idleTimeoutSeconds: 3
activeTimeoutSeconds: 30
timerTemplateFlushSeconds: 1
metricsAddress: 127.0.0.1:$PM
outputs:
- collector:
    remoteAddress: 127.0.0.1:$PU
EOF
collector_up c 600 --udp "$PU"

AGENT_N=0
start_agent() {
	AGENT_N=$((AGENT_N + 1))
	"${T_AGENT_WRAP[@]}" "$FLOWCTL" agent -c "$T_TMP/agent.yaml" --no-attach --log-level debug ${CRASH_AGENT_OPTS:-} \
		2>"$T_TMP/agent$AGENT_N.err" &
	APID=$!
	T_PIDS+=($APID)
	wait_for 50 grep -q "agent started" "$T_TMP/agent$AGENT_N.err" ||
		fail "agent $AGENT_N started" "$(tail -3 "$T_TMP/agent$AGENT_N.err")"
}
kill_agent() {
	kill -KILL "$APID"
	wait "$APID" 2>/dev/null
}

start_agent
check "no drainThreads: one drain thread per CPU ($(nproc))" \
	grep -q "$(nproc) drain thread(s)" "$T_TMP/agent1.err"
for ((r = 0; r < ROUNDS; r++)); do
	port=$((7600 + r))
	ip netns exec "$NS2" $UDP --recv 10.2.0.2 "$port" 40 > "$T_TMP/r$r.count" &
	RP=$!; T_PIDS+=($RP)
	sleep 0.3
	ip netns exec "$NS1" $UDP 10.2.0.2 "$port" "$N" 50 46000 "$NF" &
	SP=$!; T_PIDS+=($SP)
	# the send takes about 2 s; the cache holds everything drained so far
	sleep "0.$((RANDOM % 5 + 4))"
	kill_agent
	start_agent		# restarted while the sender still runs
	sleep "0.$((RANDOM % 4 + 3))"
	kill_agent
	start_agent
	wait $SP $RP
	check_eq "round $r: $N datagrams delivered" "$N" "$(cat "$T_TMP/r$r.count")"
done
sleep 4			# idle timeout + scans: the flows leave
kill -TERM "$APID"; wait "$APID"; rc=$?
check_eq "clean stop at the end: exit 0" 0 "$rc"
sleep 0.5
kill -TERM $CPID; wait $CPID

loss=0
for ((r = 0; r < ROUNDS; r++)); do
	port=$((7600 + r))
	for dir in 0 1; do
		sel="._domain == $D and .protocolIdentifier==17 and .destinationTransportPort==$port and .flowDirection==$dir"
		# packets per source port: every flow exactly N / NF
		off=$(jq -s "[.[] | select($sel)] | group_by(.sourceTransportPort) | map(map(.packetDeltaCount) | add) | map(select(. != $((N / NF)))) | length" "$T_TMP/c.jsonl")
		nfl=$(jq -s "[.[] | select($sel) | .sourceTransportPort] | unique | length" "$T_TMP/c.jsonl")
		sum=$(jq -s "[.[] | select($sel) | .packetDeltaCount] | add // 0" "$T_TMP/c.jsonl")
		echo "round $r direction $dir: sent $N exported $sum ($nfl flows, $off not exact)"
		loss=$((loss + N - sum))
		check_eq "round $r direction $dir: SIGKILL twice mid-traffic, every packet exported once" "$N" "$sum"
		check_eq "round $r direction $dir: all $NF flows, each exactly $((N / NF)) packets" "$NF 0" "$nfl $off"
	done
done
echo "lost over $ROUNDS round(s), both hooks: $loss of $((ROUNDS * 2 * N)) packets"
check "the restarted agent read the crash journal back" grep -q "crash journal: [0-9]* flows" "$T_TMP/agent2.err"

finish
