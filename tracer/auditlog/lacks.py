"""What a profile lacks for the records, and the profile with it added (`audit --add-to`).

The profile is judged as enforced: a complain-mode profile's default SCMP_ACT_LOG lets everything run,
but what it logs is exactly what its rules do not allow. The kernel's records carry no arguments, so a
name the profile allows only under argument rules is reported, never widened here: `seccomp-learn verify
--add-missing` sees the arguments and widens the rule.
"""

from __future__ import annotations

from tracer.auditlog.evidence import Call, Collected, evidence
from tracer.baseline.decide import decide
from tracer.profile.model import Profile, Syscall
from tracer.record import Record, field, replace
from tracer.syscalls.abi import SCMP_ARCH

ADDED = "added by seccomp-learn audit"  # the comment every addition starts with


class Lacking(Record):
    names: dict[Call, str] = field(default_factory=dict)  # (abi, name) -> its evidence: to add
    argument_ruled: dict[Call, str] = field(default_factory=dict)  # allowed for other arguments only
    refused: dict[Call, str] = field(default_factory=dict)  # the profile's own errno rule refuses it (fallbacks)
    arches: list[str] = field(default_factory=list)  # SCMP_ARCH_* of records' ABIs the profile does not list


def enforced(profile: Profile) -> Profile:
    """The profile as it decides when it enforces: a complain-mode default becomes SCMP_ACT_ERRNO (EPERM)."""
    if profile.default_action != "SCMP_ACT_LOG":
        return profile
    return replace(profile, default_action="SCMP_ACT_ERRNO", default_errno_ret=1)


def lacking(profile: Profile, collected: Collected) -> Lacking:
    judged = enforced(profile)
    out = Lacking()
    for call, seen in sorted(collected.calls.items()):
        abi, name = call
        if call in collected.unnamed:
            continue
        arch = SCMP_ARCH.get(abi)
        if arch is not None and judged.architectures and arch not in judged.architectures \
                and arch not in out.arches:
            out.arches.append(arch)
        decision = decide(judged, name)
        if decision.status == "allowed" and (arch is None or arch not in out.arches):
            continue
        target = {"allowed_with_args": out.argument_ruled, "errno": out.refused}.get(decision.status, out.names)
        target[call] = evidence(seen)
    return out


def add_to(profile: Profile, missing: Lacking) -> Profile:
    """The profile, enforced, with one ALLOW rule per lacking name, its comment the records' evidence."""
    rules = list(profile.syscalls)
    names = {name: ev for (_, name), ev in missing.names.items()}
    rules += [Syscall([name], "SCMP_ACT_ALLOW", comment=f"{ADDED}: {ev}") for name, ev in sorted(names.items())]
    return replace(enforced(profile), syscalls=rules, architectures=[*profile.architectures, *missing.arches])
