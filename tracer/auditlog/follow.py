"""`audit --follow`: records live from the audit netlink group (root), each with its process's container.

The container is read from /proc/<pid>/cgroup as the record arrives (in the reader thread), because the
record itself names none: an engine puts the container's 64-hex id in the cgroup path (docker's
/docker/<id>, systemd's docker-<id>.scope, libpod-<id>.scope, cri-containerd-<id>.scope, crio-<id>.scope).
A process that already exited has no cgroup left to read (a zombie's shows the root): its records have no
container, and the summary counts them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from tracer.auditlog.kernel_record import event_from_body, stamp_of
from tracer.auditlog.model import Event, Malformed, Note
from tracer.errors import UserError
from tracer.runtimes.audit import AuditLog, SeccompRecord

SOURCE = "netlink"
_ID = re.compile(r"(?:^|[/-])([0-9a-f]{64})(?:\.scope)?(?:/|$)")


def container_of(pid: int) -> str | None:
    """The container id in the process's cgroup path; '' when it has none; None when the process is gone."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            paths = [line.rstrip("\n").split(":", 2)[-1] for line in f]
    except OSError:
        return None
    for path in paths:
        m = _ID.search(path)
        if m:
            return m.group(1)
    return ""


class Follower:
    """Records collected while open; `gone` counts records whose process had exited before its cgroup was read."""

    def __init__(self) -> None:
        self.found: list[Event | Note] = []
        self.gone = 0
        self._lock = threading.Lock()
        self._count = 0

    def received(self, record: SeccompRecord) -> None:
        container = container_of(record.pid)
        with self._lock:
            self._count += 1
            where = f"{SOURCE}:{self._count}"
            self.gone += container is None
            stamp = stamp_of(record.text)
            try:
                time, serial, body = stamp if stamp else (None, record.serial, record.text)
                self.found.append(event_from_body(body, where, time, serial, container or ""))
            except Malformed as e:
                self.found.append(Note(where, "malformed", str(e)))


def follow(wait: Callable[[], None], on_ready: Callable[[], None] = lambda: None) -> Follower:
    """Records from the netlink group until wait() returns (a duration, or a signal), and every record the
    kernel logged before then (AuditLog.sync: none is left in the socket's buffer)."""
    follower = Follower()
    with AuditLog(on_record=follower.received) as log:
        on_ready()
        wait()
        try:
            marker = log.sync()
        except UserError as e:
            follower.found.append(Note(SOURCE, "dropped", f"the last records may be missing: {e}"))
            marker = None
        lost = log.lost
    follower.found = [f for f in follower.found if not (isinstance(f, Event) and f.pid == marker)]
    if lost:
        follower.found.append(Note(SOURCE, "dropped", lost))
    return follower
