#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Namespaces that come and go: pins of a deleted namespace are reported
# stale, detached (exit 0, with what was discarded) or exported and removed
# by a running agent; a namespace re-created with the same name never
# inherits the flows of the old one; an attach interrupted by SIGTERM
# leaves everything it was asked for or nothing.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd tc ip clang jq

PIN=/sys/fs/bpf/flowctl
export FLOWCTL_PIN_ROOT=$PIN
UDP="$PY $TOP/test/integration/udpsend.py"

# A namespace with veth pairs dN/pN (both ends inside); what is sent to
# 10.9.0.2 leaves d0 (egress hook) to a static neighbour and arrives at
# p0 (ingress hook), where it is dropped.  Removed at exit.
mkns() { # NAME [NPAIRS]
	local i
	ip netns add "$1" || return 1
	ip -n "$1" link set lo up
	# no IPv6 chatter (router solicitations, MLD): exact counts
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip netns exec "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
	for ((i = 0; i < ${2:-1}; i++)); do
		ip -n "$1" link add "d$i" type veth peer name "p$i"
		ip -n "$1" link set "d$i" up
		ip -n "$1" link set "p$i" up
	done
	ip -n "$1" addr add 10.9.0.1/24 dev d0
	ip -n "$1" neigh add 10.9.0.2 lladdr 02:00:00:00:00:02 dev d0 nud permanent
}
forget_ns() { # NAME: at exit, whatever is left of it
	on_cleanup "ip netns del '$1'; rm -rf '$PIN/$1'; rm -f '$RUN_DIR/state/$1.overflow'"
}
send() { # NS COUNT SPORT: COUNT datagrams, one flow, out of d0
	ip netns exec "$1" $UDP 10.9.0.2 7000 "$2" 32 "$3" 1
}
# packets of the flow from SPORT in the live maps of NS (0: none); each
# datagram is counted twice (d0 egress, p0 ingress)
dump_pkts() { # NS SPORT
	"$FLOWCTL" dump -o json --netns "$1" 2>/dev/null |
		jq "[.[] | select(.sport == $2) | .pkts] | add // 0"
}
ours() { # our filters (pref 100 handle 1, bpf) on NS:DEV, both hooks
	local h n=0
	for h in ingress egress; do
		n=$((n + $(tc -n "$1" filter show dev "$2" "$h" 2>/dev/null |
			grep -c 'bpf.*handle 0x1')))
	done
	echo "$n"
}

# --- (a) deleted while metered, no agent ------------------------------------
NG=${T_PREFIX}g
forget_ns "$NG"
mkns "$NG"
"$FLOWCTL" meter attach --hooks both -i "$NG:*" >"$T_TMP/a.out" 2>&1 ||
	fail "a: attach" "$(cat "$T_TMP/a.out")"
[ -e "$PIN/$NG/identity" ] && pass "a: the pin dir records the namespace's identity" ||
	fail "a: identity pin" "$(ls -R "$PIN/$NG" 2>&1 | head -5)"
send "$NG" 12 41000
check_eq "a: 12 packets in the maps, at both hooks" 24 "$(dump_pkts "$NG" 41000)"
ip netns del "$NG"
out=$("$FLOWCTL" meter status -o wide 2>&1)
grep -q "^$NG .*stale" <<<"$out" && pass "a: status marks the deleted namespace stale" ||
	fail "a: status stale" "$(grep "$NG" <<<"$out")"
check_eq "a: status -o json: stale, gone" "true gone" \
	"$("$FLOWCTL" meter status -o json | jq -r ".[] | select(.netns == \"$NG\") | \"\(.stale) \(.staleReason)\"")"
out=$("$FLOWCTL" meter detach -i "$NG:*" 2>&1); rc=$?
check_eq "a: detach of the deleted namespace: exit 0" 0 "$rc"
grep -q "2 flows, 24 packets discarded" <<<"$out" && pass "a: detach says what was discarded" ||
	fail "a: discarded counts" "$out"
[ -e "$PIN/$NG" ] && fail "a: pins removed" "$PIN/$NG still there" || pass "a: pins removed"
out=$("$FLOWCTL" meter detach -i "$NG:*" 2>&1); rc=$?
check_eq "a: detach of a namespace with neither pins nor existence: exit 2" 2 "$rc"
# the same with NS:DEV
mkns "$NG"
"$FLOWCTL" meter attach --hooks both -i "$NG:d0" >/dev/null 2>&1
ip netns del "$NG"
out=$("$FLOWCTL" meter detach -i "$NG:d0" 2>&1); rc=$?
check_eq "a: detach NS:DEV of a deleted namespace: exit 0" 0 "$rc"
[ -e "$PIN/$NG" ] && fail "a: NS:DEV: pins removed" "$out" || pass "a: NS:DEV: pins removed"

