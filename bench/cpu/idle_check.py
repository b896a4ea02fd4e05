#!/usr/bin/env python3
"""Is this machine idle enough to time on? Samples /proc/stat and every /proc/PID/stat twice, SECONDS apart.

Prints one line: busy share of all CPUs over the interval, and every other process that used more than
LIMIT% of one CPU. Exit 0 when idle, 3 when busy (the caller refuses to time, or marks its table).
Usage: idle_check.py [--seconds S] [--limit PERCENT] [--ignore PID]...
"""
import argparse
import os
import sys
import time


def cpu_ticks():
    """(busy, total) jiffies of all CPUs together."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def process_ticks():
    """{pid: (name, utime + stime jiffies)} of every process readable now."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                text = f.read()
        except OSError:
            continue  # the process ended between listdir and open
        name = text[text.index("(") + 1:text.rindex(")")]
        rest = text[text.rindex(")") + 2:].split()
        out[int(entry)] = (name, int(rest[11]) + int(rest[12]))  # fields 14 and 15: utime, stime
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--limit", type=float, default=10.0, help="percent of one CPU")
    ap.add_argument("--ignore", type=int, action="append", default=[], help="PIDs not to count (the caller)")
    a = ap.parse_args()
    hz = os.sysconf("SC_CLK_TCK")
    ignore = set(a.ignore) | {os.getpid(), os.getppid()}

    busy0, total0 = cpu_ticks()
    procs0 = process_ticks()
    t0 = time.monotonic()
    time.sleep(a.seconds)
    busy1, total1 = cpu_ticks()
    procs1 = process_ticks()
    wall = time.monotonic() - t0

    busy_share = 100.0 * (busy1 - busy0) / max(1, total1 - total0)
    hogs = []
    for pid, (name, ticks) in procs1.items():
        if pid in ignore or pid not in procs0:
            continue
        pct = 100.0 * (ticks - procs0[pid][1]) / hz / wall
        if pct > a.limit:
            hogs.append((pct, pid, name))
    hogs.sort(reverse=True)
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    listing = ", ".join(f"{name}[{pid}] {pct:.0f}%" for pct, pid, name in hogs) or "none"
    print(f"idle check over {wall:.1f} s: all CPUs {busy_share:.0f}% busy, load {load}; "
          f"other processes above {a.limit:.0f}% of a CPU: {listing}")
    return 3 if hogs or busy_share > a.limit else 0


if __name__ == "__main__":
    sys.exit(main())
