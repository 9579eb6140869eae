"""Syscalls a profile needs that tracing the workload cannot show, as versioned data.

Each group is a named, switchable extra; the emitter adds it as its own rule with a comment and
the report says why. Runtime lists were measured on Debian 12 (crun 1.8.1, runc 1.1.5, podman
4.3.1) with Docker's default settings (no-new-privileges off): the syscalls the runtime itself
makes after loading the filter and before the workload's first instruction.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Runtime:
    name: str
    measured: str  # the runtime and version the list was measured with
    needs: tuple[str, ...]  # made on every start
    sometimes: tuple[str, ...] = ()  # made depending on timing; still needed


_CRUN = Runtime(
    "crun",
    "crun 1.8.1",
    ("capset", "close", "execve", "prctl", "rt_sigaction", "rt_sigprocmask", "setresgid", "setresuid", "write"),
)
_RUNC = Runtime(
    "runc",
    "runc 1.1.5",
    ("capget", "capset", "chdir", "execve", "faccessat2", "fstat", "fstatfs", "getcwd", "getdents64", "getppid",
     "prctl", "setgid", "setgroups", "setuid", "write"),
    ("close", "epoll_ctl", "fcntl", "futex", "getpid", "newfstatat", "openat", "read", "rt_sigreturn"),
)
RUNTIMES: dict[str, Runtime] = {
    "crun": _CRUN,
    "runc": _RUNC,
    "docker": Runtime("docker", "Docker 28 with runc 1.1.5", _RUNC.needs, _RUNC.sometimes),
    "podman": Runtime("podman", "podman 4.3.1 with crun 1.8.1", (*_CRUN.needs, "pselect6", "read")),
    "none": Runtime("none", "", ()),
}

# Without exit_group a container hangs at exit; signal handlers return through rt_sigreturn.
ALWAYS = ("exit", "exit_group", "restart_syscall", "rt_sigreturn")

# Answered by the vDSO on x86_64, so no tracer sees them; real syscalls where there is no vDSO.
VDSO = ("clock_getres", "clock_gettime", "getcpu", "gettimeofday", "time")

# Newer variant -> the older syscall libc falls back to when the newer one returns ENOSYS.
FALLBACKS: dict[str, tuple[str, ...]] = {
    "clone3": ("clone",),
    "close_range": ("close",),
    "epoll_pwait2": ("epoll_pwait",),
    "faccessat2": ("faccessat", "access"),
    "fchmodat2": ("fchmodat",),
    "openat2": ("openat", "open"),
    "renameat2": ("renameat", "rename"),
    "statx": ("newfstatat", "fstat", "stat", "lstat"),
}