# --- (c) re-created with the same name, no agent ------------------------------
NR=${T_PREFIX}r
forget_ns "$NR"
mkns "$NR"
"$FLOWCTL" meter attach --hooks both -i "$NR:*" >/dev/null 2>&1 || fail "c: attach" ""
send "$NR" 20 42000
ip netns del "$NR"
mkns "$NR"
out=$("$FLOWCTL" meter status -o json | jq -r ".[] | select(.netns == \"$NR\") | \"\(.stale) \(.staleReason)\"")
check_eq "c: status: the re-created namespace's pins are stale (replaced)" "true replaced" "$out"
out=$("$FLOWCTL" meter attach --hooks both -i "$NR:*" 2>&1); rc=$?
check_eq "c: attach to the new incarnation: exit 0" 0 "$rc"
grep -q "2 flows, 40 packets discarded" <<<"$out" && pass "c: attach says what the old pins held" ||
	fail "c: discarded counts" "$out"
check_eq "c: the new incarnation's maps hold none of the old flows" 0 "$(dump_pkts "$NR" 42000)"
send "$NR" 5 42000
check_eq "c: the new incarnation counts its own packets only" 10 "$(dump_pkts "$NR" 42000)"
check_eq "c: status: live again" "false" \
	"$("$FLOWCTL" meter status -o json | jq -r ".[] | select(.netns == \"$NR\") | .stale")"
"$FLOWCTL" meter detach -i "$NR:*" >/dev/null 2>&1

# --- (d) an interrupted attach is all or nothing ------------------------------
NI=()
for i in 1 2 3 4; do
	NI+=("${T_PREFIX}i$i")
	forget_ns "${T_PREFIX}i$i"
	mkns "${T_PREFIX}i$i" 2
