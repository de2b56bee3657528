#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# What scripts written for linux-flow-exporter parse, with real flows in
# the meter of the router namespace:
#   - `flowctl dump`: the original's columns first (IFINDEX PROTO SRC DST
#     PKTS BYTES; -o wide adds START END FINISHED right after them), its
#     value formats (ingress ifindex, protocol number, ADDR:PORT, counts,
#     milliseconds, true/false), flowctl's columns after them; a header
#     alone when nothing is metered;
#   - `flowctl flush` with the original's long options (--ifindex --proto
#     --saddr --sport --daddr --dport --all) removes exactly the matching
#     flows.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip tc jq awk
if [ ! -x "$FLOWCTL" ]; then
	skip "$(basename "$0")" "build first: $FLOWCTL"
	exit 0
fi

testbed_up
on_cleanup "$FLOWCTL meter detach -i '$NS0:*'"
if ! "$FLOWCTL" meter attach -i "$NS0:*" >"$T_TMP/attach.log" 2>&1; then
	fail attach "$(cat "$T_TMP/attach.log")"
	finish
	exit
fi
pass attach
IF1=$(ip -n "$NS0" -o link show eth1 | awk -F': ' '{print $1}')

# a socket on both ports (never read): no ICMP port unreachable back
bg ip netns exec "$NS2" "$PY" -c '
import socket, time
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(("10.2.0.2", 5000))
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.bind(("10.2.0.2", 5001))
time.sleep(60)'
sleep 0.3
# 3 datagrams each from ports 40010, 40011, 40012 to 5000; 4 from 40010
# to 5001; 100 bytes of payload: IP length 128
ip netns exec "$NS1" "$PY" "$TOP/test/integration/udpsend.py" 10.2.0.2 5000 9 100 40010 3
ip netns exec "$NS1" "$PY" "$TOP/test/integration/udpsend.py" 10.2.0.2 5001 4 100 40010 1

# --- dump ------------------------------------------------------------------
"$FLOWCTL" dump --netns "$NS0" >"$T_TMP/dump.txt" 2>"$T_TMP/dump.err"
check_eq "dump: exit 0" 0 $?
check_eq "dump: the original's header first" "IFINDEX PROTO SRC DST PKTS BYTES" \
	"$(awk 'NR == 1 { print $1, $2, $3, $4, $5, $6 }' "$T_TMP/dump.txt")"
check_eq "dump: flowctl's columns after them" "NETNS DIR OIF MARK FLAGS" \
	"$(awk 'NR == 1 { print $7, $8, $9, $10, $11 }' "$T_TMP/dump.txt")"
check_eq "dump: every row has the header's columns" "" \
	"$(awk 'NR == 1 { n = NF } NR > 1 && NF != n' "$T_TMP/dump.txt")"
# rows of the flows sent, in the original's formats: one per hook that saw it
rows() { # FILE SRC DST -> "IFINDEX PROTO PKTS BYTES" per row
	awk -v s="$2" -v d="$3" '$3 == s && $4 == d { print $1, $2, $5, $6 }' "$1"
}
NH=$(rows "$T_TMP/dump.txt" 10.1.0.2:40010 10.2.0.2:5000 | wc -l)
if [ "$NH" -ge 1 ]; then pass "dump: the flow is listed ($NH hooks)"; else
	fail "dump: the flow is listed" "$(cat "$T_TMP/dump.txt")"; fi
for sp in 40010 40011 40012; do
	check_eq "dump: 10.1.0.2:$sp -> 10.2.0.2:5000 as IFINDEX PROTO PKTS BYTES" \
		"$(for ((i = 0; i < NH; i++)); do echo "$IF1 17 3 384"; done)" \
		"$(rows "$T_TMP/dump.txt" 10.1.0.2:$sp 10.2.0.2:5000)"
done
check_eq "dump: 10.1.0.2:40010 -> 10.2.0.2:5001" \
	"$(for ((i = 0; i < NH; i++)); do echo "$IF1 17 4 512"; done)" \
	"$(rows "$T_TMP/dump.txt" 10.1.0.2:40010 10.2.0.2:5001)"

"$FLOWCTL" dump -o wide --netns "$NS0" >"$T_TMP/dump.wide"
check_eq "dump -o wide: START END FINISHED after BYTES" \
	"IFINDEX PROTO SRC DST PKTS BYTES START END FINISHED NETNS" \
	"$(awk 'NR == 1 { print $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }' "$T_TMP/dump.wide")"
NOW_MS=$(($(date +%s) * 1000))
check_eq "dump -o wide: unix ms, start <= end, finished false" "" \
	"$(awk -v now="$NOW_MS" '$3 == "10.1.0.2:40011" && !($7 ~ /^[0-9]+$/ && $7 > now - 120000 && $7 <= $8 && $8 < now + 5000 && $9 == "false")' "$T_TMP/dump.wide")"

# nothing metered (an empty pin root): the header alone, exit 0
mkdir -p "$T_TMP/empty"
out=$(FLOWCTL_PIN_ROOT=$T_TMP/empty "$FLOWCTL" dump 2>/dev/null); rc=$?
check_eq "dump, nothing metered: exit 0" 0 "$rc"
check "dump, nothing metered: the header alone" grep -qE '^IFINDEX +PROTO +SRC +DST +PKTS +BYTES( |$)' <<<"$out"
check_eq "dump, nothing metered: one line" 1 "$(wc -l <<<"$out")"

# --- flush with the original's long options ----------------------------------
left() { # the flows of the test left in the maps, sorted
	"$FLOWCTL" dump -o json --netns "$NS0" |
		jq -r '[.[] | select(.proto == 17 and .src == "10.1.0.2") | "\(.sport)>\(.dport):\(.pkts)"] | unique | join(" ")'
}
check_eq "before flush" "40010>5000:3 40010>5001:4 40011>5000:3 40012>5000:3" "$(left)"
out=$("$FLOWCTL" flush --ifindex "$IF1" --proto 17 --saddr 10.1.0.2 --sport 40010 \
	--daddr 10.2.0.2 --dport 5000 --netns "$NS0"); rc=$?
check_eq "flush with every long key: exit 0" 0 "$rc"
check_eq "flush with every long key: what it removed" \
	"$NS0: removed $NH entr$([ "$NH" = 1 ] && echo y || echo ies)" "$out"
check_eq "flush with every long key: exactly that flow" \
	"40010>5001:4 40011>5000:3 40012>5000:3" "$(left)"
"$FLOWCTL" flush --sport 40011 --netns "$NS0" >/dev/null
check_eq "flush --sport: exactly that flow" "40010>5001:4 40012>5000:3" "$(left)"
"$FLOWCTL" flush --proto udp --dport 5001 --netns "$NS0" >/dev/null
check_eq "flush --proto --dport: exactly that flow" "40012>5000:3" "$(left)"
"$FLOWCTL" flush --daddr 10.9.9.9 --netns "$NS0" >/dev/null 2>&1
check_eq "flush --daddr matching nothing: exit 1" 1 $?
check_eq "flush --daddr matching nothing: nothing removed" "40012>5000:3" "$(left)"
out=$("$FLOWCTL" flush --all --netns "$NS0"); rc=$?
check_eq "flush --all: exit 0" 0 "$rc"
check "flush --all: reports the total" grep -Eq '^removed [1-9][0-9]* entries in all$' <<<"$out"
check_eq "flush --all: nothing left" "" "$(left)"

finish
