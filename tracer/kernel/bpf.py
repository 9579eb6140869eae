"""bpf(2) in ctypes: maps, program loading with the verifier's log, raw tracepoints, and a ring buffer reader.

Only what the eBPF backend (capture/ebpf.py) needs, as the kernel's ABI (linux/bpf.h). Nothing is
pinned: every object lives as long as its fd, so closing the fds (or being killed) frees it all.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import struct
from collections.abc import Iterator

from tracer.kernel.ptrace_abi import check

SYS_BPF = 321  # x86_64
MAP_CREATE, MAP_LOOKUP_ELEM, MAP_UPDATE_ELEM, MAP_DELETE_ELEM, MAP_GET_NEXT_KEY, PROG_LOAD = 0, 1, 2, 3, 4, 5
RAW_TRACEPOINT_OPEN = 17
MAP_LOOKUP_BATCH, MAP_UPDATE_BATCH = 24, 26
MAP_TYPE_HASH, MAP_TYPE_ARRAY, MAP_TYPE_PERCPU_HASH, MAP_TYPE_RINGBUF = 1, 2, 5, 27
PROG_TYPE_RAW_TRACEPOINT = 17
ANY, NOEXIST = 0, 1  # map update flags
NO_PREALLOC = 1  # map creation flag: a hash map's entries are allocated as they are added

# Helper function numbers (linux/bpf.h, enum bpf_func_id).
MAP_LOOKUP, MAP_UPDATE, MAP_DELETE = 1, 2, 3
GET_CURRENT_PID_TGID = 14
GET_CURRENT_TASK = 35
GET_CURRENT_TASK_BTF = 158  # the task as a pointer the verifier knows the type of: its fields are read directly
PROBE_READ_KERNEL, PROBE_READ_KERNEL_STR = 113, 115
RINGBUF_OUTPUT, RINGBUF_RESERVE, RINGBUF_SUBMIT = 130, 131, 132
TASK_PT_REGS = 175  # a task's saved user registers, as a typed pointer

_ATTR_SIZE = 128
_LOG_SIZE = 1 << 20
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _bpf(cmd: int, attr: bytes | bytearray, what: str) -> int:
    buf = ctypes.create_string_buffer(bytes(attr).ljust(_ATTR_SIZE, b"\0"), _ATTR_SIZE)
    return check(_libc.syscall(SYS_BPF, cmd, buf, _ATTR_SIZE), what)


def _addr(buf: ctypes.Array[ctypes.c_char]) -> int:
    return ctypes.addressof(buf)


def possible_cpus() -> int:
    """How many CPUs the kernel may ever run (/sys/devices/system/cpu/possible): a per-CPU map's value count."""
    with open("/sys/devices/system/cpu/possible") as f:
        return 1 + max(int(part.split("-")[-1]) for part in f.read().strip().split(","))


