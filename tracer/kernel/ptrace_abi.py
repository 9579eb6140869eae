"""ptrace and seccomp in ctypes: the requests, options and calls both tracing backends use.

SEIZE/LISTEN/INTERRUPT, EXITKILL, TRACESECCOMP, PTRACE_GET_SYSCALL_INFO, the registers of a stopped
task, installing a seccomp filter, and at the end the seccomp user-notification constants and calls
(capture/backends/notify_only.py, capture/backends/notify.py). Everything is the kernel's ABI
(linux/ptrace.h, linux/seccomp.h, asm/ptrace.h); python-ptrace is not imported here, because its import
costs start-up time that a trace does not need (only reports and verify use it). On the per-syscall
path we call libc's `ptrace` directly (two calls per stop), never a wrapper that raises and re-reads errno.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

PTRACE_POKEUSER = 6
PTRACE_CONT = 7
PTRACE_GETREGS = 12
PTRACE_DETACH = 17
PTRACE_SYSCALL = 24
PTRACE_GETEVENTMSG = 0x4201
PTRACE_O_TRACESYSGOOD = 0x1
PTRACE_O_TRACEFORK = 0x2
PTRACE_O_TRACEVFORK = 0x4
PTRACE_O_TRACECLONE = 0x8
PTRACE_O_TRACEEXEC = 0x10
PTRACE_EVENT_FORK = 1
PTRACE_EVENT_VFORK = 2
PTRACE_EVENT_CLONE = 3
PTRACE_EVENT_EXEC = 4

PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_LISTEN = 0x4208
PTRACE_GET_SYSCALL_INFO = 0x420E
PTRACE_O_TRACESECCOMP = 0x80
PTRACE_O_EXITKILL = 0x100000
PTRACE_EVENT_SECCOMP = 7
PTRACE_EVENT_STOP = 128
WALL = 0x40000000  # __WALL: wait for threads and clone children too (not in the os module)

SEIZE_OPTIONS = (
    PTRACE_O_TRACEFORK
    | PTRACE_O_TRACEVFORK
    | PTRACE_O_TRACECLONE
    | PTRACE_O_TRACEEXEC
    | PTRACE_O_TRACESECCOMP
    | PTRACE_O_EXITKILL
)

# Attaching to a running process: no filter can be added to it, so two stops per syscall
# (PTRACE_SYSCALL); no EXITKILL, so the target survives if seccomp-learn dies.
ATTACH_OPTIONS = (SEIZE_OPTIONS & ~(PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL)) | PTRACE_O_TRACESYSGOOD
SYSCALL_STOP_STATUS = ((5 | 0x80) << 8) | 0x7F
PTRACE_SYSCALL_INFO_EXIT = 2

# waitpid status of a seccomp stop: (SIGTRAP | PTRACE_EVENT_SECCOMP << 8) << 8 | 0x7f.
SECCOMP_STOP_STATUS = ((5 | (PTRACE_EVENT_SECCOMP << 8)) << 8) | 0x7F

# struct ptrace_syscall_info: op u8, pad[3], arch u32, ip u64, sp u64, then for op SECCOMP:
# nr u64, args u64[6], ret_data u32 (88 bytes with padding).
SYSCALL_INFO_SIZE = 88
SYSCALL_INFO_HEAD = struct.Struct("<B3xI16xQ")  # op, arch, nr
SYSCALL_INFO_ARGS = struct.Struct("<6Q")
SYSCALL_INFO_ARGS_OFFSET = 32
SYSCALL_INFO_RET_DATA_OFFSET = 80

PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
SYS_SECCOMP_X86_64 = 317
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_RET_TRACE = 0x7FF00000

_libc = ctypes.CDLL(None, use_errno=True)
# The hot-path entry point: long ptrace(long request, pid_t pid, void *addr, void *data).
raw_ptrace = _libc.ptrace
raw_ptrace.restype = ctypes.c_long
raw_ptrace.argtypes = (ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


def check(result: int, what: str) -> int:
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def seize(pid: int, options: int = SEIZE_OPTIONS) -> None:
    check(raw_ptrace(PTRACE_SEIZE, pid, None, options), "PTRACE_SEIZE")


def cont(pid: int, sig: int = 0, request: int = PTRACE_CONT) -> None:
    """Resume a stopped tracee (PTRACE_CONT, or PTRACE_SYSCALL when attached); ESRCH (it died) is fine."""
    if raw_ptrace(request, pid, None, sig) == -1 and ctypes.get_errno() != errno.ESRCH:
        check(-1, "resume")


def geteventmsg(pid: int) -> int:
    """The event message of a ptrace event stop: the new task's tid, or an exec'ing thread's former tid."""
    msg = ctypes.c_ulong(0)
    check(raw_ptrace(PTRACE_GETEVENTMSG, pid, None, ctypes.addressof(msg)), "PTRACE_GETEVENTMSG")
    return msg.value


