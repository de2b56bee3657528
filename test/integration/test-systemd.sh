#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run.sh timeout: 1500
#
# scripts/flowctl-agent.service.  `systemd-analyze verify` on the host (no
# warning; a misspelt key must warn).  Then the unit for real: this machine
# does not run systemd as PID 1, so systemd runs as PID 1 of a container
# (scripts/Dockerfile --target systemd-unit: the image plus systemd and the
# unit installed as docs/outputs.md says).  There the installed unit
# verifies clean, the agent runs under it (meters a namespace of this
# test's testbed through the config's `interfaces:`, `systemctl stop`
# exports exactly the N packets sent), and its hardening is seen from
# inside the service: unit-probe.sh as the unit's ExecStart (a drop-in),
# against the same probe in a plain unit.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd systemd-analyze

UNIT=$TOP/scripts/flowctl-agent.service
verify() { # DIR: systemd-analyze verify of DIR/flowctl-agent.service, its output
	systemd-analyze verify "$1/flowctl-agent.service" 2>&1
}
# the binary of ExecStart must exist: a copy naming this tree's flowctl
mkdir -p "$T_TMP/good" "$T_TMP/bad"
sed "s|/usr/local/sbin/flowctl|$FLOWCTL|g" "$UNIT" >"$T_TMP/good/flowctl-agent.service"
check_eq "systemd-analyze verify: no warning" "" "$(verify "$T_TMP/good")"
# the same check fails on a misspelt key (verify itself exits 0 on it)
sed 's/^NoNewPrivileges=/NoNewPrivilege=/' "$T_TMP/good/flowctl-agent.service" \
	>"$T_TMP/bad/flowctl-agent.service"
check "systemd-analyze verify: a misspelt key warns" \
	grep -q "Unknown key 'NoNewPrivilege'" <<<"$(verify "$T_TMP/bad")"
echo "  $(systemd-analyze security --offline=true "$T_TMP/good/flowctl-agent.service" 2>&1 |
	grep -o 'Overall exposure level.*')"

# --- the unit under systemd, in a container -------------------------------
require_cmd podman runc debootstrap tc ip jq
. "$(dirname "$0")/container-lib.sh"
IMG=localhost/flowctl-systemd-test:latest
CTR=${T_PREFIX}systemd
N=1000
t0=$(date +%s)

ct_build systemd-unit "$IMG" || { finish; exit 1; }

ct_agent_setup || { finish; exit 1; }
ct_start "$CTR" "$IMG" --systemd=always \
	-v "$TOP/test/integration/unit-probe.sh:/probe.sh:ro" || { finish; exit 1; }
sx() { $PODMAN exec "$CTR" "$@"; }
booted() { sx systemctl is-system-running | grep -Eq '^(running|degraded)$'; }
wait_for 600 booted && pass "systemd is PID 1 of the container: $(sx cat /proc/1/comm)" ||
	fail "systemd booted" "$(sx systemctl is-system-running 2>&1)"
check_eq "systemd-analyze verify of the installed unit: no warning" "" \
	"$(sx systemd-analyze verify /etc/systemd/system/flowctl-agent.service 2>&1)"

# --- the agent under the unit ----------------------------------------------
journal() { sx journalctl -q -u flowctl-agent --no-pager 2>&1; }
sx systemctl start flowctl-agent
started() { journal | grep -q "agent started"; }
wait_for 600 started && pass "systemctl start flowctl-agent: agent started" ||
	fail "agent started" "$(journal | tail -5)"
check "the agent attached $NS0:eth2 under the unit's hardening" ct_attached
sx systemctl reload flowctl-agent
reloaded() { journal | grep -q "reload: 1 collector"; }
wait_for 100 reloaded && pass "systemctl reload (ExecReload, SIGHUP): the agent reloaded its config" ||
	fail "reload" "$(journal | tail -3)"
MAIN=$(sx systemctl show -P MainPID flowctl-agent)
sx cat "/proc/$MAIN/status" >"$T_TMP/agent.status"
check_eq "the agent: NoNewPrivs, seccomp filter" "1 2" \
	"$(sed -n 's/^NoNewPrivs:\s*//p' "$T_TMP/agent.status") $(sed -n 's/^Seccomp:\s*//p' "$T_TMP/agent.status")"

