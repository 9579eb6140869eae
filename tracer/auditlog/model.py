"""What the audit readers give: one seccomp record as plain data, or a note about a line that is not one.

Every source (auditd's audit.log, the kernel's printk form in dmesg, /dev/kmsg or the journal, journald's
audit transport, security-profiles-operator's log enricher, the audit netlink group) becomes the same
`Event`, so grouping, filters and `--add-to` never know where a record came from.
"""

from __future__ import annotations

from typing import Literal

from tracer.record import Record

# SECCOMP_RET_ACTION_FULL of the record's code= field, as the profile's actions say it.
_ACTIONS = {0x00000000: "kill_thread", 0x80000000: "kill_process", 0x00030000: "trap", 0x00050000: "errno",
            0x7FC00000: "user_notif", 0x7FF00000: "trace", 0x7FFC0000: "log", 0x7FFF0000: "allow"}
ACTION_MASK = 0xFFFF0000


def action_of(code: int | None) -> str:
    """'log', 'errno', 'kill_process', ... for a record's code; '' when the source does not say."""
    if code is None:
        return ""
    return _ACTIONS.get(code & ACTION_MASK, f"{code & ACTION_MASK:#x}")


class Event(Record, frozen=True):
    """One call the kernel logged."""

    where: str  # FILE:LINE (or the netlink group) it was read from
    time: float | None  # seconds since the epoch (the record's own audit(TIME:SERIAL) stamp when it has one)
    serial: int  # the audit serial number (0 when the source has none)
    pid: int  # the thread group id in the initial pid namespace
    comm: str
    exe: str
    abi: str  # x86_64, i386, x32, aarch64, or audit_arch_0x... for an architecture without a table here
    nr: int
    name: str | None  # None: the number has no name in this ABI's table
    action: str  # what the filter did: log, errno, kill_process, ... ('' when the source does not say)
    container: str = ""  # the engine's container id, or namespace/pod/container from Kubernetes; '' unknown

    @property
    def call(self) -> str:
        return self.name or f"{self.abi}#{self.nr}"


NoteKind = Literal["dropped", "malformed"]


class Note(Record, frozen=True):
    """A line that tells of records lost to a rate limit, or that looks like a record but cannot be read."""

    where: str
    kind: NoteKind
    text: str

    def line(self) -> str:
        if self.kind == "dropped":
            return f"warning: {self.where}: the kernel dropped audit records: {self.text}"
        return f"warning: {self.where}: malformed seccomp record, skipped: {self.text}"


class Malformed(Exception):
    """Raised by a parser for a line that claims to be a seccomp record but is not a readable one."""
