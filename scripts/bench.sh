#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make bench: run every benchmark binary (build/<variant>/bench/bench_*) and every
# scripts/bench-*.sh.  Each prints its own ratios, measured side by side in
# the same run.  Needs root for the BPF ones.
set -u
cd "$(dirname "$0")/.."
B=${FLOWCTL_BUILD:-build/default}
export FLOWCTL="$PWD/$B/flowctl"
rc=0
for b in "$B"/bench/bench_*; do
	[ -x "$b" ] || continue
	echo "== $(basename "$b")"
	"$b" || rc=1
	echo
done
for s in scripts/bench-*.sh; do
	[ -f "$s" ] || continue
	echo "== $(basename "$s")"
	bash "$s" || rc=1
	echo
done
exit $rc
