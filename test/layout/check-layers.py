#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
#
# lib/ is grouped by the way data flows (docs/architecture.md, "Modules").
# A module may include headers of its own group and of groups below it,
# never of a group above it or beside it: this check reads every
# '#include "x.h"' under lib/ and prints one PASS or FAIL line per group
# (FAIL names file:line of each include that runs the wrong way).
import os
import re
import sys

# Lower rank = lower layer.  Groups of one rank must not include each other.
RANK = {
    "base": 0,
    "flow": 1,
    "ipfix": 2,
    "outputs": 2,
    "config": 3,
    "meter": 3,
    "lib": 4,  # the agent, on top of everything
}

# Includes that still run the wrong way, each with the reason it is allowed
# to for now.  Empty is the goal.
EXEMPT = {
}

INC = re.compile(r'^\s*#\s*include\s+"([^"/]+\.h)"')


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    os.chdir(root)
    where = {}  # header file name -> group
    files = []
    for d, _, names in os.walk("lib"):
        group = "lib" if d == "lib" else d.split("/")[1]
        if group not in RANK:
            print(f"FAIL layers: lib group '{group}' ({d}) has no rank in "
                  f"test/layout/check-layers.py")
            return 1
        for n in names:
            if n.endswith((".c", ".h")):
                p = os.path.join(d, n)
                files.append((p, group))
                if n.endswith(".h"):
                    if n in where:
                        print(f"FAIL layers: {n} is in both lib/{where[n]} "
                              f"and {d}")
                        return 1
                    where[n] = group
    def name(g):
        return "lib/ (the agent)" if g == "lib" else f"lib/{g}/"

    bad = {g: [] for g in RANK}
    used_exempt = set()
    for p, g in sorted(files):
        with open(p, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                m = INC.match(line)
                if not m or m.group(1) not in where:
                    continue  # system, ebpflow/ or generated header
                h = m.group(1)
                hg = where[h]
                if hg == g or RANK[hg] < RANK[g]:
                    continue
                if (p, h) in EXEMPT:
                    used_exempt.add((p, h))
                    continue
                bad[g].append(f"{p}:{lineno} includes {h} of {name(hg)}")
    rc = 0
    for g in sorted(RANK, key=lambda x: (RANK[x], x)):
        if bad[g]:
            rc = 1
            print(f"FAIL layers: {name(g)} includes a group above or "
                  f"beside it: " + "; ".join(bad[g]))
        else:
            print(f"PASS layers: {name(g)} includes only its own and lower "
                  f"groups")
    for k in sorted(set(EXEMPT) - used_exempt):
        rc = 1
        print(f"FAIL layers: exemption {k[0]} -> {k[1]} is no longer "
              f"needed: remove it from EXEMPT")
    return rc


if __name__ == "__main__":
    sys.exit(main())
