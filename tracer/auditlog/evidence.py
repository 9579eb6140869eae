"""Records grouped as a user reads them: by container, executable and pid, each call with its count and
when it was first seen; and, across groups, the evidence for each call (who made it, how often, when)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from tracer.auditlog.filters import Filters
from tracer.auditlog.model import Event, Note
from tracer.record import Record, field

MAX_NOTES = 1000  # notes kept for the report; the rest are counted


class Seen(Record):
    count: int = 0
    first: float | None = None  # time of the earliest record
    first_serial: int = 0
    comms: set[str] = field(default_factory=set)
    actions: set[str] = field(default_factory=set)
    executables: dict[str, int] = field(default_factory=dict)  # exe -> records

    def add(self, e: Event) -> None:
        self.count += 1
        if e.time is not None and (self.first is None or (e.time, e.serial) < (self.first, self.first_serial)):
            self.first, self.first_serial = e.time, e.serial
        self.comms.add(e.comm)
        if e.action:
            self.actions.add(e.action)
        self.executables[e.exe] = self.executables.get(e.exe, 0) + 1


Group = tuple[str, str, int]  # container, executable, pid
Call = tuple[str, str]  # abi, name (or abi#nr)


class Collected(Record):
    groups: dict[Group, dict[Call, Seen]] = field(default_factory=dict)
    calls: dict[Call, Seen] = field(default_factory=dict)  # the same records, across groups
    unnamed: set[Call] = field(default_factory=set)  # numbers with no name in their ABI's table
    records: int = 0  # read
    kept: int = 0  # after the filters
    untimed: int = 0  # left out by --since: the source gives no time
    duplicates: int = 0  # the same record again (its audit time and serial): the journal keeps the kernel's
    # printk copy and its audit-transport copy of each record; dmesg and audit.log hold the same records
    notes: list[Note] = field(default_factory=list)
    more_notes: int = 0

    def dropped(self) -> int:
        return sum(n.kind == "dropped" for n in self.notes)


def collect(found: Iterable[Event | Note], filters: Filters) -> Collected:
    out = Collected()
    stamps: set[tuple[float, int]] = set()
    for item in found:
        if isinstance(item, Note):
            if len(out.notes) < MAX_NOTES:
                out.notes.append(item)
            else:
                out.more_notes += 1
            continue
        if item.serial and item.time is not None:
            if (item.time, item.serial) in stamps:
                out.duplicates += 1
                continue
            stamps.add((item.time, item.serial))
        out.records += 1
        if not filters.keep(item):
            out.untimed += filters.since is not None and item.time is None
            continue
        out.kept += 1
        call = (item.abi, item.call)
        out.groups.setdefault((item.container, item.exe, item.pid), {}).setdefault(call, Seen()).add(item)
        out.calls.setdefault(call, Seen()).add(item)
        if item.name is None:
            out.unnamed.add(call)
    return out


def when(seen: Seen) -> str:
    """The first record's time in UTC ('2026-12-07T12:45:28Z'), or that the source gave none."""
    if seen.first is None:
        return "no time given"
    return datetime.fromtimestamp(seen.first, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def shown_container(container: str) -> str:
    """An engine's 64-hex id as its 12-character short form, as `docker ps` shows it."""
    if not container:
        return "no container"
    short = container[:12] if len(container) == 64 and all(c in "0123456789abcdef" for c in container) else container
    return f"container {short}"


def evidence(seen: Seen) -> str:
    """'x3 by /usr/bin/busybox (x2), /bin/sh (x1); first seen 2026-12-07T12:45:28Z'."""
    by = ", ".join(f"{exe or '?'} (x{n})" if len(seen.executables) > 1 else exe or "?"
                   for exe, n in sorted(seen.executables.items()))
    return f"x{seen.count} by {by}; first seen {when(seen)}"


def group_lines(collected: Collected, only: set[Call] | None = None) -> list[str]:
    """The records by container, executable and pid (only the calls in `only`, if given), sorted."""
    lines: list[str] = []
    last_container: str | None = None
    for (container, exe, pid), calls in sorted(collected.groups.items()):
        shown = {c: s for c, s in calls.items() if only is None or c in only}
        if not shown:
            continue
        if container != last_container:
            lines.append(shown_container(container))
            last_container = container
        comms = sorted({comm for s in shown.values() for comm in s.comms})
        lines.append(f"  {exe or '?'} pid {pid} ({', '.join(comms)})")
        for (abi, name), seen in sorted(shown.items()):
            actions = ",".join(sorted(seen.actions)) or "-"
            lines.append(f"    {abi} {name} x{seen.count} {actions}, first seen {when(seen)}")
    return lines
