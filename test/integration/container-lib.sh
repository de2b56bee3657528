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
