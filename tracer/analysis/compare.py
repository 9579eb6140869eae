"""`seccomp-learn diff`: what a learned profile needs, against what a baseline (Docker's default) allows.

Plain data in (two `Loaded`, analysis/inputs.py), a `DiffResult` out; diff_render.py turns it into the
documented JSON (docs/diff-format.md) or a one-screen report. Only names the x86_64 syscall table knows
are counted: Docker's default lists names of every architecture (`_llseek`, `*_time64`, ...) and
libseccomp skips the ones an ABI lacks, so counting them would inflate the surface a profile "removes".

Two modes: baseline (one input against `--baseline docker|FILE`: needed but not allowed, allowed only
with argument conditions, attack surface removed) and pair (OLD against NEW: added, removed, changed).
"""

from __future__ import annotations

import errno as errno_names
import os
from collections.abc import Iterable, Sequence
from typing import Literal

from tracer.analysis.conditions import ABI, Fit, alternatives_text, arg_json, fits
from tracer.analysis.danger import CAPABILITIES, DANGEROUS, cap_flag, danger_reason
from tracer.analysis.hosts import HostView, host_views
from tracer.analysis.inputs import ARCH, Loaded, Source, load_baseline, load_input
from tracer.baseline.decide import decide, refusal_text
from tracer.baseline.reasons import REASONS
from tracer.baseline.resolve import docker_default, required_capability
from tracer.errors import UserError
from tracer.profile.extras import FALLBACKS
from tracer.profile.seccomp_json import ALLOWING_ACTIONS, Arg, Profile, effective_errno
from tracer.recording.schema import ArgValues, Recording
from tracer.structs import Struct, field
from tracer.syscalls.abi import ABI_ORDER
from tracer.syscalls.info import CLASS_GROUPS, class_of
from tracer.syscalls.names import is_known, numbers

FORMAT = "seccomp-learn-diff"
VERSION = 1
_U64 = (1 << 64) - 1
Mode = Literal["baseline", "pair"]
RemedyKind = Literal["capability", "argument", "fallback", "none"]
NeededFrom = Literal["observed", "profile", "any"]

# ---- the result ---------------------------------------------------------------------------------------


class Hint(Struct):
    """What would make the baseline allow a call."""

    kind: RemedyKind
    text: str  # "--cap-add SYS_ADMIN", the values the baseline accepts, or why nothing does
    capability: str | None = None


class Blocked(Struct):
    """Needed, and the baseline does not allow it at all: the workload fails under the baseline."""

    name: str
    cls: str
    action: str  # what the baseline does instead
    errno: str | None  # "EPERM", "ENOSYS"... for errno actions
    reason: str  # Docker's reason (REASONS), or "" when there is none
    hint: Hint
    falls_back_to: list[str] = field(default_factory=list)  # ENOSYS: allowed older calls libc retries with

    def refusal(self) -> str:
        """What the baseline does instead, in a word: "EPERM", "kill_process"."""
        return self.errno or self.action.removeprefix("SCMP_ACT_").lower()


class Conditional(Struct):
    """Needed, and the baseline allows it only when argument conditions hold."""

    name: str
    cls: str
    baseline: list[list[dict[str, int | str]]]  # alternatives (ORed), each a list of args (ANDed)
    baseline_text: str
    needed: list[list[dict[str, int | str]]] | None  # None: any value (nothing restricts it)
    needed_text: str
    source: NeededFrom  # "observed" (the recording), "profile" (its rules) or "any"
    fits: Fit
    misfits: list[str]  # the needed alternatives the baseline refuses, as text
    hint: Hint | None  # when fits is not "yes"


class ClassSurface(Struct):
    """One class of syscalls: how many the baseline allows, which of them the profile drops."""

    cls: str
    allowed: int  # x86_64 names of this class the baseline (OLD) allows
    kept: int  # of those, names the profile (NEW) needs
    removed: list[str]  # dangerous first, then by name
    dangerous: list[str]


