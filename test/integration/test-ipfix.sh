#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# `flowctl ipfix file` against real decoders on 127.0.0.1:
#   - nfcapd (UDP) stores every record; nfdump -r shows the exact values,
#     nfcapd counts no sequence error;
#   - tshark decodes every record of the same run (UDP) and of a TCP
#     session: nothing malformed, no expert warning;
#   - udpSegmentation: true: nfcapd stores the same records, no sequence
#     error, also behind a route whose MTU is below the messages (the
#     exporter falls back to one send per datagram);
#   - collectors down (UDP and TCP): the command completes, reports what
#     was not sent, exits 1;
#   - a bad config, and a flow longer than any message, exit 2 with
#     FILE:LINE:COL.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nfcapd nfdump tshark

PY=/usr/bin/python3
export TZ=UTC

free_port() { # udp|tcp
	$PY -c 'import socket, sys
t = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, t); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' "$1"
}

# wait_for N CMD...: retry CMD every 0.1 s, at most N times
wait_for() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

stop_pid() { # pid: SIGTERM, wait (bounded), SIGKILL
	local p=$1 i
	kill -TERM "$p" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}

D=$T_TMP
UDP_PORT=$(free_port udp)
TCP_PORT=$(free_port tcp)

write_config() { # file remote transport
	cat >"$1" <<EOF
maxIpfixMessageLen: 1400
observationDomainId: 4242
enterpriseElements:
- {name: netnsName, enterpriseNumber: 99999, id: 1, source: netns}
outputs:
- collector:
    remoteAddress: $2
    transport: $3
templates:
- id: 1024
  template: [{name: sourceIPv4Address}, {name: destinationIPv4Address},
             {name: sourceTransportPort}, {name: destinationTransportPort},
             {name: protocolIdentifier}, {name: octetDeltaCount},
             {name: packetDeltaCount}, {name: flowStartMilliseconds},
             {name: flowEndMilliseconds}, {name: ingressInterface},
             {name: egressInterface}]
- id: 1025
  template: [{name: sourceIPv6Address}, {name: destinationIPv6Address},
             {name: sourceTransportPort}, {name: destinationTransportPort},
             {name: protocolIdentifier}, {name: octetDeltaCount},
             {name: packetDeltaCount}, {name: flowStartMilliseconds},
             {name: flowEndMilliseconds}]
- id: 1026
  template: [{name: sourceIPv4Address}, {name: destinationIPv4Address},
             {name: protocolIdentifier}, {name: icmpTypeCodeIPv4},
             {name: octetDeltaCount}, {name: packetDeltaCount},
             {name: flowStartNanoseconds}, {name: flowEndNanoseconds},
             {name: flowEndReason}, {name: tcpControlBits}, {name: netnsName}]
EOF
}

# 40 IPv4 TCP flows, 20 IPv6 UDP flows, 5 IPv4 ICMP flows: several
# messages of 1400 octets, every value derived from the flow's number.
N4=40 N6=20 NI=5
{
	echo "flowsets:"
	echo "- templateId: 1024"
	echo "  flows:"
	for ((i = 1; i <= N4; i++)); do
		echo "  - {sourceIPv4Address: 10.1.0.$i, destinationIPv4Address: 10.2.0.1, sourceTransportPort: $((40000 + i)), destinationTransportPort: 443, protocolIdentifier: 6, octetDeltaCount: $((1000 * i)), packetDeltaCount: $i, flowStartMilliseconds: $((1700000000000 + i)), flowEndMilliseconds: $((1700000005000 + i)), ingressInterface: 2, egressInterface: 3}"
	done
	echo "- templateId: 1025"
	echo "  flows:"
	for ((i = 1; i <= N6; i++)); do
		echo "  - {sourceIPv6Address: \"fd00:1::$(printf %x "$i")\", destinationIPv6Address: \"fd00:2::1\", sourceTransportPort: $((5000 + i)), destinationTransportPort: 53, protocolIdentifier: 17, octetDeltaCount: $((100 * i)), packetDeltaCount: $((2 * i)), flowStartMilliseconds: $((1700000001000 + i)), flowEndMilliseconds: $((1700000002000 + i))}"
	done
	echo "- templateId: 1026"
	echo "  flows:"
	for ((i = 1; i <= NI; i++)); do
		echo "  - {sourceIPv4Address: 10.3.0.$i, destinationIPv4Address: 10.2.0.1, protocolIdentifier: 1, icmpTypeCodeIPv4: 0x0800, octetDeltaCount: $((84 * i)), packetDeltaCount: $i, flowStartNanoseconds: $((1700000000123456789 + i)), flowEndNanoseconds: 1700000009000000000, flowEndReason: 1, netnsName: ns$i}"
	done
} >"$D/flows.yaml"
NALL=$((N4 + N6 + NI))