class Map:
    """A BPF map (an fd) with fixed-size keys and values, read and written as bytes.

    A per-CPU map's value, read from here, is one value per possible CPU, each padded to 8 bytes.
    """

    def __init__(self, name: str, kind: int, key_size: int, value_size: int, entries: int, flags: int = 0) -> None:
        attr = struct.pack("<IIIIIII16s", kind, key_size, value_size, entries, flags, 0, 0, name.encode())
        self.fd = _bpf(MAP_CREATE, attr, f"BPF map {name}")
        self.name, self.key_size = name, key_size
        self.value_size = (value_size + 7) // 8 * 8 * possible_cpus() if kind == MAP_TYPE_PERCPU_HASH else value_size

    def _elem(self, cmd: int, key: bytes, value: ctypes.Array[ctypes.c_char] | None, flags: int) -> int:
        kbuf = ctypes.create_string_buffer(key, self.key_size)
        attr = struct.pack("<IIQQQ", self.fd, 0, _addr(kbuf), 0 if value is None else _addr(value), flags)
        buf = ctypes.create_string_buffer(attr.ljust(_ATTR_SIZE, b"\0"), _ATTR_SIZE)
        if _libc.syscall(SYS_BPF, cmd, buf, _ATTR_SIZE) == 0:
            return 0
        return ctypes.get_errno()

    def lookup(self, key: bytes) -> bytes | None:
        value = ctypes.create_string_buffer(self.value_size)
        return None if self._elem(MAP_LOOKUP_ELEM, key, value, 0) else value.raw

    def update(self, key: bytes, value: bytes, flags: int = ANY) -> None:
        err = self._elem(MAP_UPDATE_ELEM, key, ctypes.create_string_buffer(value, self.value_size), flags)
        if err:
            raise OSError(err, f"BPF map {self.name}: update: {os.strerror(err)}")

    def update_all(self, pairs: dict[bytes, bytes]) -> None:
        """Set every key to its value in one bpf(2) call (kernel >= 5.6), instead of one call per key."""
        keys = ctypes.create_string_buffer(b"".join(pairs), self.key_size * len(pairs))
        values = ctypes.create_string_buffer(b"".join(pairs.values()), self.value_size * len(pairs))
        attr = struct.pack("<QQQQIIQQ", 0, 0, _addr(keys), _addr(values), len(pairs), self.fd, ANY, 0)
        buf = ctypes.create_string_buffer(attr.ljust(_ATTR_SIZE, b"\0"), _ATTR_SIZE)
        check(_libc.syscall(SYS_BPF, MAP_UPDATE_BATCH, buf, _ATTR_SIZE), f"BPF map {self.name}: batch update")

    def delete(self, key: bytes) -> None:
        self._elem(MAP_DELETE_ELEM, key, None, 0)

    def each_key(self) -> Iterator[bytes]:
        """Every key (a hash map's order); keys added or removed meanwhile may be missed or repeated."""
        key = None
        nxt = ctypes.create_string_buffer(self.key_size)
        while True:
            kbuf = None if key is None else ctypes.create_string_buffer(key, self.key_size)
            attr = struct.pack("<IIQQ", self.fd, 0, 0 if kbuf is None else _addr(kbuf), _addr(nxt))
            buf = ctypes.create_string_buffer(attr.ljust(_ATTR_SIZE, b"\0"), _ATTR_SIZE)
            if _libc.syscall(SYS_BPF, MAP_GET_NEXT_KEY, buf, _ATTR_SIZE) != 0:
                if ctypes.get_errno() == errno.ENOENT:
                    return
                check(-1, f"BPF map {self.name}: next key")
            key = nxt.raw
            yield key

    def items(self, chunk: int = 4096) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value), read `chunk` at a time by batch lookups (kernel >= 5.6): a few bpf(2) calls where
        a next-key and a lookup call per key took ~1 ms at each run's end. A hash map is read a bucket at a
        time, each bucket whole (a bucket longer than `chunk` would be ENOSPC: never, at these map sizes)."""
        ks, vs = self.key_size, self.value_size
        keys, values = ctypes.create_string_buffer(ks * chunk), ctypes.create_string_buffer(vs * chunk)
        token_in, token_out = ctypes.create_string_buffer(8), ctypes.create_string_buffer(8)
        start = 0  # the first call has no in_batch: from the first bucket
        while True:
            attr = struct.pack("<QQQQIIQQ", start, _addr(token_out), _addr(keys), _addr(values), chunk, self.fd, 0, 0)
            buf = ctypes.create_string_buffer(attr.ljust(_ATTR_SIZE, b"\0"), _ATTR_SIZE)
            done = _libc.syscall(SYS_BPF, MAP_LOOKUP_BATCH, buf, _ATTR_SIZE) != 0
            if done and ctypes.get_errno() != errno.ENOENT:
                check(-1, f"BPF map {self.name}: batch lookup")
            count = struct.unpack_from("<I", buf, 32)[0]  # how many the kernel wrote back
            kraw, vraw = keys.raw, values.raw
            for i in range(count):
                yield kraw[i * ks:(i + 1) * ks], vraw[i * vs:(i + 1) * vs]
            if done:  # ENOENT: no bucket after these
                return
            ctypes.memmove(token_in, token_out, 8)
            start = _addr(token_in)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def load_program(name: str, insns: bytes, license_: str = "GPL") -> int:
    """Load a raw tracepoint program; a refusal raises OSError with the end of the verifier's log."""
    lic = ctypes.create_string_buffer(license_.encode())
    code = ctypes.create_string_buffer(insns, len(insns))
    for log_level in (0, 1):  # the log only when it failed: a verbose load is slower
        log = ctypes.create_string_buffer(_LOG_SIZE if log_level else 1)
        attr = struct.pack("<IIQQIIQII16s", PROG_TYPE_RAW_TRACEPOINT, len(insns) // 8, _addr(code), _addr(lic),
                           log_level, _LOG_SIZE if log_level else 0, _addr(log) if log_level else 0, 0, 0,
                           name.encode())
        buf = ctypes.create_string_buffer(attr.ljust(_ATTR_SIZE, b"\0"), _ATTR_SIZE)
        fd = _libc.syscall(SYS_BPF, PROG_LOAD, buf, _ATTR_SIZE)
        if fd >= 0:
            return fd
        err = ctypes.get_errno()
        if log_level or err in (errno.EPERM, errno.EACCES):
            tail = log.value.decode(errors="replace").strip().splitlines()[-3:]
            raise OSError(err, f"BPF program {name}: {os.strerror(err)}" + (f": {' / '.join(tail)}" if tail else ""))
    raise AssertionError("unreachable")


