"""Recording -> Profile: the smallest allowlist the workload (and its container runtime) needs.

Policy lives here; the model is profile/seccomp_json.py, the bytes are profile/formats/. Rules follow
Docker's own patterns: one sorted unconditional ALLOW rule for what was observed, an entry per
value for value sets (SCMP_CMP_EQ, ORed by being separate entries), SCMP_CMP_MASKED_EQ for flag
words, never two conditions on one argument index in one entry, then one rule per extra.
"""

from __future__ import annotations

import errno
from typing import Literal

from tracer.errors import UserError
from tracer.profile import extras
from tracer.profile.companions import COMPANIONS, Trigger
from tracer.profile.multiarch import Mapping, map_recording
from tracer.profile.seccomp_json import Arg, Profile, Syscall
from tracer.recording.schema import ArgValues, Recording
from tracer.structs import Struct, field
from tracer.syscalls.abi import ABI_ALIASES, SCMP_ARCH, abi_sort_key
from tracer.syscalls.info import filterable_args
from tracer.syscalls.names import is_known

DEFAULT_ACTIONS = {
    "errno": "SCMP_ACT_ERRNO",
    "kill": "SCMP_ACT_KILL",
    "kill_process": "SCMP_ACT_KILL_PROCESS",
    "trap": "SCMP_ACT_TRAP",
    "log": "SCMP_ACT_LOG",
}
# Arguments that get rules by default: those whose values decide what a container can reach
# (namespaces, address families, execution domains, process control). Arguments that vary
# with the environment (ioctl requests on a tty, open flags, futex ops) stay unconditional:
# a rule on them breaks a workload in production for little gain.
RULE_ARGS = frozenset({
    ("arch_prctl", 0), ("bpf", 0), ("clone", 0), ("keyctl", 0), ("personality", 0), ("prctl", 0),
    ("ptrace", 0), ("seccomp", 0), ("setns", 1), ("socket", 0), ("socketpair", 0), ("unshare", 0),
})
ExtraKind = Literal["runtime", "always", "vdso", "companion", "listed", "threads", "fallback"]
# The comments that start the rule of observed names and each argument rule (the report's limits tell the
# workload's own argument rules from an extra's by them; --base reads only the rules).
OBSERVED = "observed in"
OBSERVED_VALUES = "observed values only"
MAPPED = "mapped for"  # the comment that starts a rule of names another host needs for the observed calls
# What --allow-threads and --allow-spawn add to clone's flag rule: the flags glibc 2.36 passes for
# pthread_create, and for posix_spawn/vfork (after clone3 got ENOSYS from the fallback rule).
THREAD_FLAGS = 0x3D0F00  # CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
# ... and the calls a thread's start and end make that a single-threaded run need not (fixtures/threads.c
# under strace -f: the new thread's stack and guard page, its robust list and rseq area, the join's futex, the
# stack's release with madvise(MADV_DONTNEED), the thread's own exit).
THREAD_CALLS = ("exit", "futex", "madvise", "mmap", "mprotect", "munmap", "rseq", "rt_sigprocmask", "set_robust_list")
SPAWN_FLAGS = 0x4100  # CLONE_VM|CLONE_VFORK (the exit signal, SIGCHLD, is in the low byte every fork has)
FAMILY_ARGS = frozenset({("socket", 0)})  # what --allow-family adds to (socketpair is AF_UNIX only)
MAX_RULE_VALUES = 16  # more distinct values than this and the syscall stays unconditional
FLAG_MASK_BITS = 0xFFFFFFFF  # flag arguments are C ints: only their low 32 bits are meaningful


class EmitOptions(Struct):
    default_action: str = "errno"
    errno: int = 1
    arches: list[str] | None = None  # extra ABIs to list beyond the observed ones
    args: bool = True
    runtime: str = "docker"
    runtime_list: extras.Runtime | None = None  # --runtime-profile: a list measured here, instead of runtime's
    always: bool = True
    fallback: bool = True
    portable: bool = False  # add the vDSO group
    complain: bool = False  # default SCMP_ACT_LOG: a rollout logs what the rules miss and refuses nothing
    companions: bool = True  # add profile/companions.py's calls whose trigger was observed
    allow: list[str] = field(default_factory=list)  # names allowed whether or not a run calls them (ci `allow:`)
    allow_threads: bool = False  # clone's flag rule also lets glibc start threads (THREAD_FLAGS)
    allow_spawn: bool = False  # ... and posix_spawn/vfork children (SPAWN_FLAGS)
    allow_families: tuple[int, ...] = ()  # socket/socketpair value rules also allow these address families


