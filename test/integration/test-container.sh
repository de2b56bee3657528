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
t0=$(date +%s)

ct_build "" "$IMG" || { finish; exit 1; }
t1=$(date +%s)

run_in_image() { # CMD...: in a throwaway container of the image
	ct_run --rm --net=host --entrypoint "$1" "$IMG" "${@:2}"
}
check_eq "flowctl of the image is this tree's (flowctl version)" \
	"$CT_COMMIT" \
	"$(run_in_image /usr/local/sbin/flowctl version 2>&1 |
		sed -n 's|^Git SHA/Branch/Tag: \([^/]*\)/.*|\1|p')"
check "runtime stage: no make, gcc or pkg-config" \
	run_in_image sh -c '! command -v make && ! command -v gcc && ! command -v pkg-config'
check "runtime stage: clang, tc and the BPF headers are there" \
	run_in_image sh -c 'command -v clang && command -v tc && test -e /usr/include/bpf/bpf_helpers.h && test -e /usr/include/linux/bpf.h'

# --- the agent in the container --------------------------------------------
ct_agent_setup || { finish; exit 1; }
ct_start "$CTR" "$IMG" || { finish; exit 1; }
logs() { $PODMAN logs "$CTR" 2>&1; }
started() { logs | grep -q "agent started"; }
wait_for 600 started && pass "agent started in the container" ||
	fail "agent started" "$(logs | tail -5)"
check "the agent attached $NS0:eth2 from its config (clang and tc of the image)" ct_attached

# a namespace made after the container started is seen inside it (rslave)
ip netns add "${T_PREFIX}late"
on_cleanup "ip netns del '${T_PREFIX}late'"
check "a namespace added later is visible in the container" \
	$PODMAN exec "$CTR" test -e "/var/run/netns/${T_PREFIX}late"
ip netns del "${T_PREFIX}late"

ct_send "$N"

$PODMAN stop -t 30 "$CTR" >/dev/null
check_eq "podman stop (SIGTERM): the agent exits 0" 0 \
	"$($PODMAN inspect -f '{{.State.ExitCode}}' "$CTR")"
check "the agent logged its stop" bash -c "$PODMAN logs $CTR 2>&1 | grep -q 'agent stopped'"
ct_collector_check "$N"
if [ "$T_FAIL" -gt 0 ]; then
	echo "--- agent log (podman logs $CTR):"
	logs | tail -20
fi
echo "  time: $(($(date +%s) - t0)) s (base images and build $((t1 - t0)) s)"
finish
