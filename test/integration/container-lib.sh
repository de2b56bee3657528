# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# podman for the tests that build scripts/Dockerfile (test-container.sh,
# test-systemd.sh).  Source it after lib.sh.  No image registry is needed:
# the base images come from debootstrap (scripts/container-base.sh), once,
# and stay in podman's store like the package layers of the Dockerfile, so
# later runs only build flowctl.
#   ct_build TARGET IMAGE   base images if missing, then podman build
#                           (TARGET "" is the image; "pass"/"fail" lines)
#   ct_run ARGS...          podman run with what this machine needs

# What works on this kind of machine: runc (crun is refused) and explicit
# limits (podman's defaults are refused: root has no CAP_SYS_RESOURCE).
PODMAN="podman --runtime runc --cgroup-manager=cgroupfs"
CT_LIMITS="--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
CT_LABEL=org.opencontainers.image.title=flowctl
CT_BUILD=localhost/flowctl-build:latest
# the commit `flowctl version` of the image shows
CT_COMMIT=$(git -C "$TOP" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

ct_run() {
	# shellcheck disable=SC2086
	$PODMAN run $CT_LIMITS "$@"
}

# Images labelled flowctl (the Dockerfile labels what follows its package
# layers) that have no name and nothing built on them: the previous image
# of a tag and the leftovers of earlier builds.  Removed by id, a bounded
# number of rounds.  `podman rmi` (and `image prune`) also removes the
# parents left without name or child: ct_build names the build stage
# (CT_BUILD) so that its latest layers stay, packages and make alike.
ct_remove_leftovers() {
	local ids _
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		ids=$($PODMAN images -a -q --filter dangling=true \
			--filter "label=$CT_LABEL")
		[ -n "$ids" ] || return 0
		# shellcheck disable=SC2086
		$PODMAN rmi $ids >/dev/null 2>&1 || return 0
	done
}

ct_build() { # TARGET IMAGE
	local t0 t1 t2 target=()

	[ -n "$1" ] && target=(--target "$1")
	t0=$(date +%s)
	if ! "$TOP/scripts/container-base.sh" >"$T_TMP/base.log" 2>&1; then
		cat "$T_TMP/base.log"
		fail "base images" "scripts/container-base.sh failed"
		return 1
	fi
	t1=$(date +%s)
	pass "base images debian:12, debian:12-slim ($((t1 - t0)) s: $(tail -1 "$T_TMP/base.log"))"
	# shellcheck disable=SC2086
	if ! $PODMAN build --pull=never --network host $CT_LIMITS \
		--build-arg GIT_COMMIT="$CT_COMMIT" --target build -t "$CT_BUILD" \
		-f "$TOP/scripts/Dockerfile" "$TOP" >"$T_TMP/build.log" 2>&1 ||
	   ! $PODMAN build --pull=never --network host $CT_LIMITS "${target[@]}" \
		--build-arg GIT_COMMIT="$CT_COMMIT" \
		-f "$TOP/scripts/Dockerfile" -t "$2" "$TOP" >>"$T_TMP/build.log" 2>&1; then
		tail -30 "$T_TMP/build.log"
		fail "podman build ${target[*]}" "scripts/Dockerfile does not build"
		return 1
	fi
	t2=$(date +%s)
	pass "podman build -f scripts/Dockerfile ${target[*]} ($((t2 - t1)) s)"
	ct_remove_leftovers
	echo "  image $2: $(($($PODMAN image inspect -f '{{.Size}}' "$2") / 1000000)) MB"
}

# The agent's side of a test: the testbed, a collector on the host (CPID,
# port CT_PU) and the agent's config in $T_TMP/etc/config.yaml: it meters
# $NS0:eth2 (egress, toward the receiver) through `interfaces:`, with flow timeouts far away, so that the
# flows reach the collector only through the export of everything cached
# that stopping the agent (SIGTERM) starts.
ct_agent_setup() {
	testbed_up || { fail testbed "cannot create the netns testbed"; return 1; }
	on_cleanup "$FLOWCTL meter detach -i '$NS0:*'"
	CT_PU=$(free_port)
	mkdir -p "$T_TMP/etc"
	cat >"$T_TMP/etc/config.yaml" <<EOT
scanIntervalMilliseconds: 200
idleTimeoutSeconds: 600
activeTimeoutSeconds: 600
interfaces:
- "$NS0:eth2"
outputs:
- collector:
    remoteAddress: 127.0.0.1:$CT_PU
EOT
	$PY "$TOP/test/integration/ipfix_collector.py" --udp "$CT_PU" \
		--bind 127.0.0.1 --out "$T_TMP/c.json" --records "$T_TMP/c.jsonl" \
		--ready-file "$T_TMP/c.ready" --duration 300 2>"$T_TMP/c.err" &
	CPID=$!
	T_PIDS+=("$CPID")
	wait_for 50 test -e "$T_TMP/c.ready" ||
		{ fail collector "not ready: $(cat "$T_TMP/c.err")"; return 1; }
}

# Start container NAME of IMAGE as docs/container.md says (the host's
# network, bpffs and /var/run/netns, the config of ct_agent_setup), with
# more podman OPTIONS; removed at exit.
ct_start() { # NAME IMAGE [OPTIONS...]
	on_cleanup "$PODMAN rm -f -t 0 '$1'"
	ct_run -d --name "$1" --privileged --net=host \
		-v /sys/fs/bpf:/sys/fs/bpf \
		-v /var/run/netns:/var/run/netns:rslave \
		-v "$T_TMP/etc:/etc/flowctl:ro" \
		"${@:3}" "$2" >"$T_TMP/run.out" 2>&1 ||
		{ fail "podman run $1" "$(tail -3 "$T_TMP/run.out")"; return 1; }
}

ct_attached() { tc -n "$NS0" filter show dev eth2 egress 2>/dev/null | grep -q bpf; }

# N datagrams over 10 UDP flows from $NS1 to $NS2 (port 7300) through the
# metered $NS0:eth2.
ct_send() { # N
	local rp
	ip netns exec "$NS2" $PY "$TOP/test/integration/udpsend.py" \
		--recv 10.2.0.2 7300 30 >"$T_TMP/recv.count" &
	rp=$!
	T_PIDS+=("$rp")
	sleep 0.5
	ip netns exec "$NS1" $PY "$TOP/test/integration/udpsend.py" \
		10.2.0.2 7300 "$1" 100 47300 10
	wait "$rp"
	check_eq "$1 datagrams delivered" "$1" "$(cat "$T_TMP/recv.count")"
	sleep 0.5
}

# After the agent stopped: stop the collector, which must have exactly N
# packets in the 10 flows of ct_send, each ended by the stop (forced end),
# and no sequence error or malformed message.
ct_collector_check() { # N
	local s=$T_TMP/c.json sel
	sel='[.[] | select(.protocolIdentifier == 17 and .destinationTransportPort == 7300)]'
	kill -TERM "$CPID"
	wait "$CPID"
	check_eq "collector: no sequence error" 0 "$(jq .sequence_errors "$s")"
	check_eq "collector: no malformed message" 0 "$(jq .malformed "$s")"
	check_eq "collector: exactly $1 packets of the UDP flows" "$1" \
		"$(jq -s "$sel | map(.packetDeltaCount) | add // 0" "$T_TMP/c.jsonl")"
	check_eq "collector: 10 flows, each ended by the stop (forced end)" "10 [4]" \
		"$(jq -s -r "$sel | \"\\(length) \\([.[].flowEndReason] | unique)\"" "$T_TMP/c.jsonl")"
}