nfcapd_start() { # dir log: nfcapd on UDP_PORT (sets NFCAPD)
	mkdir -p "$1"
	nfcapd -p "$UDP_PORT" -b 127.0.0.1 -w "$1" -t 3600 >"$2" 2>&1 &
	NFCAPD=$!
	T_PIDS+=("$NFCAPD")
}

send_file() { # name config: flows.yaml sent, exit 0, every record sent
	if "$FLOWCTL" ipfix file -c "$2" -f "$D/flows.yaml" >"$D/$1.out" 2>&1; then
		pass "$1-file-exit-0"
	else
		fail "$1-file-exit-0" "$(cat "$D/$1.out")"
	fi
	check_eq "$1-file-report" "$NALL of $NALL records sent, 0 not sent" \
		"$(grep -o '[0-9]* of [0-9]* records sent, [0-9]* not sent' "$D/$1.out")"
}

nfdump_records() { # dir: what nfcapd stored, a sorted line per record
	nfdump -R "$1" -q -N -o "fmt:%sa|%da|%sp|%dp|%pr|%pkt|%byt|%ts|%te" 2>&1 |
		tr -d ' ' | sort
}

nfcapd_no_sequence_error() { # name log
	if grep -q "Sequence Errors: 0, Bad Packets: 0" "$2"; then
		pass "$1"
	else
		fail "$1" "$(grep -i 'sequence\|bad' "$2" | head -5)"
	fi
}

# --- UDP: nfcapd stores, tshark decodes the same datagrams ---
write_config "$D/udp.yaml" "127.0.0.1:$UDP_PORT" udp
nfcapd_start "$D/nf" "$D/nfcapd.log"
tshark -i lo -f "udp port $UDP_PORT" -w "$D/udp.pcap" -a duration:30 \
	>"$D/tshark-udp.log" 2>&1 &
TSHARK=$!
T_PIDS+=("$TSHARK")
udp_listening() { ss -Hlun "sport = :$UDP_PORT" | grep -q .; }
tshark_ready() { grep -q "Capturing on" "$1"; }
if ! wait_for 100 udp_listening || ! wait_for 100 tshark_ready "$D/tshark-udp.log"; then
	fail udp-setup "nfcapd or tshark did not start: $(cat "$D/nfcapd.log" "$D/tshark-udp.log")"
fi
sleep 0.5
send_file udp "$D/udp.yaml"
sleep 1
stop_pid "$TSHARK"
stop_pid "$NFCAPD"

# nfdump: every record, exact values (-N: numbers; ICMP dport "type.code")
nfdump_records "$D/nf" >"$D/nfdump.txt"
{
	for ((i = 1; i <= N4; i++)); do
		printf '10.1.0.%d|10.2.0.1|%d|443|6|%d|%d|2023-11-1422:13:20.%03d|2023-11-1422:13:25.%03d\n' \
			"$i" $((40000 + i)) "$i" $((1000 * i)) "$i" "$i"
	done
	for ((i = 1; i <= N6; i++)); do
		printf 'fd00:1::%x|fd00:2::1|%d|53|17|%d|%d|2023-11-1422:13:21.%03d|2023-11-1422:13:22.%03d\n' \
			"$i" $((5000 + i)) $((2 * i)) $((100 * i)) "$i" "$i"
	done
} | sort >"$D/nfdump.want"
if diff -u "$D/nfdump.want" <(grep -v '^10\.3\.' "$D/nfdump.txt") >"$D/nfdump.diff"; then
	pass nfdump-values-v4-v6
