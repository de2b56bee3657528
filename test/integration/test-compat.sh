#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A user of linux-flow-exporter trying flowctl with files in the original's
# shapes (written here): a config.yaml in the working directory (no -c)
# with the original's templates 1001/1002/1004/1005 and its `collectors:`
# form, a `log: {file: stdout}` output with hooks: an array-in/array-out jq
# `command:` with quotes, `shell:` hooks whose #! line picks bash and
# python3, and a `command:` script like the original's
# misc/hook_command_example_*.sh; a flow.yaml sent by `ipfix file` without
# options.  Kernel flows must use template 1004 (most measured fields).
# Last, the dummy-flow shape (ports given for a template without them) sent
# to nfcapd: exactly the file's records, a warning per ignored field.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd tc ip clang jq bash nfcapd nfdump

UDP="$PY $TOP/test/integration/udpsend.py"

testbed_up || { fail testbed "cannot create the netns testbed"; finish; exit 1; }
"$FLOWCTL" meter attach -i "$NS0:*" >/dev/null || { fail attach "meter attach failed"; finish; exit 1; }
on_cleanup "$FLOWCTL meter detach -i '$NS0:*'"

PU=$(free_port); PM=$(free_port)
collector_up c 120 --udp "$PU"

W=$T_TMP/work
mkdir -p "$W"
# the shape of the original's misc/hook_command_example_hostname.sh, for
# the array it is given
cat > "$W/hook_hostname.sh" <<'EOF'
#!/bin/sh
# IN: [{"src": "10.1.0.1", ...}, ...]  OUT: the same with "hostname" added
echo `cat` | jq -c --arg hostname "$(hostname)" 'map(. + {hostname: $hostname})'
EOF
chmod 0755 "$W/hook_hostname.sh"
tpl() { # ID FIELDS...
	echo "- id: $1"
	echo "  template:"
	shift
	for f in "$@"; do echo "  - name: $f"; done
}
BASE="SourceIPv4Address DestinationIPv4Address ProtocolIdentifier"
PORTS="SourceTransportPort DestinationTransportPort IngressInterface"
{
	cat <<EOF
maxIpfixMessageLen: 100
timerFinishedDrainSeconds: 1
timerForceDrainSeconds: 30
timerTemplateFlushSeconds: 60
scanIntervalMilliseconds: 200
collectors:
- remoteAddress: 127.0.0.1:$PU
outputs:
- log:
    file: stdout
    hooks:
    - command: "jq -c 'map(. + {site: \"lab\", sawLevel: has(\"level\")})'"
    - shell: |
        #!/bin/bash
        # bash only: [[ ]] and BASH_VERSION (dash, /bin/sh, fails here)
        [[ -n \$BASH_VERSION ]] || exit 9
        jq -c '[.[] | . + {viaBash: true}]'
    - shell: |
        #!/usr/bin/env python3
        import json, sys
        flows = json.load(sys.stdin)
        for f in flows:
            f["viaPython"] = sys.version_info[0]
        json.dump(flows, sys.stdout)
    - command: $W/hook_hostname.sh
templates:
EOF
	tpl 1001 $BASE OctetDeltaCount PacketDeltaCount
	tpl 1002 $BASE $PORTS OctetDeltaCount PacketDeltaCount
	tpl 1004 $BASE $PORTS OctetDeltaCount PacketDeltaCount FlowStartMilliseconds FlowEndMilliseconds
	tpl 1005 $BASE $PORTS OctetDeltaCount PacketDeltaCount FlowStartNanoseconds FlowEndNanoseconds
} > "$W/config.yaml"
# a flow file in the original's shape
cat > "$W/flow.yaml" <<'EOF'
flowsets:
- templateId: 1001
  flows:
  - SourceIPv4Address: 10.9.0.1
    DestinationIPv4Address: 10.9.0.2
    ProtocolIdentifier: 17
    OctetDeltaCount: 1000
    PacketDeltaCount: 10
  - SourceIPv4Address: 10.9.0.3
    DestinationIPv4Address: 10.9.0.4
    ProtocolIdentifier: 6
    OctetDeltaCount: 2000
    PacketDeltaCount: 20