class Kept(Struct):
    """A dangerous syscall the profile still allows, and why it is there."""

    name: str
    cls: str
    risk: str  # why it is dangerous
    why: str  # why the profile has it: what the recording saw, or the rule's own comment
    conditions: str  # the argument conditions it is allowed under, or "any arguments"


class NameEntry(Struct):
    """A name one side allows and the other does not (pair mode: added)."""

    name: str
    cls: str
    dangerous: bool
    decision: str  # what the side that has it does, as text


class ChangedName(Struct):
    """A name both sides allow, under different conditions (pair mode)."""

    name: str
    cls: str
    old: str
    new: str


class DiffSummary(Struct):
    needed: int  # x86_64 names the profile (NEW) allows
    needed_allowed: int  # of those, names the baseline (OLD) allows too: "N needed of M"
    baseline_allowed: int  # M: x86_64 names the baseline allows
    removed: int  # baseline_allowed - needed_allowed
    removed_percent: float
    dangerous_removed: int
    not_allowed: int  # needed, not allowed by the baseline (blocked / added)
    falls_back: int  # of those, calls refused with ENOSYS whose libc fallback the baseline allows
    conditions_unmet: int  # conditional names whose needed values do not fit
    conditions_unknown: int  # conditional names whose fit cannot be told (e.g. the profile allows any value)
    not_counted: list[str]  # names the profile allows that x86_64 does not have


class DiffResult(Struct):
    mode: Mode
    old: Source  # the baseline (baseline mode) or OLD
    new: Source  # the profile (baseline mode) or NEW
    summary: DiffSummary
    blocked: list[Blocked] = field(default_factory=list)  # baseline mode
    conditional: list[Conditional] = field(default_factory=list)  # baseline mode
    removed: list[ClassSurface] = field(default_factory=list)  # both modes
    dangerous_removed: list[dict[str, str]] = field(default_factory=list)  # name, cls, reason
    dangerous_kept: list[Kept] = field(default_factory=list)  # baseline mode
    added: list[NameEntry] = field(default_factory=list)  # pair mode
    changed: list[ChangedName] = field(default_factory=list)  # pair mode
    notes: list[str] = field(default_factory=list)
    hosts: list[HostView] = field(default_factory=list)  # the profile (NEW) per host, when it lists two or more


# ---- the comparison ---------------------------------------------------------------------------------


def _observed(rec: Recording | None, name: str, indexes: set[int]) -> list[tuple[Arg, ...]] | None:
    """The recording's values for the one argument the baseline tests, as alternatives, or None."""
    if rec is None or len(indexes) != 1:
        return None
    stats = rec.abis.get(ABI, {}).get(name)
    index = next(iter(indexes))
    seen: ArgValues | None = stats.args.get(index) if stats else None
    if seen is None:
        return None
    if not seen.many and seen.values:
        return [(Arg(index, v, "SCMP_CMP_EQ"),) for v in sorted(seen.values)]
    if seen.bits is not None:
        return [(Arg(index, ~seen.bits & _U64, "SCMP_CMP_MASKED_EQ", 0),)]
    return None


def decision_text(profile: Profile, name: str) -> str:
    """What a profile does with a name, in words: "allowed", "allowed if ...", "EPERM"."""
    d = decide(profile, name)
    if d.status == "allowed":
        return "allowed"
    if d.status == "allowed_with_args":
        return "allowed if " + alternatives_text(name, d.args)
    return refusal_text(d.action, d.errno_ret)


def _allowed(profile: Profile, names: Iterable[str]) -> set[str]:
    return {n for n in names if decide(profile, n).allows}


def _hint_docker(name: str, baseline: Loaded, cap_ok: bool) -> Hint:
    if cap_ok:
        cap = required_capability(name, ARCH)
        if cap is not None:
            return Hint("capability", cap_flag(cap), cap)
        every = docker_default(ARCH, CAPABILITIES)
        d = decide(every, name)
        if d.status == "allowed_with_args":
            return Hint("argument", "only " + alternatives_text(name, d.args))
        return Hint("none", "nothing: Docker's default never allows it; run with a custom profile "
                            "(--security-opt seccomp=FILE)")
    d = decide(baseline.profile, name)
    if d.status == "allowed_with_args":
        return Hint("argument", "only " + alternatives_text(name, d.args))
    return Hint("none", f"nothing in {baseline.source.path} allows it")