else
	fail nfdump-values-v4-v6 "$(head -20 "$D/nfdump.diff")"
fi
check_eq nfdump-icmp-records "$NI" "$(grep -c '^10\.3\.0\.[0-9]*|10\.2\.0\.1|0|8\.0|1|' "$D/nfdump.txt")"
check_eq nfdump-total "$NALL" "$(wc -l <"$D/nfdump.txt")"
nfcapd_no_sequence_error nfcapd-no-sequence-error "$D/nfcapd.log"
grep -q "Observation domain 4242" "$D/nfcapd.log" &&
	pass nfcapd-observation-domain ||
	fail nfcapd-observation-domain "$(head -5 "$D/nfcapd.log")"

# tshark on the same datagrams
tshark_checks() { # name pcap decode-as
	local name=$1 pcap=$2 da=$3 v
	tshark -r "$pcap" -d "$da" -V >"$D/$name.txt" 2>&1
	tshark -r "$pcap" -d "$da" -q -z expert,note >"$D/$name.expert" 2>&1
	check_eq "$name-v4-records" "$N4" "$(grep -c 'SrcAddr: 10\.1\.0\.' "$D/$name.txt")"
	check_eq "$name-v6-records" "$N6" "$(grep -c 'SrcAddr: fd00:1::' "$D/$name.txt")"
	check_eq "$name-ntp-records" "$NI" "$(grep -c 'StartTime: Nov 14, 2023 22:13:20.1234567' "$D/$name.txt")"
	check_eq "$name-options-templates" 2 "$(grep -c 'Set [0-9]* \[id=3\] (Options Template)' "$D/$name.txt")"
	v=$(grep -ci 'malformed' "$D/$name.txt")
	check_eq "$name-not-malformed" 0 "$v"
	# expert info: nothing above "note" (sequence, malformed, length)
	if grep -qE '^(Errors|Warns) \(' "$D/$name.expert"; then
		fail "$name-expert" "$(grep -A5 -E '^(Errors|Warns)' "$D/$name.expert")"
	else
		pass "$name-expert"
	fi
}
tshark_checks tshark-udp "$D/udp.pcap" "udp.port==$UDP_PORT,cflow"

# same_as_first_run NAME: nfcapd (NFCAPD, writing $D/nf-NAME) stopped, it
# stored the records of the first UDP run, without a sequence error
same_as_first_run() {
	sleep 1
	stop_pid "$NFCAPD"
	nfdump_records "$D/nf-$1" >"$D/nfdump-$1.txt"
	if diff -u "$D/nfdump.txt" "$D/nfdump-$1.txt" >"$D/nfdump-$1.diff"; then
		pass "$1-nfdump-same-records"
	else
		fail "$1-nfdump-same-records" "$(head -20 "$D/nfdump-$1.diff")"
	fi
	nfcapd_no_sequence_error "$1-nfcapd-no-sequence-error" "$D/nfcapd-$1.log"
}

# --- udpSegmentation: true: nfcapd gets the same records, in order ---
# Runs of messages of one length leave as one UDP_SEGMENT send; the
# kernel cuts them into the same datagrams.  (A capture on lo sees each
# run as one packet, as for TCP offload: that is why it is opt-in.)
write_config "$D/gso.yaml" "127.0.0.1:$UDP_PORT" udp
sed -i 's/^    transport: udp$/&\n    udpSegmentation: true/' "$D/gso.yaml"
check_eq gso-config-line 1 "$(grep -c '^    udpSegmentation: true$' "$D/gso.yaml")"
nfcapd_start "$D/nf-gso" "$D/nfcapd-gso.log"
wait_for 100 udp_listening ||
	fail gso-setup "nfcapd did not start: $(cat "$D/nfcapd-gso.log")"