class Extra(Struct):
    """A group of names added beyond what was observed, and why."""

    kind: ExtraKind
    reason: str
    names: list[str]
    # name -> (argument index, values): names the extra allows only for these values (a runtime's prctl
    # options), in rules of their own
    values: dict[str, tuple[int, tuple[int, ...]]] = field(default_factory=dict)

    def text(self, name: str) -> str:
        """The name, with the values it is limited to: 'prctl (arg0 in 8, 24, 47)'."""
        if name not in self.values:
            return name
        index, values = self.values[name]
        return f"{name} (arg{index} in {', '.join(map(str, values))})"


class Emitted(Struct):
    profile: Profile
    extras: list[Extra] = field(default_factory=list)
    unnamed: list[tuple[str, int]] = field(default_factory=list)  # (abi, nr) left out: no name to write
    mappings: list[Mapping] = field(default_factory=list)  # what each listed host got from another's calls
    base_extras: set[str] = field(default_factory=set)  # names only a --base gave that the extras allow: theirs


def parse_arches(spec: str) -> list[str]:
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        if part not in ABI_ALIASES:
            raise UserError(f"unknown architecture {part!r} (known: {', '.join(sorted(ABI_ALIASES))})", "--arch")
        out.append(ABI_ALIASES[part])
    return out


def emit(rec: Recording, opts: EmitOptions | None = None) -> Emitted:
    opts = opts or EmitOptions()
    if opts.default_action not in DEFAULT_ACTIONS:
        raise UserError(f"unknown default action {opts.default_action!r}", "--default-action")
    if opts.runtime not in extras.RUNTIMES:
        raise UserError(f"unknown runtime {opts.runtime!r} (known: {', '.join(extras.RUNTIMES)})", "--runtime")
    if opts.complain and opts.default_action not in ("errno", "log"):
        raise UserError(f"--complain logs every call the rules do not allow: it cannot be combined with "
                        f"--default-action {opts.default_action}", "--complain")
    if not 0 <= opts.errno <= 4095:
        raise UserError(f"errno {opts.errno} is out of range 0-4095", "--errno")
    abis = sorted({abi for abi in rec.abis if rec.names(abi)} | set(opts.arches or ()), key=abi_sort_key)
    unsupported = [abi for abi in abis if abi not in SCMP_ARCH]
    if unsupported:
        raise UserError(f"no seccomp architecture for ABI {unsupported[0]!r}")
    untraced = _untraced(rec)
    seen = rec.all_names()
    rec, mappings = map_recording(rec, abis)
    groups = _extras(opts) + (_companions(rec, rec.all_names() - untraced) if opts.companions else [])
    # Names an ALLOW extra lists are allowed by that extra's rules alone, whether or not this run
    # happened to call them: a name that comes and goes between runs never moves between rules, and
    # the runtime's own calls reach the kernel whatever values the workload used. A runtime's
    # argument-ruled names (prctl) are allowed for the values it was measured to pass, beside the
    # workload's own argument rule.
    limited = {n for extra in groups for n in extra.values}
    extra_allowed = {n for extra in groups for n in extra.names} - limited
    # A name only a --base gave (its rules, which do not say which of them were extras) that these extras
    # allow anyway stays theirs, as in the base: re-learning with the same needs gives the same bytes.
    theirs = {n for n in untraced if n in extra_allowed or _only_extra_values(rec, n, groups)}
    seen -= theirs
    observed = rec.all_names() - theirs
    fallback = _fallbacks(observed | extra_allowed | limited) if opts.fallback else []
    conditional = [rule for rule in _arg_rules(rec, abis, observed, opts) if rule.names[0] not in extra_allowed] \
        if opts.args else []
    ruled = {rule.names[0] for rule in conditional} | extra_allowed
    # Complain mode needs nothing else: an argument-ruled name whose arguments match no rule falls through to the
    # default, so it is logged too.
    action = "SCMP_ACT_LOG" if opts.complain else DEFAULT_ACTIONS[opts.default_action]
    profile = Profile(
        default_action=action,
        default_errno_ret=opts.errno if action == "SCMP_ACT_ERRNO" else None,
        architectures=[SCMP_ARCH[abi] for abi in abis],
    )
    if seen - ruled:
        profile.syscalls.append(Syscall(sorted(seen - ruled), "SCMP_ACT_ALLOW", comment=f"{OBSERVED} {_runs(rec)}"))
    profile.syscalls.extend(_mapped_rules(mappings, observed - ruled - seen))
    profile.syscalls.extend(conditional)
    out = Emitted(profile, unnamed=rec.unnamed(), mappings=mappings, base_extras=theirs)
    for extra in [*groups, *fallback]:
        unconditional = profile.unconditional_names()
        extra.values = {n: v for n, v in extra.values.items() if n not in unconditional}
        taken = profile.names() - set(extra.values)
        extra.names = [n for n in extra.names if n not in taken]
        if not extra.names:
            continue
        out.extras.append(extra)
        if extra.kind == "fallback":
            profile.syscalls.append(Syscall(extra.names, "SCMP_ACT_ERRNO", errno_ret=errno.ENOSYS,
                                            comment=extra.reason))
            continue
        plain = [n for n in extra.names if n not in extra.values]
        if plain:
            profile.syscalls.append(Syscall(plain, "SCMP_ACT_ALLOW", comment=extra.reason))
        profile.syscalls.extend(_value_rules(profile, extra))
    check_names(profile, abis)
    return out


