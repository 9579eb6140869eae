"""What a profile does with one syscall name, as seccomp would decide it (see docs/architecture.md)."""

from __future__ import annotations

import errno as errno_names
from typing import Literal

from tracer.profile.seccomp_json import ALLOWING_ACTIONS, Arg, Profile, effective_errno
from tracer.structs import Struct

DecisionStatus = Literal["allowed", "allowed_with_args", "errno", "blocked"]


class Decision(Struct, frozen=True):
    """What a profile does with one syscall name.

    status: "allowed" (unconditional allow), "allowed_with_args" (allowed only when one of `args` holds;
    each alternative is ANDed), "errno" (an explicit rule returns `errno_ret`), or "blocked" (another
    deny rule, or the default action). `action` is the action that applies.
    """

    status: DecisionStatus
    action: str
    errno_ret: int | None = None
    args: tuple[tuple[Arg, ...], ...] = ()

    @property
    def allows(self) -> bool:
        """The call can run, outright or under argument conditions."""
        return self.status in ("allowed", "allowed_with_args")


def refusal_text(action: str, errno_ret: int | None) -> str:
    """What a refusal does, in words: "EPERM", "errno 4095", or the action ("kill_process")."""
    if errno_ret is not None:
        return errno_names.errorcode.get(errno_ret, f"errno {errno_ret}")
    return action.removeprefix("SCMP_ACT_").lower()


def _status_of_action(action: str) -> DecisionStatus:
    if action in ALLOWING_ACTIONS:
        return "allowed"
    return "errno" if action == "SCMP_ACT_ERRNO" else "blocked"


def decide(profile: Profile, name: str) -> Decision:
    """What `profile` does with `name`. An unconditional rule wins (the first one, if several);
    otherwise conditional allow rules are alternatives (ORed); otherwise the default action applies."""
    rules = [r for r in profile.syscalls if name in r.names]
    for r in rules:
        if not r.args:
            return Decision(_status_of_action(r.action), r.action, effective_errno(r.action, r.errno_ret))
    allows = [r for r in rules if r.action in ALLOWING_ACTIONS]
    if allows:
        return Decision("allowed_with_args", allows[0].action, None, tuple(tuple(r.args) for r in allows))
    if rules:  # only conditional deny rules: report the first rule's action and its conditions
        first = rules[0]
        alts = tuple(tuple(r.args) for r in rules if r.action == first.action)
        return Decision(_status_of_action(first.action), first.action,
                        effective_errno(first.action, first.errno_ret), alts)
    act = profile.default_action
    status: DecisionStatus = "allowed" if act in ALLOWING_ACTIONS else "blocked"
    return Decision(status, act, effective_errno(act, profile.default_errno_ret))
