"""A Profile compiled by libseccomp (pyseccomp) into the filter the kernel runs, for verify and --base.

The filter is compiled in the parent; a child only loads it (`Compiled.filter.load`) just before its
execve, so the profile governs exactly the workload's syscalls from its execve on, as with runc and crun.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any, Literal

from tracer.errors import UserError
from tracer.profile.seccomp_json import OPERATORS, Profile, effective_errno
from tracer.structs import Struct, field
from tracer.syscalls.abi import ABI_OF_SCMP

_SCMP_COMPARE = {op: i + 1 for i, op in enumerate(OPERATORS)}  # libseccomp's enum scmp_compare


class Compiled(Struct):
    filter: Any
    skipped: list[str] = field(default_factory=list)  # names this libseccomp cannot resolve


_SIMPLE_ACTIONS = {"SCMP_ACT_ALLOW": "ALLOW", "SCMP_ACT_KILL": "KILL", "SCMP_ACT_KILL_THREAD": "KILL_THREAD",
                   "SCMP_ACT_KILL_PROCESS": "KILL_PROCESS", "SCMP_ACT_TRAP": "TRAP", "SCMP_ACT_LOG": "LOG"}


def _action(seccomp: Any, action: str, errno_ret: int | None) -> int:
    if action == "SCMP_ACT_ERRNO":
        return int(seccomp.ERRNO(effective_errno(action, errno_ret)))
    if action == "SCMP_ACT_TRACE":
        return int(seccomp.TRACE(errno_ret or 0))
    if action not in _SIMPLE_ACTIONS:
        raise UserError(f"action {action} cannot be enforced here")
    return int(getattr(seccomp, _SIMPLE_ACTIONS[action]))


LIBSECCOMP = "libseccomp.so.2"  # the system library pyseccomp binds with ctypes


def libseccomp() -> Any:
    """The pyseccomp module (a dependency), or one line naming what is missing.

    pyseccomp finds the system's libseccomp with ctypes.util.find_library when it is imported: it
    raises RuntimeError when there is none, and OSError when the file found cannot be loaded.
    """
    try:
        import pyseccomp
    except ImportError:
        raise UserError("enforcing a profile needs the Python package pyseccomp, a dependency of seccomp-learn: "
                        "reinstall seccomp-learn") from None
    except (RuntimeError, OSError) as exc:
        raise UserError(f"enforcing a profile needs the system library {LIBSECCOMP}, which cannot be loaded ({exc}): "
                        "install it (Debian/Ubuntu: apt-get install libseccomp2; Fedora: dnf install libseccomp)"
                        ) from None
    return pyseccomp


def new_filter(default: Callable[[Any], int], architectures: Iterable[str]) -> tuple[Any, Any]:
    """A libseccomp filter (and the module) with this default action, for the native arch plus these SCMP arches."""
    seccomp = libseccomp()
    filt = seccomp.SyscallFilter(default(seccomp))
    if os.geteuid() == 0:
        filt.set_attr(seccomp.Attr.CTL_NNP, 0)  # as root, keep setuid programs working, as runtimes do
    for arch in architectures:
        if ABI_OF_SCMP.get(arch) != "x86_64":
            filt.add_arch(getattr(seccomp.Arch, arch.removeprefix("SCMP_ARCH_")))
    return filt, seccomp


def compile_profile(profile: Profile) -> Compiled:
    filt, seccomp = new_filter(lambda s: _action(s, profile.default_action, profile.default_errno_ret),
                               profile.architectures)
    out = Compiled(filt)
    for rule in profile.syscalls:
        action = _action(seccomp, rule.action, rule.errno_ret)
        args = [seccomp.Arg(a.index, _SCMP_COMPARE[a.op], a.value, a.value_two) for a in rule.args]
        for name in rule.names:
            try:
                filt.add_rule(action, name, *args)
            except (RuntimeError, ValueError, OSError):
                out.skipped.append(name)  # like runc: a name this libseccomp does not know is skipped
    return out


def export(profile: Profile, kind: Literal["bpf", "pfc"]) -> bytes:
    """The filter libseccomp compiles for the profile: classic BPF (what `bwrap --seccomp FD` loads) or its PFC
    text. The same profile gives the same bytes: libseccomp's output follows the rules' order, which is sorted."""
    compiled = compile_profile(profile)
    with os.fdopen(os.memfd_create("seccomp-learn-export", os.MFD_CLOEXEC), "w+b") as out:
        (compiled.filter.export_bpf if kind == "bpf" else compiled.filter.export_pfc)(out)
        out.seek(0)
        return out.read()
