"""Incremental re-learning (`--base PROFILE`): what PROFILE already allows runs at full speed.

The child installs one filter, compiled by libseccomp: ALLOW for every name PROFILE allows
unconditionally, SECCOMP_RET_TRACE for everything else on every x86 ABI. Only the rest stops in
the tracer. The recording then holds the base's names with a count of 0 (not traced, so not
counted) plus what was traced, and says it was incremental: it cannot show that a base syscall
is no longer needed. See docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable

from tracer.kernel.seccomp_filter import new_filter
from tracer.profile.policy import FLAG_MASK_BITS
from tracer.profile.seccomp_json import ALLOWING_ACTIONS, Profile, Syscall
from tracer.recording.schema import ArgValues, IncrementalBase, Recording, SyscallStats
from tracer.structs import Struct
from tracer.syscalls.abi import ABI_OF_SCMP
from tracer.syscalls.names import is_known, number_of

TRACED_ABIS = ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32")


class BaseProfile(Struct, frozen=True):
    """The profile given to --base, read once: the filter it makes and what it adds to the recording."""

    source: str
    profile: Profile

    @classmethod
    def load(cls, path: str) -> BaseProfile:
        from tracer.baseline.profile_file import load_profile_file  # on use: a run without --base does not pay for it

        return cls(path, load_profile_file(path))

    def filter(self) -> Callable[[], None]:
        """A loader for the child: allow the base's unconditional names in the kernel, trace the rest."""
        filt, seccomp = new_filter(lambda s: s.TRACE(0), TRACED_ABIS)
        for name in sorted(self.profile.unconditional_names()):
            try:
                filt.add_rule(seccomp.ALLOW, name)
            except (RuntimeError, ValueError, OSError):
                continue  # a name this libseccomp does not know stays traced: slower, still correct
        return filt.load

    def needed(self) -> dict[str, dict[int, ArgValues]]:
        """What the base lets run, from its rules alone (names, actions, conditions; never comments): every name
        an allowing rule lists, with the argument values a recording would hold for it, so that `emit` writes
        the same rules again (docs/tracing.md, --base)."""
        rules: dict[str, list[Syscall]] = {}
        for rule in self.profile.syscalls:
            if rule.action in ALLOWING_ACTIONS:
                for name in rule.names:
                    rules.setdefault(name, []).append(rule)
        return {name: _allowed_values(its) for name, its in sorted(rules.items())}

    def add_to(self, rec: Recording) -> Recording:
        """Record the base's names and argument values (count 0: allowed in the kernel or re-learnt, not
        counted) and mark the run incremental."""
        run = rec.runs[-1]
        needed = self.needed()
        abis = [ABI_OF_SCMP[a] for a in self.profile.architectures if a in ABI_OF_SCMP] or ["x86_64"]
        for abi in abis:
            table = rec.abis.setdefault(abi, {})
            for name, values in needed.items():
                nr = number_of(abi, name)
                if nr is None or not is_known(abi, name):
                    continue
                stats = table.setdefault(name, SyscallStats(nr=nr))
                stats.counts.setdefault(run.id, 0)
                for index, allowed in values.items():
                    stats.args.setdefault(index, ArgValues(bits=None if allowed.bits is None else 0)).update(allowed)
        untraced = sorted(self.profile.unconditional_names())
        run.incremental_base = IncrementalBase(self.source, len(untraced), tuple(untraced))
        return rec


def _allowed_values(rules: list[Syscall]) -> dict[int, ArgValues]:
    """The argument values the allowing rules of one name let through, as a recording holds them: an argument
    every rule limits, each with SCMP_CMP_EQ (values) or SCMP_CMP_MASKED_EQ to 0 (a flag word: the bits the mask
    leaves open; an EQ value beside it adds its bits). An argument some rule leaves free, or limits otherwise
    (NE, LT, a MASKED_EQ to another datum), is free: no values, and `emit` writes no rule on it (wider, never
    narrower, than the base)."""
    limited: dict[int, ArgValues] = {}
    for index in sorted({cond.index for rule in rules for cond in rule.args}):
        conds = [[c for c in rule.args if c.index == index] for rule in rules]
        flat = [c for per_rule in conds for c in per_rule]
        if not all(conds) or any(c.op != "SCMP_CMP_EQ" and (c.op, c.value_two) != ("SCMP_CMP_MASKED_EQ", 0)
                                 for c in flat):
            continue
        masked = [c for c in flat if c.op == "SCMP_CMP_MASKED_EQ"]
        if masked:
            bits = 0
            for c in flat:
                bits |= ~c.value & FLAG_MASK_BITS if c.op == "SCMP_CMP_MASKED_EQ" else c.value
            limited[index] = ArgValues(bits=bits)
        else:
            limited[index] = ArgValues()
            for c in flat:
                limited[index].add(c.value)
    return limited
