#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Run by test-systemd.sh as the ExecStart of scripts/flowctl-agent.service
# (a drop-in), and as a plain unit for comparison: what the process may do,
# one "NAME VALUE" line each.  VALUE of a probe is 0 (allowed), the errno
# of the refusal, or "killed" (SIGSYS: the seccomp filter killed it).
# x86_64 syscall numbers: unshare 272, swapon 167, clock_settime 227 (of
# CLOCK_MONOTONIC, which fails anyway: the probe must not change the clock).
# $1: a file of nobody's, mode 0600.
st() { sed -n "s/^$1:[[:space:]]*//p" /proc/self/status; }
probe() { # NAME PERL
	r=$(perl -e "$2" 2>/dev/null)
	s=$?
	if [ "$s" -eq 159 ]; then echo "$1 killed"; else echo "$1 ${r:-exit$s}"; fi
}
echo "CapBnd $(st CapBnd)"
echo "NoNewPrivs $(st NoNewPrivs)"
echo "Seccomp $(st Seccomp)"
echo "Umask $(st Umask)"
lim() { sed -n "s/^$1  *\([^ ]*\).*/\1/p" /proc/self/limits; }
echo "nofile $(lim 'Max open files')"
echo "memlock $(lim 'Max locked memory')"
probe unshare-user 'print syscall(272, 0x10000000) == 0 ? 0 : $!+0'
probe unshare-mnt-net 'print syscall(272, 0x00020000 | 0x40000000) == 0 ? 0 : $!+0'
probe af-packet 'print socket(my $s, 17, 3, 0) ? 0 : $!+0'
probe af-inet 'print socket(my $s, 2, 2, 0) ? 0 : $!+0'
probe swapon 'my $p = "/nonexistent"; print syscall(167, $p, 0) == 0 ? 0 : $!+0'
probe clock-settime 'my $t = pack("qq", 1, 0); print syscall(227, 1, $t) == 0 ? 0 : $!+0'
f=$(mktemp)
probe setuid-bit "print chmod(04755, '$f') ? 0 : \$!+0"
rm -f "$f"
probe read-nobodys-file "print open(my \$h, '<', '$1') ? 0 : \$!+0"
