#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make valgrind-check: run the integration tests that start the agent with
# every agent under valgrind's memcheck, then read valgrind's logs.  A test
# passes when its own checks pass and no agent had a memcheck error
# (invalid read/write, invalid free, fd or memory misuse, definite leak).
#
# Uninitialised-value checks are off (--undef-value-errors=no): the agent's
# flow data is written by the kernel (BPF batch lookups, mmap'ed maps),
# which valgrind 3.19 cannot see, so every value read from a map would be
# reported.  The sanitizer build (make VARIANT=san check) covers reads of
# uninitialised memory for user-space data with UBSan/ASan instead.
#
# Usage: test/valgrind/run.sh [test-NAME.sh ...]
set -u
cd "$(dirname "$0")/../.."
B=${FLOWCTL_BUILD:-build/default}
export FLOWCTL="$PWD/$B/flowctl"
if ! command -v valgrind >/dev/null; then
	echo "SKIP valgrind-check: valgrind is not installed (scripts/deps.sh installs it)"
	exit 0
fi
VG=$(mktemp -d /tmp/flowctl-valgrind.XXXXXX)
export FLOWCTL_AGENT_WRAP="valgrind --log-file=$VG/%q{VG_TEST}.%p.log --suppressions=$PWD/test/valgrind/flowctl.supp --undef-value-errors=no --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --track-fds=no"
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(test-agent.sh test-agent-single.sh test-agent-resilience.sh
	test-flowlog-safety.sh test-metrics-safety.sh test-nslife.sh test-agent-crash.sh
	test-agent-crash-points.sh)
pass=0 fail=0
for t in "${tests[@]}"; do
	name=${t%.sh}
	echo "== valgrind: $t"
	VG_TEST=$name timeout 1200 bash "test/integration/$t" >"$VG/$name.out" 2>&1
	rc=$?
	grep -E '^(FAIL|SKIP)' "$VG/$name.out"
	n=$(ls "$VG/$name".*.log 2>/dev/null | wc -l)
	bad=$(grep -l 'ERROR SUMMARY: [1-9]' "$VG/$name".*.log 2>/dev/null)
	if [ "$rc" -ne 0 ] || grep -q '^FAIL' "$VG/$name.out"; then
		echo "FAIL valgrind $name: the test failed under valgrind (exit $rc; $VG/$name.out)"
		fail=$((fail + 1))
	elif [ "$n" -eq 0 ]; then
		echo "FAIL valgrind $name: no agent ran under valgrind"
		fail=$((fail + 1))
	elif [ -n "$bad" ]; then
		echo "FAIL valgrind $name: memcheck errors in $bad"
		fail=$((fail + 1))
	else
		echo "PASS valgrind $name: $n processes (agents and their forks before exec), 0 memcheck errors"
		pass=$((pass + 1))
	fi
done
echo "$pass passed, $fail failed (logs in $VG)"
[ "$fail" -eq 0 ]
