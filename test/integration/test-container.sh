#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run.sh timeout: 1500
#
# scripts/Dockerfile builds with podman from this tree, with no image
# registry (base images from debootstrap: scripts/container-base.sh, made
# once and kept in podman's store), and the image runs the agent as
# docs/container.md says: --privileged --net=host, the host's bpffs and
# /var/run/netns (rslave) and a config mounted.  The agent meters a
# namespace of this test's testbed through the config's `interfaces:`
# (clang, headers and tc of the image), N datagrams cross it, `podman stop`
# (SIGTERM) makes it export them, and a collector on the host must have
# exactly N packets with no sequence error.
#
# The first run pays for debootstrap and the packages of both stages (a few
# minutes; hence the timeout above, which test/run.sh reads); later runs
# reuse the base images and the package layers and only build flowctl.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/container-lib.sh"
require_root
require_cmd podman runc debootstrap tc ip jq

IMG=localhost/flowctl-test:latest
CTR=${T_PREFIX}agent
N=1000
UDP="$PY $TOP/test/integration/udpsend.py"
COLL="$PY $TOP/test/integration/ipfix_collector.py"
t0=$(date +%s)

ct_build "" "$IMG" || { finish; exit 1; }
t1=$(date +%s)

run_in_image() { # CMD...: in a throwaway container of the image
	ct_run --rm --net=host --entrypoint "$1" "$IMG" "${@:2}"
}
check_eq "flowctl of the image is this tree's (flowctl version)" \
	"git commit: $CT_COMMIT" \
	"$(run_in_image /usr/local/sbin/flowctl version 2>&1 | grep '^git commit')"
check "runtime stage: no make, gcc or pkg-config" \
	run_in_image sh -c '! command -v make && ! command -v gcc && ! command -v pkg-config'
check "runtime stage: clang, tc and the BPF headers are there" \
	run_in_image sh -c 'command -v clang && command -v tc && test -e /usr/include/bpf/bpf_helpers.h && test -e /usr/include/linux/bpf.h'

# --- the agent in the container --------------------------------------------
testbed_up || { fail testbed "cannot create the netns testbed"; finish; exit 1; }
on_cleanup "$FLOWCTL meter detach -i '$NS0:*'"
PU=$(free_port)
mkdir -p "$T_TMP/etc"
# idle and active timeouts far away: the flows reach the collector only
# through the export of everything cached that SIGTERM starts
cat >"$T_TMP/etc/config.yaml" <<EOF
scanIntervalMilliseconds: 200
idleTimeoutSeconds: 600
activeTimeoutSeconds: 600
interfaces:
- "$NS0:eth1"
outputs:
- collector:
    remoteAddress: 127.0.0.1:$PU
EOF
$COLL --udp "$PU" --bind 127.0.0.1 --out "$T_TMP/c.json" \
	--records "$T_TMP/c.jsonl" --ready-file "$T_TMP/c.ready" \
	--duration 300 2>"$T_TMP/c.err" &
CPID=$!
T_PIDS+=($CPID)
wait_for 50 test -e "$T_TMP/c.ready" || fail collector "not ready: $(cat "$T_TMP/c.err")"

on_cleanup "$PODMAN rm -f -t 0 '$CTR'"
if ! ct_run -d --name "$CTR" --privileged --net=host \
	-v /sys/fs/bpf:/sys/fs/bpf \
	-v /var/run/netns:/var/run/netns:rslave \
	-v "$T_TMP/etc:/etc/flowctl:ro" \
	"$IMG" >"$T_TMP/run.out" 2>&1; then
	fail "podman run" "$(tail -3 "$T_TMP/run.out")"
	finish; exit 1
fi
logs() { $PODMAN logs "$CTR" 2>&1; }
started() { logs | grep -q "agent started"; }
wait_for 600 started && pass "agent started in the container" ||
	fail "agent started" "$(logs | tail -5)"
attached() { tc -n "$NS0" filter show dev eth1 ingress 2>/dev/null | grep -q bpf; }
check "the agent attached $NS0:eth1 from its config (clang and tc of the image)" attached

# a namespace made after the container started is seen inside it (rslave)
ip netns add "${T_PREFIX}late"
on_cleanup "ip netns del '${T_PREFIX}late'"
check "a namespace added later is visible in the container" \
	$PODMAN exec "$CTR" test -e "/var/run/netns/${T_PREFIX}late"
ip netns del "${T_PREFIX}late"

ip netns exec "$NS2" $UDP --recv 10.2.0.2 7300 30 >"$T_TMP/recv.count" &
RP=$!
T_PIDS+=($RP)
sleep 0.5
ip netns exec "$NS1" $UDP 10.2.0.2 7300 "$N" 100 47300 10
wait $RP
check_eq "$N datagrams delivered" "$N" "$(cat "$T_TMP/recv.count")"
sleep 0.5

$PODMAN stop -t 30 "$CTR" >/dev/null
check_eq "podman stop (SIGTERM): the agent exits 0" 0 \
	"$($PODMAN inspect -f '{{.State.ExitCode}}' "$CTR")"
check "the agent logged its stop" bash -c "$PODMAN logs $CTR 2>&1 | grep -q 'agent stopped'"
kill -TERM "$CPID"
wait "$CPID"

S=$T_TMP/c.json
check_eq "collector: no sequence error" 0 "$(jq .sequence_errors "$S")"
check_eq "collector: no malformed message" 0 "$(jq .malformed "$S")"
got=$(jq -s '[.[] | select(.protocolIdentifier == 17 and .destinationTransportPort == 7300) | .packetDeltaCount] | add // 0' "$T_TMP/c.jsonl")
check_eq "collector: exactly $N packets of the UDP flows" "$N" "$got"
check_eq "collector: 10 flows, each ended by the stop (forced end)" "10 [4]" \
	"$(jq -s -c '[.[] | select(.protocolIdentifier == 17 and .destinationTransportPort == 7300)] | "\(length) \([.[].flowEndReason] | unique)"' -r "$T_TMP/c.jsonl")"
if [ "$T_FAIL" -gt 0 ]; then
	echo "--- agent log (podman logs $CTR):"
	logs | tail -20
fi
echo "  time: $(($(date +%s) - t0)) s (base images and build $((t1 - t0)) s)"
finish
