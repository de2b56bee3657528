#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The README demo (make demo): a router namespace between three hosts, the
# meter on the router, a real IPFIX collector (nfcapd) and the agent with
# its embedded default config, a little traffic, then what each side saw.
# Everything it creates is removed at the end (the flow log stays).
set -u
cd "$(dirname "$0")/.."
B=${FLOWCTL_BUILD:-build/default}
FLOWCTL=${FLOWCTL:-$PWD/$B/flowctl}
P=demo
NS0=${P}0
WORK=$(mktemp -d /tmp/flowctl-demo.XXXXXX)
LOG=/var/log/flowctl/flows.log
PIDS=()

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	"$FLOWCTL" meter detach -i "$NS0:*" >/dev/null 2>&1
	scripts/clean_netns.sh "$P"
	rm -rf "$WORK"
}

[ "$(id -u)" = 0 ] || die "needs root: sudo make demo"
[ -x "$FLOWCTL" ] || die "$FLOWCTL is not built (make)"
if ip netns list | grep -qw "^$NS0"; then
	die "namespace $NS0 exists already (scripts/clean_netns.sh $P removes the testbed)"
fi
for port in 4739 9999; do
	if ss -Hlnu "sport = :$port" | grep -q . || ss -Hlnt "sport = :$port" | grep -q .; then
		die "port $port is in use on 127.0.0.1 (the embedded default config exports to 127.0.0.1:4739 and serves metrics on 127.0.0.1:9999)"
	fi
done

cat <<EOF
This demo will:
  1. create network namespaces ${P}0 (a router) and ${P}1, ${P}2, ${P}3 (hosts,
     IPv4 10.N.0.2 and IPv6 fd00:N::2), with scripts/create_netns.sh $P;
  2. attach the meter to every interface of the router:
       flowctl meter attach -i '$NS0:*'
  3. start an IPFIX collector, nfcapd, on 127.0.0.1:4739 (files in $WORK);
  4. start the agent with its embedded default config (flowctl agent):
     IPFIX over UDP to 127.0.0.1:4739, JSON flow log in $LOG,
     Prometheus metrics on 127.0.0.1:9999;
  5. send traffic between the hosts: ping, ping -6, a TCP transfer (iperf3),
     UDP datagrams;
  6. stop the agent (SIGTERM: it drains and exports everything first);
  7. show flowctl dump, what nfcapd received (nfdump) and the flow log;
  8. remove the namespaces, the meter, its pins and the processes.
EOF
trap cleanup EXIT

say "1. testbed"
scripts/create_netns.sh "$P" || die "cannot create the testbed"

say "2. flowctl meter attach -i '$NS0:*'"
"$FLOWCTL" meter attach -i "$NS0:*" || die "attach failed"
"$FLOWCTL" meter status --netns "$NS0"

say "3. nfcapd -b 127.0.0.1 -p 4739 -w $WORK/nfcapd"
mkdir -p "$WORK/nfcapd"
nfcapd -b 127.0.0.1 -p 4739 -w "$WORK/nfcapd" -t 3600 >"$WORK/nfcapd.log" 2>&1 &
NFPID=$!
PIDS+=($NFPID)

say "4. flowctl agent   (embedded default config; its log lines below)"
"$FLOWCTL" agent 2>"$WORK/agent.log" &
AGPID=$!
PIDS+=($AGPID)
for _ in $(seq 50); do
	grep -q "agent started" "$WORK/agent.log" && break
	kill -0 $AGPID 2>/dev/null || break
	sleep 0.1
done
cat "$WORK/agent.log"
kill -0 $AGPID 2>/dev/null || die "the agent did not start"

say "5. traffic"
echo "+ ping 10.2.0.2 from ${P}1 (5 packets)"
ip netns exec "${P}1" ping -c 5 -i 0.2 -q 10.2.0.2 | tail -2
echo "+ ping -6 fd00:3::2 from ${P}1 (5 packets)"
ip netns exec "${P}1" ping -6 -c 5 -i 0.2 -q fd00:3::2 | tail -2
echo "+ iperf3: 5 MB over TCP from ${P}1 to ${P}3"
ip netns exec "${P}3" iperf3 -s -1 -B 10.3.0.2 >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.5
ip netns exec "${P}1" iperf3 -c 10.3.0.2 -n 5M 2>&1 | grep -E 'sender|receiver'
echo "+ 200 UDP datagrams from ${P}2 to ${P}3 port 5353"
ip netns exec "${P}2" /usr/bin/python3 test/integration/udpsend.py 10.3.0.2 5353 200 300
curl -s http://127.0.0.1:9999/metrics 2>/dev/null | grep -E '^flowctl_flow_cache_flows|^linux_flow_exporter_total_pkts' | head -5

say "6. stop the agent (SIGTERM)"
sleep 1
kill -TERM $AGPID
wait $AGPID
echo "agent exit code: $?"
tail -n 2 "$WORK/agent.log"

say "7a. flowctl dump   (flows counted since the agent stopped: 3 more pings; the next agent run exports them)"
ip netns exec "${P}2" ping -c 3 -i 0.2 -q 10.1.0.2 >/dev/null
"$FLOWCTL" dump

say "7b. what the collector received: nfdump -R $WORK/nfcapd -o long -O tstart"
kill -TERM $NFPID
wait $NFPID 2>/dev/null
nfdump -R "$WORK/nfcapd" -o long -O tstart 'not dst net ff00::/8' | head -40

say "7c. the flow log ($LOG): the last lines of this run"
tail -n 4 "$LOG"

say "8. clean up"
echo "removing the testbed, the meter and its pins (the flow log stays in $LOG)"
