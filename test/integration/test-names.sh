#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Hostile names in tables: a namespace and a device whose names hold an
# escape sequence, quotes, a backslash, a space, a tab and a byte that is
# not UTF-8 come out escaped in `flowctl dump` (normal, wide) and
# `flowctl meter status`, and as valid JSON with -o json.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd tc ip clang ping jq

# A metered namespace (attach refuses '/', ':', white space, control
# characters and, today, bytes above 0x7f in names): quotes, a backslash.
NS="${T_PREFIX}"$'n"q\'\\'
NS_ESC="${T_PREFIX}"$'n\\"q\\\'\\\\'
# Another one, only listed by status: ESC [1m, space, quote, tab, 0xc3.
NS2="${T_PREFIX}"$'m\x1b[1m q"\t\xc3'
NS2_ESC="${T_PREFIX}"$'m\\x1b[1m\\x20q\\"\\x09\\xc3'
# The device (no '/', ':' or white space allowed): quote, backslash, 0x01,
# 0xff.
DEV=$'d"\\\x01\xff'
DEV_ESC=$'d\\"\\\\\\x01\\xff'

for ns in "$NS" "$NS2"; do
	ip netns add "$ns" || { fail setup "ip netns add"; finish; exit 1; }
done
on_cleanup "ip netns del \"\$NS2\""
on_cleanup "ip netns del \"\$NS\""
on_cleanup "\"\$FLOWCTL\" meter detach -i \"\$NS:*\""
# a veth pair inside each namespace: DEV (attach refuses its name, status
# lists it) and peer0, metered; a static neighbour so that pings to
# 10.77.0.2 leave through peer0's egress hook
for ns in "$NS" "$NS2"; do
	ip -n "$ns" link add "$DEV" type veth peer name peer0 &&
	ip -n "$ns" addr add 10.77.0.1/24 dev peer0 &&
	ip -n "$ns" link set peer0 up && ip -n "$ns" link set "$DEV" up &&
	ip -n "$ns" neigh add 10.77.0.2 lladdr 02:00:00:00:00:02 dev peer0 ||
	{ fail setup "veth device"; finish; exit 1; }
done

out=$("$FLOWCTL" meter attach -i "$NS:peer0" 2>&1); rc=$?
check_eq "attach in the hostile namespace: exit 0" 0 "$rc"
# traffic out of the dummy device: an egress flow
ip netns exec "$NS" ping -c 2 -i 0.2 -W 1 10.77.0.2 >/dev/null 2>&1

raw_ok() { # NAME TEXT: no raw ESC, tab, 0x01, 0xc3 or 0xff byte
	if LC_ALL=C grep -q $'[\x1b\t\x01\xc3\xff]' <<<"$2"; then
		fail "$1: raw control or non-ASCII bytes" "$(cat -A <<<"$2" | head -3)"
	else
		pass "$1: no raw control or non-ASCII bytes"
	fi
}

for fmt in normal wide; do
	out=$("$FLOWCTL" dump -o $fmt --netns "$NS" 2>&1); rc=$?
	check_eq "dump -o $fmt: exit 0" 0 "$rc"
	raw_ok "dump -o $fmt" "$out"
	grep -qF "$NS_ESC" <<<"$out" && pass "dump -o $fmt: namespace escaped" ||
		fail "dump -o $fmt: escaped name" "$(cat -A <<<"$out" | head -3)"
	# one field per column: the name holds no space any more
	n=$(awk 'NR == 2 { print NF }' <<<"$out")
	h=$(awk 'NR == 1 { print NF }' <<<"$out")
	check_eq "dump -o $fmt: columns line up" "$h" "$n"
done

out=$("$FLOWCTL" dump -o json --netns "$NS" 2>/dev/null); rc=$?
check_eq "dump -o json: exit 0" 0 "$rc"
got=$(printf '%s' "$out" | $PY -c 'import json, sys; d = json.loads(sys.stdin.buffer.read().decode("utf-8")); print(d[0]["netns"].encode("unicode_escape").decode())') &&
	pass "dump -o json: valid UTF-8 JSON" || fail "dump -o json: not valid JSON" "$(cat -A <<<"$out" | head -3)"
check_eq "dump -o json: the name" "${T_PREFIX}"$'n"q\'\\\\' "$got"

# the original's lines (default output) escape the names the same way
out=$("$FLOWCTL" meter status 2>&1)
raw_ok "meter status (the original's lines)" "$out"
grep -qxF "$NS_ESC:$DEV_ESC:egress = <nil>" <<<"$out" && grep -qF "$NS_ESC:peer0:egress.digest = " <<<"$out" &&
	pass "meter status (the original's lines): escaped NETNS:DEV:HOOK lines" ||
	fail "meter status (the original's lines)" "$(cat -A <<<"$out" | grep -F "$DEV_ESC" | head -4)"

for ns in "$NS" "$NS2"; do
	[ "$ns" = "$NS" ] && esc=$NS_ESC || esc=$NS2_ESC
	# a name with blanks or control bytes cannot be metered, so --netns
	# refuses it (exit 2); the full listing still shows it, escaped
	if [ "$ns" = "$NS" ]; then
		out=$("$FLOWCTL" meter status -o wide --netns "$ns" 2>&1); rc=$?
	else
		"$FLOWCTL" meter status --netns "$ns" >/dev/null 2>&1
		check_eq "meter status --netns with control bytes: exit 2" 2 "$?"
		out=$("$FLOWCTL" meter status -o wide 2>&1); rc=$?
		out=$(grep -F "$esc" <<<"$out")
	fi
	check_eq "meter status: exit 0" 0 "$rc"
	raw_ok "meter status" "$out"
	grep -qF "$DEV_ESC" <<<"$out" && grep -qF "$esc" <<<"$out" &&
		pass "meter status: namespace and device escaped" ||
		fail "meter status: escaped names" "$(cat -A <<<"$out" | head -4)"
	n=$(grep -F "$DEV_ESC" <<<"$out" | awk '{ print NF }' | sort -u | tr '\n' ' ')
	check_eq "meter status: columns line up" "4 " "$n"

	if [ "$ns" = "$NS" ]; then
		out=$("$FLOWCTL" meter status -o json --netns "$ns" 2>/dev/null); rc=$?
	else
		out=$("$FLOWCTL" meter status -o json 2>/dev/null); rc=$?
	fi
	check_eq "meter status -o json: exit 0" 0 "$rc"
	got=$(printf '%s' "$out" | P="${T_PREFIX}m" $PY -c 'import json, os, sys
d = json.loads(sys.stdin.buffer.read().decode("utf-8"))
d = [x for x in d if x["netns"].startswith(os.environ["P"])] or d
print(d[0]["netns"].encode("unicode_escape").decode())
print([i["device"] for i in d[0]["interfaces"] if i["device"] != "peer0"][0].encode("unicode_escape").decode())') &&
		pass "meter status -o json: valid UTF-8 JSON" ||
		fail "meter status -o json: not valid JSON" "$(cat -A <<<"$out" | head -5)"
	[ "$ns" = "$NS" ] && want="${T_PREFIX}"$'n"q\'\\\\' ||
		want="${T_PREFIX}"$'m\\x1b[1m q"\\t\\ufffd'
	check_eq "meter status -o json: the names, non-UTF-8 bytes as U+FFFD" \
		"$want"$'\nd"\\\\\\x01\\ufffd' "$got"
done

finish