def attach_raw_tracepoint(name: str, prog_fd: int) -> int:
    """Attach a program to a raw tracepoint; it stays attached while the returned fd is open."""
    tp = ctypes.create_string_buffer(name.encode())
    return _bpf(RAW_TRACEPOINT_OPEN, struct.pack("<QI", _addr(tp), prog_fd), f"raw tracepoint {name}")


_RB_BUSY, _RB_DISCARD = 1 << 31, 1 << 30
_RB_HEADER = struct.Struct("<II")
_POS = struct.Struct("<Q")


class RingBuffer:
    """The reader of a BPF_MAP_TYPE_RINGBUF: its consumer position page (ours) and its data pages (the kernel's)."""

    def __init__(self, name: str, size: int) -> None:
        self.map = Map(name, MAP_TYPE_RINGBUF, 0, 0, size)
        page = mmap.PAGESIZE
        self.size = size
        self.consumer = mmap.mmap(self.map.fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        # The data pages are mapped twice in a row by the kernel, so a record never wraps in this view.
        self.producer = mmap.mmap(self.map.fd, page + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)

    @property
    def fd(self) -> int:
        return self.map.fd

    def records(self) -> Iterator[bytes]:
        """Every record committed so far, in order; each is consumed once the caller asks for the next."""
        page, mask, data = mmap.PAGESIZE, self.size - 1, self.producer
        cons = _POS.unpack_from(self.consumer, 0)[0]
        while True:
            prod = _POS.unpack_from(data, 0)[0]
            if cons >= prod:
                return
            length, _ = _RB_HEADER.unpack_from(data, page + (cons & mask))
            if length & _RB_BUSY:
                return  # reserved, not yet submitted
            start = page + (cons & mask) + _RB_HEADER.size
            size = length & ~(_RB_BUSY | _RB_DISCARD)
            if not length & _RB_DISCARD:
                yield data[start:start + size]
            cons += (size + _RB_HEADER.size + 7) & ~7
            _POS.pack_into(self.consumer, 0, cons)

    def close(self) -> None:
        self.producer.close()
        self.consumer.close()
        self.map.close()