def _surface(base: set[str], needed: set[str]) -> tuple[list[ClassSurface], list[dict[str, str]]]:
    order = {cls: i for i, cls in enumerate(CLASS_GROUPS)}
    rows = []
    for cls in {class_of(n) for n in base}:
        allowed = {n for n in base if class_of(n) == cls}
        removed = allowed - needed
        dangerous = sorted(n for n in removed if n in DANGEROUS)
        rows.append(ClassSurface(cls=cls, allowed=len(allowed), kept=len(allowed & needed),
                                 removed=dangerous + sorted(removed - set(dangerous)), dangerous=dangerous))
    rows.sort(key=lambda r: (-len(r.dangerous), -len(r.removed), order.get(r.cls, len(order))))
    danger = [{"name": n, "cls": r.cls, "reason": danger_reason(n) or ""} for r in rows for n in r.dangerous]
    return rows, danger


def _arch_notes(old: Source, new: Source, mode: Mode) -> list[str]:
    notes = []
    if new.architectures in ([], ["SCMP_ARCH_X86_64"]):
        other = [a for a in old.architectures if a in ("SCMP_ARCH_X86", "SCMP_ARCH_X32")]
        whom = "the baseline" if mode == "baseline" else "OLD"
        also = f"; {whom} allows {' and '.join(other)}" if other else ""
        who = "The profile" if mode == "baseline" else "NEW"
        lists = "lists only SCMP_ARCH_X86_64" if new.architectures else \
            "lists no architectures, so the runtime uses only the native x86_64"
        notes.append(f"{who} {lists}: the kernel refuses the whole 32-bit ABI "
                     f"(i386 int 0x80 and x32 syscalls){also}.")
    elif mode == "pair" and old.architectures != new.architectures:
        notes.append(f"Architectures changed: {', '.join(old.architectures) or 'none'} -> "
                     f"{', '.join(new.architectures) or 'none'}.")
    return notes


def _common(old: Loaded, new: Loaded) -> tuple[set[str], set[str], DiffSummary]:
    """The x86_64 names OLD (the baseline) and NEW allow, and the summary's counts of them."""
    universe = sorted(numbers(ABI))
    base = _allowed(old.profile, universe)
    needed = _allowed(new.profile, universe)
    removed = base - needed
    not_counted = sorted(n for n in new.profile.allowing_names() if not is_known(ABI, n))
    summary = DiffSummary(
        needed=len(needed), needed_allowed=len(needed & base), baseline_allowed=len(base),
        removed=len(removed),
        removed_percent=round(100.0 * len(removed) / len(base), 1) if base else 0.0,
        dangerous_removed=sum(1 for n in removed if n in DANGEROUS), not_allowed=len(needed - base),
        falls_back=0, conditions_unmet=0, conditions_unknown=0, not_counted=not_counted,
    )
    return base, needed, summary


def _source_notes(old: Loaded, new: Loaded, summary: DiffSummary) -> list[str]:
    notes: list[str] = []
    for side in (old, new):
        rec = side.recording
        if rec is not None and rec.partial:
            reasons = "; ".join(r.partial_reason or "?" for r in rec.runs if r.partial)
            notes.append(f"{side.source.path}: the recording is partial ({reasons}); the workload may need "
                         "more.")
        if side.source.unnamed:
            notes.append(f"{side.source.path}: syscall numbers without a name are not in the profile: "
                         f"{', '.join(side.source.unnamed)}.")
    if summary.not_counted:
        notes.append(f"Not counted (not x86_64 syscalls): {', '.join(summary.not_counted)}.")
    return notes