def _value_rules(profile: Profile, extra: Extra) -> list[Syscall]:
    """One EQ rule per value an extra limits a name to, leaving out values a rule already allows alone."""
    rules = []
    for name, (index, values) in sorted(extra.values.items()):
        alone = {(rule.args[0].index, rule.args[0].value) for rule in profile.syscalls if name in rule.names
                 and rule.action == "SCMP_ACT_ALLOW" and len(rule.args) == 1 and rule.args[0].op == "SCMP_CMP_EQ"}
        rules += [Syscall([name], "SCMP_ACT_ALLOW", args=[Arg(index, v, "SCMP_CMP_EQ")],
                          comment=f"{extra.reason} (only the values it passes)")
                  for v in values if (index, v) not in alone]
    return rules


def _mapped_rules(mappings: list[Mapping], names: set[str]) -> list[Syscall]:
    """One rule per host for the names only mapping gave it, each with its source names in the comment."""
    rules = []
    for m in mappings:
        mine = sorted(n for n in m.names if n in names)
        names -= set(mine)
        if mine:
            pairs = ", ".join(f"{n}<-{'/'.join(m.names[n])}" for n in mine)
            rules.append(Syscall(mine, "SCMP_ACT_ALLOW", comment=f"{MAPPED} {m.abi} from {m.source}: {pairs}"))
    return rules


def _runs(rec: Recording) -> str:
    """How many runs a rule rests on. Run ids stay in the recording: they hold times and pids, and the
    same behaviour must give a byte-identical profile."""
    return "1 run" if len(rec.runs) == 1 else f"{len(rec.runs)} runs"


def _merged_args(rec: Recording, abis: list[str], name: str) -> dict[int, ArgValues]:
    merged: dict[int, ArgValues] = {}
    for abi in abis:
        stats = rec.abis.get(abi, {}).get(name)
        if stats is None:
            continue
        specs = {s.index for s in filterable_args(abi, name)}
        for index in specs:
            seen = stats.args.get(index)
            if seen is None:  # an ABI where the argument was not recorded: no rule can be safe
                merged[index] = ArgValues(many=True)
                continue
            merged.setdefault(index, ArgValues(bits=None if seen.bits is None else 0)).update(seen)
    return merged


def _arg_rules(rec: Recording, abis: list[str], observed: set[str], opts: EmitOptions) -> list[Syscall]:
    """Argument rules for observed syscalls whose rule-worthy arguments took few values, widened by
    --allow-threads, --allow-spawn and --allow-family."""
    widened_bits = (THREAD_FLAGS if opts.allow_threads else 0) | (SPAWN_FLAGS if opts.allow_spawn else 0)
    rules: list[Syscall] = []
    for name in sorted(observed):
        args = _merged_args(rec, abis, name)
        flag_conds: list[Arg] = []
        value_arg: tuple[int, list[int]] | None = None
        for index, seen in sorted(args.items()):
            if (name, index) not in RULE_ARGS or seen.many:
                continue
            if seen.bits is not None:
                mask = ~(seen.bits | (widened_bits if (name, index) == ("clone", 0) else 0)) & FLAG_MASK_BITS
                if mask:
                    flag_conds.append(Arg(index, mask, "SCMP_CMP_MASKED_EQ", 0))
            elif value_arg is None and 0 < len(seen.values) <= MAX_RULE_VALUES:
                extra = set(opts.allow_families) if (name, index) in FAMILY_ARGS else set()
                value_arg = (index, sorted(seen.values | extra))
        if value_arg is None and not flag_conds:
            continue
        reason = f"{OBSERVED_VALUES} ({_runs(rec)})"
        if value_arg is None:
            rules.append(Syscall([name], "SCMP_ACT_ALLOW", args=flag_conds, comment=reason))
            continue
        index, values = value_arg
        rules.extend(
            Syscall([name], "SCMP_ACT_ALLOW", args=sorted([Arg(index, v, "SCMP_CMP_EQ"), *flag_conds]), comment=reason)
            for v in values
        )
    return rules


