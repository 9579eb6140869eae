"""Symbolic decoding of recorded argument values, for reports and verify (never on the tracer's path).

`decode(decoder, value)` renders a value as text: CLONE_VM|CLONE_FS, AF_INET, O_RDONLY|O_CLOEXEC, from
the tables in syscalls/constants.py; `shown` is what every report prints. Decoder names are the ones
`syscalls/info.py`'s ArgSpec.decoder uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from ptrace.syscall.linux_constants import SIGPROCMASK_HOW
from ptrace.syscall.posix_arg import ACCESS_MODE_BITMASK

from tracer.syscalls import constants as k

_U64 = (1 << 64) - 1


def _hex(value: int) -> str:
    return f"{value:#x}"


def _enum(table: Mapping[int, str | None], value: int) -> str:
    return table.get(value) or _hex(value)


def _bits(value: int, bits: k.Bits, zero: str = "0", head: Sequence[str] = (), tail: Sequence[str] = ()) -> str:
    """head, the names of the set masks in table order, tail, then any unknown rest in hex; else `zero`."""
    names, rest = list(head), value
    for mask, name in bits:
        if mask and rest & mask == mask:
            names.append(name)
            rest &= ~mask
    names.extend(tail)
    if rest:
        names.append(_hex(rest))
    return "|".join(names) or zero


def _clone_flags(value: int) -> str:
    text = _bits(value & ~0xFF, k.CLONE_BITS, zero="")
    signal = value & 0xFF
    if signal:
        text += ("|" if text else "") + k.SIGNALS.get(signal, _hex(signal))
    return text or "0"


def _open_flags(value: int) -> str:
    return _bits(value & ~3, k.O_BITS, head=(k.ACCMODE[value & 3],))


def _socket_type(value: int) -> str:
    base = value & 0xF
    head = (k.SOCK_TYPES[base],) if base in k.SOCK_TYPES else ()
    rest = value if not head else value & ~0xF
    return _bits(rest, k.SOCK_FLAGS, head=head)


def _socket_protocol(value: int, args: Sequence[int] | None) -> str:
    if value == 0:
        return "0"
    tables = [k.PROTOCOLS_BY_FAMILY.get(args[0], {})] if args else [k.IPPROTO, k.NETLINK]  # args[0]: domain
    return _candidates(value, tables)


def _candidates(value: int, tables: Sequence[Mapping[int, str]]) -> str:
    """The one name when the context fixes the table; else every table's name for value, joined by '/'."""
    names = [t[value] for t in tables if value in t]
    return "/".join(names) or _hex(value)


def _sockopt_name(value: int, args: Sequence[int] | None) -> str:
    return sockopt_name(value, [args[1]] if args and len(args) > 1 else None)  # args[1]: level


def sockopt_name(value: int, levels: Iterable[int] | None = None) -> str:
    """A socket option number: its name under the one level known ("SO_REUSEADDR"), else under each of
    `levels` (those a recording saw; default every level) with that level, since the number alone is
    ambiguous: "SOL_SOCKET:SO_REUSEADDR/SOL_TCP:TCP_MAXSEG"."""
    candidates = sorted(k.SOCKOPTS_BY_LEVEL) if levels is None else sorted(set(levels))
    found = [(level, k.SOCKOPTS_BY_LEVEL[level][value]) for level in candidates
             if value in k.SOCKOPTS_BY_LEVEL.get(level, {})]
    if len(candidates) == 1:
        return found[0][1] if found else _hex(value)
    return "/".join(f"{k.SOCKOPT_LEVELS.get(level) or level}:{name}" for level, name in found) or _hex(value)


