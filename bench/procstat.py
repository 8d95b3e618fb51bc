"""CPU time of processes, read from /proc/<pid>/stat (Linux, proc(5)): the benchmarks' CPU columns.

Standard library only: swarm.py's worker imports it in the node environment too.
"""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def read_stat(pid: int) -> tuple[str, list[str]]:
    """(command name, the fields after it): fields[0] is the state (field 3 of proc(5)), fields[2] the pgrp."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()


def _ticks(fields: list[str], waited_children: bool) -> int:
    # utime stime (cutime cstime: the CPU of children the process has waited for)
    return sum(int(x) for x in fields[11:15 if waited_children else 13])


def cpu_s(pid: int, *, waited_children: bool = False) -> float:
    """User + system CPU seconds of one process (plus its waited-for children's, if asked)."""
    return _ticks(read_stat(pid)[1], waited_children) / TICK


def group_cpu_s(pgid: int) -> tuple[float, float]:
    """(Python, p2pd) user+system CPU seconds of the live processes in a process group (waited children included)."""
    python = p2pd = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            name, fields = read_stat(int(d))
        except OSError:
            continue
        if int(fields[2]) == pgid:
            if name == "p2pd":
                p2pd += _ticks(fields, waited_children=True)
            else:
                python += _ticks(fields, waited_children=True)
    return python / TICK, p2pd / TICK
