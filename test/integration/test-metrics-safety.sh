#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The agent's metrics endpoint under abuse: 140 clients that open a
# connection and send their request a byte at a time (40 from the
# scraper's own address, 100 from another one) must not starve a scrape;
# they are closed once silent for the connection timeout; headers larger
# than a connection's memory are refused.  The agent meters nothing (an
# empty pin root of its own) and exports nowhere.
. "$(dirname "$0")/lib.sh"
require_cmd curl

PM=$(free_port)
mkdir -p "$T_TMP/pins"
printf 'metricsAddress: "127.0.0.1:%s"\n' "$PM" > "$T_TMP/agent.yaml"
FLOWCTL_PIN_ROOT=$T_TMP/pins "${T_AGENT_WRAP[@]}" "$FLOWCTL" agent -c "$T_TMP/agent.yaml" \
	--no-attach 2>"$T_TMP/agent.err" &
APID=$!
T_PIDS+=($APID)
if ! wait_for 50 curl -sf -o /dev/null "http://127.0.0.1:$PM/metrics"; then
	fail "agent serves metrics" "$(tail -3 "$T_TMP/agent.err")"
	finish
	exit 1
fi
pass "agent serves metrics on 127.0.0.1:$PM"

# every socket operation has a timeout: the script ends in ~10 s
$PY - "$PM" > "$T_TMP/slow.out" 2>&1 <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
conns = []
for src, n in (("127.0.0.1", 40), ("127.0.0.2", 100)):
    for i in range(n):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.bind((src, 0))
            s.connect(("127.0.0.1", port))
            conns.append(s)
        except OSError:
            s.close()
req = b"GET /metrics HTTP/1.1\r\nHost: slow\r\n"
for k in range(3):          # a byte a round, never the end of the headers
    for s in conns:
        try:
            s.send(req[k:k + 1])
        except OSError:
            pass
    time.sleep(0.1)


def scrape(extra=b""):
    t0 = time.monotonic()
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    data = b""
    try:
        c.sendall(b"GET /metrics HTTP/1.0\r\n" + extra + b"\r\n")
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
    except OSError:
        pass
    c.close()
    status = data.split(b" ", 2)[1].decode() if data else "none"
    return status, int((time.monotonic() - t0) * 1000)


st, ms = scrape()
print("scrape", st, ms)
print("slow", len(conns))
# silent since the last byte: closed after the timeout (5 s)
time.sleep(6.5)
closed = 0
for s in conns:
    try:
        s.settimeout(0.05)
        if s.recv(1) == b"":
            closed += 1
    except socket.timeout:
        pass
    except OSError:
        closed += 1
print("closed", closed)
st, ms = scrape(b"X-Big: " + b"a" * 65536 + b"\r\n")
print("big", st)
EOF
scrape=$(awk '$1 == "scrape" { print $2, $3 }' "$T_TMP/slow.out")
read -r st ms <<< "$scrape"
nslow=$(awk '$1 == "slow" { print $2 }' "$T_TMP/slow.out")
[ "${nslow:-0}" -ge 100 ] && pass "$nslow slow connections held open" ||
	fail "slow connections" "$(cat "$T_TMP/slow.out")"
check_eq "a scrape beside the slow clients: 200" 200 "${st:-none}"
[ "${ms:-99999}" -lt 1000 ] && pass "... answered in $ms ms (< 1 s)" ||
	fail "scrape time" "${ms:-none} ms"
check_eq "silent slow connections closed after the timeout" "${nslow:-x}" \
	"$(awk '$1 == "closed" { print $2 }' "$T_TMP/slow.out")"
check_eq "64 KiB of headers refused: 431" 431 \
	"$(awk '$1 == "big" { print $2 }' "$T_TMP/slow.out")"
kill -0 "$APID" 2>/dev/null && pass "agent still running" || fail "agent" "exited"
v=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PM/metrics")
check_eq "and scraped normally afterwards" 200 "$v"
kill -TERM "$APID"
wait "$APID"
check_eq "agent exits 0" 0 "$?"

finish