def _huge(value: int, hugetlb: int, prefix: str, bits: k.Bits, head: Sequence[str] = ()) -> str:
    """Flags whose bits 26..31 hold log2(huge page size) when `hugetlb` is set (mmap, memfd_create)."""
    shift = (value >> k.HUGE_SHIFT) & k.HUGE_MASK
    if not (value & hugetlb and shift):
        return _bits(value, bits, head=head)
    size = f"{prefix}{k.HUGE_SIZES[shift]}" if shift in k.HUGE_SIZES else f"{shift}<<{prefix}SHIFT"
    return _bits(value & ~(k.HUGE_MASK << k.HUGE_SHIFT), bits, head=head, tail=(size,))


def _mmap_flags(value: int) -> str:
    kind = value & 0xF
    head = (k.MAP_TYPES[kind],) if kind in k.MAP_TYPES else ()
    return _huge(value & ~0xF if head else value, 0x40000, "MAP_HUGE_", k.MAP_BITS, head)


def _futex_op(value: int) -> str:
    cmd = value & ~(k.FUTEX_PRIVATE_FLAG | k.FUTEX_CLOCK_REALTIME)
    if cmd not in k.FUTEX_CMDS:
        return _hex(value)
    name = k.FUTEX_CMDS[cmd] + ("_PRIVATE" if value & k.FUTEX_PRIVATE_FLAG else "")
    return name + ("|FUTEX_CLOCK_REALTIME" if value & k.FUTEX_CLOCK_REALTIME else "")


def _futex2_flags(value: int) -> str:
    return _bits(value & ~3, k.FUTEX2_BITS, head=(k.FUTEX2_SIZES[value & 3],))


def _personality(value: int) -> str:
    domain = value & 0xFF
    if value == 0xFFFFFFFF or domain not in k.PER_DOMAINS:  # 0xffffffff queries the current persona
        return _hex(value)
    return _bits(value & ~0xFF, k.PER_BITS, head=(k.PER_DOMAINS[domain],))


def _sched_policy(value: int) -> str:
    tail = ["SCHED_RESET_ON_FORK"] if value & k.SCHED_RESET_ON_FORK else []
    return "|".join([_enum(k.SCHED_POLICIES, value & ~k.SCHED_RESET_ON_FORK), *tail])


def _ipc_ctl(table: Mapping[int, str]) -> Callable[[int], str]:
    def decode_cmd(value: int) -> str:
        name = _enum(table, value & ~k.IPC_64)
        return name + "|IPC_64" if value & k.IPC_64 else name

    return decode_cmd


def _ipc_call(value: int) -> str:
    call, version = value & 0xFFFF, value >> 16
    if call not in k.IPC_CALLS:
        return _hex(value)
    return f"IPCCALL({version}, {k.IPC_CALLS[call]})" if version else k.IPC_CALLS[call]


def _quotactl(value: int) -> str:
    cmd, kind = value >> 8, value & 0xFF
    if cmd not in k.QUOTA_CMDS:
        return _hex(value)
    return f"QCMD({k.QUOTA_CMDS[cmd]}, {k.QUOTA_TYPES.get(kind, _hex(kind))})"


def _mount_flags(value: int) -> str:
    if value & k.MS_MGC_MSK == k.MS_MGC_VAL:
        return _bits(value & ~k.MS_MGC_MSK, k.MS_BITS, head=("MS_MGC_VAL",))
    return _bits(value, k.MS_BITS)


def _enum_of(table: Mapping[int, str | None]) -> Callable[[int], str]:
    return lambda value: _enum(table, value)


def _flagset(bits: k.Bits, zero: str = "0") -> Callable[[int], str]:
    return lambda value: _bits(value, bits, zero)


