#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Run the libFuzzer harnesses one after the other (docs/fuzzing.md).
#
#   test/fuzz/run.sh BUILD SECONDS [TARGET...]
#
# BUILD is the fuzz build directory (make fuzz-build: build/fuzz), TARGET
# a harness name without "fuzz_" (default: every harness built).  Each one
# runs SECONDS, niced, one process, on its seed corpus test/fuzz/corpus/T
# (read only) plus a work corpus BUILD/fuzz-work/T that keeps what it finds
# between runs (the repository is never written), with the dictionary
# test/fuzz/T.dict when there is one.  Crash reproducers land
# in BUILD/fuzz-work/T/artifacts.  Prints "PASS fuzz_T" or
# "FAIL fuzz_T: why" per harness; exit 1 when one failed.
#
# FUZZ_SEED=N fixes libFuzzer's seed; FUZZ_WORK=DIR puts the work corpora
# there instead of BUILD/fuzz-work (the make check smoke uses both: seed 1,
# a fresh directory, so it runs the seed corpus and nothing else found
# before).
set -u
cd "$(dirname "$0")/../.."
B=${1:?usage: test/fuzz/run.sh BUILD SECONDS [TARGET...]}
SECS=${2:?usage: test/fuzz/run.sh BUILD SECONDS [TARGET...]}
shift 2
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in test/fuzz/fuzz_*.c; do
		t=$(basename "$f" .c)
		targets+=("${t#fuzz_}")
	done
fi

# Per target: the longest input worth trying.
max_len() {
	case "$1" in
	config|flowfile|hooks) echo 16384 ;;
	*) echo 4096 ;;
	esac
}

rc=0
for t in "${targets[@]}"; do
	bin="$B/fuzz/fuzz_$t"
	seeds="test/fuzz/corpus/$t"
	work="${FUZZ_WORK:-$B/fuzz-work}/$t"
	log="$work/fuzz-$(date -u +%Y%m%dT%H%M%S).log"
	if [ ! -x "$bin" ]; then
		echo "FAIL fuzz_$t: $bin not built (make fuzz-build)"
		rc=1
		continue
	fi
	mkdir -p "$work/corpus" "$work/artifacts"
	args=(-rss_limit_mb=2048 -timeout=10 -max_total_time="$SECS"
	      -max_len="$(max_len "$t")" -print_final_stats=1
	      -artifact_prefix="$work/artifacts/")
	[ -n "${FUZZ_SEED:-}" ] && args+=(-seed="$FUZZ_SEED")
	[ -f "test/fuzz/$t.dict" ] && args+=(-dict="test/fuzz/$t.dict")
	nice -n 19 "$bin" "${args[@]}" "$work/corpus" "$seeds" >"$log" 2>&1
	st=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	if [ "$st" -eq 0 ] && grep -q '^Done [0-9]* runs' "$log"; then
		echo "PASS fuzz_$t (${runs:-?} runs in ${SECS}s)"
		continue
	fi
	why=$(grep -m1 -E '^==[0-9]+==ERROR|runtime error:|^SUMMARY:|ERROR: libFuzzer' "$log")
	art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
	echo "FAIL fuzz_$t: ${why:-exit $st}${art:+ (reproducer $art)}; log $log"
	rc=1
done
exit $rc