ct_send "$N"
sx systemctl stop flowctl-agent
check_eq "systemctl stop (SIGTERM): the agent exits 0" "0 success" \
	"$(sx systemctl show -P ExecMainStatus flowctl-agent) $(sx systemctl show -P Result flowctl-agent)"
check "the agent logged its stop" bash -c "$PODMAN exec $CTR journalctl -q -u flowctl-agent --no-pager | grep -q 'agent stopped'"
ct_collector_check "$N"
check "LogsDirectory: /var/log/flowctl is 0750" \
	bash -c "[ \"\$($PODMAN exec $CTR stat -c %a /var/log/flowctl)\" = 750 ]"

# --- the hardening, seen from inside ------------------------------------
sx sh -c '
install -o nobody -m 0600 /dev/null /run/nobodys
mkdir -p /etc/systemd/system/flowctl-agent.service.d
printf "[Service]\nType=oneshot\nRestart=no\nExecStart=\nExecStart=/probe.sh /run/nobodys\nStandardOutput=file:/run/probe-unit.out\n" \
	>/etc/systemd/system/flowctl-agent.service.d/probe.conf
printf "[Service]\nType=oneshot\nExecStart=/probe.sh /run/nobodys\nStandardOutput=file:/run/probe-plain.out\n" \
	>/etc/systemd/system/probe-plain.service
systemctl daemon-reload
systemctl start flowctl-agent probe-plain' || fail probe "the probe units did not run"
sx cat /run/probe-unit.out >"$T_TMP/unit.out" 2>&1
sx cat /run/probe-plain.out >"$T_TMP/plain.out" 2>&1
val() { sed -n "s/^$2 //p" "$T_TMP/$1.out"; }
hard() { # NAME UNIT PLAIN WHAT: the value in the unit and in a plain unit
	check_eq "$4 ($1: $2, plain unit: $3)" "$2 $3" "$(val unit "$1") $(val plain "$1")"
}
# the unit's bounding set, as far as this machine's root has it (it lacks
# CAP_SYS_RESOURCE here)
plainbnd=$(val plain CapBnd)
want=$(printf '%016x' $((0x$plainbnd & ((1 << 39) | (1 << 38) | (1 << 24) | (1 << 21) | (1 << 12)))))
hard CapBnd "$want" "$plainbnd" "CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN CAP_SYS_ADMIN CAP_PERFMON CAP_SYS_RESOURCE"
hard NoNewPrivs 1 0 "NoNewPrivileges"
hard Seccomp 2 0 "a seccomp filter"
hard Umask 0027 0022 "UMask=0027"
hard unshare-user 1 0 "RestrictNamespaces=mnt net: a user namespace is refused (EPERM)"
hard unshare-mnt-net 0 0 "RestrictNamespaces=mnt net: mount and network namespaces (ip netns exec) are allowed"
hard af-packet 97 0 "RestrictAddressFamilies: AF_PACKET refused (EAFNOSUPPORT)"
hard af-inet 0 0 "RestrictAddressFamilies: AF_INET allowed"
hard swapon killed 2 "SystemCallFilter=~@swap: swapon kills"
hard clock-settime killed 22 "SystemCallFilter=~@clock: clock_settime kills"
hard setuid-bit 1 0 "RestrictSUIDSGID: chmod u+s refused (EPERM)"
hard read-nobodys-file 13 0 "no CAP_DAC_OVERRIDE: root cannot read nobody's 0600 file (EACCES)"
echo "  not verified here: LimitNOFILE=65536 and LimitMEMLOCK=infinity (the service got nofile $(val unit nofile), memlock $(val unit memlock): raising a limit needs CAP_SYS_RESOURCE, which root lacks on this machine), CAP_SYS_RESOURCE in the bounding set (same reason), RestrictRealtime (SCHED_FIFO is refused here without it too)"
[ "$T_FAIL" -gt 0 ] && { echo "--- journal:"; journal | tail -20; paste "$T_TMP/unit.out" "$T_TMP/plain.out"; }
echo "  time: $(($(date +%s) - t0)) s"
finish
