"""auditd's /var/log/audit/audit.log: `type=SECCOMP msg=audit(1700000000.123:456): auid=... syscall=95 ...`.

auditd may prefix `node=HOST ` (name_format) and, with log_format=ENRICHED, append the fields' meanings
after a 0x1d byte (AUID="root" ... SYSCALL=umask), which are left out: the numbers are what count.
"""

from __future__ import annotations

import re

from tracer.auditlog.kernel_record import event_from_body, stamp_of
from tracer.auditlog.model import Event, Malformed

LINE = re.compile(r"^(?:node=\S+ )?type=(?:SECCOMP|UNKNOWN\[1326\]) msg=(.*)$")


def parse(text: str, where: str) -> Event | None:
    """The Event of an audit.log line, None for another record type; Malformed for a broken SECCOMP line."""
    m = LINE.match(text)
    if m is None:
        return None
    stamp = stamp_of(m.group(1))
    if stamp is None:
        raise Malformed("no audit(TIME:SERIAL) stamp")
    time, serial, body = stamp
    return event_from_body(body, where, time, serial)