_DECODERS: dict[str, Callable[[int], str]] = {
    "signal": lambda value: "0" if value == 0 else _enum(k.SIGNALS, value),
    "clone_flags": _clone_flags,
    "ns_flags": _flagset(k.NS_BITS),
    "personality": _personality,
    "prctl_option": _enum_of(k.PRCTL),
    "arch_prctl_code": _enum_of(k.ARCH_PRCTL),
    "ptrace_request": _enum_of(k.PTRACE),
    "seccomp_op": _enum_of(k.SECCOMP_OPS),
    "seccomp_flags": _flagset(k.SECCOMP_BITS),
    "priority_which": _enum_of({0: "PRIO_PROCESS", 1: "PRIO_PGRP", 2: "PRIO_USER"}),
    "ioprio_which": _enum_of({1: "IOPRIO_WHO_PROCESS", 2: "IOPRIO_WHO_PGRP", 3: "IOPRIO_WHO_USER"}),
    "rlimit_resource": _enum_of(k.RLIMITS),
    "sched_policy": _sched_policy,
    "wait_options": _flagset(k.WAIT4_BITS),
    "waitid_options": _flagset(k.WAITID_BITS),
    "idtype": _enum_of({0: "P_ALL", 1: "P_PID", 2: "P_PGID", 3: "P_PIDFD"}),
    "open_flags": _open_flags,
    "o_flags": _flagset(k.O_BITS),
    "ioctl_request": _enum_of(k.IOCTLS),
    "fcntl_cmd": _enum_of(k.FCNTL),
    "flock_op": _flagset(k.FLOCK_BITS),
    "fadvise_advice": _enum_of(k.FADVISE),
    "whence": _enum_of(k.WHENCE),
    "access_mode": _flagset(ACCESS_MODE_BITMASK, zero="F_OK"),  # python-ptrace: X_OK, W_OK, R_OK
    "at_flags": _flagset(k.AT_BITS),
    "faccessat_flags": _flagset(((0x200, "AT_EACCESS"), *k.AT_BITS)),
    "unlinkat_flags": _flagset(((0x200, "AT_REMOVEDIR"),)),
    "rename_flags": _flagset(((1, "RENAME_NOREPLACE"), (2, "RENAME_EXCHANGE"), (4, "RENAME_WHITEOUT"))),
    "falloc_mode": _flagset(k.FALLOC_BITS),
    "close_range_flags": _flagset(((2, "CLOSE_RANGE_UNSHARE"), (4, "CLOSE_RANGE_CLOEXEC"))),
    "efd_flags": _flagset(((1, "EFD_SEMAPHORE"), *k.prefixed("EFD_", k.NONBLOCK_CLOEXEC))),
    "epoll_flags": _flagset(((0o2000000, "EPOLL_CLOEXEC"),)),
    "epoll_ctl_op": _enum_of({1: "EPOLL_CTL_ADD", 2: "EPOLL_CTL_DEL", 3: "EPOLL_CTL_MOD"}),
    "inotify_flags": _flagset(k.prefixed("IN_", k.NONBLOCK_CLOEXEC)),
    "sfd_flags": _flagset(k.prefixed("SFD_", k.NONBLOCK_CLOEXEC)),
    "tfd_flags": _flagset(k.prefixed("TFD_", k.NONBLOCK_CLOEXEC)),
    "tfd_settime_flags": _flagset(((1, "TFD_TIMER_ABSTIME"), (2, "TFD_TIMER_CANCEL_ON_SET"))),
    "timer_flags": _flagset(((1, "TIMER_ABSTIME"),)),
    "mmap_prot": _flagset(k.PROT_BITS, zero="PROT_NONE"),
    "mmap_flags": _mmap_flags,
    "madvise_advice": _enum_of(k.MADVISE),
    "mremap_flags": _flagset(((1, "MREMAP_MAYMOVE"), (2, "MREMAP_FIXED"), (4, "MREMAP_DONTUNMAP"))),
    "msync_flags": _flagset(((1, "MS_ASYNC"), (2, "MS_INVALIDATE"), (4, "MS_SYNC"))),
    "mlock_flags": _flagset(((1, "MLOCK_ONFAULT"),)),
    "mlockall_flags": _flagset(((1, "MCL_CURRENT"), (2, "MCL_FUTURE"), (4, "MCL_ONFAULT"))),
    "memfd_flags": lambda value: _huge(value, 4, "MFD_HUGE_", (
        (1, "MFD_CLOEXEC"), (2, "MFD_ALLOW_SEALING"), (4, "MFD_HUGETLB"), (8, "MFD_NOEXEC_SEAL"),
        (0x10, "MFD_EXEC"))),
    "membarrier_cmd": _enum_of(k.MEMBARRIER),
    "address_family": _enum_of(k.ADDRESS_FAMILIES),
    "socket_type": _socket_type,
    "sockopt_level": _enum_of(k.SOCKOPT_LEVELS),
    "sock_flags": _flagset(k.SOCK_FLAGS),
    "shutdown_how": _enum_of({0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"}),
    "msg_flags": _flagset(k.MSG_BITS),
    "socketcall": _enum_of(k.SOCKETCALLS),
    "sigprocmask_how": _enum_of(SIGPROCMASK_HOW),  # python-ptrace: SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK
    "futex_op": _futex_op,
    "futex2_flags": _futex2_flags,
    "ipc_call": _ipc_call,
    "shmctl_cmd": _ipc_ctl(k.SHMCTL),
    "msgctl_cmd": _ipc_ctl(k.MSGCTL),
    "semctl_cmd": _ipc_ctl(k.SEMCTL),
    "clockid": _enum_of(k.CLOCKS),
    "itimer_which": _enum_of({0: "ITIMER_REAL", 1: "ITIMER_VIRTUAL", 2: "ITIMER_PROF"}),
    "grnd_flags": _flagset(((1, "GRND_NONBLOCK"), (2, "GRND_RANDOM"), (4, "GRND_INSECURE"))),
    "bpf_cmd": _enum_of(k.BPF),
    "keyctl_cmd": _enum_of(k.KEYCTL),
    "quotactl_cmd": _quotactl,
    "reboot_cmd": _enum_of(k.REBOOT),
    "syslog_action": _enum_of(k.SYSLOG),
    "mount_flags": _mount_flags,
    "umount_flags": _flagset(((1, "MNT_FORCE"), (2, "MNT_DETACH"), (4, "MNT_EXPIRE"),
                              (8, "UMOUNT_NOFOLLOW"))),
}
# Decoders whose text depends on another argument of the same call (the socket domain, the sockopt level).
_CONTEXT_DECODERS: dict[str, Callable[[int, Sequence[int] | None], str]] = {
    "socket_protocol": _socket_protocol,
    "sockopt_name": _sockopt_name,
}

DECODERS: frozenset[str] = frozenset(_DECODERS) | frozenset(_CONTEXT_DECODERS)


def decode(decoder: str, value: int, args: Sequence[int] | None = None) -> str:
    """Symbolic text for one recorded argument value, e.g. decode("mmap_prot", 3) == "PROT_READ|PROT_WRITE".

    Unknown bits and unknown values are rendered in hex. `args`, the call's full argument list, lets
    context-dependent decoders be exact: without it a socket option number lists every level's name
    ("SO_REUSEADDR/IP_TTL/TCP_MAXSEG"). Values are taken as unsigned 64-bit (a negative int wraps).
    Raises ValueError for a decoder name not in DECODERS.
    """
    value &= _U64
    if decoder in _DECODERS:
        return _DECODERS[decoder](value)
    if decoder in _CONTEXT_DECODERS:
        return _CONTEXT_DECODERS[decoder](value, args or None)
    raise ValueError(f"unknown decoder {decoder!r}")


def shown(decoder: str | None, value: int, args: Sequence[int] | None = None) -> str:
    """A value as a person reads it: its symbolic text where `decoder` knows it, else the number
    (decimal below 0x100, hex above). The one rendering of argument values in diff, report and verify."""
    if decoder is not None:
        try:
            text = decode(decoder, value, args)
        except (ValueError, KeyError):
            text = ""
        if text and text != f"{value & _U64:#x}":
            return text
    return str(value) if value < 0x100 else f"{value:#x}"
