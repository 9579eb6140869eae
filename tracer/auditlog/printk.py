"""The kernel log's forms of a record: what `dmesg`, `/dev/kmsg`, `journalctl -k` and `journalctl
_TRANSPORT=audit` print.

- The kernel's printk (no auditd listening): `audit: type=1326 audit(1700000000.123:456): auid=... syscall=95`,
  after dmesg's `[  12.345678] `, /dev/kmsg's `6,1234,5678901,-;` or a syslog/journal prefix
  (`Dec 07 12:00:00 host kernel: `).
- journald's audit transport (`journalctl _TRANSPORT=audit`): `Dec 07 12:00:00 host audit[4242]: SECCOMP
  auid=... syscall=95 ...`; journald drops the stamp (the type's name leads), so the time comes from the
  line's own prefix when it is `-o short-iso` or `-o short-unix`.
"""

from __future__ import annotations

import re
from datetime import datetime

from tracer.auditlog.kernel_record import event_from_body, stamp_of
from tracer.auditlog.model import Event, Malformed

PRINTK = re.compile(r"\baudit: type=1326 (.*)$")
JOURNAL_AUDIT = re.compile(r"\baudit\[\d+\]: (?:SECCOMP|AUDIT1326) (.*)$")
_ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\s")
_UNIX = re.compile(r"^(\d{9,}\.\d+)\s")


def _line_time(text: str) -> float | None:
    """The time of `journalctl -o short-iso` or `-o short-unix` prefixes; None for other prefixes."""
    m = _UNIX.match(text)
    if m:
        return float(m.group(1))
    m = _ISO.match(text)
    if m:
        stamp = m.group(1).replace(",", ".")
        stamp = stamp[:-2] + ":" + stamp[-2:] if re.search(r"[+-]\d{4}$", stamp) else stamp
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    return None


def parse(text: str, where: str) -> Event | None:
    """The Event of a kernel-log line, None for any other line; Malformed for a broken type-1326 line."""
    m = PRINTK.search(text)
    if m is not None:
        stamp = stamp_of(m.group(1))
        if stamp is None:
            raise Malformed("no audit(TIME:SERIAL) stamp")
        when, serial, body = stamp
        return event_from_body(body, where, when, serial)
    m = JOURNAL_AUDIT.search(text)
    if m is not None:
        return event_from_body(m.group(1), where, _line_time(text), 0)
    return None
