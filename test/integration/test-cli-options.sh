#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The option tables and what is built from them (flowctl/options.h): every
# option of every command appears in its --help and in both completion
# scripts, and --help names no option the table lacks; the bash completion
# works in a bare `bash --norc` without the bash-completion package; the
# zsh completion loads in `zsh -f` after compinit and completes; the
# outputs scripts written for linux-flow-exporter parse (version,
# dependency-check).  Needs no root and changes nothing.
. "$(dirname "$0")/lib.sh"

if [ ! -x "$FLOWCTL" ]; then
	skip "$(basename "$0")" "build first: $FLOWCTL"
	exit 0
fi

"$FLOWCTL" completion list >"$T_TMP/list" 2>"$T_TMP/list.err"
check_eq "completion list: exit 0" 0 $?
mapfile -t CMDS < <(cut -f1 "$T_TMP/list" | uniq)
# every family and subcommand of flowctl --help has options listed
check_eq "completion list: commands" \
	"meter attach|meter detach|meter status|dump|flush|ipfix dump|ipfix file|ipfix template|agent|dependency-check|ebpf code-dump|ebpf build|version|completion bash|completion zsh|completion list" \
	"$(IFS='|'; echo "${CMDS[*]}")"

"$FLOWCTL" completion bash >"$T_TMP/flowctl.bash"
"$FLOWCTL" completion zsh >"$T_TMP/_flowctl"

# --- help <-> table ---------------------------------------------------------
for cmd in "${CMDS[@]}"; do
	# shellcheck disable=SC2086  # the path is words
	"$FLOWCTL" $cmd --help >"$T_TMP/help" 2>&1
	rc=$?
	miss=""
	while IFS=$'\t' read -r path s l _; do
		[ "$path" = "$cmd" ] || continue
		for o in $s $l; do
			[ "$o" = - ] && continue
			grep -qE -- "(^|[ ,\[{|])$o([ ,=]|$)" "$T_TMP/help" || miss="$miss $o"
		done
	done <"$T_TMP/list"
	[ "$rc" = 0 ] && [ -z "$miss" ] && pass "help of '$cmd' lists every option" ||
		fail "help of '$cmd' lists every option" "exit $rc, missing:$miss"
	# and every option the help mentions is in the table
	extra=""
	for o in $(grep -oE -- "(^|[^A-Za-z0-9_-])--?[A-Za-z][A-Za-z0-9-]*" "$T_TMP/help" |
		   sed 's/^[^-]*//' | sort -u); do
		awk -F'\t' -v c="$cmd" -v o="$o" '$1 == c && ($2 == o || $3 == o) { f = 1 } END { exit !f }' \
			"$T_TMP/list" || extra="$extra $o"
	done
	[ -z "$extra" ] && pass "help of '$cmd' names only its options" ||
		fail "help of '$cmd' names only its options" "not in the table:$extra"
done

# --- bash: a bare shell, no bash-completion package ------------------------
grep -qE '_init_completion|_filedir|_get_comp_words_by_ref|__ltrim_colon' "$T_TMP/flowctl.bash" &&
	fail "bash script uses no bash-completion helper" "$(grep -nE '_init_completion|_filedir|_get_comp_words_by_ref|__ltrim_colon' "$T_TMP/flowctl.bash")" ||
	pass "bash script uses no bash-completion helper"

# a fake `ip` for the namespace names (no root, no real namespace)
mkdir -p "$T_TMP/bin"
cat >"$T_TMP/bin/ip" <<'EOF'
#!/bin/sh
case "$*" in
"netns list") printf 'nsA (id: 0)\nnsB\n' ;;
"-n nsA -o link show") printf '1: lo: <LOOPBACK>\n2: eth1@if5: <UP>\n' ;;
esac
EOF
chmod +x "$T_TMP/bin/ip"

# complete LINE...: one line per LINE, the candidates sorted, blank-separated
cat >"$T_TMP/driver.bash" <<'EOF'
type _init_completion >/dev/null 2>&1 && { echo "bash-completion is loaded"; exit 3; }
source "$1" || exit 4
shift
complete -p flowctl || exit 5
for line in "$@"; do
	COMP_LINE=$line
	COMP_POINT=${#line}
	read -r -a COMP_WORDS <<<"$line"
	case $line in *' ') COMP_WORDS+=('') ;; esac
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_flowctl flowctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
	echo
done
EOF
bcomplete() {
	env -i PATH="$T_TMP/bin:/usr/bin:/bin" HOME="$T_TMP" \
		bash --norc --noprofile "$T_TMP/driver.bash" "$T_TMP/flowctl.bash" "$@"
}

out=$(bcomplete "flowctl " "flowctl me" "flowctl meter " "flowctl ipfix t" \
	"flowctl dump -o " "flowctl flush --s" "flowctl meter attach -i " \
	"flowctl meter attach -i nsA:" "flowctl dump --netns " \
	"flowctl completion " "flowctl meter detach --pref " \
	"flowctl meter status --o") ; rc=$?
