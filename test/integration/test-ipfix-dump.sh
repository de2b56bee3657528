#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# flowctl ipfix dump: reads what the kernel maps hold WITHOUT removing it
# (as linux-flow-exporter did), sends it to the collectors and writes the
# log: outputs of the config; a second dump sends the same counts again;
# an agent running alongside still exports every packet exactly once;
# without -c it reads ./config.yaml.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd tc ip clang jq

UDP="$PY $TOP/test/integration/udpsend.py"

testbed_up || { fail testbed "cannot create the netns testbed"; finish; exit 1; }
"$FLOWCTL" meter attach -i "$NS0:*" --hooks both >/dev/null || { fail attach "meter attach failed"; finish; exit 1; }
on_cleanup "$FLOWCTL meter detach -i '$NS0:*'"

start_collector() { # NAME -> port in $PORT, pid in $CPID
	PORT=$(free_port)
	collector_up "$1" 120 --udp "$PORT"
}
D=$(obs_domain "$NS0")
# Per-direction packet sums of the records of collector NAME matching SEL,
# as "DIR:SUM ..." (the meter's hooks decide which directions exist).
coll_sums() { # NAME SEL
	jq -rs "[.[] | select(._domain == $D and ($2))] | group_by(.flowDirection)
		| map(\"\(.[0].flowDirection):\(map(.packetDeltaCount) | add)\") | join(\" \")" \
		"$T_TMP/$1.jsonl"
}
log_sums() { # FILE SEL
	jq -rs "[.[] | select(.netns == \"$NS0\" and ($2))
		| .dir = (if .direction == \"ingress\" then 0 else 1 end)] | group_by(.dir)
		| map(\"\(.[0].dir):\(map(.pkts) | add)\") | join(\" \")" \
		"$1"
}
# every metered direction saw N: "0:N 1:N" or one of them
each_is() { # N SUMS
	[ -n "$2" ] && ! tr ' ' '\n' <<<"$2" | grep -qv ":$1\$"
}

start_collector c1; C1=$CPID; P1=$PORT
cat > "$T_TMP/cfg.yaml" <<EOF
outputs:
- collector:
    remoteAddress: 127.0.0.1:$P1
- log:
    file: $T_TMP/d1.log
EOF
printf 'outputs:\n- log:\n    file: %s\n' "$T_TMP/d2.log" > "$T_TMP/cfg2.yaml"

ip netns exec "$NS1" $UDP 10.2.0.2 7500 100 20 46000 10
out=$("$FLOWCTL" ipfix dump -c "$T_TMP/cfg.yaml" 2>&1); rc=$?
check_eq "ipfix dump: exit 0" 0 "$rc"
grep -q "flow record(s) from" <<<"$out" && pass "ipfix dump reports what it sent" || fail "report" "$out"
grep -q "log $T_TMP/d1.log: [1-9][0-9]* of [1-9][0-9]* records written" <<<"$out" &&
	pass "ipfix dump reports the log" || fail "log report" "$out"
# a log-only config is enough, and the counts are still in the maps
out=$("$FLOWCTL" ipfix dump -c "$T_TMP/cfg2.yaml" 2>&1); rc=$?
check_eq "second dump (log only): exit 0" 0 "$rc"
sleep 0.5
kill -TERM $C1; wait $C1
SEL='.destinationTransportPort==7500'
s=$(coll_sums c1 "$SEL")
each_is 100 "$s" && pass "collector: 100 UDP packets per metered direction ($s)" || fail "collector sums" "$s"
check_eq "forced end (4) on every record of ours" 0 \
	"$(jq -s "[.[] | select($SEL and .flowEndReason != 4)] | length" "$T_TMP/c1.jsonl")"
check_eq "no sequence error" 0 "$(jq .sequence_errors "$T_TMP/c1.json")"
s1=$(log_sums "$T_TMP/d1.log" '.dport==7500')
check_eq "the log: output of the dump has the same counts" "$s" "$s1"
s2=$(log_sums "$T_TMP/d2.log" '.dport==7500')
check_eq "a second dump finds the same counts (nothing removed)" "$s" "$s2"
check_eq "log lines keep the logger's fields" 0 \
	"$(jq -s '[.[] | select(.level != "info" or .msg != "flowlog" or (.ts | type) != "number")] | length' "$T_TMP/d1.log")"

# An agent alongside: dumps are not refused and take nothing from it.
start_collector c2; C2=$CPID; P2=$PORT
PM=$(free_port)
cat > "$T_TMP/agent.yaml" <<EOF
scanIntervalMilliseconds: 200
idleTimeoutSeconds: 60
outputs:
- collector:
    remoteAddress: 127.0.0.1:$P2
EOF
"$FLOWCTL" agent -c "$T_TMP/agent.yaml" --no-journal --metrics-address "127.0.0.1:$PM" \
	>"$T_TMP/agent.out" 2>"$T_TMP/agent.err" &
AP=$!; T_PIDS+=($AP)
wait_for 100 grep -q "agent started" "$T_TMP/agent.err" || fail agent "did not start: $(cat "$T_TMP/agent.err")"
ndump=0
for i in 1 2 3 4 5; do
	ip netns exec "$NS1" $UDP 10.2.0.2 7501 10 20 46100 2
	"$FLOWCTL" ipfix dump -c "$T_TMP/cfg2.yaml" >/dev/null 2>"$T_TMP/dump$i.err" && ndump=$((ndump + 1))
done
check_eq "5 dumps beside a running agent: all exit 0" 5 "$ndump"
kill -TERM $AP; wait $AP; rc=$?
check_eq "agent: exit 0 on SIGTERM" 0 "$rc"
sleep 0.5
kill -TERM $C2; wait $C2
s=$(coll_sums c2 "$SEL")
each_is 100 "$s" && pass "agent exported the packets counted before (dumps removed none): $s" || fail "agent 7500" "$s"
s=$(coll_sums c2 '.destinationTransportPort==7501')
each_is 50 "$s" && pass "agent exported exactly the 50 packets sent while dumping: $s" || fail "agent 7501" "$s"

# Without -c: ./config.yaml, as the original.
ip netns exec "$NS1" $UDP 10.2.0.2 7502 3 20 46200 1
mkdir -p "$T_TMP/cwd"
cp "$T_TMP/cfg2.yaml" "$T_TMP/cwd/config.yaml"
sed -i "s|d2.log|d3.log|" "$T_TMP/cwd/config.yaml"
out=$(cd "$T_TMP/cwd" && "$FLOWCTL" ipfix dump 2>&1); rc=$?
check_eq "ipfix dump without -c reads ./config.yaml: exit 0" 0 "$rc"
test -s "$T_TMP/d3.log" && pass "./config.yaml's log written" || fail "./config.yaml" "$out"
out=$(cd "$T_TMP" && mkdir -p empty && cd empty && "$FLOWCTL" ipfix dump 2>&1); rc=$?
check_eq "ipfix dump without -c and no ./config.yaml: exit 2" 2 "$rc"
grep -q "config.yaml" <<<"$out" && pass "names ./config.yaml" || fail "message" "$out"
printf 'outputs:\n- collector:\n    remoteAddress: nowhere\n' > "$T_TMP/bad.yaml"
out=$("$FLOWCTL" ipfix dump -c "$T_TMP/bad.yaml" 2>&1); rc=$?
check_eq "ipfix dump with a bad address: exit 2" 2 "$rc"
grep -q "bad.yaml:3:" <<<"$out" && pass "bad address named with file:line" || fail "bad address message" "$out"
finish
