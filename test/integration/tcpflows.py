#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
#
# tcpflows.py --serve BIND PORT COUNT SECONDS   accept COUNT connections,
#                                               read each to EOF, print bytes
# tcpflows.py DST PORT COUNT BYTES              COUNT connections, BYTES each
import socket
import sys
import time


def serve(bind, port, count, seconds):
    fam = socket.AF_INET6 if ":" in bind else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((bind, port))
    s.listen(64)
    s.settimeout(seconds)
    total = 0
    deadline = time.time() + seconds
    for _ in range(count):
        if time.time() > deadline:
            break
        try:
            c, _ = s.accept()
        except socket.timeout:
            break
        c.settimeout(seconds)
        while True:
            b = c.recv(65536)
            if not b:
                break
            total += len(b)
        c.close()
    print(total)


def connect(dst, port, count, nbytes):
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    data = b"y" * nbytes
    for _ in range(count):
        c = socket.socket(fam, socket.SOCK_STREAM)
        c.settimeout(10)
        c.connect((dst, port))
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        c.recv(1)
        c.close()


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "--serve":
        serve(a[1], int(a[2]), int(a[3]), float(a[4]))
    else:
        connect(a[0], int(a[1]), int(a[2]), int(a[3]))
