"""`journalctl -o export` (systemd's Journal Export Format): entries of FIELD=value lines, a blank line after each.

A field whose value is not plain text is written as `FIELD\n`, a 64-bit little-endian length, the bytes and
`\n`. A seccomp record arrives by two transports: the kernel's (`_TRANSPORT=kernel`, MESSAGE in the printk
form, from `journalctl -k -o export`) and journald's audit socket (`_TRANSPORT=audit`, `_AUDIT_TYPE=1326`,
MESSAGE `SECCOMP auid=...` without the stamp, whose serial is `_AUDIT_ID` and time
`_SOURCE_REALTIME_TIMESTAMP`).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

from tracer.auditlog.kernel_record import event_from_body
from tracer.auditlog.model import Event, Malformed

MAX_FIELD = 1 << 20  # a binary field longer than this is not a log message: the file is refused past it
_LENGTH = struct.Struct("<Q")


def is_export(head: bytes) -> bool:
    """Whether a file's first bytes are an export stream (every entry starts with its cursor)."""
    return head.startswith((b"__CURSOR=", b"__REALTIME_TIMESTAMP="))


def entries(stream: BinaryIO, source: str) -> Iterator[tuple[int, dict[str, bytes]]]:
    """(line number of the entry's first field, its fields) for each entry; Malformed for a broken binary field."""
    fields: dict[str, bytes] = {}
    number = start = 0
    while True:
        raw = stream.readline()
        number += 1
        if raw in (b"", b"\n"):
            if fields:
                yield start, fields
            fields = {}
            if raw == b"":
                return
            continue
        if not fields:
            start = number
        line = raw.rstrip(b"\n")
        if b"=" in line:
            key, _, value = line.partition(b"=")
            fields.setdefault(key.decode(errors="replace"), value)
            continue
        size = stream.read(_LENGTH.size)
        if len(size) < _LENGTH.size or _LENGTH.unpack(size)[0] > MAX_FIELD:
            raise Malformed(f"{source}:{number}: binary field {line[:40]!r} has no valid length")
        value = stream.read(_LENGTH.unpack(size)[0])
        stream.read(1)
        fields.setdefault(line.decode(errors="replace"), value)


def _usec(fields: dict[str, bytes], key: str) -> float | None:
    value = fields.get(key, b"")
    return int(value) / 1e6 if value.isdigit() else None


def message(fields: dict[str, bytes]) -> str:
    return fields.get("MESSAGE", b"").decode(errors="replace")


def entry_time(fields: dict[str, bytes]) -> float | None:
    """When the entry was logged: the sender's own time when journald has it, else journald's."""
    return _usec(fields, "_SOURCE_REALTIME_TIMESTAMP") or _usec(fields, "__REALTIME_TIMESTAMP")


def parse_audit(fields: dict[str, bytes], where: str) -> Event | None:
    """The Event of an entry of journald's audit transport, None for any other entry (whose MESSAGE is a log
    line like any other: the kernel's printk form, the log enricher's)."""
    if fields.get("_TRANSPORT") != b"audit" or fields.get("_AUDIT_TYPE") != b"1326":
        return None
    text = message(fields)
    body = text.split(" ", 1)[1] if " " in text else ""
    serial = fields.get("_AUDIT_ID", b"0")
    if not serial.isdigit():
        raise Malformed(f"_AUDIT_ID={serial!r} is not a number")
    return event_from_body(body, where, entry_time(fields), int(serial))
