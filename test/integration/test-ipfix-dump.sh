#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# flowctl ipfix dump: a one-shot export of what the kernel maps hold, exact
# (drained once: a second dump finds nothing), to a collector checking
# sequence numbers.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd tc ip clang jq

COLL="$PY $TOP/test/integration/ipfix_collector.py"
UDP="$PY $TOP/test/integration/udpsend.py"

testbed_up || { fail testbed "cannot create the netns testbed"; finish; exit 1; }
"$FLOWCTL" meter attach -i "$NS0:*" --hooks both >/dev/null || { fail attach "meter attach failed"; finish; exit 1; }
on_cleanup "$FLOWCTL meter detach -i '$NS0:*'"

PU=$(free_port)
$COLL --udp "$PU" --bind 127.0.0.1 --out "$T_TMP/c.json" --records "$T_TMP/c.jsonl" \
	--ready-file "$T_TMP/c.ready" --duration 120 2>"$T_TMP/c.err" &
CP=$!; T_PIDS+=($CP)
wait_for 50 test -e "$T_TMP/c.ready" || fail collector "not ready"
printf 'outputs:\n- collector:\n    remoteAddress: 127.0.0.1:%s\n' "$PU" > "$T_TMP/cfg.yaml"

ip netns exec "$NS1" ping -c 5 -i 0.1 -q 10.2.0.2 >/dev/null
ip netns exec "$NS1" $UDP 10.2.0.2 7500 100 20 46000 10
out=$("$FLOWCTL" ipfix dump -c "$T_TMP/cfg.yaml" 2>&1); rc=$?
check_eq "ipfix dump: exit 0" 0 "$rc"
grep -q "flow record(s) from" <<<"$out" && pass "ipfix dump reports what it sent" || fail "report" "$out"
# a second dump must not send our flows again (other namespaces metered on
# this machine may still have some): the sums below count both dumps
out2=$("$FLOWCTL" ipfix dump -c "$T_TMP/cfg.yaml" 2>&1); rc=$?
check_eq "second dump: exit 0" 0 "$rc"
sleep 0.5
kill -TERM $CP; wait $CP
R=$T_TMP/c.jsonl
D=$(obs_domain "$NS0")
s() { jq -s "[.[] | select(._domain == $D and ($1)) | .packetDeltaCount] | add // 0" "$R"; }
check_eq "ICMP echo: 5 per hook" "5 5" \
	"$(s '.protocolIdentifier==1 and .icmpTypeCodeIPv4==2048 and .flowDirection==0') $(s '.protocolIdentifier==1 and .icmpTypeCodeIPv4==2048 and .flowDirection==1')"
check_eq "UDP: 100 per hook, over both dumps (drained once)" "100 100" \
	"$(s '.destinationTransportPort==7500 and .flowDirection==0') $(s '.destinationTransportPort==7500 and .flowDirection==1')"
check_eq "forced end (4) on every record of ours" 0 \
	"$(jq -s '[.[] | select(.destinationTransportPort==7500 and .flowEndReason != 4)] | length' "$R")"
check_eq "no sequence error" 0 "$(jq .sequence_errors "$T_TMP/c.json")"
out=$("$FLOWCTL" ipfix dump 2>&1); rc=$?
check_eq "ipfix dump without -c: exit 2" 2 "$rc"
printf 'outputs:\n- collector:\n    remoteAddress: nowhere\n' > "$T_TMP/bad.yaml"
out=$("$FLOWCTL" ipfix dump -c "$T_TMP/bad.yaml" 2>&1); rc=$?
check_eq "ipfix dump with a bad address: exit 2" 2 "$rc"
grep -q "bad.yaml:3:" <<<"$out" && pass "bad address named with file:line" || fail "bad address message" "$out"
finish
