#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Remove the netns testbed made by create_netns.sh PREFIX, with any meter
# pins of its namespaces.  Usage: clean_netns.sh [PREFIX]  (default: ns)
set -u
P=${1:-ns}
RUN_DIR=/run/flowctl	# FLOWCTL_RUN_DIR (lib/base/rundir.h)
for i in 0 1 2 3; do
	ip netns del "$P$i" 2>/dev/null
	rm -rf "/sys/fs/bpf/flowctl/$P$i"
	rm -f "$RUN_DIR/state/$P$i.overflow"
done
exit 0