send_file gso "$D/gso.yaml"
same_as_first_run gso

# --- TCP: a collector that reads the stream; tshark decodes it ---
write_config "$D/tcp.yaml" "127.0.0.1:$TCP_PORT" tcp
$PY -c 'import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); s.settimeout(20)
c, _ = s.accept(); c.settimeout(20); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    n += len(b)
print(n)' "$TCP_PORT" >"$D/tcp-collector.out" 2>&1 &
COLL=$!
T_PIDS+=("$COLL")
tshark -i lo -f "tcp port $TCP_PORT" -w "$D/tcp.pcap" -a duration:30 \
	>"$D/tshark-tcp.log" 2>&1 &
TSHARK=$!
T_PIDS+=("$TSHARK")
tcp_listening() { ss -Hltn "sport = :$TCP_PORT" | grep -q .; }
if ! wait_for 100 tcp_listening || ! wait_for 100 tshark_ready "$D/tshark-tcp.log"; then
	fail tcp-setup "collector or tshark did not start"
fi
sleep 0.5
if "$FLOWCTL" ipfix file -c "$D/tcp.yaml" -f "$D/flows.yaml" >"$D/tcp.out" 2>&1; then
	pass tcp-file-exit-0
else
	fail tcp-file-exit-0 "$(cat "$D/tcp.out")"
fi
check_eq tcp-file-report "$NALL of $NALL records sent, 0 not sent" \
	"$(grep -o '[0-9]* of [0-9]* records sent, [0-9]* not sent' "$D/tcp.out")"
wait_for 50 test -s "$D/tcp-collector.out"
sleep 0.5
stop_pid "$TSHARK"
tshark_checks tshark-tcp "$D/tcp.pcap" "tcp.port==$TCP_PORT,cflow"

# --- collectors down: complete, report, exit 1 ---
collector_down() { # name transport port
	local rc=0 t0=$SECONDS
	write_config "$D/down-$1.yaml" "127.0.0.1:$3" "$2"
	timeout 30 "$FLOWCTL" ipfix file -c "$D/down-$1.yaml" -f "$D/flows.yaml" \
		>"$D/down-$1.out" 2>&1 || rc=$?
	check_eq "$1-down-exit-1" 1 "$rc"
	if grep -qE '[1-9][0-9]* not sent' "$D/down-$1.out"; then
		pass "$1-down-reports-not-sent"
	else
		fail "$1-down-reports-not-sent" "$(cat "$D/down-$1.out")"
	fi
	[ $((SECONDS - t0)) -le 10 ] && pass "$1-down-completes" ||
		fail "$1-down-completes" "took $((SECONDS - t0)) s"
}
collector_down udp udp "$(free_port udp)"
collector_down tcp tcp "$(free_port tcp)"

# --- a bad config: exit 2, FILE:LINE:COL ---
printf 'outputs:\n- collector:\n    remoteAddress: 127.0.0.1\n' >"$D/bad.yaml"
rc=0
"$FLOWCTL" ipfix file -c "$D/bad.yaml" -f "$D/flows.yaml" >"$D/bad.out" 2>&1 || rc=$?
check_eq bad-config-exit-2 2 "$rc"
if grep -q "bad.yaml:3:20: remoteAddress: bad address" "$D/bad.out"; then
	pass bad-config-position
else
	fail bad-config-position "$(cat "$D/bad.out")"
fi

# --- a flow longer than any message: exit 2, FILE:LINE:COL, no crash ---
cat >"$D/big.yaml" <<EOF
maxIpfixMessageLen: 65535
collectors:
- address: 127.0.0.1:$UDP_PORT
templates:
- id: 1024
  template: [{name: interfaceName}, {name: interfaceDescription}]
