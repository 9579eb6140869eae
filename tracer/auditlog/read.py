"""Seccomp audit records from files, whatever wrote them: one parser per format, chosen line by line.

A line is tried as auditd's, the kernel's printk form (dmesg, /dev/kmsg, `journalctl -k`, journald's audit
transport) and the log enricher's; a file that starts like `journalctl -o export` is read as entries.
Lines of other kinds (other audit types, other kernel messages) are skipped; a line that says the kernel
dropped records, or one that claims to be a seccomp record and cannot be read, becomes a Note, never an
exception. Memory stays bounded: files are streamed, and a line longer than MAX_LINE is a Note.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from collections.abc import Iterator
from typing import BinaryIO

from tracer.auditlog import auditd, journal_export, printk, spo
from tracer.auditlog.model import Event, Malformed, Note
from tracer.errors import UserError
from tracer.record import replace

MAX_LINE = 1 << 16
# What the kernel prints when audit records were lost: its own rate limit or backlog (kernel/audit.c),
# and printk's rate limit on the records it prints without auditd (kauditd_printk_skb, "callbacks suppressed").
DROPPED = re.compile(r"audit: rate limit exceeded|audit: audit_lost=\d+|audit: backlog limit exceeded"
                     r"|audit: kauditd hold queue overflow|_printk_skb: \d+ callbacks suppressed")
# A line that names itself a seccomp record: when no parser reads it, it is malformed, not foreign.
CLAIMS = re.compile(r"type=SECCOMP|type=1326\b|\baudit\[\d+\]: SECCOMP|\"?type\"?\s*[=:]\s*\"seccomp\"")
_SHOWN = 160


def _clip(text: str) -> str:
    text = text.strip().encode("ascii", "backslashreplace").decode()
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}..."


def parse_line(text: str, where: str) -> Event | Note | None:
    """The record a line holds, a Note about it, or None for a line of another kind."""
    try:
        for parser in (auditd.parse, printk.parse, spo.parse):
            event = parser(text, where)
            if event is not None:
                return event
    except Malformed as e:
        return Note(where, "malformed", f"{e}: {_clip(text)}")
    if DROPPED.search(text):
        return Note(where, "dropped", _clip(text))
    if CLAIMS.search(text):
        return Note(where, "malformed", f"not a record of any known form: {_clip(text)}")
    return None


def _lines(stream: BinaryIO, source: str) -> Iterator[Event | Note]:
    number = 0
    while True:
        raw = stream.readline(MAX_LINE)
        if not raw:
            return
        number += 1
        where = f"{source}:{number}"
        if not raw.endswith(b"\n") and len(raw) == MAX_LINE:
            while raw and not raw.endswith(b"\n"):
                raw = stream.readline(MAX_LINE)
            yield Note(where, "malformed", f"a line longer than {MAX_LINE} bytes")
            continue
        found = parse_line(raw.decode(errors="replace"), where)
        if found is not None:
            yield found


def _journal(stream: BinaryIO, source: str) -> Iterator[Event | Note]:
    try:
        for number, fields in journal_export.entries(stream, source):
            where = f"{source}:{number}"
            try:
                found: Event | Note | None = journal_export.parse_audit(fields, where)
            except Malformed as e:
                found = Note(where, "malformed", f"{e}: {_clip(journal_export.message(fields))}")
            if found is None:
                found = parse_line(journal_export.message(fields), where)
                if isinstance(found, Event) and found.time is None:
                    found = replace(found, time=journal_export.entry_time(fields))
            if found is not None:
                yield found
    except Malformed as e:
        raise UserError(f"not a journal export stream: {e}", source) from None


def _kmsg(fd: int, source: str) -> Iterator[Event | Note]:
    """/dev/kmsg: one record per read, from the oldest the ring buffer holds to now (never blocks)."""
    number = 0
    while True:
        try:
            raw = os.read(fd, 8192)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno == errno.EPIPE:  # the ring buffer overwrote records before they were read
                yield Note(f"{source}:{number + 1}", "dropped", "the kernel log's ring buffer overwrote records")
                continue
            raise
        if not raw:
            return
        number += 1
        found = parse_line(raw.decode(errors="replace").split("\n", 1)[0], f"{source}:{number}")
        if found is not None:
            yield found


def _is_kmsg(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and (os.major(st.st_rdev), os.minor(st.st_rdev)) == (1, 11)


def check_source(path: str) -> None:
    """Refuse, before anything is read or captured, a file that is missing, a directory or a device."""
    if path == "-":
        return
    try:
        st = os.stat(path)
    except OSError as e:
        raise UserError(f"cannot read: {e.strerror or e}", path) from None
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode) or _is_kmsg(st)):
        raise UserError("not a log file (a directory or a device)", path)
    if not os.access(path, os.R_OK):
        raise UserError("cannot read: Permission denied", path)


def read_source(path: str) -> Iterator[Event | Note]:
    """Every record and note in a file ('-' is stdin; pipes and /dev/kmsg too); a file that cannot be read is
    a UserError naming it."""
    if path == "-":
        yield from _stream(sys.stdin.buffer, "<stdin>")
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise UserError(f"cannot read: {e.strerror or e}", path) from None
    try:
        st = os.fstat(fd)
        if _is_kmsg(st):
            yield from _kmsg(fd, path)
            return
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
            raise UserError("not a log file (a directory or a device)", path)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as stream:
            yield from _stream(stream, path)
    except OSError as e:
        raise UserError(f"cannot read: {e.strerror or e}", path) from None
    finally:
        os.close(fd)


def _stream(stream: BinaryIO, source: str) -> Iterator[Event | Note]:
    head = stream.peek(32)[:32] if hasattr(stream, "peek") else b""
    if journal_export.is_export(head):
        yield from _journal(stream, source)
    else:
        yield from _lines(stream, source)
