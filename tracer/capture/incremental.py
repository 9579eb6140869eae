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
from tracer.profile.policy import FLAG_MASK_BITS, observed_rule_names, observed_value_rules
from tracer.profile.seccomp_json import Profile
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

    def needed_names(self) -> set[str]:
        """The names the base's workload needs: our own profiles say which they observed (their extras
        are added again by the emitter); for any other profile, every unconditionally allowed name."""
        observed = observed_rule_names(self.profile)
        return self.profile.unconditional_names() if observed is None else observed

    def needed_values(self) -> dict[str, dict[int, ArgValues]]:
        """The argument values our base's argument rules allow, as a recording holds them, so that the
        emitter writes the same rules again: EQ values, and the flag bits a MASKED_EQ rule leaves open."""
        seen: dict[str, dict[int, ArgValues]] = {}
        for rule in observed_value_rules(self.profile):
            args = seen.setdefault(rule.names[0], {})
            for cond in rule.args:
                if cond.op == "SCMP_CMP_EQ":
                    args.setdefault(cond.index, ArgValues()).add(cond.value)
                elif cond.op == "SCMP_CMP_MASKED_EQ" and cond.value_two == 0:
                    values = args.setdefault(cond.index, ArgValues(bits=0))
                    values.bits = (values.bits or 0) | (~cond.value & FLAG_MASK_BITS)
        return seen

    def add_to(self, rec: Recording) -> Recording:
        """Record the base's names and argument values (count 0: allowed in the kernel or re-learnt, not
        counted) and mark the run incremental."""
        run = rec.runs[-1]
        values = self.needed_values()
        abis = [ABI_OF_SCMP[a] for a in self.profile.architectures if a in ABI_OF_SCMP] or ["x86_64"]
        for abi in abis:
            table = rec.abis.setdefault(abi, {})
            for name in sorted(self.needed_names() | set(values)):
                nr = number_of(abi, name)
                if nr is None or not is_known(abi, name):
                    continue
                stats = table.setdefault(name, SyscallStats(nr=nr))
                stats.counts.setdefault(run.id, 0)
                for index, allowed in values.get(name, {}).items():
                    stats.args.setdefault(index, ArgValues(bits=None if allowed.bits is None else 0)).update(allowed)
        untraced = sorted(self.profile.unconditional_names())
        run.incremental_base = IncrementalBase(self.source, len(untraced), tuple(untraced))
        return rec
