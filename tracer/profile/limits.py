"""What a profile's argument rules forbid among the common variations of the use they were learned from.

A rule learned from one run allows the values that run passed: `clone` without CLONE_THREAD when no run
started a thread, `socket` for AF_INET but not AF_INET6, `prctl` for the options seen. The same program
run another way (`git gc` starting threads, a resolver trying IPv6) is then denied. The emit summary and
the report say so beforehand, one line per rule, with the option that widens it. mmap and mprotect get
no argument rule (their protections stay unconditional: RULE_ARGS), so they never appear here.
"""

from __future__ import annotations

from tracer.profile.policy import FAMILY_ARGS, OBSERVED, OBSERVED_VALUES, SPAWN_FLAGS
from tracer.profile.seccomp_json import Profile, Syscall
from tracer.structs import Struct

CLONE_THREAD = 0x10000
# The families a program commonly switches between without being told to (IPv6 next to IPv4, a local
# socket, netlink for interfaces and routes), by name for --allow-family.
COMMON_FAMILIES = ("AF_INET6", "AF_INET", "AF_UNIX", "AF_NETLINK")  # the hint names the first denied
# syscalls/constants.py (with python-ptrace) is imported only to name values in a line: a profile with no such
# rule, as `-- /bin/true` learns, never pays for it.


class Limit(Struct, frozen=True):
    name: str  # the syscall
    text: str  # one line: what is denied, why, and how to allow it


def _rules(profile: Profile, name: str) -> list[Syscall]:
    """The ALLOW rules of `name`, when all have conditions and (in a profile of ours) the workload's use made one
    of them: a name only an extra limits (the runtime's prctl options) is not a use the workload varies."""
    rules = [r for r in profile.syscalls if name in r.names and r.action == "SCMP_ACT_ALLOW"]
    if any(not r.args for r in rules):
        return []
    ours = any(r.comment.startswith((OBSERVED, OBSERVED_VALUES)) for r in profile.syscalls)
    if ours and not any(r.comment.startswith(OBSERVED_VALUES) for r in rules):
        return []
    return rules


def _why(rules: list[Syscall], learned: str, other: str) -> str:
    return learned if any(r.comment.startswith(OBSERVED_VALUES) for r in rules) else other


def _clone(profile: Profile) -> list[Limit]:
    rules = _rules(profile, "clone")
    if not rules:
        return []
    masks = []  # a clone call passes when one rule's mask leaves its flags alone
    for rule in rules:
        mask = 0
        for a in rule.args:
            if a.index == 0 and a.op == "SCMP_CMP_MASKED_EQ" and a.value_two == 0:
                mask |= a.value
        masks.append(mask)
    out = []
    if all(m & CLONE_THREAD for m in masks):
        why = _why(rules, "no run started a thread", "its rule masks CLONE_THREAD")
        out.append(Limit("clone", f"clone: threads are denied ({why}); learn a run that does, or `--allow-threads`"))
    if all(m & SPAWN_FLAGS for m in masks):
        why = _why(rules, "no run made one", "its rule masks CLONE_VM|CLONE_VFORK")
        out.append(Limit("clone", f"clone: posix_spawn and vfork children are denied ({why}); learn a run that "
                                  "does, or `--allow-spawn`"))
    return out


def _values(rules: list[Syscall], index: int) -> set[int] | None:
    """The values an EQ rule set lets through at `index`, or None when some rule leaves it open."""
    allowed: set[int] = set()
    for rule in rules:
        eq = [a.value for a in rule.args if a.index == index and a.op == "SCMP_CMP_EQ"]
        if not eq:
            return None
        allowed.update(eq)
    return allowed


def _families(profile: Profile) -> list[Limit]:
    out = []
    for name, index in sorted(FAMILY_ARGS):
        rules = _rules(profile, name)
        allowed = _values(rules, index) if rules else None
        if allowed is None:
            continue
        from tracer.syscalls.constants import ADDRESS_FAMILIES
        numbers = {family: nr for nr, family in ADDRESS_FAMILIES.items()}
        denied = [f for f in COMMON_FAMILIES if numbers[f] not in allowed]
        if denied:
            shown = ", ".join(ADDRESS_FAMILIES.get(v, str(v)) for v in sorted(allowed))
            why = _why(rules, "no run used them", "its rules list the others")
            out.append(Limit(name, f"{name}: {', '.join(denied)} are denied, only {shown} allowed ({why}); learn a "
                                   f"run that uses them, or `--allow-family {denied[0]}`"))
    return out


def _prctl(profile: Profile) -> list[Limit]:
    rules = _rules(profile, "prctl")
    allowed = _values(rules, 0) if rules else None
    if allowed is None:
        return []
    from tracer.syscalls.constants import PRCTL
    shown = ", ".join(PRCTL.get(v) or str(v) for v in sorted(allowed))
    why = _why(rules, "the options the runs and the runtime used", "the options its rules list")
    return [Limit("prctl", f"prctl: every option but {shown} is denied ({why}); learn a run that uses another, "
                           "or `--no-args`")]


def limits(profile: Profile) -> list[Limit]:
    """One Limit per argument rule that forbids a common variation of the observed use."""
    return [*_clone(profile), *_families(profile), *_prctl(profile)]


def family_number(text: str) -> int:
    """An address family as --allow-family takes it: AF_INET6, inet6 or 10; a ValueError says what is known."""
    from tracer.syscalls.constants import ADDRESS_FAMILIES
    name = text.upper() if text.upper().startswith("AF_") else f"AF_{text.upper()}"
    numbers = {family: nr for nr, family in ADDRESS_FAMILIES.items()}
    if name in numbers:
        return numbers[name]
    if text.isdigit() and int(text) in ADDRESS_FAMILIES:
        return int(text)
    raise ValueError(f"unknown address family {text!r} (e.g. {', '.join(COMMON_FAMILIES)})")
