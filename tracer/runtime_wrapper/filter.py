"""The container's seccomp filter as the recording needs it: left alone (ebpf), or turned into the ptrace
recording filter, where what it allows stops in the tracer.

Under the ebpf backend (recorder.py) the kernel's programs count a task's calls from the moment its
seccomp mode is set, which the runtime does right before the container's exec: the container keeps
its own `linux.seccomp` unchanged, and one without (`seccomp=unconfined`) gets `allow_all`, a filter
that allows every call on every ABI of the machine, only as that trigger (its one effect beyond it:
like any filter without SPEC_ALLOW it switches on the speculative-store-bypass mitigation).

Under ptrace:

The runtime loads `linux.seccomp` itself, at the point where it would load any profile. Every action
that lets a call through (SCMP_ACT_ALLOW, SCMP_ACT_LOG) becomes SCMP_ACT_TRACE, so each allowed call is
one PTRACE_EVENT_SECCOMP stop for the tracer that holds the runtime; every other action (errno, kill,
trap, notify) and every argument condition is kept as it was, so the container is never given more
than its profile allows. The profile's own SCMP_ACT_TRACE, which without a tracer makes the kernel
skip the call and return ENOSYS, becomes exactly that (SCMP_ACT_ERRNO with ENOSYS): the wrapper's
tracer would otherwise let it run. A LOG rule's call runs as before, but the kernel's audit record of
it is not written while learning (the recording holds it instead). No `linux.seccomp` (Docker's
`seccomp=unconfined`) becomes a filter that traces everything on the native ABI and its compat ABIs.
(It has no SPEC_ALLOW flag, which runc 1.1 refuses; like the profile that will be enforced later, it
switches on the kernel's speculative-store-bypass mitigation for the container.)

SCMP_ACT_TRACE without a tracer makes every call fail with ENOSYS, so a container under this filter
must stay traced for its whole life (the tracer uses PTRACE_O_EXITKILL).
"""

from __future__ import annotations

import errno
import platform
from typing import Any

from tracer.errors import UserError

TRACE = "SCMP_ACT_TRACE"
PASSES = frozenset({"SCMP_ACT_ALLOW", "SCMP_ACT_LOG"})  # actions that let the call run
ERRNO = "SCMP_ACT_ERRNO"
# The ABIs a task on this machine can call, native first (an unlisted one would be killed by libseccomp).
ARCHES = {"x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
          "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]}


def _arches() -> list[str]:
    machine = platform.machine()
    if machine not in ARCHES:
        raise UserError(f"no seccomp architecture list for machine {machine!r}")
    return ARCHES[machine]


def allow_all() -> dict[str, Any]:
    """The ebpf trigger for a container without a profile: every call allowed, as without a filter."""
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": _arches()}


def recording_filter(seccomp: dict[str, Any] | None) -> dict[str, Any]:
    """The linux.seccomp object to give the runtime instead of `seccomp` (None: unconfined)."""
    if seccomp is None:
        return {"defaultAction": TRACE, "architectures": _arches()}
    out = _traced(seccomp, "defaultAction", "defaultErrnoRet", "linux.seccomp.defaultAction")
    rules = seccomp.get("syscalls", [])
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise UserError("'linux.seccomp.syscalls' is not a list of objects")
    out["syscalls"] = [_traced(rule, "action", "errnoRet", f"linux.seccomp.syscalls[{i}].action")
                       for i, rule in enumerate(rules)]
    if not out["syscalls"]:
        del out["syscalls"]
    return out


def _traced(entry: dict[str, Any], key: str, errno_key: str, where: str) -> dict[str, Any]:
    """A copy of the profile or rule whose action does under the wrapper's tracer what it did without."""
    action = entry.get(key)
    if not isinstance(action, str) or not action.startswith("SCMP_ACT_"):
        raise UserError(f"'{where}' is not a seccomp action: {action!r}"[:200])
    if action == TRACE:
        return {**entry, key: ERRNO, errno_key: errno.ENOSYS}
    return {**entry, key: TRACE if action in PASSES else action}


def with_filter(config: dict[str, Any], ebpf: bool = False) -> dict[str, Any]:
    """config with the linux.seccomp the recording needs (config itself is not changed): under ebpf its
    own or allow_all, under ptrace the recording filter."""
    linux = config.get("linux") or {}
    seccomp = linux.get("seccomp")
    if ebpf:
        return config if seccomp is not None else {**config, "linux": {**linux, "seccomp": allow_all()}}
    return {**config, "linux": {**linux, "seccomp": recording_filter(seccomp)}}
