"""Incremental re-learning (`--base PROFILE`): what PROFILE already allows runs at full speed.

The child installs one filter, compiled by libseccomp: ALLOW for every name PROFILE allows
unconditionally, SECCOMP_RET_TRACE for everything else on every x86 ABI. Only the rest stops in
the tracer. The recording then holds the base's names with a count of 0 (not traced, so not
counted) plus what was traced, and says it was incremental: it cannot show that a base syscall
is no longer needed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tracer.enforce.seccomp_filter import new_filter
from tracer.profile.emit import FLAG_MASK_BITS, OBSERVED, OBSERVED_VALUES
from tracer.profile.model import Profile, Syscall
from tracer.recording.model import ArgValues, Recording, SyscallStats
from tracer.syscalls.abi import ABI_OF_SCMP
from tracer.syscalls.names import is_known, number_of

TRACED_ABIS = ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32")


def base_names(profile: Profile) -> list[str]:
    return sorted({n for rule in profile.syscalls if rule.action == "SCMP_ACT_ALLOW" and not rule.args
                   for n in rule.names})


def base_filter(profile: Profile) -> Callable[[], None]:
    """A loader for the child: allow the base's unconditional names in the kernel, trace the rest."""
    filt, seccomp = new_filter(lambda s: s.TRACE(0), TRACED_ABIS)
    for name in base_names(profile):
        try:
            filt.add_rule(seccomp.ALLOW, name)
        except (RuntimeError, ValueError, OSError):
            continue  # a name this libseccomp does not know stays traced: slower, still correct
    return filt.load


def _ours(profile: Profile, prefix: str) -> list[Syscall]:
    return [r for r in profile.syscalls if r.comment.startswith(prefix) and r.action == "SCMP_ACT_ALLOW"]


def observed_names(profile: Profile) -> list[str]:
    """The names a base profile needs for its workload: our own profiles say which those are (their extras
    are added again by the emitter); for any other profile, every unconditionally allowed name."""
    ours = _ours(profile, OBSERVED)
    return sorted({n for r in ours for n in r.names}) if ours else base_names(profile)


def observed_values(profile: Profile) -> dict[str, dict[int, ArgValues]]:
    """The argument values our base profile's argument rules allow, as the recording holds them, so that
    the emitter writes the same rules again: EQ values, and the flag bits a MASKED_EQ rule leaves open."""
    seen: dict[str, dict[int, ArgValues]] = {}
    for rule in _ours(profile, OBSERVED_VALUES):
        args = seen.setdefault(rule.names[0], {})
        for cond in rule.args:
            if cond.op == "SCMP_CMP_EQ":
                args.setdefault(cond.index, ArgValues()).add(cond.value)
            elif cond.op == "SCMP_CMP_MASKED_EQ" and cond.value_two == 0:
                values = args.setdefault(cond.index, ArgValues(bits=0))
                values.bits = (values.bits or 0) | (~cond.value & FLAG_MASK_BITS)
    return seen


def add_base(rec: Recording, profile: Profile, source: str) -> Recording:
    """Record the base's names and argument values (count 0: allowed in the kernel or re-learnt, not
    counted) and mark the run incremental."""
    run = rec.runs[-1]
    values = observed_values(profile)
    abis = [ABI_OF_SCMP[a] for a in profile.architectures if a in ABI_OF_SCMP] or ["x86_64"]
    for abi in abis:
        table = rec.abis.setdefault(abi, {})
        for name in [*observed_names(profile), *values]:
            nr = number_of(abi, name)
            if nr is None or not is_known(abi, name):
                continue
            stats = table.setdefault(name, SyscallStats(nr=nr))
            stats.counts.setdefault(run.id, 0)
            for index, allowed in values.get(name, {}).items():
                stats.args.setdefault(index, ArgValues(bits=None if allowed.bits is None else 0)).update(allowed)
    run.extra["incremental_base"] = {"profile": source, "allowed_in_kernel": len(base_names(profile))}
    return rec


@dataclass(frozen=True)
class Base:
    """The profile given to --base, loaded once: the filter it makes and what it adds to the recording."""

    source: str
    profile: Profile

    @classmethod
    def load(cls, path: str) -> Base:
        from tracer.baseline import load_profile_file

        return cls(path, load_profile_file(path))

    def filter(self) -> Callable[[], None]:
        return base_filter(self.profile)

    def add_to(self, rec: Recording) -> Recording:
        return add_base(rec, self.profile, self.source)
