"""Between ABIs, as data: what the same libc call becomes on the other 64-bit host (x86_64 <-> aarch64).

arm64 uses the kernel's generic syscall table, which has none of the legacy path calls (open, mkdir,
stat, ...), so a profile learned on amd64 allows names that do not exist there and lacks the *at calls
the arm64 build makes instead. This module says, for every x86_64 name, what libc (glibc 2.36, musl)
calls on aarch64 for the same function, and which argument values follow from it. Like
`tracer.syscall_info`, it is knowledge, not logic; `tracer.multiarch` applies it.

- Every aarch64 name is also an x86_64 name (Linux 7.1), with the same filterable arguments at the same
  indexes (`syscall_info.FILTERABLE` is written for the shared layout). clone differs only in the order
  of its last two pointer arguments (x86_64: flags, stack, parent_tid, child_tid, tls; aarch64: flags,
  stack, parent_tid, tls, child_tid), which are never filtered; flags is argument 0 on both.
- `TO_AARCH64` maps each x86_64-only name to the aarch64 calls libc makes for it, and how the filterable
  arguments of each target follow (`Carry`). A target argument no `Carry` entry gives is not carried,
  so no rule is made on it.
- `ALSO_ON_AARCH64` adds, for names both ABIs have, another call arm64's libc makes for the same function
  (glibc 2.36 has no clone3 wrapper on aarch64, so its threads come from clone). It is one way: the
  emitter's ENOSYS fallback rules already make x86_64's libc fall back where it would use the newer call.
  `ALSO_ON_X86_64` is its counterpart the other way (arch_prctl, which every x86_64 program calls at start).
- `DROPPED_ON_AARCH64` lists the x86_64-only names with no arm64 counterpart, and why.
- The reverse direction (`TO_X86_64`) is the inverse: an aarch64 call may come from any x86_64 call of
  its group (mkdirat from mkdir() or mkdirat()), so an arm64 recording gives every one of them.
  tests/test_abi_map.py checks that the two directions together cover every name of both tables;
  tests/test_multiarch.py checks the result against qemu-user running real arm64 builds.
"""

from __future__ import annotations

from tracer.structs import Struct
from tracer.syscalls.abi import MAPPED_ABIS
from tracer.syscalls.table import TABLES

# Constants libc passes for the legacy call (Linux uapi; the same on x86_64 and aarch64).
SIGCHLD = 17
CLONE_VM = 0x100
CLONE_VFORK = 0x4000
O_WRONLY_CREAT_TRUNC = 0o1101  # creat(path, mode) is open(path, O_WRONLY|O_CREAT|O_TRUNC, mode)
# What glibc's clone() fallback passes: pthread_create's thread flags, and posix_spawn's vfork-like flags.
CLONE_THREAD_FLAGS = 0x3D0F00  # CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
AT_SYMLINK_NOFOLLOW = 0x100
AT_REMOVEDIR = 0x200
ITIMER_REAL = 0
ARCH_SET_FS = 0x1002


class Carry(Struct, frozen=True):
    """How the target call's filterable arguments follow from the source call's."""

    moved: tuple[tuple[int, int], ...] = ()  # (source index, target index): same meaning, another place
    fixed: tuple[tuple[int, int], ...] = ()  # (target index, value): what libc passes for the source call (an
    # index may appear more than once: each value is one way libc makes the call)
    same: bool = False  # the same call on both ABIs: every argument carries over as it is


SAME = Carry(same=True)


class Target(Struct, frozen=True):
    name: str
    carry: Carry = Carry()


def _t(name: str, moved: dict[int, int] | None = None, fixed: dict[int, int] | None = None) -> Target:
    return Target(name, Carry(tuple(sorted((moved or {}).items())), tuple(sorted((fixed or {}).items()))))


def _flags0(index: int, *names: str) -> tuple[Target, ...]:
    """Targets whose flags argument at `index` is 0: what libc passes for the legacy call."""
    return tuple(_t(n, fixed={index: 0}) for n in names)


