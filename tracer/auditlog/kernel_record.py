"""The body of a seccomp audit record (type 1326) as the kernel writes it, whatever carried it.

`audit(1700000000.123:456): auid=0 uid=0 gid=0 ses=4 subj=unconfined pid=4242 comm="sh" exe="/usr/bin/dash"
sig=0 arch=c000003e syscall=95 compat=0 ip=0x7f3c2b1e4a47 code=0x7ffc0000` (kernel/auditsc.c,
audit_seccomp): auditd's audit.log, the kernel's printk form, /dev/kmsg, the journal and the netlink group
all carry this text, with their own prefix.
"""

from __future__ import annotations

import re

from tracer.auditlog.model import Event, Malformed, action_of
from tracer.runtimes.audit import record_fields
from tracer.syscalls.abi import abi_of
from tracer.syscalls.names import name_of

STAMP = re.compile(r"audit\((\d+(?:\.\d+)?):(\d+)\):\s*")
ENRICHMENT = "\x1d"  # auditd's log_format=ENRICHED appends the fields' meanings after this byte


def stamp_of(text: str) -> tuple[float, int, str] | None:
    """(time, serial, body after the stamp) of 'audit(TIME:SERIAL): body', searched anywhere in text."""
    m = STAMP.search(text)
    return (float(m.group(1)), int(m.group(2)), text[m.end():]) if m else None


def _number(fields: dict[str, str], key: str, base: int) -> int:
    if key not in fields:
        raise Malformed(f"no {key}= field")
    try:
        return int(fields[key], base)
    except ValueError:
        raise Malformed(f"{key}={fields[key]!r} is not a number") from None


def event_from_body(body: str, where: str, time: float | None, serial: int, container: str = "") -> Event:
    """The Event of a record's key=value body; Malformed when a field a seccomp record always has is missing."""
    fields = record_fields(body.split(ENRICHMENT, 1)[0])
    pid, arch, nr = _number(fields, "pid", 10), _number(fields, "arch", 16), _number(fields, "syscall", 10)
    if not (0 <= arch < 1 << 32 and 0 <= nr < 1 << 32):
        raise Malformed("arch or syscall is out of range")
    code = _number(fields, "code", 16) if "code" in fields else None
    abi, nr = abi_of(arch, nr)
    return Event(where, time, serial, pid, fields.get("comm", ""), fields.get("exe", ""), abi, nr,
                 name_of(abi, nr), action_of(code), container)
