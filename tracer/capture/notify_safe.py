"""Which syscalls may wait for the supervisor as a user notification, and the filter that routes them.

A signal can withdraw a notification before the supervisor received it (docs/kernel-facts.md); the
repair is exact only for calls that can never return -ERESTARTSYS by themselves, so only those go to
the listener, read off the kernel's generic code: calls that never sleep interruptibly, restart in
another way, report EINTR themselves or turn restarts into EINTR, plus the argument cases in
`ARG_RULES` (a futex wake, LOCK_NB, an anonymous mmap, WNOHANG, ...). Anything else, every
non-x86_64 ABI and every unknown number takes a ptrace stop: a wrong "no" costs speed, never
faithfulness. `listener_takes()` answers from the same data as `hybrid_filter()`, so the repair and
the filter cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from tracer.kernel import ptrace as pt
from tracer.record import Record
from tracer.syscalls.abi import AUDIT_ARCH_X86_64, X32_SYSCALL_BIT
from tracer.syscalls.names import number_of

# Most frequent first: the filter compares one number after another.
ALWAYS: tuple[str, ...] = (
    # files and paths: metadata, descriptors, directories (no driver or FIFO involved)
    "newfstatat", "fstat", "close", "lseek", "statx", "stat", "lstat", "access", "faccessat", "faccessat2",
    "readlink", "readlinkat", "getdents64", "getdents", "getcwd", "dup", "dup2", "dup3", "close_range",
    "chdir", "fchdir", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2",
    "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown",
    "lchown", "fchownat", "utimensat", "statfs", "fstatfs", "umask", "getxattr", "lgetxattr", "fgetxattr",
    "listxattr", "llistxattr", "flistxattr",
    # memory (mmap_lock waits are killable: only a fatal signal interrupts them)
    "brk", "munmap", "mprotect", "madvise", "mremap", "mincore", "mlock", "mlock2", "munlock",
    "mlockall", "munlockall",
    # signals (rt_sigreturn: after it ran, orig_rax is -1, so a stop showing it means it was withdrawn)
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "rt_sigpending", "rt_sigsuspend", "pause",
    "rt_sigtimedwait", "kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal",
    # identity, limits, scheduling
    "getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
    "getgroups", "getpgrp", "getpgid", "getsid", "getpriority", "getrlimit", "prlimit64", "getrusage",
    "getcpu", "sched_getaffinity", "sched_setaffinity", "sched_yield", "sched_getparam", "sched_getscheduler",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getattr", "times", "uname", "sysinfo",
    "personality", "capget", "capset", "setpgid", "setsid", "setuid", "setgid", "setreuid", "setregid",
    "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid", "setpriority", "setrlimit",
    "set_tid_address", "set_robust_list", "get_robust_list", "rseq", "arch_prctl", "prctl",
    # time (sleeps restart with -ERESTART_RESTARTBLOCK or -ERESTARTNOHAND)
    "clock_gettime", "gettimeofday", "time", "clock_getres", "nanosleep", "clock_nanosleep", "timer_create",
    "timer_settime", "timer_gettime", "timer_getoverrun", "timer_delete", "setitimer", "getitimer", "alarm",
    "timerfd_create", "timerfd_settime", "timerfd_gettime",
    # new descriptors, readiness (poll and select restart with -ERESTARTNOHAND, epoll_wait fails with EINTR)
    "pipe2", "pipe", "eventfd2", "eventfd", "memfd_create", "signalfd4", "signalfd", "inotify_init1",
    "inotify_init", "inotify_add_watch", "inotify_rm_watch", "epoll_create1", "epoll_create", "epoll_ctl",
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6", "pidfd_open",
    "socket", "socketpair", "bind", "listen", "getsockname", "getpeername",
    # processes (copy_process restarts with -ERESTARTNOINTR; vfork waits killably); these never return
    "clone", "clone3", "fork", "vfork", "exit", "exit_group",
)


class ArgIn(Record, frozen=True):
    """The low 32 bits of argument `arg`, under `mask`, are one of `values` (none of them, if `negate`)."""

    arg: int
    mask: int
    values: tuple[int, ...]
    negate: bool = False

    def holds(self, args: Sequence[int]) -> bool:
        return ((args[self.arg] & self.mask) in self.values) != self.negate


class ArgNonzero(Record, frozen=True):
    """Argument `arg` (all 64 bits) is not 0: a pointer, such as a timeout, was given."""

    arg: int

    def holds(self, args: Sequence[int]) -> bool:
        return args[self.arg] != 0


Test = ArgIn | ArgNonzero
Clause = tuple[Test, ...]  # every test holds

_ALL32 = 0xFFFFFFFF
_FUTEX_CMD = 0x7F  # FUTEX_CMD_MASK: without FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME
_FUTEX_WAKES = (1, 3, 4, 5, 10)  # WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP, WAKE_BITSET: never sleep
_FUTEX_WAITS = (0, 9)  # WAIT, WAIT_BITSET: -ERESTARTSYS without a timeout, -ERESTART_RESTARTBLOCK with one
# The calls that go to the listener only when one of their clauses holds.
ARG_RULES: dict[str, tuple[Clause, ...]] = {
    "futex": ((ArgIn(1, _FUTEX_CMD, _FUTEX_WAKES),), (ArgIn(1, _FUTEX_CMD, _FUTEX_WAITS), ArgNonzero(3))),
    "mmap": ((ArgIn(3, 0x20, (0x20,)),),),  # MAP_ANONYMOUS: no file's mmap handler runs
    "ioctl": ((ArgIn(1, _ALL32, (0x5401, 0x5413, 0x540F, 0x5450, 0x5451, 0x5421)),),),  # TCGETS, TIOCGWINSZ,
    # TIOCGPGRP (tty queries under uninterruptible locks), FIONCLEX, FIOCLEX, FIONBIO (never reach a driver)
    "fcntl": ((ArgIn(1, _ALL32, (7, 38), negate=True),),),  # all but F_SETLKW, F_OFD_SETLKW
    "flock": ((ArgIn(1, 4, (4,)),),),  # LOCK_NB
    "wait4": ((ArgIn(2, 1, (1,)),),),  # WNOHANG
    "waitid": ((ArgIn(3, 1, (1,)),),),  # WNOHANG
    "getrandom": ((ArgIn(2, 5, (1, 4, 5)),),),  # GRND_NONBLOCK or GRND_INSECURE: never waits for entropy
}


@cache
def _rules() -> tuple[frozenset[int], dict[int, tuple[Clause, ...]]]:
    """The x86_64 numbers of ALWAYS, and ARG_RULES by number."""
    always = frozenset(nr for name in ALWAYS if (nr := number_of("x86_64", name)) is not None)
    by_nr = {nr: rule for name, rule in ARG_RULES.items() if (nr := number_of("x86_64", name)) is not None}
    return always, by_nr


def listener_takes(arch: int, nr: int, args: Sequence[int]) -> bool:
    """Whether `hybrid_filter()` sends this call (arguments as unsigned words) to the listener."""
    if arch != AUDIT_ARCH_X86_64 or nr & X32_SYSCALL_BIT:
        return False
    always, by_nr = _rules()
    if nr in always:
        return True
    rule = by_nr.get(nr)
    return rule is not None and any(all(t.holds(args) for t in clause) for clause in rule)


# classic BPF (linux/filter.h, linux/seccomp.h)
_LD_ABS_W, _JEQ, _JGE, _JA, _AND, _RET = 0x20, 0x15, 0x35, 0x05, 0x54, 0x06
_NR, _ARCH, _ARGS = 0, 4, 16  # offsets in struct seccomp_data


def _clause_code(clause: Clause, listener: int) -> list[tuple[int, int, int, int]]:
    """Tests one after another; on success `ret listener`; a failing test jumps past that."""
    blocks: list[list[tuple[int, int, int, int, bool]]] = []  # (code, jt, jf, k, jump-to-fail?)
    for test in clause:
        low = _ARGS + 8 * test.arg
        if isinstance(test, ArgNonzero):  # low word != 0, else high word != 0
            blocks.append([(_LD_ABS_W, 0, 0, low, False), (_JEQ, 0, 2, 0, False),
                           (_LD_ABS_W, 0, 0, low + 4, False), (_JEQ, 0xFF, 0, 0, True)])
            continue
        block = [(_LD_ABS_W, 0, 0, low, False)]
        if test.mask != _ALL32:
            block.append((_AND, 0, 0, test.mask, False))
        n = len(test.values)
        for i, value in enumerate(test.values):  # a match jumps past the remaining compares (and the fail jump)
            block.append((_JEQ, 0xFF if test.negate else n - i, 0, value, test.negate))
        if not test.negate:
            block.append((_JA, 0, 0, 0xFF, True))  # no value matched
        blocks.append(block)
    flat = [insn for block in blocks for insn in block]
    code = []
    for pos, (op, jt, jf, k, to_fail) in enumerate(flat):
        to_end = len(flat) - pos  # the `ret listener` right after the tests is at len(flat); fail is one further
        if to_fail and op == _JA:
            k = to_end
        elif to_fail:
            jt = to_end
        code.append((op, jt, jf, k))
    return [*code, (_RET, 0, 0, listener)]


def hybrid_filter(listener: int = pt.SECCOMP_RET_USER_NOTIF, tracer: int = pt.SECCOMP_RET_TRACE) -> pt.BpfFilter:
    """x86_64 calls that `listener_takes` → `listener` (USER_NOTIF); all others → `tracer` (RET_TRACE).

    The tests pass other actions (two SECCOMP_RET_ERRNO values) to see the kernel's routing.
    """
    _, by_nr = _rules()
    code = [(_LD_ABS_W, 0, 0, _ARCH), (_JEQ, 1, 0, AUDIT_ARCH_X86_64), (_RET, 0, 0, tracer),
            (_LD_ABS_W, 0, 0, _NR), (_JGE, 0, 1, X32_SYSCALL_BIT), (_RET, 0, 0, tracer)]
    for name in ALWAYS:
        nr = number_of("x86_64", name)
        if nr is not None:
            code += [(_JEQ, 0, 1, nr), (_RET, 0, 0, listener)]
    for nr, rule in by_nr.items():
        block = [insn for clause in rule for insn in _clause_code(clause, listener)] + [(_RET, 0, 0, tracer)]
        code += [(_JEQ, 0, len(block), nr), *block]  # the accumulator still holds nr: blocks never fall through
    code.append((_RET, 0, 0, tracer))
    return pt.BpfFilter(code)
