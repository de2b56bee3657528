#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
#
# Read the flows pinned for one namespace with bpftool (both buffers) and
# print them as JSON lines, one per flow, for the shell tests:
#   flows.py PINDIR  ->  {"dir":"ingress","iif":2,"oif":0,"proto":17,
#                         "src":"10.1.0.2","dst":"10.2.0.2","sport":5000,
#                         "dport":6000,"pkts":100,"bytes":12800,...}
import ipaddress
import json
import subprocess
import sys


def addr(b):
    b = bytes(b)
    if b[:12] == b"\0" * 10 + b"\xff\xff":
        return str(ipaddress.IPv4Address(b[12:]))
    return str(ipaddress.IPv6Address(b))


def be16(v):
    # bpftool shows a __be16 as the number its bytes make in host order
    return ((v & 0xff) << 8) | (v >> 8)


def dump(path):
    out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", path],
                         check=True, capture_output=True, text=True).stdout
    for e in json.loads(out or "[]"):
        k = e.get("formatted", e)["key"]
        v = e.get("formatted", e)["value"]
        yield {
            "dir": "ingress" if k["direction"] == 0 else "egress",
            "iif": k["ingress_ifindex"], "oif": k["egress_ifindex"],
            "ipv": k["ip_version"], "proto": k["proto"],
            "src": addr(k["src_addr"]), "dst": addr(k["dst_addr"]),
            "sport": be16(k["sport"]), "dport": be16(k["dport"]),
            "tos": k["tos"], "vlan": k["vlan_id"], "mark": k["mark"],
            "pkts": v["packets"], "bytes": v["octets"],
            "flags": v["tcp_flags"], "end": v["flags"] & 1,
            "minttl": v["min_ttl"], "maxttl": v["max_ttl"],
        }


def main():
    pindir = sys.argv[1]
    for m in ("flows_0", "flows_1"):
        for f in dump(f"{pindir}/tc/globals/{m}"):
            f["map"] = m
            print(json.dumps(f, sort_keys=True))


if __name__ == "__main__":
    main()
