#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Attach time of `flowctl meter attach` for 3 and for 30 interfaces of one
# namespace (both hooks each), the BPF object compiled once beforehand and
# reused (its compile time is printed on its own), and the per-interface
# cost side by side.  Needs root.
set -eu
FLOWCTL=${FLOWCTL:-build/default/flowctl}
P=fb$$x
NS=${P}n
cleanup() {
	"$FLOWCTL" meter detach -i "$NS:*" >/dev/null 2>&1 || true
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "/sys/fs/bpf/flowctl/$NS"
	rm -rf "$CACHE"
}
CACHE=$(mktemp -d)
trap cleanup EXIT
if [ "$(id -u)" != 0 ]; then
	echo "SKIP bench-attach: needs root"
	exit 0
fi
ip netns add "$NS"
for i in $(seq 1 30); do
	ip -n "$NS" link add "v$i" type veth peer name "p$i"
	ip -n "$NS" link set "v$i" up
	ip -n "$NS" link set "p$i" up
done

ms() { echo $(($(date +%s%N) / 1000000)); }

# compile cost: render with a knob no one uses, so the object is built anew
t0=$(ms)
"$FLOWCTL" ebpf code-dump -l 65537 > "$CACHE/src.c"
t1=$(ms)
clang -target bpf -O2 -g -mcpu=v3 -I/usr/include/$(gcc -print-multiarch) \
	-c "$CACHE/src.c" -o "$CACHE/o.o" 2>/dev/null || true
t2=$(ms)
echo "render: $((t1 - t0)) ms, clang compile of the meter: $((t2 - t1)) ms (done once per digest)"

# warm the object cache so both runs below reuse it
"$FLOWCTL" meter attach -i "$NS:v1" >/dev/null
"$FLOWCTL" meter detach -i "$NS:*" >/dev/null

args3=(); for i in 1 2 3; do args3+=(-i "$NS:v$i"); done
t0=$(ms); "$FLOWCTL" meter attach "${args3[@]}" >/dev/null; t1=$(ms)
a3=$((t1 - t0))
"$FLOWCTL" meter detach -i "$NS:*" >/dev/null
args30=(); for i in $(seq 1 30); do args30+=(-i "$NS:v$i"); done
t0=$(ms); "$FLOWCTL" meter attach "${args30[@]}" >/dev/null; t1=$(ms)
a30=$((t1 - t0))
t0=$(ms); "$FLOWCTL" meter attach "${args30[@]}" >/dev/null; t1=$(ms)
u30=$((t1 - t0))
t0=$(ms); "$FLOWCTL" meter detach -i "$NS:*" >/dev/null; t1=$(ms)
d30=$((t1 - t0))

awk -v a3="$a3" -v a30="$a30" -v u30="$u30" -v d30="$d30" 'BEGIN {
	printf "attach  3 interfaces (6 hooks):   %6d ms  (%.1f ms per interface)\n", a3, a3 / 3
	printf "attach 30 interfaces (60 hooks):  %6d ms  (%.1f ms per interface)\n", a30, a30 / 30
	printf "ratio 30/3: %.2f (10.00 = linear in the interfaces; compile not repeated)\n", a30 / a3
	printf "re-attach 30 (all unchanged):     %6d ms\n", u30
	printf "detach 30:                        %6d ms\n", d30
}'
