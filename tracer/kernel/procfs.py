"""What /proc says about a process that the kernel's other interfaces do not: its thread group, its
seccomp filter count, what its descriptors refer to, the processes below it."""

from __future__ import annotations

import os


def status_field(pid: int | str, key: str) -> int | None:
    """An integer field of /proc/PID/status (Tgid, Seccomp_filters, ...), None if unreadable."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return int(f.read().split(f"\n{key}:", 1)[1].split()[0])
    except (OSError, IndexError, ValueError):
        return None


def capabilities(pid: int | str) -> int:
    """The effective capability bits of a process (CapEff, hex in /proc/PID/status), 0 if unreadable."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return int(f.read().split("\nCapEff:", 1)[1].split()[0], 16)
    except (OSError, IndexError, ValueError):
        return 0


def tgid(tid: int) -> int:
    """The process a task belongs to (the task itself if it is gone)."""
    return status_field(tid, "Tgid") or tid


def seccomp_filters(pid: int | str) -> int | None:
    """How many seccomp filters a process runs under (kernel >= 5.9), None if unreadable."""
    return status_field(pid, "Seccomp_filters")


def fd_target(pid: int | str, fd: int) -> str:
    """What descriptor fd of a process refers to (/proc/PID/fd/FD), "" if it or the process is gone."""
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return ""


def descendants(root: int) -> list[int]:
    """The processes below root, through /proc ppid links."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, frontier = [], [root]
    while frontier:
        for pid in children.get(frontier.pop(), ()):
            frontier.append(pid)
            found.append(pid)
    return found


def running(pid: int) -> bool:
    """The process exists and has not exited (a zombie has)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] != b"Z"
    except OSError:
        return False
