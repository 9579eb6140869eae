"""Syscalls a profile needs that tracing the workload cannot show, as versioned data.

Each group is a named, switchable extra; the emitter adds it as its own rule with a comment and
the report says why. The runtime lists are what each runtime calls after loading the container's
filter and before the workload's first instruction, with Docker's default settings (root, 14
capabilities, no-new-privileges off). They were measured by tracer/runtime_needs/measure.py on Debian 12
(kernel 6.18) with 30 containers per runtime: the kernel's audit records of a log-everything
filter give the names, an `strace -f` run gives the argument values, and a run with one name
denied tells whether the container starts without it. tests/test_runtime_lists.py re-measures
the installed runtimes and fails when one calls something a list lacks.
"""

from __future__ import annotations

from typing import Any

from tracer.errors import UserError
from tracer.structs import Struct


class Runtime(Struct, frozen=True):
    name: str
    versions: tuple[tuple[str, str], ...]  # (component, upstream version) the lists were measured on
    needs: tuple[str, ...]  # made on every start; the container does not start when this one is denied
    sometimes: tuple[str, ...] = ()  # made on some starts (timing), or denied without harm; still allowed
    # (name, argument index, values): what the runtime passes to argument-ruled names after the filter
    arg_values: tuple[tuple[str, int, tuple[int, ...]], ...] = ()

    @property
    def measured(self) -> str:
        """'runc 1.1.5', 'podman 4.3.1 with crun 1.8.1'."""
        return " with ".join(f"{component} {version}" for component, version in self.versions)

    def differs_from(self, installed: dict[str, str]) -> list[str]:
        """'runc 1.2.0 (lists measured on 1.1.5)' for each component whose installed version is another."""
        return [f"{component} {installed[component]} (lists measured on {version})"
                for component, version in self.versions if installed.get(component, version) != version]


# prctl options: PR_SET_KEEPCAPS (8) around the uid change, PR_CAPBSET_DROP (24) for each capability
# outside the bounding set, PR_CAP_AMBIENT (47, PR_CAP_AMBIENT_LOWER) for each capability.
_PRCTL_OPTIONS = (("prctl", 0, (8, 24, 47)),)
_CRUN_NEEDS = ("capset", "execve", "prctl", "rt_sigaction", "rt_sigprocmask", "setresgid", "setresuid", "write")
_RUNC_NEEDS = ("capget", "capset", "chdir", "close", "execve", "fstat", "fstatfs", "getcwd", "getdents64", "getppid",
               "newfstatat", "openat", "prctl", "read", "setgid", "setgroups", "setuid", "write")
# The Go runtime's calls on the init thread (futex, signal return after a preemption SIGURG, sched_yield
# when its scheduler spins: seen under docker on a loaded 2-core machine), and calls runc survives being
# denied (Go's faccessat2 falls back on EPERM).
_RUNC_SOMETIMES = ("epoll_ctl", "faccessat2", "fcntl", "futex", "getpid", "rt_sigreturn", "sched_yield")
RUNTIMES: dict[str, Runtime] = {
    "crun": Runtime("crun", (("crun", "1.8.1"),), _CRUN_NEEDS, ("close",), _PRCTL_OPTIONS),
    "runc": Runtime("runc", (("runc", "1.1.5"),), _RUNC_NEEDS, _RUNC_SOMETIMES, _PRCTL_OPTIONS),
    # containerd's shim calls `runc create`; the init then waits on its exec FIFO for `runc start`,
    # long enough that the Go runtime always uses futex on that thread.
    "docker": Runtime("docker", (("docker", "20.10.24"), ("runc", "1.1.5")),
                      tuple(sorted({*_RUNC_NEEDS, "futex"})),
                      tuple(sorted(set(_RUNC_SOMETIMES) - {"futex"})), _PRCTL_OPTIONS),
    # conmon calls `crun create`, whose init then waits on its exec FIFO for `crun start`: pselect6, read.
    "podman": Runtime("podman", (("podman", "4.3.1"), ("crun", "1.8.1")),
                      tuple(sorted({*_CRUN_NEEDS, "pselect6", "read"})), ("close",), _PRCTL_OPTIONS),
    "none": Runtime("none", (), ()),
}

def measured_runtime(doc: Any, source: str) -> Runtime:
    """A Runtime from the JSON `seccomp-learn runtime-profile` writes (a list measured on the user's own
    runtime version); anything else is a UserError naming `source`."""
    from tracer.syscalls.names import is_known  # on use: the CLI reads RUNTIMES at start-up

    def fail(problem: str) -> UserError:
        return UserError(f"not a runtime profile: {problem}", source)

    if not isinstance(doc, dict) or not isinstance(doc.get("runtime"), str):
        raise fail("expected an object with a 'runtime' name")
    versions, args = doc.get("versions", {}), doc.get("args", {})
    if not isinstance(versions, dict) or not all(isinstance(v, str) for v in versions.values()):
        raise fail("'versions' must map components to version strings")
    lists = {}
    for key in ("needs", "sometimes"):
        names = doc.get(key, [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise fail(f"{key!r} must be a list of syscall names")
        unknown = [n for n in names if not is_known("x86_64", n)]
        if unknown:
            raise fail(f"{key!r} names {unknown[0]!r}, which is not an x86_64 syscall")
        lists[key] = tuple(sorted(names))
    if not isinstance(args, dict):
        raise fail("'args' must map names to {index: [values]}")
    arg_values = []
    for name, by_index in sorted(args.items()):
        if name not in (*lists["needs"], *lists["sometimes"]) or not isinstance(by_index, dict):
            raise fail(f"'args' names {name!r}, which the lists do not")
        for index, values in sorted(by_index.items()):
            if not str(index).isdigit() or not isinstance(values, list) or \
                    not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                raise fail(f"'args.{name}' must map an argument index to a list of integers")
            arg_values.append((name, int(index), tuple(sorted(values))))
    return Runtime(doc["runtime"], tuple(sorted(versions.items())), lists["needs"], lists["sometimes"],
                   tuple(arg_values))


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