# x86_64 name -> what libc calls on aarch64 for it.
TO_AARCH64: dict[str, tuple[Target, ...]] = {
    # files and paths: the legacy calls become their *at form with dirfd AT_FDCWD, so every argument
    # moves one place right; the *at flags argument is what the legacy call implies.
    "open": (_t("openat", moved={1: 2}),),
    "creat": (_t("openat", fixed={2: O_WRONLY_CREAT_TRUNC}),),
    "mkdir": (_t("mkdirat"),),
    "mknod": (_t("mknodat"),),
    "unlink": _flags0(2, "unlinkat"),
    "rmdir": (_t("unlinkat", fixed={2: AT_REMOVEDIR}),),
    # glibc's rename() is renameat(); musl's too; a libc without renameat uses renameat2(..., 0).
    "rename": (_t("renameat"), _t("renameat2", fixed={4: 0})),
    "link": _flags0(4, "linkat"),
    "symlink": (_t("symlinkat"),),
    "readlink": (_t("readlinkat"),),
    "chmod": (_t("fchmodat"),),
    "chown": _flags0(4, "fchownat"),
    "lchown": (_t("fchownat", fixed={4: AT_SYMLINK_NOFOLLOW}),),
    # access() is faccessat(AT_FDCWD, path, mode) in glibc 2.36; newer libcs try faccessat2 first.
    "access": (_t("faccessat", moved={1: 2}), _t("faccessat2", moved={1: 2}, fixed={3: 0})),
    # stat() and lstat() are fstatat(AT_FDCWD, ...); fstat keeps its name (glibc makes it newfstatat
    # with AT_EMPTY_PATH on both hosts).
    "stat": _flags0(3, "newfstatat"),
    "lstat": (_t("newfstatat", fixed={3: AT_SYMLINK_NOFOLLOW}),),
    "utime": _flags0(3, "utimensat"),
    "utimes": _flags0(3, "utimensat"),
    "futimesat": _flags0(3, "utimensat"),
    "getdents": (_t("getdents64"),),
    # file descriptors: the calls without flags become the ones with a flags argument of 0.
    # dup2(fd, fd) is fcntl(fd, F_GETFL) on arm64 glibc (dup3 refuses equal descriptors).
    "dup2": (*_flags0(2, "dup3"), _t("fcntl")),
    "pipe": _flags0(1, "pipe2"),
    "epoll_create": _flags0(0, "epoll_create1"),
    "eventfd": _flags0(1, "eventfd2"),
    "inotify_init": _flags0(0, "inotify_init1"),
    "signalfd": _flags0(3, "signalfd4"),
    # waiting: the calls without a signal mask become the ones with one (NULL).
    "poll": (_t("ppoll"),),
    "select": (_t("pselect6"),),
    "epoll_wait": (_t("epoll_pwait"), _t("epoll_pwait2")),
    "pause": (_t("ppoll"),),  # glibc: ppoll(NULL, 0, NULL, NULL); musl: the same
    # processes: fork() is clone(SIGCHLD), vfork() is clone(CLONE_VM|CLONE_VFORK|SIGCHLD). Not clone3:
    # its flags sit behind a pointer no rule can check, so mapping to it would allow namespaces.
    "fork": (_t("clone", fixed={0: SIGCHLD}),),
    "vfork": (_t("clone", fixed={0: CLONE_VM | CLONE_VFORK | SIGCHLD}),),
    "getpgrp": (_t("getpgid"),),  # getpgid(0)
    # time: alarm() is setitimer(ITIMER_REAL); time() is clock_gettime (the vDSO's, when there is one).
    "alarm": (_t("setitimer", fixed={0: ITIMER_REAL}),),
    "time": (_t("clock_gettime"),),
}

# names both ABIs have -> another call arm64's libc makes for the same function.
ALSO_ON_AARCH64: dict[str, tuple[Target, ...]] = {
    # x86_64 glibc 2.34+ makes threads and posix_spawn children with clone3, whose flags sit behind a
    # pointer; aarch64 glibc 2.36 has no clone3 wrapper and uses clone, with the flags it always passes.
    "clone3": (Target("clone", Carry(fixed=((0, CLONE_THREAD_FLAGS), (0, CLONE_VM | CLONE_VFORK | SIGCHLD)))),),
}