EOF

out=$("$FLOWCTL" ipfix template -c "$W/config.yaml" 2>&1)
grep -q "^IPv4 flows: template 1004: the most measured fields: 10" <<<"$out" &&
	pass "ipfix template: IPv4 flows use 1004 and says why" || fail "ipfix template" "$out"

(cd "$W" && exec "$FLOWCTL" agent --no-journal --metrics-address "127.0.0.1:$PM" \
	>"$T_TMP/agent.out" 2>"$T_TMP/agent.err") &
AP=$!; T_PIDS+=($AP)
wait_for 100 grep -q "agent started" "$T_TMP/agent.err" || fail agent "did not start: $(cat "$T_TMP/agent.err")"
grep -q "config ./config.yaml (no -c: found in the working directory)" "$T_TMP/agent.err" &&
	pass "agent without -c reads ./config.yaml and says so" || fail "start line" "$(head -3 "$T_TMP/agent.err")"
ip netns exec "$NS1" $UDP 10.2.0.2 7600 40 20 46300 4
sleep 1.5
kill -TERM $AP; wait $AP; rc=$?
check_eq "agent: exit 0 on SIGTERM" 0 "$rc"

L=$T_TMP/agent.out
n=$(jq -s "[.[] | select(.netns == \"$NS0\" and .dport == 7600)] | length" "$L")
[ "${n:-0}" -ge 4 ] && pass "log on stdout: $n lines of our flows" || fail "stdout log" "$(head -c 300 "$L")"
check_eq "stdout has only JSON flow lines" 0 "$(grep -cv '^{"level":"info","ts":[0-9]*,"msg":"flowlog",' "$L")"
sel="select(.netns == \"$NS0\" and .dport == 7600)"
check_eq "jq array hook (command: with quotes) added site" "$n" \
	"$(jq -s "[.[] | $sel | select(.site == \"lab\")] | length" "$L")"
check_eq "hooks never see the logger's level" "$n" \
	"$(jq -s "[.[] | $sel | select(.sawLevel == false)] | length" "$L")"
check_eq "#!/bin/bash shell hook ran with bash" "$n" \
	"$(jq -s "[.[] | $sel | select(.viaBash == true)] | length" "$L")"
check_eq "#!/usr/bin/env python3 shell hook ran with python3" "$n" \
	"$(jq -s "[.[] | $sel | select(.viaPython == 3)] | length" "$L")"
check_eq "command: script in the original's shape added hostname" "$n" \
	"$(jq -s "[.[] | $sel | select(.hostname == \"$(hostname)\")] | length" "$L")"
check_eq "the original's keys are all there" "$n" \
	"$(jq -s "[.[] | $sel | select(has(\"src\") and has(\"dst\") and has(\"proto\") and has(\"sport\") and has(\"ingressIfindex\") and has(\"egressIfindex\") and has(\"pkts\") and has(\"bytes\") and has(\"action\") and has(\"start\") and has(\"end\") and has(\"finished\"))] | length" "$L")"
check_eq "no hook failed" "" "$(grep 'hook .* failed' "$T_TMP/agent.err")"

# ipfix file without options: ./config.yaml and ./flow.yaml
out=$(cd "$W" && "$FLOWCTL" ipfix file 2>&1); rc=$?
check_eq "ipfix file without options: exit 0" 0 "$rc"
grep -q "2 of 2 records sent" <<<"$out" && pass "ipfix file sent the flow file's 2 records" || fail "ipfix file" "$out"
sleep 0.5
kill -TERM $CPID; wait $CPID
R=$T_TMP/c.jsonl
D=$(obs_domain "$NS0")
check_eq "kernel flows exported with template 1004 (ports and times)" "1004" \
	"$(jq -rs "[.[] | select(._domain == $D and .destinationTransportPort == 7600) | ._template] | unique | join(\",\")" "$R")"
check_eq "1004 records carry flowStartMilliseconds" 0 \
	"$(jq -s "[.[] | select(._domain == $D and .destinationTransportPort == 7600 and ((.flowStartMilliseconds // 0) == 0))] | length" "$R")"
check_eq "flow file records reached the collector with 1001" "30" \
	"$(jq -s '[.[] | select(._template == 1001) | .packetDeltaCount] | add' "$R")"

# The original's dummy-flow shape to nfcapd: template 1001 has no ports, the
# flows give ports anyway (ignored with a warning naming FILE:LINE), and
# nfcapd must store exactly the file's records.
PN=$(free_port)
N=$T_TMP/nf
mkdir -p "$N" "$T_TMP/dummy"
nfcapd -b 127.0.0.1 -p "$PN" -w "$N" -t 3600 >"$T_TMP/nfcapd.log" 2>&1 &
NP=$!
T_PIDS+=($NP)
sleep 0.5
{
	cat <<EOF
maxIpfixMessageLen: 100
collectors:
- remoteAddress: 127.0.0.1:$PN
templates:
EOF
	tpl 1001 $BASE OctetDeltaCount PacketDeltaCount
	tpl 1002 $BASE $PORTS OctetDeltaCount PacketDeltaCount
} > "$T_TMP/dummy/config.yaml"
{
	echo "flowsets:"
	echo "- templateId: 1001"
	echo "  flows:"
	for i in 1 2 3 4 5 6; do
		cat <<EOF
  - SourceIPv4Address:        0x0a010001
    DestinationIPv4Address:   0x0a010002
    ProtocolIdentifier:       6
    SourceTransportPort:      $((9990 + i))
    DestinationTransportPort: 22
    PacketDeltaCount:         100
EOF
	done
	echo "- templateId: 1002"
	echo "  flows:"
	for i in 1 2 3; do
		cat <<EOF
  - SourceIPv4Address:        0x0a010001
    DestinationIPv4Address:   0x0a010003
    ProtocolIdentifier:       6
    SourceTransportPort:      $((8880 + i))
    DestinationTransportPort: 22
    PacketDeltaCount:         1000
EOF
	done
} > "$T_TMP/dummy/flow.yaml"
out=$(cd "$T_TMP/dummy" && "$FLOWCTL" ipfix file 2>&1); rc=$?
check_eq "dummy flows: ipfix file exit 0" 0 "$rc"
grep -qi "flow.yaml:[0-9]*:[0-9]*: sourceTransportPort is not a field of template 1001" <<<"$out" &&
	pass "dummy flows: a field outside template 1001 warns with FILE:LINE" ||
	fail "dummy flows: warning" "$out"
sleep 0.5
kill -TERM $NP; wait $NP
nfdump -R "$N" -q -N -o "fmt:%da|%dp|%pkt" 2>/dev/null | tr -d ' ' | sort >"$T_TMP/dummy.txt"
check_eq "dummy flows: nfcapd stored the file's 9 records" 9 "$(wc -l <"$T_TMP/dummy.txt")"
check_eq "dummy flows: 6 x 100 packets without ports (1001)" "6 600" \
	"$(awk -F'|' '$1 == "10.1.0.2" && $2 == 0 {n++; s += $3} END {print n + 0, s + 0}' "$T_TMP/dummy.txt")"
check_eq "dummy flows: 3 x 1000 packets to port 22 (1002)" "3 3000" \
	"$(awk -F'|' '$1 == "10.1.0.3" && $2 == 22 {n++; s += $3} END {print n + 0, s + 0}' "$T_TMP/dummy.txt")"
grep -q "Sequence Errors: 0" "$T_TMP/nfcapd.log" &&
	pass "dummy flows: nfcapd saw no sequence error" ||
	fail "dummy flows: sequence" "$(grep -i sequence "$T_TMP/nfcapd.log")"
finish