EOF
$PY -c 'print("flowsets:\n- templateId: 1024\n  flows:\n  - interfaceName: " +
	"a" * 30000 + "\n    interfaceDescription: " + "b" * 60000)' \
	>"$D/big-flows.yaml"
rc=0
timeout 30 "$FLOWCTL" ipfix file -c "$D/big.yaml" -f "$D/big-flows.yaml" \
	>"$D/big.out" 2>&1 || rc=$?
check_eq oversized-record-exit-2 2 "$rc"
if grep -q "big-flows.yaml:4:5: flow: the record is 90006 octets" "$D/big.out"; then
	pass oversized-record-position
else
	fail oversized-record-position "$(cut -c1-300 "$D/big.out")"
fi

# --- udpSegmentation over a route whose MTU is below the messages ---
# The kernel refuses a run whose datagrams exceed the route's MTU (a plain
# send fragments them): the same messages go again one per send, from then
# on for that collector, and the collector stores every record.  Two
# namespaces of this test joined by a veth pair with MTU 1280: nfcapd in
# one, the exporter in the other.
NSA=${T_PREFIX}ma NSB=${T_PREFIX}mb
ip netns add "$NSA" && on_cleanup ip netns del "$NSA"
ip netns add "$NSB" && on_cleanup ip netns del "$NSB"
ip link add veth-ma netns "$NSA" type veth peer name veth-mb netns "$NSB"
ip -n "$NSA" addr add 198.18.7.1/30 dev veth-ma
ip -n "$NSB" addr add 198.18.7.2/30 dev veth-mb
ip -n "$NSA" link set veth-ma mtu 1280 up
ip -n "$NSB" link set veth-mb mtu 1280 up
mkdir -p "$D/nf-mtu"
ip netns exec "$NSB" nfcapd -p "$UDP_PORT" -b 198.18.7.2 -w "$D/nf-mtu" \
	-t 3600 >"$D/nfcapd-mtu.log" 2>&1 &
NFCAPD=$!
T_PIDS+=("$NFCAPD")
mtu_listening() { ip netns exec "$NSB" ss -Hlun "sport = :$UDP_PORT" | grep -q .; }
wait_for 100 mtu_listening ||
	fail mtu-setup "nfcapd did not start: $(cat "$D/nfcapd-mtu.log")"
write_config "$D/mtu.yaml" "198.18.7.2:$UDP_PORT" udp
sed -i 's/^    transport: udp$/&\n    udpSegmentation: true/' "$D/mtu.yaml"
if ip netns exec "$NSA" "$FLOWCTL" ipfix file -c "$D/mtu.yaml" \
	-f "$D/flows.yaml" >"$D/mtu.out" 2>&1; then
	pass mtu-file-exit-0
else
	fail mtu-file-exit-0 "$(cat "$D/mtu.out")"
fi
check_eq mtu-file-report "$NALL of $NALL records sent, 0 not sent" \
	"$(grep -o '[0-9]* of [0-9]* records sent, [0-9]* not sent' "$D/mtu.out")"
if grep -q "udpSegmentation: the kernel refuses it on this route" "$D/mtu.out"; then
	pass mtu-falls-back-to-one-send-per-datagram
else
	fail mtu-falls-back-to-one-send-per-datagram "$(head -5 "$D/mtu.out")"
fi
same_as_first_run mtu

# --- the compiled templates ---
"$FLOWCTL" ipfix template -c "$D/udp.yaml" >"$D/template.out" 2>&1
if grep -q "template 1026 (flow file only): 11 fields, record 47..301 octets" "$D/template.out" &&
	grep -q "template 1024 (IPv4 flows): 11 fields, record 53 octets, 26 records per message" "$D/template.out"; then
	pass ipfix-template
else
	fail ipfix-template "$(head -20 "$D/template.out")"
fi

finish
