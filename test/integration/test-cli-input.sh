#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Hostile and out-of-range command line input: every numeric option is
# range-checked and refused with exit 2 and its allowed range; --netns
# never names a path outside the pin root; UTF-8 namespace names pass the
# validator.  Nothing here attaches or changes state: every command fails
# in its option parsing or is a --dry run.
. "$(dirname "$0")/lib.sh"

D=$T_TMP

# expect NAME EXIT PATTERN CMD...: CMD exits EXIT and its output matches
# PATTERN (grep -E)
expect() {
	local name=$1 want=$2 pat=$3 rc=0
	shift 3
	timeout 20 "$@" >"$D/out" 2>&1 || rc=$?
	if [ "$rc" != "$want" ]; then
		fail "$name" "exit $rc, expected $want: $(head -c 300 "$D/out")"
	elif ! grep -qE -- "$pat" "$D/out"; then
		fail "$name" "output lacks '$pat': $(head -c 300 "$D/out")"
	else
		pass "$name"
	fi
}

# --- numbers: overflow, negative, zero, trailing garbage ---
A=(meter attach -i lo --dry)
expect meter-l-too-big 2 "-l '20000000': expected an integer in 1..16777216" \
	"$FLOWCTL" "${A[@]}" -l 20000000
expect meter-l-zero 2 "in 1..16777216" "$FLOWCTL" "${A[@]}" -l 0
expect meter-pref-zero 2 "--pref '0': expected an integer in 1..65535" \
	"$FLOWCTL" "${A[@]}" --pref 0
expect meter-pref-65536 2 "in 1..65535" "$FLOWCTL" "${A[@]}" --pref 65536
expect meter-pref-blank 2 "in 1..65535" "$FLOWCTL" "${A[@]}" --pref " 5"
expect meter-chain-big 2 "--chain '268435456': expected an integer in 0..268435455" \
	"$FLOWCTL" "${A[@]}" --chain 268435456
expect meter-handle-overflow 2 "in 1..4294967295" \
	"$FLOWCTL" "${A[@]}" --handle 99999999999999999999
expect meter-handle-negative 2 "in 1..4294967295" \
	"$FLOWCTL" "${A[@]}" --handle -1
expect meter-handle-garbage 2 "in 1..4294967295" \
	"$FLOWCTL" "${A[@]}" --handle 5x
expect flush-sport 2 "-S '65536': expected an integer in 0..65535" \
	"$FLOWCTL" flush -S 65536
expect flush-dport 2 "in 0..65535" "$FLOWCTL" flush -D 0x
expect flush-proto 2 "-p '256': expected an integer in 0..255" \
	"$FLOWCTL" flush -p 256
expect flush-ifindex 2 "in 0..2147483647" "$FLOWCTL" flush -i -1
expect ipfix-file-timeout 2 "-t '600001': expected an integer in 0..600000" \
	"$FLOWCTL" ipfix file -c "$D/none.yaml" -f "$D/none.yaml" -t 600001
expect ipfix-dump-timeout 2 "in 0..600000" \
	"$FLOWCTL" ipfix dump -c "$D/none.yaml" -t 1.5
expect ebpf-l-big 2 "in 1..16777216" "$FLOWCTL" ebpf code-dump -l 16777217

# --- the range a help text names is the range the option takes: its upper
# bound is accepted, one more is refused (one constant for both) ---
help_range() {	# help_range OPTION-PATTERN CMD...: "LO HI" of the help text
	local pat=$1
	shift
	"$@" -h 2>&1 | grep -A2 -E -- "$pat" | grep -oE '[0-9]+\.\.[0-9]+' |
		head -1 | tr -s '.' ' '
}
read -r lo hi <<<"$(help_range '-l, --interface' "$FLOWCTL" meter attach)"
check_eq "meter -l help names 1..16777216" "1 16777216" "$lo $hi"
expect meter-l-help-max-plus-1 2 "in $lo..$hi" \
	"$FLOWCTL" "${A[@]}" -l "$((hi + 1))"
read -r lo hi <<<"$(help_range '-l, --interface' "$FLOWCTL" ebpf code-dump)"
check_eq "ebpf -l help names 1..16777216" "1 16777216" "$lo $hi"
expect ebpf-l-help-max 0 "#define FLOWCTL_MAX_FLOWS $hi\$" \
	"$FLOWCTL" ebpf code-dump -l "$hi"
expect ebpf-l-help-max-plus-1 2 "in $lo..$hi" \
	"$FLOWCTL" ebpf code-dump -l "$((hi + 1))"
read -r lo hi <<<"$(help_range '-t, --timeout' "$FLOWCTL" ipfix file)"
check_eq "ipfix -t help names 0..600000" "0 600000" "$lo $hi"
expect ipfix-t-help-max-plus-1 2 "in $lo..$hi" \
	"$FLOWCTL" ipfix dump -c "$D/none.yaml" -t "$((hi + 1))"

# --- --netns: a pin directory name, never a path ---
expect dump-netns-dotdot 2 "--netns ..: namespace name cannot be . or .." \
	"$FLOWCTL" dump --netns ..
expect dump-netns-slash 2 "'/'" "$FLOWCTL" dump --netns ../../etc
expect flush-netns-dotdot 2 "cannot be . or .." "$FLOWCTL" flush -A --netns ..
expect status-netns-dotdot 2 "cannot be . or .." \
	"$FLOWCTL" meter status --netns ..

# --- names: UTF-8 passes, the limits are named ---
expect meter-netns-utf8 2 "network namespace 'ns-é' does not exist" \
	"$FLOWCTL" meter attach -i "ns-é:eth0" --dry
expect meter-netns-cjk 2 "network namespace '测试' does not exist" \
	"$FLOWCTL" meter attach -i "测试:*" --dry
long=$(printf 'n%.0s' {1..256})
expect meter-netns-long 2 "longer than 255 bytes \(NAME_MAX" \
	"$FLOWCTL" meter attach -i "$long:eth0" --dry
expect meter-dev-long 2 "longer than 15 bytes \(IFNAMSIZ - 1\)" \
	"$FLOWCTL" meter attach -i "ns0:eth0123456789abc" --dry
expect meter-netns-control 2 "control character" \
	"$FLOWCTL" meter attach -i "$(printf 'ns\001'):eth0" --dry

# --- the config takes what the CLI takes ---
printf 'metricsAddress: "*:9999"\n' >"$D/metrics.yaml"
expect config-metrics-any 0 "template 65534" \
	"$FLOWCTL" ipfix template -c "$D/metrics.yaml"
printf 'interfaces:\n- "..:eth0"\n' >"$D/ifaces.yaml"
expect config-interfaces-dotdot 2 "ifaces.yaml:2:3: interfaces: bad interface '..:eth0': namespace name cannot be . or .." \
	"$FLOWCTL" ipfix template -c "$D/ifaces.yaml"
printf 'interfaces:\n- "测试:eth0"\n' >"$D/ifaces-utf8.yaml"
expect config-interfaces-utf8 0 "template 65534" \
	"$FLOWCTL" ipfix template -c "$D/ifaces-utf8.yaml"

finish