check_eq "bash --norc: completion loads (complete -p)" 0 "$rc"
mapfile -t R <<<"$out"
check_eq "bash: complete -p" "complete -F _flowctl flowctl" "${R[0]}"
check_eq "bash: commands" "agent completion dependency-check dump ebpf flush ipfix meter version" "${R[1]}"
check_eq "bash: a command's prefix" "meter" "${R[2]}"
check_eq "bash: subcommands" "attach detach status" "${R[3]}"
check_eq "bash: a subcommand's prefix" "template" "${R[4]}"
check_eq "bash: an option's words" "json normal wide" "${R[5]}"
check_eq "bash: the original's long flush options" "--saddr --sport --src" "${R[6]}"
check_eq "bash: -i offers NETNS:* and root devices" 1 \
	"$(grep -c 'nsA:\* nsB:\*' <<<"${R[7]}")"
# after "nsA:" bash completes the part behind the colon (COMP_WORDBREAKS)
check_eq "bash: -i NETNS: completes the devices" "* eth1 lo" "${R[8]}"
check_eq "bash: --netns of dump: pin names" "DEFAULT nsA nsB" "${R[9]}"
check_eq "bash: completion's subcommands" "bash list zsh" "${R[10]}"
check_eq "bash: a number is not completed" "" "${R[11]}"
check_eq "bash: meter status --o" "--output" "${R[12]}"

# every option of every command is offered after "-"
lines=()
for cmd in "${CMDS[@]}"; do lines+=("flowctl $cmd -"); done
mapfile -t R < <(bcomplete "${lines[@]}")
for i in "${!CMDS[@]}"; do
	want=$(awk -F'\t' -v c="${CMDS[$i]}" '$1 == c { if ($2 != "-") print $2; print $3 }' \
		"$T_TMP/list" | sort | tr '\n' ' ' | sed 's/ $//')
	check_eq "bash: every option of '${CMDS[$i]}'" "$want" "${R[$((i + 1))]}"
done

# --- zsh ---------------------------------------------------------------------
if ! command -v zsh >/dev/null 2>&1; then
	skip "zsh completion" "zsh is not installed (scripts/deps.sh installs it)"
