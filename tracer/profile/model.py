"""The profile model: a tiny typed mirror of the Docker/OCI seccomp JSON (after moby's `seccomp` types).

It holds no policy. `tracer.emit` builds a Profile from a Recording; `tracer.formats` turn it into
bytes; `tracer.baseline` resolves Docker-style includes/excludes into one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
OPERATORS = (
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
)


@dataclass(frozen=True, order=True)
class Arg:
    """One condition on a syscall argument. For MASKED_EQ, value is the mask and value_two the datum."""

    index: int
    value: int
    op: str
    value_two: int = 0


@dataclass
class Syscall:
    """One rule: these names, under these argument conditions (ANDed), get this action."""

    names: list[str]
    action: str
    args: list[Arg] = field(default_factory=list)
    errno_ret: int | None = None
    comment: str = ""


@dataclass
class Profile:
    default_action: str = "SCMP_ACT_ERRNO"
    default_errno_ret: int | None = 1
    architectures: list[str] = field(default_factory=list)
    syscalls: list[Syscall] = field(default_factory=list)

    def names(self, action: str | None = None) -> set[str]:
        """Every name a rule mentions (optionally only rules with this action)."""
        return {n for rule in self.syscalls if action in (None, rule.action) for n in rule.names}
