#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The JSON flow log of the agent (root) is not a way in, cannot hang it and
# does not corrupt itself:
#  - a log path that is a symlink to a root file: the agent exits 2 at once
#    naming the path, the file is untouched;
#  - a log path that is a FIFO: exit 2 within seconds (it used to block in
#    open() for ever, deaf to SIGTERM); the same on SIGHUP: the agent keeps
#    its running log and still stops on SIGTERM;
#  - a full file system (a 64 KiB tmpfs): every line in the log stays whole
#    JSON, flowctl_log_records_dropped_total{reason="write_error"} counts
#    the lost lines, and logging resumes once there is room again.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd tc ip clang jq curl mkfifo
export FLOWCTL_PIN_ROOT=/sys/fs/bpf/flowctl
UDP="$PY $TOP/test/integration/udpsend.py"

log_config() { # FILE LOGFILE [METRICS_PORT]
	cat > "$1" <<EOF
scanIntervalMilliseconds: 200
idleTimeoutSeconds: 1
activeTimeoutSeconds: 4
timerFinishedDrainSeconds: 1
metricsAddress: 127.0.0.1:${3:-$(free_port)}
outputs:
- log:
    file: $2
EOF
}

# Start the agent (no attach) on CONFIG; print its exit status, or
# "running" when it is still up after TENTHS tenths of a second.
agent_rc_within() { # CONFIG ERRFILE TENTHS
	local pid i
	"${T_AGENT_WRAP[@]}" "$FLOWCTL" agent --no-attach -c "$1" 2>"$2" &
	pid=$!
	for ((i = 0; i < $3; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			echo $?
			return
		fi
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo running
}

# --- a symlink as the log: refused, the target untouched --------------------
printf 'root:secret\n' > "$T_TMP/victim"
chmod 600 "$T_TMP/victim"
ln -s "$T_TMP/victim" "$T_TMP/x.json"
log_config "$T_TMP/link.yaml" "$T_TMP/x.json"
rc=$(agent_rc_within "$T_TMP/link.yaml" "$T_TMP/link.err" 50)
check_eq "symlink log: agent exits 2" 2 "$rc"
grep -q "refusing $T_TMP/x.json: it is a symbolic link" "$T_TMP/link.err" &&
	pass "symlink log: the error names the path and why" ||
	fail "symlink log message" "$(tail -2 "$T_TMP/link.err")"
check_eq "symlink log: the target is untouched" "root:secret" "$(cat "$T_TMP/victim")"

# --- a FIFO as the log at start: no hang --------------------------------------
mkfifo "$T_TMP/fifo.json"
log_config "$T_TMP/fifo.yaml" "$T_TMP/fifo.json"
t0=$(date +%s%N)
rc=$(agent_rc_within "$T_TMP/fifo.yaml" "$T_TMP/fifo.err" 100)
ms=$((($(date +%s%N) - t0) / 1000000))
check_eq "FIFO log: agent exits 2 (not blocked in open)" 2 "$rc"
[ "$rc" = 2 ] && [ "$ms" -lt 5000 ] && pass "FIFO log: refused in $ms ms" ||
	fail "FIFO log time" "$ms ms"
grep -q "refusing $T_TMP/fifo.json: it is not a regular file" "$T_TMP/fifo.err" &&
	pass "FIFO log: the error says why" ||
	fail "FIFO log message" "$(tail -2 "$T_TMP/fifo.err")"

# --- a FIFO on SIGHUP: the agent goes on and stops on SIGTERM -----------------
log_config "$T_TMP/hup.yaml" "$T_TMP/hup.json"
"${T_AGENT_WRAP[@]}" "$FLOWCTL" agent --no-attach -c "$T_TMP/hup.yaml" 2>"$T_TMP/hup.err" &
APID=$!
T_PIDS+=($APID)
if wait_for 50 grep -q "agent started" "$T_TMP/hup.err"; then
	mv "$T_TMP/hup.json" "$T_TMP/hup.json.1"
	mkfifo "$T_TMP/hup.json"
	kill -HUP $APID
	wait_for 50 grep -q "refusing $T_TMP/hup.json" "$T_TMP/hup.err" &&
		pass "SIGHUP to a FIFO log: refused" ||
		fail "SIGHUP FIFO" "$(tail -3 "$T_TMP/hup.err")"
	sleep 0.5
	kill -0 $APID 2>/dev/null && pass "SIGHUP to a FIFO log: agent still running" ||
		fail "SIGHUP FIFO alive" "gone"
	kill -TERM $APID
	stopped=no
	wait_for 50 sh -c "! kill -0 $APID 2>/dev/null" && stopped=yes
	check_eq "SIGHUP to a FIFO log: SIGTERM still stops the agent" yes "$stopped"
	[ $stopped = yes ] || kill -KILL $APID 2>/dev/null
	wait $APID 2>/dev/null
else
	fail "agent started (SIGHUP case)" "$(tail -3 "$T_TMP/hup.err")"
	kill -KILL $APID 2>/dev/null
fi

# --- a full file system: whole lines, counted, resumes ------------------------
FS=$T_TMP/fs
mkdir "$FS"
if ! mount -t tmpfs -o size=64k,mode=0755 flowctl-test "$FS"; then
	skip "disk full" "cannot mount a tmpfs"
	finish
	exit
fi
on_cleanup "umount '$FS'"
testbed_up || { fail testbed "cannot create the netns testbed"; finish; exit 1; }
"$FLOWCTL" meter attach -i "$NS0:*" --hooks both >/dev/null || { fail attach "meter attach failed"; finish; exit 1; }
on_cleanup "$FLOWCTL meter detach -i '$NS0:*'"
# leave about 12 KiB: some 30 lines
head -c $((52 * 1024)) /dev/zero > "$FS/filler" 2>/dev/null
PM=$(free_port)
log_config "$T_TMP/full.yaml" "$FS/flows.json" "$PM"
"${T_AGENT_WRAP[@]}" "$FLOWCTL" agent -c "$T_TMP/full.yaml" 2>"$T_TMP/full.err" &
APID=$!
T_PIDS+=($APID)
wait_for 50 grep -q "agent started" "$T_TMP/full.err" ||
	{ fail "agent started (disk full)" "$(tail -3 "$T_TMP/full.err")"; finish; exit 1; }
# 300 UDP flows: far more than fits
ip netns exec "$NS1" $UDP 10.2.0.2 7000 600 32 40000 300
metric() {
	curl -s "http://127.0.0.1:$PM/metrics" |
		grep "^flowctl_log_records_dropped_total{output=\"log:$FS/flows.json\",reason=\"write_error\"}" |
		awk '{print $2}'
}
wait_for 100 sh -c "[ \"\$(curl -s http://127.0.0.1:$PM/metrics | grep -c 'reason=\"write_error\"} [1-9]')\" -gt 0 ]"
v=$(metric)
[ "${v:-0}" -gt 0 ] && pass "disk full: write_error drops counted in /metrics ($v)" ||
	fail "disk full: write_error metric" "${v:-no series}"
all_json() { # every line one JSON object
	local n bad
	n=$(wc -l < "$1")
	bad=$($PY -c '
import json, sys
bad = 0
with open(sys.argv[1], "rb") as f:
    data = f.read()
if data and not data.endswith(b"\n"):
    bad += 1
for line in data.split(b"\n")[:-1]:
    try:
        assert isinstance(json.loads(line.decode("utf-8")), dict)
    except Exception:
        bad += 1
print(bad)' "$1")
	[ "$n" -gt 0 ] && [ "$bad" = 0 ]
}
n1=$(wc -l < "$FS/flows.json")
all_json "$FS/flows.json" && pass "disk full: all $n1 lines in the log are whole JSON" ||
	fail "disk full: whole lines" "$(tail -c 300 "$FS/flows.json")"
grep -q "write failed" "$T_TMP/full.err" && pass "disk full: reported" ||
	fail "disk full report" "$(tail -2 "$T_TMP/full.err")"
# room again: logging resumes
rm -f "$FS/filler"
ip netns exec "$NS1" $UDP 10.2.0.2 7000 40 32 45000 20
wait_for 100 sh -c "[ \$(wc -l < '$FS/flows.json') -ge $((n1 + 20)) ]"
n2=$(wc -l < "$FS/flows.json")
[ "$n2" -ge $((n1 + 20)) ] && pass "disk full: logging resumes ($n1 -> $n2 lines)" ||
	fail "disk full: resume" "$n1 -> $n2"
all_json "$FS/flows.json" && pass "disk full: still only whole JSON lines" ||
	fail "disk full: whole lines after resume" ""
grep -q "writing again after" "$T_TMP/full.err" && pass "disk full: recovery reported" ||
	fail "disk full recovery report" "$(tail -2 "$T_TMP/full.err")"
kill -TERM $APID
wait $APID
check_eq "agent exits 0 on SIGTERM" 0 "$?"
finish
