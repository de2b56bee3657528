#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The strict IPFIX test collector (ipfix_collector.py) checked against
# messages built by hand here, byte by byte from RFC 7011, over real UDP and
# TCP sockets on loopback.  Each case uses its own transport session (its
# own socket), so one collector run checks them all and each case reads its
# own per-session counters.  The deliberate errors are counted exactly: a
# collector that misses one, or reports one too many, fails.
. "$(dirname "$0")/lib.sh"
require_cmd jq

COL=${IPFIX_COLLECTOR:-$TOP/test/integration/ipfix_collector.py}
SUM=$T_TMP/summary.json
REC=$T_TMP/records.jsonl
SENT=$T_TMP/sent.json

$PY "$COL" --udp 0 --tcp 0 --bind 127.0.0.1 --out "$SUM" --records "$REC" \
	--ready-file "$T_TMP/ready" --duration 60 2>"$T_TMP/collector.err" &
cpid=$!
T_PIDS+=("$cpid")
for _ in $(seq 50); do
	[ -s "$T_TMP/ready" ] && break
	sleep 0.1
done
if [ ! -s "$T_TMP/ready" ]; then
	fail "collector starts" "no ready file after 5 s: $(cat "$T_TMP/collector.err")"
	finish
	exit 1
fi
pass "collector starts and reports its ports"
UDP_PORT=$(jq .udp "$T_TMP/ready")
TCP_PORT=$(jq .tcp "$T_TMP/ready")

# The exporter side: hand-built messages.  Writes $SENT: the session of
# each case and the totals computed from the records it sent.
if ! $PY - "$UDP_PORT" "$TCP_PORT" "$SENT" <<'EOF'
import json
import socket
import struct
import sys
import time

UDP_PORT, TCP_PORT, SENT = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
DST = ("127.0.0.1", UDP_PORT)
ETIME = 1700000000
sessions = {}
expect = {"packets": 0, "octets": 0, "records": 0, "by_reason": {}}


def message(seq, dom, *sets, etime=ETIME, version=10, length=None):
    body = b"".join(sets)
    n = 16 + len(body) if length is None else length
    return struct.pack("!HHIII", version, n, etime, seq, dom) + body


def set_(sid, body):
    return struct.pack("!HH", sid, 4 + len(body)) + body


def fields(spec):
    out = b""
    for ie, n, *pen in spec:
        if pen:
            out += struct.pack("!HHI", ie | 0x8000, n, pen[0])
        else:
            out += struct.pack("!HH", ie, n)
    return out


def template_set(tid, spec):
    return set_(2, struct.pack("!HH", tid, len(spec)) + fields(spec))


def options_template_set(tid, scope, spec):
    return set_(3, struct.pack("!HHH", tid, len(spec), scope) + fields(spec))


# Flow template 256: proto src sport dst dport iif oif dir pkts octs reason
FLOW = [(4, 1), (8, 4), (7, 2), (12, 4), (11, 2), (10, 4), (14, 4), (61, 1),
        (2, 8), (1, 8), (136, 1)]
FLOW_T = template_set(256, FLOW)


def flow(proto, src, sport, dst, dport, iif, oif, dirn, pkts, octs, reason):
    expect["packets"] += pkts
    expect["octets"] += octs
    expect["records"] += 1
    r = expect["by_reason"].setdefault(str(reason), [0, 0, 0])
    r[0] += 1
    r[1] += pkts
    r[2] += octs
    return struct.pack("!B4sH4sHIIBQQB", proto, socket.inet_aton(src),
                       sport, socket.inet_aton(dst), dport, iif, oif, dirn,
                       pkts, octs, reason)


def flows(n, base=0, reason=1):
    return b"".join(flow(17, "10.9.%d.%d" % (base, i), 1000 + i, "10.8.0.1",
                         53, 2, 3, 0, 1 + i, 100 * (i + 1), reason)
                    for i in range(n))


def uncounted(n):
    """Records for messages the collector must reject: not expected."""
    saved = json.dumps(expect)
    recs = flows(n)
    expect.clear()
    expect.update(json.loads(saved))
    return recs


def data_set(tid, records, pad=b""):
    return set_(tid, records + pad)


def udp_case(name, msgs):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    for m in msgs:
        s.sendto(m, DST)
    sessions[name] = "udp:127.0.0.1:%d" % s.getsockname()[1]
    return s


