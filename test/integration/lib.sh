# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Helpers for integration tests.  Source it, then:
#   require_root; require_cmd tc ...   (SKIP loudly and exit when missing)
#   testbed_up                          (create the netns testbed, see below)
#   pass NAME / fail NAME WHY / skip NAME WHY
#   finish                              (prints the counts; exit status)
# Everything a test creates carries its own prefix ($T_PREFIX), and is
# removed by the EXIT trap: namespaces, pins, processes (by pid).

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FLOWCTL=${FLOWCTL:-$TOP/build/default/flowctl}
PY=/usr/bin/python3
RUN_DIR=/run/flowctl	# FLOWCTL_RUN_DIR (lib/base/rundir.h)
T_PREFIX=${T_PREFIX:-ft$$x}
T_PASS=0
T_FAIL=0
T_PIDS=()
T_TMP=$(mktemp -d /tmp/flowctl-test.XXXXXX)
T_CLEANUP=()

# FLOWCTL_AGENT_WRAP: words put before every "flowctl agent" a test starts
# (make valgrind-check runs the agent tests under valgrind this way).
read -r -a T_AGENT_WRAP <<<"${FLOWCTL_AGENT_WRAP:-}"

pass() { echo "PASS $1"; T_PASS=$((T_PASS + 1)); }
fail() { echo "FAIL $1: ${2:-}"; T_FAIL=$((T_FAIL + 1)); }
skip() { echo "SKIP $1: ${2:-}"; }

# Assert helpers: check NAME CMD...  (pass when CMD succeeds)
check() {
	local name=$1; shift
	if "$@" >/dev/null; then pass "$name"; else fail "$name" "command failed: $*"; fi
}
check_eq() { # NAME EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected '$2', got '$3'"; fi
}

require_root() {
	if [ "$(id -u)" != 0 ]; then
		skip "$(basename "$0")" "needs root (run: sudo make check)"
		exit 0
	fi
}

require_cmd() {
	local c
	for c in "$@"; do
		if ! command -v "$c" >/dev/null 2>&1; then
			skip "$(basename "$0")" "missing command $c (run scripts/deps.sh)"
			exit 0
		fi
	done
}

bg() { # run a command in the background, remember its pid
	"$@" &
	T_PIDS+=($!)
}

on_cleanup() { T_CLEANUP+=("$*"); }

t_cleanup() {
	local p i
	for p in "${T_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${T_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	for ((i = ${#T_CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${T_CLEANUP[$i]}" >/dev/null 2>&1
	done
	testbed_down >/dev/null 2>&1
	if [ -n "${T_KEEP:-}" ]; then echo "kept $T_TMP" >&2; else rm -rf "$T_TMP"; fi
}
trap t_cleanup EXIT

# The testbed (like the original's create_netns.sh): ${P}0 routes between
# ${P}1, ${P}2 and ${P}3.  Router side eth1..3 in ${P}0, host side eth0.
#   ${P}1: 10.1.0.2/24 fd00:1::2/64   gw 10.1.0.1 fd00:1::1
#   ${P}2: 10.2.0.2/24 fd00:2::2/64   gw 10.2.0.1 fd00:2::1
#   ${P}3: 10.3.0.2/24 fd00:3::2/64   gw 10.3.0.1 fd00:3::1
testbed_up() {
	"$TOP/scripts/create_netns.sh" "$T_PREFIX" >/dev/null
}

testbed_down() {
	"$TOP/scripts/clean_netns.sh" "$T_PREFIX"
}

NS0=${T_PREFIX}0
NS1=${T_PREFIX}1
NS2=${T_PREFIX}2
NS3=${T_PREFIX}3

finish() {
	echo "$(basename "$0"): $T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
}

# A TCP and UDP port free on this host (bounded tries).
free_port() {
	local p i
	for i in $(seq 1 50); do
		# below the ephemeral range (32768-60999), where a connection's
		# local port could take it between this check and the bind
		p=$((10000 + RANDOM % 22000))
		if ! ss -Hanu "sport = :$p" | grep -q . &&
		   ! ss -Hant "sport = :$p" | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# Wait (bounded, 0.1 s steps) until a command succeeds.
wait_for() { # TENTHS CMD...
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# Start the test collector (ipfix_collector.py) bound to 127.0.0.1 for at
# most DURATION seconds, writing $T_TMP/NAME.json (messages),
# $T_TMP/NAME.jsonl (records) and $T_TMP/NAME.err; the other arguments are
# its own (--udp PORT, --tcp PORT, ...).  Its pid in CPID (killed at
# cleanup); the check "collector NAME" fails when it is not ready in 5 s.
collector_up() { # NAME DURATION COLLECTOR-OPTION...
	local name=$1 dur=$2
	shift 2
	rm -f "$T_TMP/$name.ready"
	$PY "$TOP/test/integration/ipfix_collector.py" "$@" --bind 127.0.0.1 \
		--out "$T_TMP/$name.json" --records "$T_TMP/$name.jsonl" \
		--ready-file "$T_TMP/$name.ready" --duration "$dur" \
		2>>"$T_TMP/$name.err" &
	CPID=$!
	T_PIDS+=($CPID)
	wait_for 50 test -e "$T_TMP/$name.ready" ||
		fail "collector $name" "not ready: $(cat "$T_TMP/$name.err")"
}

# The observation domain flowctl gives a namespace by default (FNV-1a, 32
# bits, of its name; docs/config.md).
obs_domain() {
	$PY -c '
import sys
h = 2166136261
for b in sys.argv[1].encode():
    h = ((h ^ b) * 16777619) & 0xffffffff
print(h or 1)' "$1"
}
