"""The kernel's seccomp audit records (type 1326), read from the audit multicast group.

A filter action SCMP_ACT_LOG (and the kill actions) makes the kernel write one audit record per
call: pid (thread group), session, comm, exe, arch and syscall number. Without auditd the kernel
also prints each record to the kernel log, but through printk_ratelimit() (10 records per 5 s by
default), so `dmesg` loses most of a burst. The netlink multicast group AUDIT_NLGRP_READLOG
(needs CAP_AUDIT_READ) receives every record, in order; that is what this module reads.

`AuditLog.sync()` makes the stream complete up to now: a throwaway child logs one call, and once
its record has arrived, every record logged before it has arrived too (kauditd sends in order).
"""

from __future__ import annotations

import os
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from types import TracebackType

from tracer.errors import UserError
from tracer.kernel.ptrace import BPF_RET_K, BpfFilter, prctl
from tracer.record import Record
from tracer.syscalls.abi import abi_of
from tracer.syscalls.names import name_of

NETLINK_AUDIT = 9
AUDIT_NLGRP_READLOG = 1
AUDIT_SECCOMP = 1326
SO_RCVBUFFORCE = 33
RECEIVE_BUFFER = 16 << 20  # room for a burst of records while the reader thread is descheduled
SECCOMP_RET_LOG = 0x7FFC0000
PR_SET_NO_NEW_PRIVS = 38
NLMSG_HEADER = struct.Struct("=IHHII")  # len, type, flags, seq, pid

_FIELD = re.compile(r'(\w+)=("[^"]*"|\S+)')
_SERIAL = re.compile(r"audit\(\d+\.\d+:(\d+)\)")


class SeccompRecord(Record, frozen=True):
    serial: int  # the audit serial number: the order the kernel logged records in
    pid: int  # thread group id, in the initial pid namespace
    ses: int  # audit session id (inherited by every child; 4294967295 when unset)
    comm: str
    exe: str
    abi: str
    nr: int
    code: int  # the filter's return value: action | data
    text: str = ""  # the record as the kernel wrote it: "audit(1700000000.123:456): auid=... code=0x7ffc0000"

    @property
    def name(self) -> str:
        return name_of(self.abi, self.nr) or f"{self.abi}#{self.nr}"


def _untrusted(value: str) -> str:
    """audit_log_untrustedstring: quoted as is, or hex when the string has a space, quote or control byte."""
    if value.startswith('"'):
        return value[1:-1]
    try:
        return bytes.fromhex(value).decode(errors="replace")
    except ValueError:
        return value


def record_fields(text: str) -> dict[str, str]:
    """The key=value fields of a record's text, comm and exe decoded (the first of a repeated key is kept)."""
    fields: dict[str, str] = {}
    for key, value in _FIELD.findall(text):
        fields.setdefault(key, value)
    for key in ("comm", "exe"):
        if key in fields:
            fields[key] = _untrusted(fields[key])
    return fields


def parse_record(text: str) -> SeccompRecord:
    fields = record_fields(text)
    serial = _SERIAL.search(text)
    abi, nr = abi_of(int(fields["arch"], 16), int(fields["syscall"]))
    return SeccompRecord(
        serial=int(serial.group(1)) if serial else 0,
        pid=int(fields["pid"]),
        ses=int(fields["ses"]),
        comm=fields.get("comm", ""),
        exe=fields.get("exe", ""),
        abi=abi,
        nr=nr,
        code=int(fields["code"], 16),
        text=text,
    )


class AuditLog:
    """Every seccomp audit record the kernel logs while this is open (a reader thread collects them)."""

    def __init__(self, on_record: Callable[[SeccompRecord], None] | None = None) -> None:
        """on_record, if given, sees each record in the reader thread as it arrives (while its process may
        still run: /proc/<pid> can be read)."""
        self._on_record = on_record
        self._records: list[SeccompRecord] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._error: str | None = None
        try:
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
            self._sock.bind((0, AUDIT_NLGRP_READLOG))
        except OSError as e:
            raise UserError(f"cannot read the kernel's audit records (needs root with CAP_AUDIT_READ): {e}") from e
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
        except OSError:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._read, name="seccomp-audit", daemon=True)
        self._thread.start()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError as e:  # ENOBUFS: the kernel dropped records for this socket
                self._error = f"audit records were lost: {e}"
                continue
            parsed = []
            offset = 0
            while offset + NLMSG_HEADER.size <= len(data):
                length, kind = NLMSG_HEADER.unpack_from(data, offset)[:2]
                if length < NLMSG_HEADER.size:
                    break
                if kind == AUDIT_SECCOMP:
                    text = data[offset + NLMSG_HEADER.size:offset + length].decode(errors="replace")
                    parsed.append(parse_record(text.rstrip("\0")))
                    if self._on_record is not None:
                        self._on_record(parsed[-1])
                offset += (length + 3) & ~3
            with self._lock:
                self._records.extend(parsed)

    @property
    def lost(self) -> str | None:
        """Why records were lost (the kernel dropped some for this socket), or None."""
        return self._error

    def records(self) -> list[SeccompRecord]:
        """The records received so far, in the kernel's order; raises if the kernel dropped any."""
        if self._error:
            raise UserError(self._error)
        with self._lock:
            return sorted(self._records, key=lambda r: r.serial)

    def mark(self) -> int:
        """A position in the stream: records() after it are those logged later (call sync() first)."""
        with self._lock:
            return max((r.serial for r in self._records), default=0)

    def sync(self, timeout: float = 10) -> int:
        """Return once every record logged before this call has been received; the pid of the child whose
        record marked the point (its one record, exit_group, is in the stream too)."""
        pid = os.fork()
        if pid == 0:  # one logged call (exit_group), then gone
            try:
                prctl(PR_SET_NO_NEW_PRIVS, 1)
                BpfFilter([(BPF_RET_K, 0, 0, SECCOMP_RET_LOG)]).install()
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if any(r.pid == pid for r in reversed(self._records)):
                    return pid
            time.sleep(0.01)
        raise UserError(f"no audit record arrived within {timeout:g} s (is kernel.seccomp.actions_logged "
                        "missing 'log'?)")
