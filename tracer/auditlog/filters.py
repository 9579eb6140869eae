"""Which records `seccomp-learn audit` keeps: --comm, --exe, --container, --pid, --since."""

from __future__ import annotations

import fnmatch
import re
import time
from datetime import datetime

from tracer.auditlog.model import Event
from tracer.errors import UserError
from tracer.record import Record

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|min|h|d)$")
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: float | None = None) -> float:
    """Seconds since the epoch for `@1700000000`, an ISO date/time (local time unless it says its zone, as
    journalctl reads it), or a span back from now (`30m`, `2h`, `1d`)."""
    text = text.strip()
    now = time.time() if now is None else now
    m = _RELATIVE.match(text)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        if text.startswith("@"):
            return float(text[1:])
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise UserError("expected @EPOCH, an ISO date/time (2026-12-07 12:00:00) or a span back from now "
                        "(30m, 2h, 1d)", f"--since {text}") from None


def _container_matches(wanted: str, container: str) -> bool:
    """A full or short (prefix) engine id, or namespace/pod/container, or its last part (the container's name)."""
    return bool(container) and (container == wanted or (len(wanted) >= 4 and container.startswith(wanted))
                                or container.rsplit("/", 1)[-1] == wanted)


class Filters(Record, frozen=True):
    comm: tuple[str, ...] = ()
    exe: tuple[str, ...] = ()  # paths or shell patterns (/usr/bin/*)
    container: tuple[str, ...] = ()
    pid: tuple[int, ...] = ()
    since: float | None = None

    def keep(self, e: Event) -> bool:
        """Each given filter must match (several values of one filter: any of them)."""
        return ((not self.comm or e.comm in self.comm)
                and (not self.exe or any(fnmatch.fnmatchcase(e.exe, x) for x in self.exe))
                and (not self.container or any(_container_matches(c, e.container) for c in self.container))
                and (not self.pid or e.pid in self.pid)
                and (self.since is None or (e.time is not None and e.time >= self.since)))