keep = []
# sequence numbers: data records before the message, per session+domain
keep.append(udp_case("seq_ok", [
    message(0, 1, FLOW_T),
    message(0, 1, data_set(256, flows(2))),
    message(2, 1, data_set(256, flows(3))),
    message(5, 1, data_set(256, flows(1)))]))
keep.append(udp_case("seq_wrong", [
    message(0, 1, FLOW_T, data_set(256, flows(2))),
    message(5, 1, data_set(256, flows(2))),      # expected 2
    message(7, 1, data_set(256, flows(1)))]))    # right after 5+2
keep.append(udp_case("templates_no_advance", [
    message(0, 1, FLOW_T),
    message(0, 1, data_set(256, flows(2))),
    message(2, 1, FLOW_T),                       # template refresh
    message(2, 1, FLOW_T, data_set(256, flows(1)))]))
keep.append(udp_case("templates_counted_wrongly", [
    message(0, 1, FLOW_T),
    message(1, 1, data_set(256, flows(2)))]))    # counted the template
OPT = [(149, 4), (41, 8), (42, 8), (166, 8)]
OPT_T = options_template_set(300, 1, OPT)
opt_rec = struct.pack("!IQQQ", 1, 17, 42, 3)
keep.append(udp_case("options_advance", [
    message(0, 1, FLOW_T, OPT_T),
    message(0, 1, data_set(300, opt_rec)),
    message(1, 1, data_set(256, flows(2)))]))
keep.append(udp_case("options_not_counted", [
    message(0, 1, FLOW_T, OPT_T, data_set(300, opt_rec)),
    message(0, 1, data_set(256, flows(2)))]))    # expected 1