else
	out=$(env -i PATH="$T_TMP/bin:/usr/bin:/bin" HOME="$T_TMP" zsh -f -c '
		autoload -U compinit && compinit -u -D -d "$HOME/.zcd" || exit 3
		source "$1" || exit 4
		print -r -- "${_comps[flowctl]}"' zsh "$T_TMP/_flowctl" 2>&1)
	check_eq "zsh -f: compinit, then the script: compdef'd" "_flowctl" "$out"
	mkdir -p "$T_TMP/fpath"
	cp "$T_TMP/_flowctl" "$T_TMP/fpath/_flowctl"
	out=$(env -i PATH="$T_TMP/bin:/usr/bin:/bin" HOME="$T_TMP" zsh -f -c '
		fpath=("$1" $fpath)
		autoload -U compinit && compinit -u -D -d "$HOME/.zcd2" || exit 3
		print -r -- "${_comps[flowctl]}"' zsh "$T_TMP/fpath" 2>&1)
	check_eq "zsh -f: found on fpath by compinit" "_flowctl" "$out"

	# completion in an interactive zsh on a pseudo terminal (zpty)
	cat >"$T_TMP/zpty.zsh" <<'EOF'
zmodload zsh/zpty || exit 3
script=$1; shift
integer i
for line in "$@"; do
	zpty z 'zsh -f -i'
	zpty -w z "PS1='> '; LISTMAX=1000; autoload -U compinit; compinit -u -D -d \$HOME/.zcd3; source ${(q)script}; echo RE''ADY"
	for i in {1..50}; do zpty -r -m -t z out '*READY*' && break; sleep 0.1; done
	sleep 0.3
	while zpty -r -t z out; do :; done
	zpty -w -n z "$line"$'\t'
	all=""
	for i in {1..15}; do
		if zpty -r -t z out; then all+=$out; else sleep 0.1; fi
	done
	print -r -- "== $line"
	print -r -- "$all" | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g'
	zpty -d z
done
EOF
	env -i PATH="$T_TMP/bin:/usr/bin:/bin" HOME="$T_TMP" TERM=xterm \
		timeout 60 zsh -f "$T_TMP/zpty.zsh" "$T_TMP/_flowctl" \
		"flowctl me" "flowctl dump -" "flowctl dump -o " "flowctl flush --sa" \
		"flowctl meter attach -i " >"$T_TMP/zpty.out" 2>&1
	section() { awk -v h="== $1" '$0 == h { on = 1; next } /^== / { on = 0 } on' "$T_TMP/zpty.out"; }
	section "flowctl me" | grep -q "flowctl meter " &&
		pass "zsh: a command's prefix completes" ||
		fail "zsh: a command's prefix completes" "$(section "flowctl me" | head -5)"
	s=$(section "flowctl dump -")
	grep -q -- "--output" <<<"$s" && grep -q -- "--netns" <<<"$s" && grep -q -- "--help" <<<"$s" &&
		pass "zsh: dump's options listed" || fail "zsh: dump's options listed" "$(head -5 <<<"$s")"
	s=$(section "flowctl dump -o ")
	grep -q normal <<<"$s" && grep -q wide <<<"$s" && grep -q json <<<"$s" &&
		pass "zsh: -o's words" || fail "zsh: -o's words" "$(head -5 <<<"$s")"
	section "flowctl flush --sa" | grep -q -- "--saddr" &&
		pass "zsh: flush --saddr" || fail "zsh: flush --saddr" "$(section "flowctl flush --sa" | head -5)"
	s=$(section "flowctl meter attach -i ")
	grep -q 'nsA:' <<<"$s" && pass "zsh: -i offers NETNS:*" || fail "zsh: -i offers NETNS:*" "$(head -5 <<<"$s")"
fi

# --- outputs the original's users parse ---------------------------------------
"$FLOWCTL" version >"$T_TMP/version"
check_eq "version: exit 0" 0 $?
check "version line 1: Build Date" grep -qE '^Build Date: [^ ]+$' <(sed -n 1p "$T_TMP/version")
check "version line 2: Git SHA/Branch/Tag" grep -qE '^Git SHA/Branch/Tag: [0-9a-f]+/.+/.+$|^Git SHA/Branch/Tag: unknown/.+/.+$' <(sed -n 2p "$T_TMP/version")
check "version line 3: .../OS/Arch" grep -qE '^Compiler/OS/Arch: [^/ ]+/linux/[a-z0-9]+$' <(sed -n 3p "$T_TMP/version")
check "version: flowctl's lines after them" grep -qE '^Version: [0-9]+\.[0-9]+\.[0-9]+$' <(sed -n 4p "$T_TMP/version")
"$FLOWCTL" version -o json | jq -e '.version and .gitCommit and .gitBranch and .gitTag and .buildDate and (.abiVersion | type == "number")' >/dev/null
check_eq "version -o json" 0 $?
"$FLOWCTL" version -o yaml >/dev/null 2>&1
check_eq "version -o yaml: exit 2" 2 $?

"$FLOWCTL" dependency-check >"$T_TMP/deps" 2>&1
rc=$?
case $rc in 0|1) pass "dependency-check: exit 0 or 1" ;; *) fail "dependency-check: exit 0 or 1" "exit $rc" ;; esac
i=0
for what in "clang" "kernel" "iproute2 binary" "iproute2 libbpf"; do
	i=$((i + 1))
	check "dependency-check line $i: $what (expect vX): vY (STATUS)" grep -qE \
		"^$what version \(expect v[0-9]+\.[0-9]+\.[0-9]+\): (v[0-9]+\.[0-9]+\.[0-9]+)? \((VALID|INVALID|NOT-INSTALLED)\)$" \
		<(sed -n ${i}p "$T_TMP/deps")
done
check "dependency-check: then flowctl's table" grep -qE '^DEPENDENCY +CURRENT +EXPECTED +STATUS$' "$T_TMP/deps"
# the status follows the version: a clang from PATH is not used, but a
# missing one (empty fixed path is not possible here) is not faked either
if [ "$rc" = 0 ]; then
	check "dependency-check: exit 0 means four VALID lines" test "$(head -4 "$T_TMP/deps" | grep -c '(VALID)$')" = 4
fi

# flush: the original's long options are parsed (values checked before
# anything is touched, so this needs no root)
expect_rc() { # NAME RC PATTERN CMD...
	local name=$1 want=$2 pat=$3 rc=0
	shift 3
	"$@" >"$T_TMP/out" 2>&1 || rc=$?
	if [ "$rc" = "$want" ] && grep -qE -- "$pat" "$T_TMP/out"; then
		pass "$name"
	else
		fail "$name" "exit $rc (want $want): $(head -c 300 "$T_TMP/out")"
	fi
}
expect_rc "flush --saddr is the address" 2 "--saddr: 'x' is not an IPv4" "$FLOWCTL" flush --saddr x
expect_rc "flush --daddr is the address" 2 "--daddr: '1.2.3' is not an IPv4" "$FLOWCTL" flush --daddr 1.2.3
expect_rc "flush --sport range" 2 "in 0..65535" "$FLOWCTL" flush --sport 65536
expect_rc "flush --proto range" 2 "in 0..255" "$FLOWCTL" flush --proto 256
expect_rc "flush --ifindex range" 2 "in 0..2147483647" "$FLOWCTL" flush --ifindex -1
expect_rc "flush --all with a key" 2 "no key options" "$FLOWCTL" flush --all --dport 80
expect_rc "meter detach has no --force" 2 "unrecognized option" "$FLOWCTL" meter detach -i lo --force

finish