done
SPECS=()
for ns in "${NI[@]}"; do SPECS+=(-i "$ns:*"); done
ALL=$(( ${#NI[@]} * 4 * 2 ))	# namespaces x devices x hooks
state() { # hooks and pin dirs of the interrupt namespaces
	local ns d h=0 p=0
	for ns in "${NI[@]}"; do
		for d in d0 p0 d1 p1; do h=$((h + $(ours "$ns" "$d"))); done
		[ -e "$PIN/$ns" ] && p=$((p + 1))
	done
	echo "$h $p"
}
# build the object first: the interruptions then fall among the tc steps
"$FLOWCTL" meter attach --hooks both -i "${NI[0]}:d0" >/dev/null 2>&1
"$FLOWCTL" meter detach -i "${NI[0]}:d0" >/dev/null 2>&1
t0=$(date +%s%N)
"$FLOWCTL" meter attach --hooks both "${SPECS[@]}" >/dev/null 2>&1 || fail "d: uninterrupted attach" ""
t1=$(date +%s%N)
echo "d: an uninterrupted attach of $ALL hooks takes $(( (t1 - t0) / 1000000 )) ms"
check_eq "d: uninterrupted: every hook, every pin dir" "$ALL ${#NI[@]}" "$(state)"
"$FLOWCTL" meter detach "${SPECS[@]}" >/dev/null 2>&1
check_eq "d: detached: nothing left" "0 0" "$(state)"
for delay in 0.05 0.5 1.5 3.0; do
	"$FLOWCTL" meter attach --hooks both "${SPECS[@]}" >"$T_TMP/d.out" 2>&1 &
	pid=$!
	sleep "$delay"
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"; rc=$?
	st=$(state)
	if [ "$st" = "0 0" ] && [ "$rc" = 1 ] && grep -q "interrupted: " "$T_TMP/d.out"; then
		pass "d: SIGTERM after ${delay}s: nothing left, exit 1 ($(grep -o 'interrupted: [a-z ]*' "$T_TMP/d.out" | head -1))"
	elif [ "$st" = "0 0" ] && [ "$rc" = 143 ]; then
		pass "d: SIGTERM after ${delay}s: killed before the request began, nothing left"
	elif [ "$st" = "$ALL ${#NI[@]}" ] && { [ "$rc" = 0 ] || [ "$rc" = 143 ]; }; then
		pass "d: SIGTERM after ${delay}s: the attach had completed (exit $rc)"
	else
		fail "d: SIGTERM after ${delay}s: all or nothing" "hooks/pin dirs $st of $ALL/${#NI[@]}, exit $rc: $(tail -3 "$T_TMP/d.out")"
	fi
	qd=0
	for ns in "${NI[@]}"; do
		qd=$((qd + $(tc -n "$ns" qdisc show | grep -c clsact)))
	done
	[ "$st" = "0 0" ] && check_eq "d: after ${delay}s: no clsact qdisc left" 0 "$qd"
	"$FLOWCTL" meter detach "${SPECS[@]}" >/dev/null 2>&1
done

# --- (b), (c) with an agent ---------------------------------------------------
PU=$(free_port); PM=$(free_port)
collector_up coll 120 --udp "$PU"
cat >"$T_TMP/agent.yaml" <<EOF
scanIntervalMilliseconds: 200
idleTimeoutSeconds: 60
activeTimeoutSeconds: 120
metricsAddress: 127.0.0.1:$PM
outputs:
- collector:
    remoteAddress: 127.0.0.1:$PU
EOF
NA=${T_PREFIX}a
NB=${T_PREFIX}b
forget_ns "$NA"
forget_ns "$NB"
mkns "$NA"
mkns "$NB"
"$FLOWCTL" meter attach --hooks both -i "$NA:*" -i "$NB:*" >/dev/null 2>&1 || fail "b: attach" ""
"${T_AGENT_WRAP[@]}" "$FLOWCTL" agent -c "$T_TMP/agent.yaml" --log-level debug 2>"$T_TMP/agent.err" &
APID=$!
T_PIDS+=($APID)
wait_for 50 grep -q "agent started" "$T_TMP/agent.err" ||
	fail "agent started" "$(tail -3 "$T_TMP/agent.err")"
# meter attach/detach ask whether an agent holds the flock on the pin root
# (lib/meter/lock.h); an agent that does not take it yet gets a stand-in holder
if flock -n -s "$PIN" true; then
	flock -x "$PIN" sleep 120 &
	T_PIDS+=($!)
	wait_for 20 bash -c "! flock -n -s '$PIN' true"
	echo "(this agent does not take the pin root lock: the test holds it for it)"
fi

# (b) deleted while the agent runs: exported exactly, unpinned by the agent
send "$NA" 50 43000
sleep 0.5
ip netns del "$NA"
if wait_for 100 test ! -e "$PIN/$NA"; then
	pass "b: the agent removed the pins of the deleted namespace by itself"
else
	fail "b: agent unpins" "$PIN/$NA still there after 10 s"
fi
grep "$NA" "$T_TMP/agent.err" | grep -q "deleted.*100 packets" &&
	pass "b: the agent logged what it exported ($(grep -o "namespace $NA[^\"]*" "$T_TMP/agent.err" | tail -1))" ||
	fail "b: agent log line" "$(grep "$NA" "$T_TMP/agent.err" | tail -3)"

# detach of a deleted namespace while the agent runs: the agent exports
NC=${T_PREFIX}c
forget_ns "$NC"
mkns "$NC"
"$FLOWCTL" meter attach --hooks both -i "$NC:*" >/dev/null 2>&1 || fail "b: attach $NC" ""
send "$NC" 9 45000
# the agent is held still until the detach has seen the stale pins (so
# it is the detach that waits, not the agent that was quicker)
kill -STOP "$APID"
ip netns del "$NC"
"$FLOWCTL" meter detach -i "$NC:*" >"$T_TMP/det.out" 2>&1 &
DPID=$!
sleep 1
kill -CONT "$APID"
wait "$DPID"; rc=$?
out=$(cat "$T_TMP/det.out")
check_eq "b: detach of a deleted namespace with an agent running: exit 0" 0 "$rc"
grep -q "removed by the agent" <<<"$out" && pass "b: detach let the agent export and unpin" ||
	fail "b: detach with an agent" "$out"

# (c) re-created while the agent runs: the old flows go out once, as the
# old namespace's; the new one starts from nothing
send "$NB" 30 44000
sleep 0.5
kill -STOP "$APID"
ip netns del "$NB"
mkns "$NB"
"$FLOWCTL" meter attach --hooks both -i "$NB:*" >"$T_TMP/att.out" 2>&1 &
DPID=$!
sleep 1
kill -CONT "$APID"
wait "$DPID"; rc=$?
out=$(cat "$T_TMP/att.out")
check_eq "c+agent: attach to the new incarnation: exit 0" 0 "$rc"
grep -q "removed by the agent" <<<"$out" && pass "c+agent: attach waited for the agent to export the old pins" ||
	fail "c+agent: attach message" "$out"
# (the agent drains the new maps too: what they hold is not checked here,
# the records are)
send "$NB" 7 44000
sleep 1
"$FLOWCTL" meter detach -i "$NB:*" >/dev/null 2>&1
sleep 0.5
kill -TERM "$APID"; wait "$APID"
kill -TERM "$CPID"; wait "$CPID"
R=$T_TMP/coll.jsonl
check_eq "b: detach with an agent: the collector got the 9 packets (x 2 hooks)" 18 \
	"$(jq -s "[.[] | select(._domain == $(obs_domain "$NC") and .sourceTransportPort == 45000) | .packetDeltaCount] | add // 0" "$R")"
DA=$(obs_domain "$NA")
DB=$(obs_domain "$NB")
check_eq "b: the collector got the deleted namespace's 50 packets (x 2 hooks), exactly" 100 \
	"$(jq -s "[.[] | select(._domain == $DA and .sourceTransportPort == 43000) | .packetDeltaCount] | add // 0" "$R")"
check_eq "c+agent: old and new incarnation in separate records (30 then 7 per hook), none mixed" "[7,7,30,30]" \
	"$(jq -s -c "[.[] | select(._domain == $DB and .sourceTransportPort == 44000) | .packetDeltaCount] | sort" "$R")"

finish