# variable-length field (short and long form), reduced-size counters,
# IPv6, NTP nanoseconds, enterprise and unknown IEs; template 401 has the
# same record without the variable field (the fixed-length fast path)
NS = 1700000000123456789
ntp = ((NS // 10**9 + 2208988800) << 32) | ((NS % 10**9 << 32) // 10**9)
V_TAIL = [(27, 16), (28, 16), (1, 4), (2, 3), (156, 8), (7, 2, 12345),
          (5000, 2), (4, 1), (136, 1)]
V_T = template_set(400, [(82, 65535)] + V_TAIL)
F_T = template_set(401, V_TAIL)
src6 = socket.inet_pton(socket.AF_INET6, "2001:db8::1")
dst6 = socket.inet_pton(socket.AF_INET6, "2001:db8::ff:2")


def vtail(octs, pkts):
    expect["packets"] += pkts
    expect["octets"] += octs
    expect["records"] += 1
    r = expect["by_reason"].setdefault("2", [0, 0, 0])
    r[0] += 1
    r[1] += pkts
    r[2] += octs
    return src6 + dst6 + struct.pack("!I", octs) + pkts.to_bytes(3, "big") + \
        struct.pack("!Q", ntp) + b"\xab\xcd" + b"\x12\x34" + b"\x3a\x02"


long_name = ("x" * 299 + "y").encode()
vrecs = b"\x04eth0" + vtail(1500, 70000) + \
    b"\xff" + struct.pack("!H", 300) + long_name + vtail(99, 1)
keep.append(udp_case("varlen", [
    message(0, 1, V_T, F_T),
    message(0, 1, data_set(400, vrecs), data_set(401, vtail(1500, 70000)))]))

# padding: zero padding is fine, non-zero padding is malformed
keep.append(udp_case("padding", [
    message(0, 1, FLOW_T, data_set(256, flows(2), pad=b"\0\0\0"))]))
keep.append(udp_case("padding_nonzero", [
    message(0, 1, FLOW_T, data_set(256, flows(2), pad=b"\0\1\0"))]))

# two observation domains in one session: a counter each
keep.append(udp_case("two_domains", [
    message(0, 1, FLOW_T, data_set(256, flows(2))),
    message(0, 2, FLOW_T, data_set(256, flows(3))),
    message(2, 1, data_set(256, flows(1))),
    message(3, 2, data_set(256, flows(1)))]))
keep.append(udp_case("two_domains_shared_counter", [
    message(0, 1, FLOW_T, data_set(256, flows(2))),
    message(2, 2, FLOW_T, data_set(256, flows(1)))]))   # domain 2: 0
# two sessions: each starts at 0
for name in ("session_a", "session_b"):
    keep.append(udp_case(name, [
        message(0, 1, FLOW_T, data_set(256, flows(2))),
        message(2, 1, data_set(256, flows(1)))]))

# malformed messages, one kind per session
good = message(0, 1, FLOW_T, data_set(256, uncounted(1)))
keep.append(udp_case("bad_version", [
    message(0, 1, FLOW_T, version=9)]))
keep.append(udp_case("bad_length", [good[:2] + struct.pack("!H", 100) +
                                     good[4:]]))
over = set_(256, uncounted(1))
over = over[:2] + struct.pack("!H", len(over) + 8) + over[4:]
keep.append(udp_case("set_overrun", [message(0, 1, FLOW_T, over)]))
keep.append(udp_case("empty_set", [message(0, 1, FLOW_T, set_(256, b""))]))
keep.append(udp_case("unknown_template", [
    message(0, 1, data_set(999, b"\0" * 8))]))
keep.append(udp_case("export_time_backwards", [
    message(0, 1, FLOW_T, etime=ETIME + 10),
    message(0, 1, FLOW_T, etime=ETIME + 5),
    message(0, 1, FLOW_T, etime=ETIME + 6)]))


# TCP: framing by the header's length field
def tcp_conn():
    s = socket.create_connection(("127.0.0.1", TCP_PORT))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


a = tcp_conn()
sessions["tcp_two_in_one_send"] = "tcp:127.0.0.1:%d#" % a.getsockname()[1]
a.sendall(message(0, 1, FLOW_T) + message(0, 1, data_set(256, flows(2))))
a.sendall(message(2, 1, data_set(256, flows(3))) +
          message(5, 1, data_set(256, flows(1))))
b = tcp_conn()
sessions["tcp_split"] = "tcp:127.0.0.1:%d#" % b.getsockname()[1]
m1 = message(0, 1, FLOW_T, data_set(256, flows(2)))
m2 = message(2, 1, data_set(256, flows(4)))
for piece in (m1[:3], m1[3:20], m1[20:], m2[:30], m2[30:]):
    b.sendall(piece)
    time.sleep(0.03)     # separate segments on the wire

# template withdrawal (RFC 7011 8.1): over TCP the data after it cannot be
# decoded; over UDP a withdrawal is never sent (8.4).  Redefining a
# template over TCP without withdrawing it is a conflict.
d = tcp_conn()
sessions["tcp_withdrawal"] = "tcp:127.0.0.1:%d#" % d.getsockname()[1]
WITHDRAW = set_(2, struct.pack("!HH", 256, 0))
d.sendall(message(0, 1, FLOW_T, data_set(256, flows(1))) +
          message(1, 1, WITHDRAW) +
          message(1, 1, data_set(256, uncounted(1))))
keep.append(udp_case("udp_withdrawal", [message(0, 1, FLOW_T, WITHDRAW)]))
e = tcp_conn()
sessions["tcp_conflict"] = "tcp:127.0.0.1:%d#" % e.getsockname()[1]
e.sendall(message(0, 1, FLOW_T) + message(0, 1, template_set(256, FLOW[:-1])))

# bulk: 100k records over TCP in messages of 30, sequence right throughout
c = tcp_conn()
sessions["tcp_bulk"] = "tcp:127.0.0.1:%d#" % c.getsockname()[1]
BULK, PER = 100000, 30
chunks, seq, i = [message(0, 9, FLOW_T)], 0, 0
while i < BULK:
    n = min(PER, BULK - i)
    recs = b"".join(flow(6, "10.7.%d.%d" % (j % 1000 // 250, j % 250),
                         40000 + j % 1000, "10.6.0.1", 443, 5, 6, 1,
                         j % 7 + 1, 64 * (j % 7 + 1), 3)
                    for j in range(i, i + n))
    chunks.append(message(seq, 9, data_set(256, recs)))
    seq += n
    i += n
c.sendall(b"".join(chunks))
for s in (a, b, c, d, e):
    s.close()
expect["sessions"] = sessions
with open(SENT, "w") as f:
    json.dump(expect, f)
EOF
then
	fail "hand-built messages sent" "the sender failed"
fi

kill -TERM "$cpid"
wait "$cpid"
rc=$?
T_PIDS=()
check_eq "collector exits 0 on SIGTERM" 0 "$rc"
if [ ! -s "$SUM" ] || [ ! -s "$SENT" ]; then
	fail "summary written" "no $SUM or $SENT"
	finish
	exit 1
fi
pass "summary written"
cat "$T_TMP/collector.err"
check_eq "no internal collector errors" 0 "$(jq .collector_errors "$SUM")"

# per-session counter of a case: sess_get CASE FIELD
sess_get() {
	jq -r --arg s "$(jq -r --arg c "$1" '.sessions[$c]' "$SENT")" "
		[.per_session | to_entries[] |
		 select(.key == \$s or ((\$s | endswith(\"#\")) and
			(.key | startswith(\$s)))) | .value.$2] |
		if length == 1 then .[0] else \"sessions: \(length)\" end" "$SUM"
}
# records of a template in the .jsonl, as a jq array
# (grep first: the file also holds the 100000 bulk records)
recs() {
	grep -F "\"_template\": $1," "$REC" | jq -c -s "[.[] | select(._template == $1)]"
}

check_eq "correct sequence: 0 errors" 0 "$(sess_get seq_ok sequence_errors)"
check_eq "correct sequence: 6 records" 6 "$(sess_get seq_ok data_records)"
check_eq "wrong sequence: exactly 1 error" 1 "$(sess_get seq_wrong sequence_errors)"
s=$(jq -r '.sessions.seq_wrong' "$SENT")
check_eq "wrong sequence: details expected 2 got 5" "2 5" \
	"$(jq -r --arg s "$s" '.sequence_error_details[] | select(.session == $s) | "\(.expected) \(.got)"' "$SUM")"
check_eq "templates do not advance the sequence" 0 \
	"$(sess_get templates_no_advance sequence_errors)"
check_eq "a sequence counting templates is an error" 1 \
	"$(sess_get templates_counted_wrongly sequence_errors)"
check_eq "options records advance the sequence" 0 \
	"$(sess_get options_advance sequence_errors)"
check_eq "options records counted" 1 "$(sess_get options_advance options_records)"
check_eq "a sequence ignoring options records is an error" 1 \
	"$(sess_get options_not_counted sequence_errors)"
check_eq "options record decoded" "1 17 42 3 observationDomainId" \
	"$(jq -r '[.options[] | select(._template == 300)][0] | "\(.observationDomainId) \(.exportedMessageTotalCount) \(.exportedFlowRecordTotalCount) \(.notSentFlowTotalCount) \(._scope[0])"' "$SUM")"

# variable-length fields and the other decodings
v=$(recs 400)
check_eq "varlen: 2 records, 0 malformed" "2 0" \
	"$(jq length <<<"$v") $(sess_get varlen malformed)"
check_eq "varlen: 1-byte length form" eth0 "$(jq -r '.[0].interfaceName' <<<"$v")"
check_eq "varlen: 255 + 2-byte length form" "300 y" \
	"$(jq -r '.[1].interfaceName | "\(length) \(.[-1:])"' <<<"$v")"
check_eq "IPv6 addresses as text" "2001:db8::1 2001:db8::ff:2" \
	"$(jq -r '.[0] | "\(.sourceIPv6Address) \(.destinationIPv6Address)"' <<<"$v")"
check_eq "reduced-size counters (4 and 3 octets)" "1500 70000 99 1" \
	"$(jq -r '"\(.[0].octetDeltaCount) \(.[0].packetDeltaCount) \(.[1].octetDeltaCount) \(.[1].packetDeltaCount)"' <<<"$v")"
# jq's numbers are doubles: read this one with Python
check_eq "flowStartNanoseconds NTP -> unix ns" 1700000000123456789 \
	"$($PY -c 'import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["_template"] == 400:
        print(r["flowStartNanoseconds"])
        break' "$REC")"
check_eq "enterprise and unknown IEs kept as hex" "abcd 1234" \
	"$(jq -r '.[0] | "\(."e12345.7") \(.ie5000)"' <<<"$v")"
check_eq "fixed-length path decodes like the variable one" \
	"$(jq -c '.[0] | del(.interfaceName, ._template)' <<<"$v")" \
	"$(recs 401 | jq -c '.[0] | del(._template)')"

check_eq "zero padding: 2 records, 0 malformed" "2 0" \
	"$(sess_get padding data_records) $(sess_get padding malformed)"
check_eq "non-zero padding is malformed" 1 "$(sess_get padding_nonzero malformed)"
check_eq "two domains in one session: 0 errors" 0 \
	"$(sess_get two_domains sequence_errors)"
check_eq "two domains in one session: records per domain" "3 4" \
	"$(sess_get two_domains 'domains["1"].records') $(sess_get two_domains 'domains["2"].records')"
check_eq "one counter shared by two domains is an error" 1 \
	"$(sess_get two_domains_shared_counter sequence_errors)"
check_eq "two sessions: 0 errors, 3 records each" "0 3 0 3" \
	"$(sess_get session_a sequence_errors) $(sess_get session_a data_records) $(sess_get session_b sequence_errors) $(sess_get session_b data_records)"

check_eq "bad version is malformed" 1 "$(sess_get bad_version malformed)"
check_eq "bad length is malformed" 1 "$(sess_get bad_length malformed)"
check_eq "set overrunning the message is malformed" 1 "$(sess_get set_overrun malformed)"
check_eq "empty set counted" 1 "$(jq .empty_sets "$SUM")"
check_eq "export time going backwards counted once" 1 \
	"$(jq .export_time_backwards "$SUM")"

check_eq "TCP: two messages in one send" "4 6 0 0" \
	"$(sess_get tcp_two_in_one_send messages) $(sess_get tcp_two_in_one_send data_records) $(sess_get tcp_two_in_one_send sequence_errors) $(sess_get tcp_two_in_one_send malformed)"
check_eq "TCP: messages split across sends" "2 6 0 0" \
	"$(sess_get tcp_split messages) $(sess_get tcp_split data_records) $(sess_get tcp_split sequence_errors) $(sess_get tcp_split malformed)"
check_eq "TCP: withdrawn template no longer decodes" "1 0" \
	"$(sess_get tcp_withdrawal data_records) $(sess_get tcp_withdrawal malformed)"
check_eq "data set of a withdrawn or unknown template counted" 2 \
	"$(jq .unknown_template_sets "$SUM")"
check_eq "template withdrawal over UDP is malformed" 1 \
	"$(sess_get udp_withdrawal malformed)"
check_eq "TCP: template redefined without withdrawal" "1 0" \
	"$(jq .template_conflicts "$SUM") $(sess_get tcp_conflict malformed)"
check_eq "TCP: bulk 100000 records, 0 errors" "100000 0 0" \
	"$(sess_get tcp_bulk data_records) $(sess_get tcp_bulk sequence_errors) $(sess_get tcp_bulk malformed)"

# Whole-run totals: the deliberate errors and nothing else
check_eq "sequence errors in total" 4 "$(jq .sequence_errors "$SUM")"
check_eq "malformed in total" 5 "$(jq .malformed "$SUM")"
check_eq "data records = records sent" "$(jq .records "$SENT")" \
	"$(jq .data_records "$SUM")"
check_eq "totals = what was sent" \
	"$(jq -c '[.packets, .octets]' "$SENT")" \
	"$(jq -c '[.totals.packetDeltaCount, .totals.octetDeltaCount]' "$SUM")"
check_eq "by_end_reason = what was sent" \
	"$(jq -c '.by_reason | to_entries | sort_by(.key) | map([.key] + .value)' "$SENT")" \
	"$(jq -c '.by_end_reason | to_entries | sort_by(.key) | map([.key, .value.records, .value.packets, .value.octets])' "$SUM")"
# flow j of the bulk: j % 1000 names the flow; 100 records of it, with
# j % 7 + 1 packets each
check_eq "by_flow: one bulk flow summed exactly" \
	"$(jq -nc '[range(17; 100000; 1000) | . % 7 + 1] | [length, add, 64 * add]')" \
	"$(jq -c '.by_flow["6|10.7.0.17|40017|10.6.0.1|443|5|6|1|9"] | [.records, .packets, .octets]' "$SUM")"
check_eq "by_flow: all bulk records in 1000 flows" "1000 100000" \
	"$(jq -r '[.by_flow | to_entries[] | select(.key | endswith("|9"))] | "\(length) \(map(.value.records) | add)"' "$SUM")"
check_eq "records file has every data and options record" \
	"$(jq '.data_records + .options_records' "$SUM")" "$(wc -l <"$REC")"

finish
