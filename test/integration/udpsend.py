#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
#
# udpsend.py DST PORT COUNT SIZE [SPORT_FIRST NFLOWS]
#   send COUNT datagrams of SIZE payload bytes to DST:PORT, spreading them
#   round-robin over NFLOWS source ports starting at SPORT_FIRST (default: one
#   flow from an ephemeral port).  Paced lightly so nothing is dropped.
# udprecv.py-like mode: udpsend.py --recv BIND PORT SECONDS -> prints count
import socket
import sys
import time


def recv(bind, port, seconds):
    fam = socket.AF_INET6 if ":" in bind else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((bind, port))
    s.settimeout(0.2)
    n = 0
    deadline = time.time() + seconds
    idle = 0
    while time.time() < deadline:
        try:
            s.recv(65535)
            n += 1
            idle = 0
        except socket.timeout:
            idle += 1
            if n and idle >= 5:
                break
    print(n)


def send(dst, port, count, size, sport=0, nflows=1):
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    socks = []
    for i in range(nflows):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        if sport:
            s.bind(("", sport + i))
        socks.append(s)
    payload = b"x" * size
    for i in range(count):
        socks[i % nflows].sendto(payload, (dst, port))
        if i % 64 == 63:
            time.sleep(0.001)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "--recv":
        recv(a[1], int(a[2]), float(a[3]))
    else:
        send(a[0], int(a[1]), int(a[2]), int(a[3]),
             int(a[4]) if len(a) > 4 else 0, int(a[5]) if len(a) > 5 else 1)