def diff_baseline(new: Loaded, baseline: Loaded) -> DiffResult:
    """One profile against a baseline: what fails, what is conditional, what surface is removed."""
    base, needed, summary = _common(baseline, new)
    is_docker = baseline.source.kind == "docker-default"
    blocked, conditional = [], []
    for name in sorted(needed):
        d = decide(baseline.profile, name)
        if not d.allows:
            errno = None if d.errno_ret is None else errno_names.errorcode.get(d.errno_ret, str(d.errno_ret))
            hint = _hint_docker(name, baseline, is_docker)
            older = [n for n in FALLBACKS.get(name, ()) if decide(baseline.profile, n).allows]
            if errno == "ENOSYS" and older:  # libc retries with the older call, as Docker intends for clone3
                also = f"; {hint.text} allows {name} itself" if hint.kind == "capability" else ""
                hint = Hint("fallback", f"nothing: libc falls back to {', '.join(older)}, which the baseline "
                                        f"allows{also}", hint.capability)
            else:
                older = []
            blocked.append(Blocked(name=name, cls=class_of(name), action=d.action, errno=errno,
                                   reason=REASONS.get(name, "") if is_docker else "", hint=hint,
                                   falls_back_to=older))
        elif d.status == "allowed_with_args":
            conditional.append(_conditional(name, d.args, new, baseline, is_docker))
    summary.conditions_unmet = sum(1 for c in conditional if c.fits == "no")
    summary.conditions_unknown = sum(1 for c in conditional if c.fits == "unknown")
    summary.falls_back = sum(1 for b in blocked if b.falls_back_to)
    removed, danger = _surface(base, needed)
    notes = []
    base_src = baseline.source
    if base_src.names_x86_64 != base_src.names:
        what = "Docker's default" if is_docker else "the baseline"
        notes.append(f"{base_src.names_x86_64} of {what}'s {base_src.names} allowed names exist on x86_64; "
                     "the rest belong to other architectures (_llseek, *_time64, ...) and are not counted.")
    notes += _arch_notes(base_src, new.source, "baseline")
    notes += _source_notes(baseline, new, summary)
    kept = [_kept(name, new) for name in sorted(needed) if name in DANGEROUS]
    return DiffResult(mode="baseline", old=base_src, new=new.source, summary=summary, blocked=blocked,
                      conditional=conditional, removed=removed, dangerous_removed=danger, dangerous_kept=kept,
                      notes=notes, hosts=hosts_of(new))


def hosts_of(loaded: Loaded) -> list[HostView]:
    """The per-host views of a profile or recording that is for two or more hosts, else none."""
    views = host_views(loaded.profile, loaded.source.path if loaded.recording is None else None)
    return views if len(views) > 1 else []


def _kept(name: str, new: Loaded) -> Kept:
    rules = [r for r in new.profile.syscalls if name in r.names and r.action in ALLOWING_ACTIONS]
    conditions = "any arguments" if any(not r.args for r in rules) else \
        alternatives_text(name, [r.args for r in rules])
    rec = new.recording
    stats = [t[name] for _, t in sorted(rec.abis.items()) if name in t] if rec else []
    if rec and stats:
        runs = {run for s in stats for run in s.runs}
        exes = sorted({os.path.basename(e) for s in stats for e in s.executables})
        why = (f"observed {sum(s.count for s in stats)} call(s) in {len(runs)} of {len(rec.runs)} run(s), "
               f"by {', '.join(exes)}")
    else:
        why = "; ".join(sorted({r.comment for r in rules if r.comment})) or "listed in the profile (no comment)"
    return Kept(name=name, cls=class_of(name), risk=danger_reason(name) or "", why=why, conditions=conditions)


