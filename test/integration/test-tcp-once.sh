#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A forwarded flow reaches the collector once (issue 11, the original's
# counting): a TCP transfer through the metered router, with the original's
# template 1004 (ports, times), gives nfcapd one record per unidirectional
# flow with the default hooks (egress), and two (one per hook) with
# --hooks both, whose two records of a flow carry the same packets (every
# forwarded packet passes both hooks).  Exact packet sums per flow are
# test-agent's and test-flowtable's.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd tc ip clang nfcapd nfdump iperf3

testbed_up || { fail testbed "cannot create the netns testbed"; finish; exit 1; }
on_cleanup "$FLOWCTL meter detach -i '$NS0:*'"

# one TCP transfer: iperf3 opens a control and a data connection, so 4
# unidirectional flows with port 5201 cross the router
run_case() { # NAME HOOKS-ARGS... ; sets NREC NDUP NDIFF
	local name=$1 pn pm d=$T_TMP/$1
	shift
	mkdir -p "$d/nf"
	pn=$(free_port); pm=$(free_port)
	cat > "$d/config.yaml" <<EOF
scanIntervalMilliseconds: 200
metricsAddress: 127.0.0.1:$pm
collectors:
- remoteAddress: 127.0.0.1:$pn
templates:
- id: 1004
  template:
  - name: SourceIPv4Address
  - name: DestinationIPv4Address
  - name: ProtocolIdentifier
  - name: SourceTransportPort
  - name: DestinationTransportPort
  - name: IngressInterface
  - name: OctetDeltaCount
  - name: PacketDeltaCount
  - name: FlowStartMilliseconds
  - name: FlowEndMilliseconds
EOF
	"$FLOWCTL" meter attach -i "$NS0:*" "$@" >"$d/attach.out" 2>&1 ||
		fail "$name: attach" "$(cat "$d/attach.out")"
	nfcapd -b 127.0.0.1 -p "$pn" -w "$d/nf" -t 3600 >"$d/nfcapd.log" 2>&1 &
	local npid=$!
	T_PIDS+=($npid)
	sleep 0.5
	"${T_AGENT_WRAP[@]}" "$FLOWCTL" agent -c "$d/config.yaml" --no-attach \
		--no-journal 2>"$d/agent.err" &
	local apid=$!
	T_PIDS+=($apid)
	wait_for 50 curl -sf "http://127.0.0.1:$pm/metrics" ||
		fail "$name: agent" "$(tail -3 "$d/agent.err")"
	ip netns exec "$NS3" iperf3 -s -1 -B 10.3.0.2 >/dev/null 2>&1 &
	local spid=$!
	T_PIDS+=($spid)
	sleep 0.5
	ip netns exec "$NS1" iperf3 -c 10.3.0.2 -n 200K >/dev/null 2>&1 ||
		fail "$name: iperf3" "the transfer failed"
	wait "$spid"
	sleep 0.5
	kill -TERM "$apid"; wait "$apid"
	kill -TERM "$npid"; wait "$npid"
	nfdump -R "$d/nf" -q -N -o "fmt:%sa|%da|%sp|%dp|%pkt" 'proto tcp and port 5201' \
		2>/dev/null | tr -d ' ' >"$d/records.txt"
	NREC=$(wc -l <"$d/records.txt")
	# flow keys whose records disagree on the packet count
	NDIFF=$(awk -F'|' '{k = $1 "|" $2 "|" $3 "|" $4; if (k in p && p[k] != $5) d++; p[k] = $5} END {print d + 0}' "$d/records.txt")
	NDUP=$(cut -d'|' -f1-4 "$d/records.txt" | sort | uniq -d | wc -l)
	"$FLOWCTL" meter detach -i "$NS0:*" >/dev/null 2>&1
}

run_case default
check_eq "default (egress): one record per unidirectional flow (4)" 4 "$NREC"
check_eq "default (egress): no flow key twice" 0 "$NDUP"

run_case both --hooks both
check_eq "--hooks both: two records per flow (8)" 8 "$NREC"
check_eq "--hooks both: each flow key twice" 4 "$NDUP"
check_eq "--hooks both: both records of a flow carry the same packets" 0 "$NDIFF"

finish
