#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Flow table end to end: the meter attached to the router namespace of the
# testbed, real traffic, then
#   - `flowctl dump` shows exact packet and byte counts of known UDP, TCP,
#     ICMP and IPv6 flows (TCP checked against a capture at the sender);
#   - `flowctl flush` by key and --all;
#   - exactness under load: while a generator sends a known number of
#     datagrams over thousands of flows at full speed, drains every 5 ms
#     (test/bpf/flow_drain.c --watch: flow table + flow cache) add up to
#     exactly what reached each hook;
#   - a full map (-l 256): every packet is still accounted, through the
#     overflow catch-all records.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip tc jq ping

B=${FLOWCTL_BUILD:-build/default}
case "$B" in /*) ;; *) B=$TOP/$B ;; esac
DRAIN=$B/test/bpf_flow_drain
if [ ! -x "$FLOWCTL" ] || [ ! -x "$DRAIN" ]; then
	skip "$(basename "$0")" "build first: $FLOWCTL, $DRAIN (make tests)"
	exit 0
fi

testbed_up
on_cleanup "$FLOWCTL meter detach -i '$NS0:*'"
if ! $FLOWCTL meter attach --hooks both -i "$NS0:*" >"$T_TMP/attach.log" 2>&1; then
	fail attach "$(cat "$T_TMP/attach.log")"
	finish
	exit
fi
pass attach

ifindex() { # NS DEV
	ip -n "$1" -o link show "$2" | awk -F': ' '{print $1}'
}
IF1=$(ifindex "$NS0" eth1)
IF2=$(ifindex "$NS0" eth2)

# One flow of COUNT datagrams of SIZE payload bytes from sport SPORT.
udp_flow() { # NS DST PORT SPORT COUNT SIZE
	ip netns exec "$1" "$PY" - "$2" "$3" "$4" "$5" "$6" <<'EOF'
import socket, sys
dst, port, sport, count, size = sys.argv[1], int(sys.argv[2]), \
    int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind(("", sport))
for _ in range(count):
    s.sendto(b"u" * size, (dst, port))
EOF
}

# The dump entry of NS0 matching a jq condition, as "pkts bytes".
dump_json() {
	$FLOWCTL dump -o json --netns "$NS0" >"$T_TMP/dump.json"
}
jq_true() { jq -e "$@" >/dev/null; }
entry() { # JQ-CONDITION -> "pkts bytes" (sum if several)
	jq -r "[.[] | select($1)] | \"\(map(.pkts) | add // 0) \(map(.bytes) | add // 0) \(length)\"" \
		"$T_TMP/dump.json"
}

# ---- known flows ------------------------------------------------------

udp_flow "$NS1" 10.2.0.2 5000 40000 10 100		# IP length 128
udp_flow "$NS1" fd00:2::2 5000 40001 7 50		# IP length 98
ip netns exec "$NS1" ping -q -c 5 -i 0.2 10.2.0.2 >/dev/null	# 84 B
ip netns exec "$NS1" ping -6 -q -c 4 -i 0.2 fd00:2::2 >/dev/null # 104 B

# TCP: no GSO on the hosts, so every packet the sender's capture sees is
# one packet on the wire, as the meter counts them.
ip -n "$NS1" link set dev eth0 gso_max_segs 1
ip -n "$NS2" link set dev eth0 gso_max_segs 1
# (a background job reads no here-document: the script goes to a file)
cat >"$T_TMP/echo_server.py" <<'EOF'
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.2.0.2", 5001))
s.listen(1)
s.settimeout(20)
c, _ = s.accept()
c.settimeout(20)
while True:
    b = c.recv(65536)
    if not b:
        break
    c.sendall(b)
c.close()
EOF
bg ip netns exec "$NS2" "$PY" "$T_TMP/echo_server.py"
# listening before the client starts: no refused attempt, one flow
for _ in $(seq 50); do
	ip netns exec "$NS2" ss -Hltn 'sport = :5001' | grep -q . && break
	sleep 0.1
done
# the sniffer: packets and IP bytes of port 5001 seen on NS1's eth0
ip netns exec "$NS1" "$PY" - "$T_TMP/sniff.ready" >"$T_TMP/sniff.out" <<'EOF' &
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(("eth0", 0))
s.settimeout(0.2)
open(sys.argv[1], "w").close()
out = [0, 0]
inn = [0, 0]
idle = 0
deadline = time.time() + 20
while time.time() < deadline and idle < 10:
    try:
        f = s.recv(65535)
    except socket.timeout:
        idle += 1
        continue
    idle = 0
    if len(f) < 34 or f[12:14] != b"\x08\x00" or f[23] != 6:
        continue
    ihl = (f[14] & 15) * 4
    iplen = struct.unpack("!H", f[16:18])[0]
    sp, dp = struct.unpack("!HH", f[14 + ihl:14 + ihl + 4])
    if dp == 5001:
        out[0] += 1; out[1] += iplen
    elif sp == 5001:
        inn[0] += 1; inn[1] += iplen
print(out[0], out[1], inn[0], inn[1])
EOF
SNIFF=$!
T_PIDS+=("$SNIFF")
for _ in $(seq 50); do [ -e "$T_TMP/sniff.ready" ] && break; sleep 0.1; done
sleep 0.3
ip netns exec "$NS1" "$PY" - <<'EOF'
import socket, time
for _ in range(50):
    try:
        c = socket.create_connection(("10.2.0.2", 5001), timeout=5)
        break
    except OSError:
        time.sleep(0.1)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
c.settimeout(5)
for i in range(10):
    c.sendall(b"t" * (200 + i))
    n = 0
    while n < 200 + i:
        n += len(c.recv(65536))
c.shutdown(socket.SHUT_WR)
c.recv(10)
c.close()
EOF
wait "$SNIFF"
read -r T_OUT_P T_OUT_B T_IN_P T_IN_B < "$T_TMP/sniff.out"
sleep 0.2

dump_json
UDP4="(.netns == \"$NS0\") and .proto == 17 and .src == \"10.1.0.2\" and .dst == \"10.2.0.2\" and .sport == 40000 and .dport == 5000"
check_eq dump_udp4_ingress "10 1280 1" "$(entry "$UDP4 and .direction == \"ingress\" and .ingressIfindex == $IF1 and .egressIfindex == 0")"
check_eq dump_udp4_egress "10 1280 1" "$(entry "$UDP4 and .direction == \"egress\" and .ingressIfindex == $IF1 and .egressIfindex == $IF2")"
UDP6=".proto == 17 and .src == \"fd00:1::2\" and .dst == \"fd00:2::2\" and .sport == 40001 and .dport == 5000 and .ipVersion == 6"
check_eq dump_udp6_ingress "7 686 1" "$(entry "$UDP6 and .direction == \"ingress\"")"
check_eq dump_udp6_egress "7 686 1" "$(entry "$UDP6 and .direction == \"egress\"")"
check_eq dump_icmp_echo "5 420 1" "$(entry ".proto == 1 and .icmpType == 8 and .icmpCode == 0 and .src == \"10.1.0.2\" and .direction == \"ingress\"")"
check_eq dump_icmp_reply "5 420 1" "$(entry ".proto == 1 and .icmpType == 0 and .src == \"10.2.0.2\" and .direction == \"ingress\" and .ingressIfindex == $IF2")"
check_eq dump_icmp6_echo "4 416 1" "$(entry ".proto == 58 and .icmpType == 128 and .src == \"fd00:1::2\" and .direction == \"ingress\"")"
TCP=".proto == 6 and .direction == \"ingress\""
check_eq dump_tcp_client "$T_OUT_P $T_OUT_B 1" "$(entry "$TCP and .src == \"10.1.0.2\" and .dport == 5001")"
check_eq dump_tcp_server "$T_IN_P $T_IN_B 1" "$(entry "$TCP and .src == \"10.2.0.2\" and .sport == 5001")"
# SYN, ACK and FIN seen, and the flow marked finished
check dump_tcp_flags jq_true "[.[] | select($TCP and .src == \"10.1.0.2\" and .dport == 5001)][0] | (.tcpFlags % 2 == 1) and ((.tcpFlags / 2 | floor) % 2 == 1) and ((.tcpFlags / 16 | floor) % 2 == 1) and .finished == 1" "$T_TMP/dump.json"
# TTL: 63 after forwarding (egress), 64 at the router's ingress
check_eq dump_ttl "63 63 64 64" "$(jq -r "[.[] | select($UDP4)] | sort_by(.direction) | map(\"\(.minTtl) \(.maxTtl)\") | join(\" \")" "$T_TMP/dump.json")"
NOW_MS=$(($(date +%s) * 1000))
check dump_times_wallclock jq_true "[.[] | select($UDP4)][0] | (.start > $NOW_MS - 60000) and (.end < $NOW_MS + 5000) and (.start <= .end)" "$T_TMP/dump.json"

$FLOWCTL dump --netns "$NS0" >"$T_TMP/dump.txt"
# linux-flow-exporter's columns first (IFINDEX is the ingress ifindex,
# PROTO a number, ADDR:PORT), flowctl's after them
check dump_text_header grep -Eq '^IFINDEX +PROTO +SRC +DST +PKTS +BYTES +NETNS +DIR +OIF +MARK +FLAGS$' "$T_TMP/dump.txt"
check dump_text_ipv6 grep -Eq "^$IF1 +17 +\[fd00:1::2\]:40001 +\[fd00:2::2\]:5000 +7 +686 +$NS0 +egress +$IF2 +0 " "$T_TMP/dump.txt"
check dump_text_ipv4 grep -Eq "^$IF1 +17 +10\.1\.0\.2:40000 +10\.2\.0\.2:5000 +10 +1280 +$NS0 +ingress +0 +0 " "$T_TMP/dump.txt"
$FLOWCTL dump -o wide --netns "$NS0" >"$T_TMP/dump.wide"
check dump_wide_columns grep -Eq '^IFINDEX +PROTO +SRC +DST +PKTS +BYTES +START +END +FINISHED +NETNS .* TTL$' "$T_TMP/dump.wide"
$FLOWCTL dump -o json --netns "${T_PREFIX}nope" >/dev/null 2>&1
check_eq dump_unknown_netns 1 $?

# ---- flush --------------------------------------------------------------

OUT=$($FLOWCTL flush -i "$IF1" -p udp -s 10.1.0.2 -S 40000 -d 10.2.0.2 -D 5000 --netns "$NS0")
check_eq flush_key_rc 0 $?
check_eq flush_key_removed "$NS0: removed 2 entries" "$OUT"	# both hooks
dump_json
check_eq flush_key_gone "0 0 0" "$(entry "$UDP4")"
check_eq flush_key_others_stay "7 686 1" "$(entry "$UDP6 and .direction == \"ingress\"")"
$FLOWCTL flush -i "$IF1" -p udp -s 10.1.0.2 -S 40000 -d 10.2.0.2 -D 5000 --netns "$NS0" >/dev/null
check_eq flush_nothing_matches 1 $?
OUT=$($FLOWCTL flush -p 17 -s fd00:1::2 -S 40001 -d fd00:2::2 -D 5000 --netns "$NS0")
check_eq flush_key_ipv6 "$NS0: removed 2 entries" "$OUT"
$FLOWCTL flush -s 10.1.0.2 -d fd00:2::2 --netns "$NS0" >/dev/null 2>&1
check_eq flush_mixed_families_usage 2 $?
OUT=$($FLOWCTL flush --all --netns "$NS0")
check flush_all_reports grep -Eq "^removed [1-9][0-9]* entries in all$" <<<"$OUT"
dump_json
check_eq flush_all_gone "0 0 0" "$(entry ".proto == 6 or .proto == 1")"

# ---- exactness under load --------------------------------------------------

# IPv4 only from here: no neighbour or router discovery beside the
# generator (a router solicitation from NS3 would join the catch-all)
for ns in "$NS0" "$NS1" "$NS2" "$NS3"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
done
# a socket on the port (never read): no ICMP port unreachable back
bg ip netns exec "$NS2" "$PY" -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.2.0.2", 9999))
time.sleep(120)'

# COUNT datagrams of 64 bytes round-robin over NFLOWS source ports, as
# fast as python goes; prints the number sent.
generate() { # COUNT NFLOWS
	ip netns exec "$NS1" "$PY" - "$1" "$2" <<'EOF'
import errno, resource, socket, sys
count, nflows = int(sys.argv[1]), int(sys.argv[2])
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
socks = []
for i in range(nflows):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.1.0.2", 20000 + i))
    socks.append(s)
payload = b"g" * 64
sent = 0
while sent < count:
    try:
        socks[sent % nflows].sendto(payload, ("10.2.0.2", 9999))
        sent += 1
    except OSError as e:
        if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
            raise
print(sent)
EOF
}

tx_dropped() {
	ip -n "$NS1" -s -j link show eth0 | jq '.[0].stats64.tx.dropped // .[0].stats.tx.dropped // 0'
}

# Drain every 5 ms while NFLOWS flows of COUNT datagrams go through.
load_run() { # NAME COUNT NFLOWS
	local name=$1 sent d0 d1 expect out
	rm -f "$T_TMP/stop"
	$FLOWCTL flush -A --netns "$NS0" >/dev/null
	"$DRAIN" --watch --netns "$NS0" --proto 17 --dport 9999 --iif "$IF1" \
		--interval-ms 5 --until "$T_TMP/stop" --max-ms 60000 \
		>"$T_TMP/$name.out" 2>"$T_TMP/$name.err" &
	local dpid=$!
	T_PIDS+=("$dpid")
	sleep 0.3
	d0=$(tx_dropped)
	sent=$(generate "$2" "$3")
	d1=$(tx_dropped)
	sleep 0.2
	touch "$T_TMP/stop"
	if ! wait "$dpid"; then
		fail "${name}_drain_driver" "$(cat "$T_TMP/$name.err")"
	fi
	expect=$((sent - (d1 - d0)))
	echo "$name: sent $sent, dropped before the router $((d1 - d0)), $(head -1 "$T_TMP/$name.out")"
	LOAD_EXPECT=$expect
	LOAD_OUT=$T_TMP/$name.out
}

field() { # DIRECTION KEY
	awk -v d="$1" -v k="$2" '$1 == d {
		for (i = 2; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == k)
				print kv[2]
		}
	}' "$LOAD_OUT"
}

load_run load 200000 4000
for d in ingress egress; do
	check_eq "load_exact_${d}_packets" "$LOAD_EXPECT" "$(field $d packets)"
	check_eq "load_exact_${d}_octets" "$((LOAD_EXPECT * 92))" "$(field $d octets)"
	check_eq "load_no_overflow_$d" 0 "$(field $d overflow_packets)"
done
check load_many_drains awk '/^drains=/ { split($1, kv, "="); exit !(kv[2] > 20) }' "$LOAD_OUT"

# ---- a full map: every packet still accounted (overflow catch-all) --------

$FLOWCTL meter detach -i "$NS0:*" >/dev/null 2>&1
if $FLOWCTL meter attach -l 256 --hooks both -i "$NS0:*" >"$T_TMP/attach2.log" 2>&1; then
	load_run full 100000 4000
	for d in ingress egress; do
		p=$(field $d packets)
		o=$(field $d overflow_packets)
		po=$(field $d octets)
		oo=$(field $d overflow_octets)
		check_eq "full_map_exact_${d}_packets" "$LOAD_EXPECT" \
			"$((${p:-0} + ${o:-0}))"
		check_eq "full_map_exact_${d}_octets" "$((LOAD_EXPECT * 92))" \
			"$((${po:-0} + ${oo:-0}))"
		if [ "${o:-0}" -gt 0 ]; then
			pass "full_map_overflowed_$d"
		else
			fail "full_map_overflowed_$d" "no overflow with 256 flows per buffer"
		fi
	done
	# the meter said so through its ring buffer, too
	check full_map_events grep -Eq 'map_full_events=[1-9]' "$LOAD_OUT"
else
	fail full_map_attach "$(cat "$T_TMP/attach2.log")"
fi

finish