# aarch64 names -> a call x86_64's libc makes besides (an aarch64 program never asks for it).
ALSO_ON_X86_64: dict[str, tuple[Target, ...]] = {
    # every x86_64 program sets its thread pointer with arch_prctl(ARCH_SET_FS) before main (glibc, static and
    # dynamic, musl); on aarch64 that is a register write, no call. execve stands for "a program started".
    # x86_64's dynamic loader also reads ELF notes (CET properties) with pread64; aarch64's makes no such call
    # (both measured: Debian 12, glibc 2.36, strace vs qemu). Harmless for a static program.
    "execve": (Target("arch_prctl", Carry(fixed=((0, ARCH_SET_FS),))), Target("pread64")),
}

# x86_64 names with no arm64 counterpart: nothing on arm64 does what they do, or they never worked.
_X86_ONLY = "x86 processor state (segments, TLS, I/O ports): arm64 has none; its TLS is a register"
_GONE = "removed from Linux long ago: the kernel answers ENOSYS"
_NEVER = "never implemented on x86_64: always ENOSYS"
DROPPED_ON_AARCH64: dict[str, str] = {
    **dict.fromkeys(("arch_prctl", "get_thread_area", "set_thread_area", "modify_ldt", "iopl", "ioperm"),
                    _X86_ONLY),
    "uprobe": "x86_64 uprobe trampoline (kernel-internal, made by traced code's probes): arm64 has none",
    "uretprobe": "x86_64 uretprobe trampoline (kernel-internal): arm64 has none",
    **dict.fromkeys(("create_module", "get_kernel_syms", "query_module", "_sysctl", "uselib"), _GONE),
    "sysfs": "obsolete filesystem-type query; /proc/filesystems replaced it and arm64 never had it",
    "ustat": "obsolete; no libc wraps it any more (statfs gives the same)",
    **dict.fromkeys(("afs_syscall", "getpmsg", "putpmsg", "security", "tuxcall", "vserver",
                     "epoll_ctl_old", "epoll_wait_old"), _NEVER),
}

# Targets that follow from the x86_64 call but do not imply it back (fcntl is far more than dup2).
_ONE_WAY = frozenset({("dup2", "fcntl")})


def _reverse() -> dict[str, tuple[Target, ...]]:
    """aarch64 name -> the x86_64-only calls of its groups; arguments that moved move back."""
    out: dict[str, list[Target]] = {}
    for source, targets in sorted(TO_AARCH64.items()):
        for target in targets:
            if (source, target.name) not in _ONE_WAY:
                back = tuple(sorted((dst, src) for src, dst in target.carry.moved))
                out.setdefault(target.name, []).append(Target(source, Carry(moved=back)))
    return {name: tuple(targets) for name, targets in sorted(out.items())}


# aarch64 name -> the x86_64-only calls that may be the same libc call there (besides the name itself).
TO_X86_64: dict[str, tuple[Target, ...]] = _reverse()

_NAMES = {abi: frozenset(TABLES[abi].values()) for abi in MAPPED_ABIS}


def targets(source_abi: str, target_abi: str, name: str) -> tuple[Target, ...]:
    """What `name` on source_abi is on target_abi: itself (arguments as they are) where the target has it,
    plus the calls TO_AARCH64 / TO_X86_64 give; () when the call has no counterpart there (dropped)."""
    if (source_abi, target_abi) == ("x86_64", "aarch64"):
        more = TO_AARCH64.get(name, ()) + ALSO_ON_AARCH64.get(name, ())
    else:
        more = TO_X86_64.get(name, ()) + ALSO_ON_X86_64.get(name, ())
    same = (Target(name, SAME),) if name in _NAMES[target_abi] else ()
    return same + more


def dropped_reason(source_abi: str, name: str) -> str | None:
    """Why `name` on source_abi has no counterpart on the other host, or None when it has one."""
    return DROPPED_ON_AARCH64.get(name) if source_abi == "x86_64" else None
