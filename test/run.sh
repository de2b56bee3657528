#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Run the test suites and print one closing line "N passed, N failed, N
# skipped".  Usage: test/run.sh [layout|unit|fuzz|bpf|integration]...
# (default: all)
#
# Every test prints lines "PASS name", "FAIL name: why" or "SKIP name: why";
# Check suites are counted from their own summary.  Under CI (CI=true) a skip
# counts as a failure: there the tests must run.
set -u
cd "$(dirname "$0")/.."
B=${FLOWCTL_BUILD:-build/default}
export FLOWCTL_BUILD=$B
export FLOWCTL="$PWD/$B/flowctl"
LOG=${FLOWCTL_TEST_LOG:-$B/test-logs}
mkdir -p "$LOG"

pass=0 fail=0 skip=0
failed_names=()

count_lines() { # file
	local p f s
	p=$(grep -c '^PASS' "$1")
	f=$(grep -c '^FAIL' "$1")
	s=$(grep -c '^SKIP' "$1")
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	while IFS= read -r l; do failed_names+=("$l"); done < <(grep '^FAIL' "$1")
}

run_unit() {
	local t out n f e
	for t in "$B"/test/check_*; do
		[ -x "$t" ] || continue
		out="$LOG/$(basename "$t").log"
		echo "== unit: $(basename "$t")"
		CK_FORK=yes CK_VERBOSITY=normal "$t" >"$out" 2>&1
		local rc=$?
		cat "$out"
		# "100%: Checks: 12, Failures: 0, Errors: 0"
		read -r n f e < <(sed -n 's/.*Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2 \3/p' "$out" | tail -1)
		if [ -z "${n:-}" ]; then
			fail=$((fail + 1))
			failed_names+=("FAIL $(basename "$t"): no Check summary (exit $rc)")
			continue
		fi
		pass=$((pass + n - f - e)); fail=$((fail + f + e))
		if [ $((f + e)) -gt 0 ]; then
			while IFS= read -r l; do failed_names+=("FAIL $l"); done \
				< <(grep -E ':[FE]:' "$out")
		fi
	done
}

run_bpf() {
	local t out
	for t in "$B"/test/bpf_*; do
		[ -x "$t" ] || continue
		out="$LOG/$(basename "$t").log"
		echo "== bpf: $(basename "$t")"
		"$t" 2>&1 | tee "$out"
		local rc=${PIPESTATUS[0]}
		count_lines "$out"
		if [ "$rc" -ne 0 ] && ! grep -q '^FAIL' "$out"; then
			fail=$((fail + 1)); failed_names+=("FAIL $(basename "$t"): exit $rc")
		fi
	done
}

# Each script gets 600 s, or what its header line "# run.sh timeout: SECONDS"
# says.
run_integration() {
	local t out tmo
	for t in test/integration/test-*.sh; do
		[ -f "$t" ] || continue
		out="$LOG/$(basename "$t" .sh).log"
		tmo=$(sed -n '1,10s/^# run.sh timeout: \([0-9][0-9]*\)$/\1/p' "$t")
		echo "== integration: $(basename "$t")"
		timeout "${tmo:-600}" bash "$t" 2>&1 | tee "$out"
		local rc=${PIPESTATUS[0]}
		count_lines "$out"
		if [ "$rc" -ne 0 ] && ! grep -q '^FAIL' "$out"; then
			fail=$((fail + 1)); failed_names+=("FAIL $(basename "$t"): exit $rc")
		fi
	done
}

# The layering of lib/ (docs/architecture.md, "Modules"): no group includes
# a group above or beside it.
run_layout() {
	local out="$LOG/layout.log"
	echo "== layout: lib/ groups include only lower groups"
	/usr/bin/python3 test/layout/check-layers.py 2>&1 | tee "$out"
	local rc=${PIPESTATUS[0]}
	count_lines "$out"
	if [ "$rc" -ne 0 ] && ! grep -q '^FAIL' "$out"; then
		fail=$((fail + 1)); failed_names+=("FAIL check-layers.py: exit $rc")
	fi
}

# The fuzz smoke: every libFuzzer harness (test/fuzz, docs/fuzzing.md) built
# with clang into FLOWCTL_FUZZ_BUILD (build/fuzz) and run FUZZ_SMOKE_SECONDS
# (10) on its seed corpus with a fixed seed.  Needs clang's libFuzzer
# runtime (Debian: libclang-rt-14-dev, which scripts/deps.sh installs).
run_fuzz() {
	local fb=${FLOWCTL_FUZZ_BUILD:-build/fuzz} out probe t
	local secs=${FUZZ_SMOKE_SECONDS:-10}
	local names=()

	out="$LOG/fuzz.log"
	echo "== fuzz: libFuzzer smoke, ${secs}s per harness"
	for t in test/fuzz/fuzz_*.c; do
		[ -f "$t" ] && names+=("$(basename "$t" .c)")
	done
	probe=$(mktemp -d)
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);
int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }
' \
		>"$probe/probe.c"
	if ! command -v clang >/dev/null ||
	   ! clang -fsanitize=fuzzer,address,undefined -o "$probe/probe" \
		"$probe/probe.c" >"$probe/err" 2>&1; then
		for t in "${names[@]}"; do
			echo "SKIP $t: clang cannot link -fsanitize=fuzzer (install clang and libclang-rt-14-dev: scripts/deps.sh)"
		done | tee "$out"
		echo "!!! fuzz suite SKIPPED: $(head -1 "$probe/err" 2>/dev/null)" >&2
		rm -rf "$probe"
		count_lines "$out"
		return
	fi
	rm -rf "$probe"
	if ! make --no-print-directory FUZZ_O="$fb" fuzz-build >"$LOG/fuzz-build.log" 2>&1; then
		tail -20 "$LOG/fuzz-build.log"
		for t in "${names[@]}"; do
			echo "FAIL $t: build failed (see $LOG/fuzz-build.log)"
		done | tee "$out"
		count_lines "$out"
		return
	fi
	rm -rf "$LOG/fuzz-work"
	FUZZ_SEED=1 FUZZ_WORK="$LOG/fuzz-work" test/fuzz/run.sh "$fb" "$secs" \
		2>&1 | tee "$out"
	count_lines "$out"
}

suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(layout unit fuzz bpf integration)
for s in "${suites[@]}"; do
	case "$s" in
	layout) run_layout ;;
	unit) run_unit ;;
	fuzz) run_fuzz ;;
	bpf) run_bpf ;;
	integration) run_integration ;;
	*) echo "unknown suite: $s" >&2; exit 2 ;;
	esac
done

if [ "${CI:-}" = "true" ] && [ "$skip" -gt 0 ]; then
	echo "CI: $skip test(s) skipped; under CI every test must run:" >&2
	grep -h '^SKIP' "$LOG"/*.log >&2
	fail=$((fail + skip))
fi
echo
if [ ${#failed_names[@]} -gt 0 ]; then
	echo "Failures:"
	printf '  %s\n' "${failed_names[@]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