def _extras(opts: EmitOptions) -> list[Extra]:
    """The ALLOW extras the options ask for, each with its whole list."""
    groups: list[Extra] = []
    runtime = opts.runtime_list or extras.RUNTIMES[opts.runtime]
    if runtime.needs or runtime.sometimes:
        values = {name: (index, values) for name, index, values in runtime.arg_values} if opts.args else {}
        groups.append(Extra("runtime", f"runtime: what {runtime.measured} runs after loading the filter, before the "
                            "workload starts", sorted({*runtime.needs, *runtime.sometimes}), values))
    if opts.always:
        groups.append(Extra("always", "always: process exit and signal return, needed by every workload",
                            sorted(extras.ALWAYS)))
    if opts.allow_threads:
        groups.append(Extra("threads", "threads: what glibc calls to start and end a thread (--allow-threads)",
                            sorted(THREAD_CALLS)))
    if opts.portable:
        groups.append(Extra("vdso", "vdso: answered by the vDSO here, real syscalls on hosts without one",
                            sorted(extras.VDSO)))
    if opts.allow:
        groups.append(Extra("listed", "listed: allowed by the configuration whether or not a run calls them "
                            "(calls the workload makes on a timer)", sorted(set(opts.allow))))
    return groups


def _fired(rec: Recording, trigger: Trigger) -> bool:
    for table in rec.abis.values():
        stats = table.get(trigger.name)
        if stats is None:
            continue
        if trigger.index is None:
            return True
        seen = stats.args.get(trigger.index)
        if seen is not None and (seen.many or (seen.bits or 0) & trigger.bits == trigger.bits):
            return True
    return False


def _untraced(rec: Recording) -> set[str]:
    """Names no run counted: only a --base gave them (capture/incremental.py), from the base's rules."""
    counted = {key for table in rec.abis.values() for key, stats in table.items() if any(stats.counts.values())}
    return rec.all_names() - counted


def _only_extra_values(rec: Recording, name: str, groups: list[Extra]) -> bool:
    """Whether the argument values recorded for name are all values an extra allows it (a runtime's prctl)."""
    limits = [extra.values[name] for extra in groups if name in extra.values]
    recorded = [stats.args for table in rec.abis.values() for key, stats in table.items() if key == name]
    return bool(limits) and all(
        args and set(args) <= {index for index, _ in limits}
        and all(a.bits is None and not a.many and a.values <= {v for i, vs in limits if i == index for v in vs}
                for index, a in args.items())
        for args in recorded)


def _companions(rec: Recording, observed: set[str]) -> list[Extra]:
    """One extra per companion row whose trigger the recording shows, with the names it adds that were not
    observed (those stay in the rule of observed names)."""
    out = []
    for row in COMPANIONS:
        fired = [t.text() for t in row.triggers if _fired(rec, t)]
        adds = sorted(set(row.adds) - observed)
        if fired and adds:
            out.append(Extra("companion", f"companion: {' '.join(adds)} because {', '.join(fired)} was observed "
                             f"({row.key}): {row.condition}", adds))
    return out


def _fallbacks(allowed: set[str]) -> list[Extra]:
    """ENOSYS for the newer variant of each allowed syscall, so libc falls back to the allowed one."""
    newer = sorted(new for new, old in extras.FALLBACKS.items() if new not in allowed and allowed & set(old))
    return [Extra("fallback", "fallback: newer variants of allowed syscalls fail with ENOSYS so libc falls back "
                  "instead of failing on the default errno", newer)]


def check_names(profile: Profile, abis: list[str]) -> None:
    """Refuse a name no listed ABI knows: runc, crun and podman would silently ignore it."""
    for name in sorted(profile.names()):
        if not any(is_known(abi, name) for abi in abis):
            raise UserError(f"syscall {name!r} does not exist on {', '.join(abis) or 'any listed architecture'}")