def _conditional(name: str, allowed: Sequence[Sequence[Arg]], new: Loaded, baseline: Loaded,
                 is_docker: bool) -> Conditional:
    indexes = {a.index for alt in allowed for a in alt}
    needed_alts: list[tuple[Arg, ...]] | None = _observed(new.recording, name, indexes)
    source: NeededFrom = "observed"
    if needed_alts is None:
        d = decide(new.profile, name)
        needed_alts = [tuple(alt) for alt in d.args] if d.status == "allowed_with_args" else None
        source = "profile" if needed_alts is not None else "any"
    verdict, misfit = fits(needed_alts, allowed)
    hint = None
    if verdict != "yes":
        hint = _hint_docker(name, baseline, is_docker)
        if verdict == "unknown" and needed_alts is None:
            hint = Hint("argument", "check that the workload uses only the values the baseline allows")
    misfits = [alternatives_text(name, [needed_alts[i]]) for i in misfit] if needed_alts else []
    return Conditional(
        name=name, cls=class_of(name),
        baseline=[[arg_json(a) for a in alt] for alt in allowed],
        baseline_text=alternatives_text(name, allowed),
        needed=None if needed_alts is None else [[arg_json(a) for a in alt] for alt in needed_alts],
        needed_text=alternatives_text(name, needed_alts),
        source=source, fits=verdict, misfits=misfits, hint=hint,
    )


def diff_pair(old: Loaded, new: Loaded) -> DiffResult:
    """OLD against NEW, computed like a baseline diff: added, removed (by class) and changed names."""
    base, needed, summary = _common(old, new)
    added = [NameEntry(n, class_of(n), n in DANGEROUS, decision_text(new.profile, n))
             for n in sorted(needed - base)]
    changed = []
    for name in sorted(base & needed):
        a, b = decide(old.profile, name), decide(new.profile, name)
        if (a.status, sorted(a.args)) != (b.status, sorted(b.args)):
            changed.append(ChangedName(name, class_of(name), decision_text(old.profile, name),
                                       decision_text(new.profile, name)))
    removed, danger = _surface(base, needed)
    notes = []
    old_default, new_default = _default_text(old.profile), _default_text(new.profile)
    if old_default != new_default:
        notes.append(f"Default action changed: {old_default} -> {new_default}.")
    notes += _arch_notes(old.source, new.source, "pair")
    notes += _source_notes(old, new, summary)
    return DiffResult(mode="pair", old=old.source, new=new.source, summary=summary, removed=removed,
                      dangerous_removed=danger, added=added, changed=changed, notes=notes, hosts=hosts_of(new))


def _default_text(p: Profile) -> str:
    ret = effective_errno(p.default_action, p.default_errno_ret)
    return p.default_action if ret is None else f"{p.default_action} ({errno_names.errorcode.get(ret, ret)})"


def diff_files(paths: Sequence[str], baseline: str | None = None, cap_add: Sequence[str] = ()
               ) -> tuple[DiffResult, list[Loaded]]:
    """The `diff` command's library entry: one input against a baseline, or OLD against NEW; with the
    inputs as loaded (the baseline aside)."""
    if len(paths) == 2:
        if baseline is not None or cap_add:
            raise UserError("--baseline and --cap-add apply to one input; OLD NEW compares the two files",
                            "diff")
        old, new = load_input(paths[0]), load_input(paths[1])
        return diff_pair(old, new), [old, new]
    if len(paths) != 1:
        raise UserError(f"expected PROFILE|RECORDING or OLD NEW, got {len(paths)} files", "diff")
    new = load_input(paths[0])
    return diff_baseline(new, load_baseline(baseline or new.default_baseline(), cap_add)), [new]


def same_policy(old: Profile, new: Profile) -> bool:
    """Whether two profiles decide every call alike: same default, architectures and per-name decisions
    (rule order, grouping and comments aside)."""
    if _default_text(old) != _default_text(new) or sorted(old.architectures) != sorted(new.architectures):
        return False
    for name in set(numbers(ABI)) | old.names() | new.names():
        a, b = decide(old, name), decide(new, name)
        if (a.status, a.action, a.errno_ret, sorted(a.args)) != (b.status, b.action, b.errno_ret, sorted(b.args)):
            return False
    return True


def unknown_names(path: str, profile: Profile) -> list[str]:
    """Warnings for names that no syscall table knows: a typo, or a syscall newer than the tables (Linux 7.1)."""
    return [f"warning: {path}: {name!r} is not a syscall in any table ({', '.join(ABI_ORDER)}); it is not counted"
            for name in sorted(profile.names()) if not any(is_known(abi, name) for abi in ABI_ORDER)]
