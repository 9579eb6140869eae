"""Field offsets of kernel structures, read from the running kernel's BTF (/sys/kernel/btf/vmlinux).

The recording programs read a few fields of task_struct, linux_binprm, file and inode; their offsets
change with every kernel build, and BTF is the kernel's own description of them. Only the named
structs are looked up (a search of the raw bytes for a struct header naming it, then its members),
not a parse of the ~150k types, which would cost a trace its start-up time. Even that search costs
5-8 ms (five passes over 3 MB), so its answer is kept for the rest of the boot in CACHE, root's
tmpfs (emptied at boot, the only time the kernel and its BTF change), and read back only from a file
and directory owned by root (or this user) that nobody else may write.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import stat
import struct
from collections.abc import Callable

VMLINUX = "/sys/kernel/btf/vmlinux"
_MAGIC = 0xEB9F
_HEADER = struct.Struct("<HBBIIIII")
_TYPE = struct.Struct("<III")  # name_off, info (vlen, kind, kind_flag), size
_MEMBER = struct.Struct("<III")  # name_off, type, offset (bits; with kind_flag: bitfield size << 24 | offset)
CACHE = "/run/seccomp-learn"
_CACHE_FILE = "btf-offsets"
_BOOT_ID = "/proc/sys/kernel/random/boot_id"


class BtfError(Exception):
    pass


def member_offsets(wanted: dict[str, tuple[str, ...]], path: str = VMLINUX) -> dict[tuple[str, str], int]:
    """{(struct, member): byte offset} for the members asked for; BtfError if one is missing."""
    key = _cache_key(wanted, path)
    found = _cached(key)
    if found is None:
        found = _search(wanted, path)
        _remember(key, found)
    return found


def _cache_key(wanted: dict[str, tuple[str, ...]], path: str) -> str:
    """What the offsets depend on: this boot, the BTF file, the fields asked for (one line)."""
    try:
        with open(_BOOT_ID) as f:
            boot = f.read().strip()
    except OSError:
        boot = ""
    fields = ",".join(f"{name}.{member}" for name, members in sorted(wanted.items()) for member in members)
    return f"{boot} {path} {fields}"


def _trusted(st: os.stat_result, kind: int) -> bool:
    return stat.S_IFMT(st.st_mode) == kind and st.st_uid in (0, os.geteuid()) and not st.st_mode & 0o022


def _cached(key: str) -> dict[tuple[str, str], int] | None:
    """The offsets kept for this key, or None (no cache, another key, or a file we must not trust)."""
    try:
        if not key.split(" ", 1)[0] or not _trusted(os.stat(CACHE, follow_symlinks=False), stat.S_IFDIR):
            return None
        fd = os.open(os.path.join(CACHE, _CACHE_FILE), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with open(fd) as f:
            if not _trusted(os.fstat(fd), stat.S_IFREG):
                return None
            lines = f.read(1 << 16).splitlines()
        if not lines or lines[0] != key:
            return None
        out = {}
        for line in lines[1:]:
            struct_name, member, offset = line.split()
            out[(struct_name, member)] = int(offset)
        return out
    except (OSError, ValueError):
        return None


def _remember(key: str, found: dict[tuple[str, str], int]) -> None:
    """Keep the offsets for the rest of the boot, if this process may (root); a failure only costs the next run."""
    if not key.split(" ", 1)[0]:
        return
    text = "".join(f"{s} {m} {off}\n" for (s, m), off in found.items())
    tmp = os.path.join(CACHE, f".{_CACHE_FILE}.{os.getpid()}")
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(CACHE, 0o700)
        if not _trusted(os.stat(CACHE, follow_symlinks=False), stat.S_IFDIR):
            return
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with open(fd, "w") as f:
            f.write(f"{key}\n{text}")
        os.replace(tmp, os.path.join(CACHE, _CACHE_FILE))
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _search(wanted: dict[str, tuple[str, ...]], path: str) -> dict[tuple[str, str], int]:
    """The offsets, found in the BTF file itself."""
    try:
        data = _contents(path)
    except OSError as exc:
        raise BtfError(f"{path}: {exc.strerror}") from None
    magic, _version, _flags, hdr_len, type_off, type_len, str_off, str_len = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise BtfError(f"{path}: not BTF")
    types, strings = hdr_len + type_off, hdr_len + str_off
    type_end, str_end = types + type_len, strings + str_len

    def name_at(off: int) -> bytes:
        start = strings + off
        return data[start:data.find(b"\0", start, str_end)]

    out = {}
    for struct_name, members in wanted.items():
        found = _struct_members(data, types, type_end, strings, str_end, struct_name.encode(), name_at)
        for member in members:
            if member.encode() not in found:
                raise BtfError(f"{path}: no member {struct_name}.{member}")
            out[(struct_name, member)] = found[member.encode()]
    return out


def _contents(path: str) -> bytes | mmap.mmap:
    """The file mapped (kernel >= 6.16 maps vmlinux BTF: no copy), else read (sysfs gives 4 KiB per read: 10 ms)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            return mmap.mmap(fd, os.fstat(fd).st_size, mmap.MAP_PRIVATE, mmap.PROT_READ)
        except (OSError, ValueError):
            with open(fd, "rb", closefd=False) as f:
                return f.read()
    finally:
        os.close(fd)


def _struct_members(data: bytes | mmap.mmap, types: int, type_end: int, strings: int, str_end: int, name: bytes,
                    name_at: Callable[[int], bytes]) -> dict[bytes, int]:
    """The byte offsets of the members of the struct called `name` (the one with the most members)."""
    at = data.find(b"\0" + name + b"\0", strings, str_end)
    if at < 0:
        raise BtfError(f"{VMLINUX}: no struct {name.decode()}")
    # the struct's header: its name offset, then info = vlen (2 bytes), 0, kind STRUCT (with or without kind_flag)
    header = re.compile(re.escape(struct.pack("<I", at + 1 - strings)) + b"..\x00[\x04\x84]", re.DOTALL)
    best: dict[bytes, int] = {}
    for found in header.finditer(data, types, type_end):
        pos = found.start()
        if (pos - types) % 4:
            continue
        _name, info, _size = _TYPE.unpack_from(data, pos)
        vlen, kind_flag = info & 0xFFFF, info >> 31
        if vlen > len(best) and pos + _TYPE.size + vlen * _MEMBER.size <= type_end:
            members = {}
            for i in range(vlen):
                m_name, _type, offset = _MEMBER.unpack_from(data, pos + _TYPE.size + i * _MEMBER.size)
                bits = offset & 0xFFFFFF if kind_flag else offset
                if m_name and bits % 8 == 0:
                    members[name_at(m_name)] = bits // 8
            best = members
    return best