# struct user_regs_struct (asm/ptrace.h, x86_64): 27 words; these are the word indexes we read.
REGS = struct.Struct("<27q")
REG_R10, REG_R9, REG_R8, REG_RAX, REG_RDX, REG_RSI, REG_RDI, REG_ORIG_RAX = 7, 8, 9, 10, 12, 13, 14, 15
SYSCALL_ARG_REGS = (REG_RDI, REG_RSI, REG_RDX, REG_R10, REG_R8, REG_R9)  # x86_64 syscall arguments 0..5


def regs_buffer() -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(REGS.size)


def getregs(pid: int, buf: ctypes.Array[ctypes.c_char]) -> tuple[int, ...] | None:
    """The registers of a stopped tracee (signed words), None if it is gone."""
    if raw_ptrace(PTRACE_GETREGS, pid, None, buf) == -1:
        return None
    return REGS.unpack_from(buf)


def set_register(pid: int, index: int, value: int) -> None:
    """Write one register word of a stopped tracee (PTRACE_POKEUSER); ESRCH (it died) is fine."""
    word = ctypes.c_void_p(value & 0xFFFFFFFFFFFFFFFF)
    if raw_ptrace(PTRACE_POKEUSER, pid, ctypes.c_void_p(index * 8), word) == -1 and ctypes.get_errno() != errno.ESRCH:
        check(-1, "PTRACE_POKEUSER")


def interrupt(pid: int) -> None:
    if raw_ptrace(PTRACE_INTERRUPT, pid, None, None) == -1 and ctypes.get_errno() != errno.ESRCH:
        check(-1, "PTRACE_INTERRUPT")


def detach(pid: int, sig: int = 0) -> None:
    if raw_ptrace(PTRACE_DETACH, pid, None, sig) == -1 and ctypes.get_errno() != errno.ESRCH:
        check(-1, "PTRACE_DETACH")


def listen(pid: int) -> None:
    """Leave a tracee in group-stop (job control) while still reporting its events."""
    if raw_ptrace(PTRACE_LISTEN, pid, None, None) == -1 and ctypes.get_errno() != errno.ESRCH:
        check(-1, "PTRACE_LISTEN")


def syscall_info_buffer() -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(SYSCALL_INFO_SIZE)


class SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


class BpfFilter:
    """A struct sock_fprog and the buffer it points into (kept alive together)."""

    def __init__(self, instructions: list[tuple[int, int, int, int]]) -> None:
        raw = b"".join(struct.pack("<HBBI", code, jt, jf, k) for code, jt, jf, k in instructions)
        self.buffer = ctypes.create_string_buffer(raw, len(raw))
        self.prog = SockFprog(len(instructions), ctypes.cast(self.buffer, ctypes.c_void_p))

    def install(self) -> None:
        install_filter(self.prog)


BPF_RET_K = 0x06  # BPF_RET | BPF_K


def trace_everything_filter() -> BpfFilter:
    """The seccomp filter of the ptrace backend: every syscall of every ABI stops once in the tracer."""
    return BpfFilter([(BPF_RET_K, 0, 0, SECCOMP_RET_TRACE)])


def prctl(option: int, arg: int) -> None:
    check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), "prctl")


def install_filter(prog: SockFprog) -> None:
    check(_libc.syscall(SYS_SECCOMP_X86_64, SECCOMP_SET_MODE_FILTER, 0, ctypes.byref(prog)), "seccomp")


# --- seccomp user notification (capture/backends/notify_only.py): linux/seccomp.h, no ptrace involved -----------

SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3  # seccomp() returns the listener fd (close-on-exec)
SECCOMP_RET_USER_NOTIF = 0x7FC00000
_SECCOMP_IOC = 0x21  # '!'
# struct seccomp_notif: id u64, pid u32, flags u32, then seccomp_data: nr s32, arch u32, ip u64,
# args u64[6] (80 bytes; the arguments start at offset 32, as in ptrace_syscall_info).
SECCOMP_NOTIF_SIZE = 80
SECCOMP_NOTIF_HEAD = struct.Struct("<QIxxxxiI")  # id, pid, nr, arch
SECCOMP_NOTIF_RESP = struct.Struct("<QqiI")  # struct seccomp_notif_resp: id, val, error, flags (24 bytes)
SECCOMP_IOCTL_NOTIF_RECV = (3 << 30) | (SECCOMP_NOTIF_SIZE << 16) | (_SECCOMP_IOC << 8) | 0  # _IOWR('!', 0, ...)
SECCOMP_IOCTL_NOTIF_SEND = (3 << 30) | (SECCOMP_NOTIF_RESP.size << 16) | (_SECCOMP_IOC << 8) | 1  # _IOWR('!', 1, ...)
SECCOMP_IOCTL_NOTIF_SET_FLAGS = (1 << 30) | (8 << 16) | (_SECCOMP_IOC << 8) | 4  # _IOW('!', 4, __u64), by value
SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP = 1  # kernel >= 6.6
SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1  # kernel >= 5.5
SYS_PIDFD_GETFD = 438
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
NOTIFY_FD_LINK = "anon_inode:seccomp notify"  # readlink of a listener fd in /proc/PID/fd

raw_ioctl = _libc.ioctl
raw_ioctl.restype = ctypes.c_int
raw_ioctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)


def notif_buffers() -> tuple[ctypes.Array[ctypes.c_char], ctypes.Array[ctypes.c_char]]:
    """A struct seccomp_notif for NOTIF_RECV (zero it before each call) and a seccomp_notif_resp for NOTIF_SEND."""
    return ctypes.create_string_buffer(SECCOMP_NOTIF_SIZE), ctypes.create_string_buffer(SECCOMP_NOTIF_RESP.size)


def notify_everything_filter() -> BpfFilter:
    """Every syscall of every ABI goes to the listener (SECCOMP_RET_USER_NOTIF)."""
    return BpfFilter([(BPF_RET_K, 0, 0, SECCOMP_RET_USER_NOTIF)])


SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5  # kernel >= 5.19


def install_listener(prog: SockFprog) -> int:
    """Install a filter with SECCOMP_FILTER_FLAG_NEW_LISTENER; returns the listener fd.

    WAIT_KILLABLE_RECV (where the kernel has it): once the supervisor has received a notification, only
    a fatal signal interrupts the wait, so a signal no longer turns a call into EINTR at that point.
    """
    for flags in (SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
                  SECCOMP_FILTER_FLAG_NEW_LISTENER):
        fd = _libc.syscall(SYS_SECCOMP_X86_64, SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(prog))
        if fd >= 0 or ctypes.get_errno() != errno.EINVAL:
            break
    return check(fd, "seccomp")


SECCOMP_GET_ACTION_AVAIL = 2


def user_notification_available() -> bool:
    """Whether this kernel has what the notify backends need, asked without starting a child.

    SECCOMP_RET_USER_NOTIF (5.0) and pidfd_getfd (5.6, which implies USER_NOTIF_FLAG_CONTINUE, 5.5,
    and pidfd_open, 5.3); an unknown syscall fails with ENOSYS, pidfd_getfd(-1, ...) with EBADF.
    """
    action = ctypes.c_uint32(SECCOMP_RET_USER_NOTIF)
    if _libc.syscall(SYS_SECCOMP_X86_64, SECCOMP_GET_ACTION_AVAIL, 0, ctypes.byref(action)) != 0:
        return False
    return _libc.syscall(SYS_PIDFD_GETFD, -1, 0, 0) == -1 and ctypes.get_errno() == errno.EBADF


def pidfd_getfd(pidfd: int, fd: int) -> int:
    """A duplicate of another process's fd (kernel >= 5.6; needs ptrace access to it, which a parent has)."""
    return check(_libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0), "pidfd_getfd")


def get_child_subreaper() -> int:
    value = ctypes.c_int(0)
    check(_libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(value), 0, 0, 0), "prctl")
    return value.value


def notif_set_sync_wake_up(listener: int) -> bool:
    """Ask the kernel to wake the supervisor and the task on the same CPU; False where unsupported (< 6.6)."""
    return raw_ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0

