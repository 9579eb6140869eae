"""The profile model: a tiny typed mirror of the Docker/OCI seccomp JSON (after moby's `seccomp` types).

It holds no policy; see docs/architecture.md for who builds, reads and renders it.
"""

from __future__ import annotations

import errno

from tracer.structs import Struct, field

ACTIONS = (
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
)
# Actions that carry an errno (defaultErrnoRet / errnoRet); the runtime spec says others MUST fail.
ERRNO_ACTIONS = ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")
# Actions that let the call run (LOG only logs it).
ALLOWING_ACTIONS = ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG")
# Every comparison, in the order of libseccomp's enum scmp_compare (SCMP_CMP_NE = 1, ...), with the
# symbol reports write it with.
OPERATORS: dict[str, str] = {
    "SCMP_CMP_NE": "!=",
    "SCMP_CMP_LT": "<",
    "SCMP_CMP_LE": "<=",
    "SCMP_CMP_EQ": "==",
    "SCMP_CMP_GE": ">=",
    "SCMP_CMP_GT": ">",
    "SCMP_CMP_MASKED_EQ": "&",
}


def effective_errno(action: str, errno_ret: int | None) -> int | None:
    """The errno an action returns: errnoRet, by the runtime spec EPERM when absent; None if it returns none."""
    if action not in ERRNO_ACTIONS:
        return None
    return errno.EPERM if errno_ret is None else errno_ret


class Arg(Struct, frozen=True, order=True):
    """One condition on a syscall argument. For MASKED_EQ, value is the mask and value_two the datum."""

    index: int
    value: int
    op: str
    value_two: int = 0


class Syscall(Struct):
    """One rule: these names, under these argument conditions (ANDed), get this action."""

    names: list[str]
    action: str
    args: list[Arg] = field(default_factory=list)
    errno_ret: int | None = None
    comment: str = ""


class Profile(Struct):
    default_action: str = "SCMP_ACT_ERRNO"
    default_errno_ret: int | None = 1
    architectures: list[str] = field(default_factory=list)
    syscalls: list[Syscall] = field(default_factory=list)

    def names(self, action: str | None = None) -> set[str]:
        """Every name a rule mentions (optionally only rules with this action)."""
        return {n for rule in self.syscalls if action in (None, rule.action) for n in rule.names}

    def unconditional_names(self) -> set[str]:
        """Names an ALLOW rule lets through whatever their arguments."""
        return {n for rule in self.syscalls if rule.action == "SCMP_ACT_ALLOW" and not rule.args for n in rule.names}

    def allowing_names(self) -> set[str]:
        """Every name a rule lets run (under its argument conditions, if any)."""
        return {n for rule in self.syscalls if rule.action in ALLOWING_ACTIONS for n in rule.names}
