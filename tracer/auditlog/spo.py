"""security-profiles-operator's log enricher: the node log lines its `log-enricher` container writes.

klog/logr form (internal/pkg/daemon/enricher, `e.logger.Info("audit", ...)`):
`I0705 12:08:18.729660 1843190 enricher.go:136] log-enricher "msg"="audit" "container"="redis"
"executable"="/usr/local/bin/redis-server" "namespace"="default" "node"="127.0.0.1" "pid"=1847839 "pod"="my-pod"
"syscallID"=232 "syscallName"="epoll_wait" "timestamp"="1625486870.273:187492" "type"="seccomp"`; its JSON
form (`--log-format json`) carries the same keys. The enricher has already decoded the number with the
node's own table and names no architecture, so the record's ABI is this machine's native one.
"""

from __future__ import annotations

import json
import platform
import re

from tracer.auditlog.model import Event, Malformed
from tracer.syscalls.abi import ABI_ALIASES
from tracer.syscalls.names import name_of, number_of

_FIELD = re.compile(r'"?([A-Za-z_]\w*)"?(?:=|:\s*)("(?:[^"\\]|\\.)*"|[^\s,}"]+)')
_IS_AUDIT = re.compile(r'"?msg"?(?:=|:\s*)"audit"')
_STAMP = re.compile(r"^(\d+(?:\.\d+)?):(\d+)$")
NODE_ABI = ABI_ALIASES.get(platform.machine(), "x86_64")


def _value(raw: str) -> str:
    if raw.startswith('"'):
        try:
            return str(json.loads(raw))
        except ValueError:
            return raw[1:-1]
    return raw


def parse(text: str, where: str) -> Event | None:
    """The Event of an enricher line, None for any other line (SELinux's, the enricher's own messages)."""
    if not _IS_AUDIT.search(text):
        return None
    fields: dict[str, str] = {}
    for key, raw in _FIELD.findall(text):
        fields.setdefault(key, _value(raw))
    if fields.get("type") != "seccomp":
        return None
    try:
        pid = int(fields["pid"])
        nr = int(fields["syscallID"]) if "syscallID" in fields else None
    except KeyError as e:
        raise Malformed(f"no {e.args[0]!r} field") from None
    except ValueError:
        raise Malformed("pid or syscallID is not a number") from None
    name = fields.get("syscallName") or None
    if nr is None:
        nr = number_of(NODE_ABI, name) if name else None
        if nr is None:
            raise Malformed("neither syscallID nor a known syscallName")
    name = name_of(NODE_ABI, nr) or name
    stamp = _STAMP.match(fields.get("timestamp", ""))
    container = fields.get("containerID") or "/".join(
        fields[k] for k in ("namespace", "pod", "container") if fields.get(k))
    return Event(where, float(stamp.group(1)) if stamp else None, int(stamp.group(2)) if stamp else 0, pid, "",
                 fields.get("executable", ""), NODE_ABI, nr, name, "", container)
