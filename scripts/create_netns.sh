#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Create the netns testbed: PREFIX0 is a router between PREFIX1, PREFIX2 and
# PREFIX3 (IPv4 and IPv6).  Usage: create_netns.sh [PREFIX]  (default: ns)
#
#   PREFIX1 eth0 10.1.0.2/24 fd00:1::2/64 <-> PREFIX0 eth1 10.1.0.1 fd00:1::1
#   PREFIX2 eth0 10.2.0.2/24 fd00:2::2/64 <-> PREFIX0 eth2 10.2.0.1 fd00:2::1
#   PREFIX3 eth0 10.3.0.2/24 fd00:3::2/64 <-> PREFIX0 eth3 10.3.0.1 fd00:3::1
set -eu
P=${1:-ns}
R=${P}0

if ip netns list | grep -qw "^$R"; then
	echo "create_netns: $R already exists (clean it with clean_netns.sh $P)" >&2
	exit 1
fi
ip netns add "$R"
ip -n "$R" link set lo up
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$R" sysctl -qw net.ipv6.conf.all.forwarding=1
for i in 1 2 3; do
	H=$P$i
	ip netns add "$H"
	ip -n "$H" link set lo up
	ip link add "${P}h$i" netns "$H" type veth peer name "${P}r$i" netns "$R"
	ip -n "$H" link set "${P}h$i" name eth0
	ip -n "$R" link set "${P}r$i" name "eth$i"
	ip netns exec "$H" sysctl -qw net.ipv6.conf.all.accept_dad=0
	ip netns exec "$H" sysctl -qw net.ipv6.conf.default.accept_dad=0
	ip netns exec "$H" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
	ip netns exec "$R" sysctl -qw "net.ipv6.conf.eth$i.accept_dad=0"
	ip -n "$H" addr add "10.$i.0.2/24" dev eth0
	ip -n "$H" addr add "fd00:$i::2/64" dev eth0 nodad
	ip -n "$R" addr add "10.$i.0.1/24" dev "eth$i"
	ip -n "$R" addr add "fd00:$i::1/64" dev "eth$i" nodad
	ip -n "$H" link set eth0 up
	ip -n "$R" link set "eth$i" up
	ip -n "$H" route add default via "10.$i.0.1"
	ip -n "$H" -6 route add default via "fd00:$i::1"
done
echo "testbed $P: router $R, hosts ${P}1 ${P}2 ${P}3"
