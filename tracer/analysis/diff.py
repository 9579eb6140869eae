"""`seccomp-learn diff`: what a learned profile needs, against what a baseline (Docker's default) allows.

Plain data in, a `DiffResult` out; `to_json` and `render_text` turn it into the documented JSON
(docs/diff-format.md) or a one-screen report. Only names the x86_64 syscall table knows are counted:
Docker's default lists names of every architecture (`_llseek`, `*_time64`, ...) and libseccomp skips
the ones an ABI lacks, so counting them would inflate the surface a profile "removes".

Two modes:
- baseline: one profile or recording against `--baseline docker|FILE`. Sections: needed but not allowed
  by the baseline (with Docker's reason and what would allow it), allowed only with argument conditions
  (do the observed/allowed values fit?), and the attack surface removed, by class, dangerous ones first.
- pair: OLD against NEW, the same computation read as names added, removed and changed.
"""

from __future__ import annotations

import errno as errno_names
import json
import os
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

from tracer.baseline import DOCKER_DEFAULT_CAPS, REASONS, decide, docker_default, load_profile_file, required_capability
from tracer.baseline import docker_rules as dr
from tracer.commands.outcome import Outcome
from tracer.errors import UserError
from tracer.fileio import json_text
from tracer.profile.emit import EmitOptions, emit
from tracer.profile.extras import FALLBACKS
from tracer.profile.model import ERRNO_ACTIONS, Arg, Profile
from tracer.recording import model as rec_io
from tracer.recording.model import ArgValues, Recording
from tracer.syscalls.abi import ABI_ORDER
from tracer.syscalls.decode import decode
from tracer.syscalls.info import CLASS_GROUPS, class_of, filterable_args
from tracer.syscalls.names import is_known, numbers

FORMAT = "seccomp-learn-diff"
VERSION = 1
ABI = "x86_64"
ARCH = "amd64"  # Docker's native name for ABI
_U64 = (1 << 64) - 1
_ALLOWS = ("allowed", "allowed_with_args")

# ---- what counts as dangerous: this is the one place the list lives -------------------------------

# Beyond REASONS (what Docker blocks, and why) and the names Docker gates behind a capability, these are
# dangerous wherever they are allowed: they reach into other processes, the kernel's own state, or code
# paths with a record of exploits. Reasons are given here only for names REASONS does not explain.
DANGEROUS_EXTRA: tuple[str, ...] = (
    "add_key", "bpf", "clone3", "delete_module", "finit_module", "init_module", "io_uring_enter",
    "io_uring_register", "io_uring_setup", "kexec_file_load", "kexec_load", "keyctl", "modify_ldt", "mount",
    "name_to_handle_at", "open_by_handle_at", "perf_event_open", "personality", "pivot_root",
    "process_vm_readv", "process_vm_writev", "ptrace", "request_key", "setns", "umount2", "unshare",
    "userfaultfd",
)
_EXTRA_REASONS: dict[str, str] = {
    "name_to_handle_at": "With open_by_handle_at, the pair the 'shocker' breakout used to reach host files.",
    "modify_ldt": "Per-process x86 segment descriptors: old, little-used kernel code with past exploits.",
}


def _cap_gated() -> dict[str, tuple[str, ...]]:
    """Names Docker's default rules allow or restrict depending on a capability -> those capabilities."""
    gated: dict[str, set[str]] = {}
    for rule in dr.RULES:
        for cap in (*rule.includes.caps, *rule.excludes.caps):
            for name in rule.names:
                gated.setdefault(name, set()).add(cap)
    return {name: tuple(sorted(caps)) for name, caps in gated.items()}


CAP_GATED: dict[str, tuple[str, ...]] = _cap_gated()
DANGEROUS: frozenset[str] = frozenset(REASONS) | frozenset(CAP_GATED) | frozenset(DANGEROUS_EXTRA)


def danger_reason(name: str) -> str | None:
    """Why `name` is dangerous, or None when it is not."""
    if name not in DANGEROUS:
        return None
    if name in REASONS:
        return REASONS[name]
    if name in _EXTRA_REASONS:
        return _EXTRA_REASONS[name]
    if name in CAP_GATED:
        return f"Docker allows it only with {' or '.join(CAP_GATED[name])}."
    return "On seccomp-learn's list of dangerous calls."


# Linux capabilities (capability.h), for validating --cap-add like `docker run` does.
CAPABILITIES: frozenset[str] = frozenset(f"CAP_{c}" for c in (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
))


def parse_caps(caps: Iterable[str]) -> frozenset[str]:
    """--cap-add values (SYS_ADMIN, cap_sys_admin, ALL) as CAP_* names; unknown ones are a UserError."""
    out: set[str] = set()
    for raw in caps:
        name = raw.strip().upper()
        if name == "ALL":
            out |= CAPABILITIES
            continue
        name = name if name.startswith("CAP_") else f"CAP_{name}"
        if name not in CAPABILITIES:
            raise UserError(f"unknown capability {raw!r}", "--cap-add")
        out.add(name)
    return frozenset(out)


def cap_flag(cap: str) -> str:
    """`docker run`'s spelling: CAP_SYS_ADMIN -> --cap-add SYS_ADMIN."""
    return f"--cap-add {cap.removeprefix('CAP_')}"


# ---- the result ---------------------------------------------------------------------------------------


@dataclass
class Source:
    """One side of the comparison."""

    path: str  # the file, or "docker" for the built-in baseline
    kind: str  # "recording" | "profile" | "docker-default"
    description: str
    architectures: list[str]
    default_action: str
    names: int  # distinct names its allowing rules mention
    names_x86_64: int  # of those, names the x86_64 table knows (only these are counted)
    extras: dict[str, list[str]] = field(default_factory=dict)  # recording: names emit added, by kind


@dataclass
class Hint:
    """What would make the baseline allow a call."""

    kind: str  # "capability" | "argument" | "fallback" | "none"
    text: str  # "--cap-add SYS_ADMIN", the values the baseline accepts, or why nothing does
    capability: str | None = None


@dataclass
class Blocked:
    """Needed, and the baseline does not allow it at all: the workload fails under the baseline."""

    name: str
    cls: str
    action: str  # what the baseline does instead
    errno: str | None  # "EPERM", "ENOSYS"... for errno actions
    reason: str  # Docker's reason (REASONS), or "" when there is none
    hint: Hint
    falls_back_to: list[str] = field(default_factory=list)  # ENOSYS: allowed older calls libc retries with


@dataclass
class Conditional:
    """Needed, and the baseline allows it only when argument conditions hold."""

    name: str
    cls: str
    baseline: list[list[dict[str, int | str]]]  # alternatives (ORed), each a list of args (ANDed)
    baseline_text: str
    needed: list[list[dict[str, int | str]]] | None  # None: any value (nothing restricts it)
    needed_text: str
    source: str  # "observed" (the recording) | "profile" (its rules) | "any"
    fits: str  # "yes" | "no" | "unknown"
    misfits: list[str]  # the needed alternatives the baseline refuses, as text
    hint: Hint | None  # when fits is not "yes"


@dataclass
class ClassSurface:
    """One class of syscalls: how many the baseline allows, which of them the profile drops."""

    cls: str
    allowed: int  # x86_64 names of this class the baseline (OLD) allows
    kept: int  # of those, names the profile (NEW) needs
    removed: list[str]  # dangerous first, then by name
    dangerous: list[str]


@dataclass
class Kept:
    """A dangerous syscall the profile still allows, and why it is there."""

    name: str
    cls: str
    risk: str  # why it is dangerous
    why: str  # why the profile has it: what the recording saw, or the rule's own comment
    conditions: str  # the argument conditions it is allowed under, or "any arguments"


@dataclass
class NameEntry:
    name: str
    cls: str
    dangerous: bool
    decision: str  # what the side that has it does, as text


@dataclass
class Change:
    name: str
    cls: str
    old: str
    new: str


@dataclass
class Summary:
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


@dataclass
class DiffResult:
    mode: str  # "baseline" | "pair"
    old: Source  # the baseline (baseline mode) or OLD
    new: Source  # the profile (baseline mode) or NEW
    summary: Summary
    blocked: list[Blocked] = field(default_factory=list)  # baseline mode
    conditional: list[Conditional] = field(default_factory=list)  # baseline mode
    removed: list[ClassSurface] = field(default_factory=list)  # both modes
    dangerous_removed: list[dict[str, str]] = field(default_factory=list)  # name, cls, reason
    dangerous_kept: list[Kept] = field(default_factory=list)  # baseline mode
    added: list[NameEntry] = field(default_factory=list)  # pair mode
    changed: list[Change] = field(default_factory=list)  # pair mode
    notes: list[str] = field(default_factory=list)


# ---- loading ------------------------------------------------------------------------------------------


@dataclass
class Loaded:
    profile: Profile
    source: Source
    recording: Recording | None = None


def _allowing_names(profile: Profile) -> set[str]:
    return profile.names("SCMP_ACT_ALLOW") | profile.names("SCMP_ACT_LOG")


def _source(path: str, kind: str, description: str, profile: Profile,
            extras: dict[str, list[str]] | None = None) -> Source:
    names = _allowing_names(profile)
    return Source(path=path, kind=kind, description=description, architectures=list(profile.architectures),
                  default_action=profile.default_action, names=len(names),
                  names_x86_64=sum(1 for n in names if is_known(ABI, n)), extras=extras or {})


def load_input(path: str) -> Loaded:
    """A recording (turned into the profile `emit` would write, default extras) or a Docker/OCI profile."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read: {exc.strerror or exc}", path) from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError, JSONDecodeError, int digit limit
        data = None  # load_profile_file below says what is wrong, naming the file
    if isinstance(data, dict) and data.get("format") == rec_io.FORMAT:
        rec = rec_io.load(path)
        try:
            emitted = emit(rec, EmitOptions())
        except UserError as exc:
            raise exc if exc.source else UserError(str(exc), path) from None
        extras = {e.kind: list(e.names) for e in emitted.extras}
        runs = " ".join("; ".join(shlex.join(r.command) for r in rec.runs).split()) or "no run"
        added = sum(len(e.names) for e in emitted.extras if e.kind != "fallback")
        desc = (f"recording, {len(rec.runs)} run{'s' if len(rec.runs) != 1 else ''}: {_clip(runs, 60)}; "
                f"profile as `emit` writes it, +{added} runtime docker/always names")
        src = _source(path, "recording", desc, emitted.profile, extras)
        loaded = Loaded(emitted.profile, src, rec)
        loaded.source.extras["unnamed"] = [f"{abi}#{nr}" for abi, nr in emitted.unnamed]
        if not loaded.source.extras["unnamed"]:
            del loaded.source.extras["unnamed"]
        return loaded
    try:
        profile = load_profile_file(path)
    except RecursionError:
        raise UserError("not valid JSON: nested too deeply", path) from None
    return Loaded(profile, _source(path, "profile", "seccomp profile", profile))


def load_baseline(spec: str, cap_add: Iterable[str] = ()) -> Loaded:
    """`docker` = Docker's default profile for amd64 with Docker's default capabilities plus cap_add."""
    caps = DOCKER_DEFAULT_CAPS | parse_caps(cap_add)
    if spec == "docker":
        added = sorted(c.removeprefix("CAP_") for c in caps - DOCKER_DEFAULT_CAPS)
        desc = "Docker's default profile (amd64, default capabilities" + (
            f" + {', '.join(added)})" if added else ")")
        profile = docker_default(ARCH, caps)
        return Loaded(profile, _source("docker", "docker-default", desc, profile))
    try:
        profile = load_profile_file(spec, caps=caps)
    except RecursionError:
        raise UserError("not valid JSON: nested too deeply", spec) from None
    return Loaded(profile, _source(spec, "profile", "seccomp profile", profile))


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# ---- conditions: text and "do these values fit" --------------------------------------------------------


def _arg_json(a: Arg) -> dict[str, int | str]:
    return {"index": a.index, "op": a.op, "value": a.value, "valueTwo": a.value_two}


def _spec(name: str, index: int) -> tuple[str, str | None]:
    for s in filterable_args(ABI, name):
        if s.index == index:
            return s.name, s.decoder
    return f"arg{index}", None


def _value_text(name: str, index: int, value: int) -> str:
    _, decoder = _spec(name, index)
    if decoder is not None:
        try:
            text = decode(decoder, value)
        except (ValueError, KeyError):
            text = ""
        if text and text != f"{value:#x}":
            return text
    return str(value) if value < 0x100 else f"{value:#x}"


def _bits_text(name: str, index: int, mask: int) -> str:
    _, decoder = _spec(name, index)
    if decoder is not None:
        try:
            return _compact(decode(decoder, mask).split("|"))
        except (ValueError, KeyError):
            pass
    return f"{mask:#x}"


def _compact(names: list[str]) -> str:
    """CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWPID -> CLONE_NEW{NS,UTS,PID}: same names, one screen line."""
    prefix = names[0]
    for n in names[1:]:
        while not n.startswith(prefix):
            prefix = prefix[:-1]
    if len(names) < 3 or len(prefix) < 4 or any(n == prefix for n in names):
        return "|".join(names)
    return f"{prefix}{{{', '.join(n[len(prefix):] for n in names)}}}"


_OPS = {"SCMP_CMP_EQ": "==", "SCMP_CMP_NE": "!=", "SCMP_CMP_LT": "<", "SCMP_CMP_LE": "<=", "SCMP_CMP_GT": ">",
        "SCMP_CMP_GE": ">="}


def cond_text(name: str, a: Arg) -> str:
    label, _ = _spec(name, a.index)
    if a.op in _OPS:
        return f"{label} {_OPS[a.op]} {_value_text(name, a.index, a.value)}"
    mask, datum = a.value & _U64, a.value_two & _U64
    if datum == 0:
        if bin(mask & 0xFFFFFFFF).count("1") > 16:  # "every bit but these": say which bits may be set
            allowed = ~mask & 0xFFFFFFFF
            return f"{label} only from {_bits_text(name, a.index, allowed)}" if allowed else f"{label} == 0"
        return f"{label} without {_bits_text(name, a.index, mask)}"
    return f"{label} & {mask:#x} == {datum:#x}"


def alternatives_text(name: str, alts: Sequence[Sequence[Arg]] | None) -> str:
    if alts is None:
        return "any value"
    if alts and all(len(alt) == 1 and alt[0].op == "SCMP_CMP_EQ" for alt in alts) and \
            len({alt[0].index for alt in alts}) == 1:
        index = alts[0][0].index
        label, _ = _spec(name, index)
        values = [_value_text(name, index, alt[0].value) for alt in sorted(alts, key=tuple)]
        return f"{label} == {values[0]}" if len(values) == 1 else f"{label} in {{{', '.join(values)}}}"
    return " or ".join(" and ".join(cond_text(name, a) for a in alt) for alt in alts)


def _holds(cond: Arg, x: int) -> bool:
    v = cond.value & _U64
    return {
        "SCMP_CMP_EQ": x == v, "SCMP_CMP_NE": x != v, "SCMP_CMP_LT": x < v, "SCMP_CMP_LE": x <= v,
        "SCMP_CMP_GT": x > v, "SCMP_CMP_GE": x >= v,
        "SCMP_CMP_MASKED_EQ": x & v == cond.value_two & _U64,
    }[cond.op]


def _implied(conds: Sequence[Arg], b: Arg) -> bool | None:
    """Given that every condition in `conds` (one argument) holds: does `b` hold always (True), never
    (False), or sometimes / cannot tell (None)?"""
    eqs = [c.value & _U64 for c in conds if c.op == "SCMP_CMP_EQ"]
    if eqs:
        return _holds(b, eqs[0])
    lo, hi = 0, _U64
    fixed_mask = fixed_val = 0
    for c in conds:
        v = c.value & _U64
        if c.op == "SCMP_CMP_LT":
            hi = min(hi, v - 1)
        elif c.op == "SCMP_CMP_LE":
            hi = min(hi, v)
        elif c.op == "SCMP_CMP_GT":
            lo = max(lo, v + 1)
        elif c.op == "SCMP_CMP_GE":
            lo = max(lo, v)
        elif c.op == "SCMP_CMP_MASKED_EQ":
            fixed_mask |= v
            fixed_val |= c.value_two & v
    if lo > hi:
        return None  # no value satisfies conds: nothing to say
    if lo == hi:
        return _holds(b, lo)
    if b.op in ("SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_GT", "SCMP_CMP_GE"):
        at_lo, at_hi = _holds(b, lo), _holds(b, hi)  # monotone in x: the ends decide
        return at_lo if at_lo == at_hi else None
    if b.op in ("SCMP_CMP_EQ", "SCMP_CMP_NE"):
        inside = lo <= (b.value & _U64) <= hi
        return None if inside else b.op == "SCMP_CMP_NE"
    mask, datum = b.value & _U64, b.value_two & _U64  # MASKED_EQ
    common = mask & fixed_mask
    if fixed_val & common != datum & common:
        return False
    return True if mask & ~fixed_mask == 0 else None


def _alt_implies(a: Sequence[Arg], b: Sequence[Arg]) -> bool | None:
    results = [_implied([c for c in a if c.index == cond.index], cond) for cond in b]
    if any(r is False for r in results):
        return False
    return True if all(results) else None


def fits(needed: Sequence[Sequence[Arg]] | None, allowed: Sequence[Sequence[Arg]]) -> tuple[str, list[int]]:
    """"yes" if every needed alternative lies inside an allowed one, "no" if one lies outside all of them,
    else "unknown"; and the indexes of the needed alternatives that do not fit."""
    if needed is None:
        return "unknown", []
    verdicts = []
    for alt in needed:
        results = [_alt_implies(alt, b) for b in allowed]
        verdicts.append("yes" if any(r is True for r in results) else
                        "no" if all(r is False for r in results) else "unknown")
    misfit = [i for i, v in enumerate(verdicts) if v != "yes"]
    if not misfit:
        return "yes", []
    return ("no" if "no" in verdicts else "unknown"), misfit


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


# ---- the comparison -----------------------------------------------------------------------------------


def _decision_text(profile: Profile, name: str) -> str:
    d = decide(profile, name)
    if d.status == "allowed":
        return "allowed"
    if d.status == "allowed_with_args":
        return "allowed if " + alternatives_text(name, d.args)
    if d.errno_ret is not None:
        return errno_names.errorcode.get(d.errno_ret, f"errno {d.errno_ret}")
    return d.action.removeprefix("SCMP_ACT_").lower()


def _universe() -> list[str]:
    return sorted(numbers(ABI))


def _allowed(profile: Profile, names: Iterable[str]) -> set[str]:
    return {n for n in names if decide(profile, n).status in _ALLOWS}


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


def _arch_notes(old: Source, new: Source, mode: str) -> list[str]:
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


def _common(old: Loaded, new: Loaded) -> tuple[list[str], set[str], set[str], Summary]:
    universe = _universe()
    base = _allowed(old.profile, universe)
    needed = _allowed(new.profile, universe)
    removed = base - needed
    not_counted = sorted(n for n in _allowing_names(new.profile) if not is_known(ABI, n))
    summary = Summary(
        needed=len(needed), needed_allowed=len(needed & base), baseline_allowed=len(base),
        removed=len(removed),
        removed_percent=round(100.0 * len(removed) / len(base), 1) if base else 0.0,
        dangerous_removed=sum(1 for n in removed if n in DANGEROUS), not_allowed=len(needed - base),
        falls_back=0, conditions_unmet=0, conditions_unknown=0, not_counted=not_counted,
    )
    return universe, base, needed, summary


def _source_notes(old: Loaded, new: Loaded, summary: Summary) -> list[str]:
    notes: list[str] = []
    for side in (old, new):
        rec = side.recording
        if rec is not None and rec.partial:
            reasons = "; ".join(r.partial_reason or "?" for r in rec.runs if r.partial)
            notes.append(f"{side.source.path}: the recording is partial ({reasons}); the workload may need "
                         "more.")
        unnamed = side.source.extras.get("unnamed")
        if unnamed:
            notes.append(f"{side.source.path}: syscall numbers without a name are not in the profile: "
                         f"{', '.join(unnamed)}.")
    if summary.not_counted:
        notes.append(f"Not counted (not x86_64 syscalls): {', '.join(summary.not_counted)}.")
    return notes


def diff_baseline(new: Loaded, baseline: Loaded) -> DiffResult:
    """One profile against a baseline: what fails, what is conditional, what surface is removed."""
    _, base, needed, summary = _common(baseline, new)
    is_docker = baseline.source.kind == "docker-default"
    blocked, conditional = [], []
    for name in sorted(needed):
        d = decide(baseline.profile, name)
        if d.status not in _ALLOWS:
            errno = None if d.errno_ret is None else errno_names.errorcode.get(d.errno_ret, str(d.errno_ret))
            hint = _hint_docker(name, baseline, is_docker)
            older = [n for n in FALLBACKS.get(name, ()) if decide(baseline.profile, n).status in _ALLOWS]
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
                      notes=notes)


def _kept(name: str, new: Loaded) -> Kept:
    rules = [r for r in new.profile.syscalls if name in r.names and r.action in ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG")]
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
    source = "observed"
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
        baseline=[[_arg_json(a) for a in alt] for alt in allowed],
        baseline_text=alternatives_text(name, allowed),
        needed=None if needed_alts is None else [[_arg_json(a) for a in alt] for alt in needed_alts],
        needed_text=alternatives_text(name, needed_alts),
        source=source, fits=verdict, misfits=misfits, hint=hint,
    )


def diff_pair(old: Loaded, new: Loaded) -> DiffResult:
    """OLD against NEW, computed like a baseline diff: added, removed (by class) and changed names."""
    _, base, needed, summary = _common(old, new)
    added = [NameEntry(n, class_of(n), n in DANGEROUS, _decision_text(new.profile, n))
             for n in sorted(needed - base)]
    changed = []
    for name in sorted(base & needed):
        a, b = decide(old.profile, name), decide(new.profile, name)
        if (a.status, sorted(a.args)) != (b.status, sorted(b.args)):
            changed.append(Change(name, class_of(name), _decision_text(old.profile, name),
                                  _decision_text(new.profile, name)))
    removed, danger = _surface(base, needed)
    notes = []
    if _default_text(old.profile) != _default_text(new.profile):
        notes.append(f"Default action changed: {_default_text(old.profile)} -> {_default_text(new.profile)}.")
    notes += _arch_notes(old.source, new.source, "pair")
    notes += _source_notes(old, new, summary)
    return DiffResult(mode="pair", old=old.source, new=new.source, summary=summary, removed=removed,
                      dangerous_removed=danger, added=added, changed=changed, notes=notes)


def _default_text(p: Profile) -> str:
    if p.default_action in ERRNO_ACTIONS:
        ret = 1 if p.default_errno_ret is None else p.default_errno_ret  # runtime-spec: EPERM by default
        return f"{p.default_action} ({errno_names.errorcode.get(ret, ret)})"
    return p.default_action


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
    return diff_baseline(new, load_baseline(baseline or "docker", cap_add)), [new]


# ---- output -------------------------------------------------------------------------------------------


def to_json(result: DiffResult) -> dict[str, Any]:
    """The documented JSON shape (docs/diff-format.md)."""
    out: dict[str, Any] = {"format": FORMAT, "version": VERSION, "mode": result.mode, "abi": ABI}
    sides = ("baseline", "profile") if result.mode == "baseline" else ("old", "new")
    out[sides[0]] = asdict(result.old)
    out[sides[1]] = asdict(result.new)
    out["summary"] = asdict(result.summary)
    out["removed"] = [asdict(r) for r in result.removed]
    out["dangerous_removed"] = result.dangerous_removed
    if result.mode == "baseline":
        out["dangerous_kept"] = [asdict(k) for k in result.dangerous_kept]
    if result.mode == "baseline":
        out["blocked"] = [asdict(b) for b in result.blocked]
        out["conditional"] = [asdict(c) for c in result.conditional]
    else:
        out["added"] = [asdict(a) for a in result.added]
        out["changed"] = [asdict(c) for c in result.changed]
    out["notes"] = result.notes
    return out


def render_text(result: DiffResult, color: bool, width: int = 100) -> str:
    """A report that fits one screen for a typical workload; ANSI colour only when `color`."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    buf = StringIO()
    con = Console(file=buf, width=width, force_terminal=color, no_color=not color,
                  color_system="standard" if color else None, highlight=False, emoji=False)
    s = result.summary
    pair = result.mode == "pair"

    def table(*cols: str) -> Table:
        t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
        for i, c in enumerate(cols):
            t.add_column(c, no_wrap=i == 0, overflow="fold")
        return t

    def section(title: str, t: Table) -> None:
        con.print()
        con.print(title)
        con.print(t)

    if pair:
        con.print(f"[bold]OLD[/] {result.old.path} ({result.old.description})")
        con.print(f"[bold]NEW[/] {result.new.path} ({result.new.description})")
    else:
        con.print(f"[bold]{result.new.path}[/] ({result.new.description})")
        con.print(f"  against {result.old.description}")
    con.print()
    verb, whom = ("NEW allows", "OLD allows") if pair else ("Needs", "the baseline allows")
    con.print(f"[bold]{verb} {s.needed_allowed} of the {s.baseline_allowed}[/] x86_64 syscalls {whom}: "
              f"[bold green]{s.removed} removed ({s.removed_percent:g}%)[/], {s.dangerous_removed} of them "
              "dangerous.")
    failing = s.not_allowed - s.falls_back + s.conditions_unmet
    if pair:
        if s.not_allowed:
            con.print(f"[bold red]{s.not_allowed} added (not allowed by OLD)[/].")
    elif failing:
        refused = s.not_allowed - s.falls_back
        parts = [f"{refused} needed but not allowed"] if refused else []
        parts += [f"{s.conditions_unmet} with argument values it refuses"] if s.conditions_unmet else []
        con.print(f"[bold red]Fails under the baseline: {'; '.join(parts)}.[/]")
    elif s.conditions_unknown:
        con.print(f"[yellow]Allowed by the baseline if {s.conditions_unknown} argument condition(s) below "
                  "hold.[/]")
    else:
        con.print("[green]Everything it needs is allowed by the baseline[/]"
                  + (" (refused calls fall back to older ones it allows)." if s.falls_back else "."))
    if result.notes:
        notes = Table.grid(padding=(0, 1))
        notes.add_column(style="dim")
        notes.add_column()
        for note in result.notes:
            notes.add_row("•", note)
        con.print(notes)

    if result.blocked:
        t = table("syscall", "baseline", "why (Docker)" if result.old.kind == "docker-default" else "why",
                  "what would allow it")
        for b in result.blocked:
            t.add_row(f"[yellow]{b.name}[/]" if b.falls_back_to else f"[red]{b.name}[/]",
                      b.errno or b.action.removeprefix("SCMP_ACT_").lower(), b.reason or "-", b.hint.text)
        fails = "fails under it" if s.not_allowed > s.falls_back else "copes only through libc fallbacks"
        section(f"[bold red]Needed but not allowed by the baseline[/] (the workload {fails}):", t)

    if result.conditional:
        t = table("syscall", "baseline allows", "workload", "fits")
        style = {"yes": "green", "no": "red", "unknown": "yellow"}
        for c in result.conditional:
            label = "observed" if c.source == "observed" else "profile allows"
            fit = f"[{style[c.fits]}]{c.fits}[/]" + (f": {c.hint.text}" if c.hint is not None else "")
            t.add_row(c.name, _breakable(c.baseline_text), f"{label}: {_breakable(c.needed_text)}", fit)
        section("[bold]Allowed by the baseline only with argument conditions:[/]", t)

    if result.dangerous_kept:
        t = table("syscall", "why it is in the profile", "allowed with", "risk")
        for k in result.dangerous_kept:
            t.add_row(f"[yellow]{k.name}[/]", _breakable(k.why), _breakable(k.conditions), k.risk)
        section("[bold]Dangerous syscalls kept[/], and why:", t)

    if result.added:
        t = table("syscall", "class", "NEW", "")
        for a in result.added:
            t.add_row(a.name, a.cls, _breakable(a.decision), "[red]dangerous[/]" if a.dangerous else "")
        section("[bold red]Added[/] (NEW allows, OLD does not):", t)

    if result.changed:
        t = table("syscall", "OLD", "NEW")
        for change in result.changed:
            t.add_row(change.name, _breakable(change.old), _breakable(change.new))
        section("[bold]Changed conditions[/] (allowed by both):", t)

    if s.removed:
        t = table("class", "removed", "dangerous", "others") if pair else \
            table("class", "removed", "dangerous removed")
        for r in result.removed:
            if r.removed:
                row = [r.cls, f"{len(r.removed)} of {r.allowed}", ", ".join(r.dangerous) or "-"]
                if pair:
                    row.append(", ".join(n for n in r.removed if n not in r.dangerous) or "-")
                t.add_row(*row)
        head = "Removed (OLD allows, NEW does not)" if pair else \
            "Attack surface removed (allowed by the baseline, not needed)"
        section(f"[bold]{head}[/], by class:", t)
        if not pair:
            con.print("[dim]--json lists every removed name and why each dangerous one matters.[/]")
    text = buf.getvalue()
    return text if color else "".join(line.rstrip() + "\n" for line in text.splitlines())


def _breakable(text: str) -> str:
    """Let rich wrap value sets at their commas."""
    return text.replace(",", ", ").replace(",  ", ", ")


def same_policy(old: Profile, new: Profile) -> bool:
    """Whether two profiles decide every call alike: same default, architectures and per-name decisions
    (rule order, grouping and comments aside)."""
    if _default_text(old) != _default_text(new) or sorted(old.architectures) != sorted(new.architectures):
        return False
    for name in set(_universe()) | old.names() | new.names():
        a, b = decide(old, name), decide(new, name)
        if (a.status, a.action, a.errno_ret, sorted(a.args)) != (b.status, b.action, b.errno_ret, sorted(b.args)):
            return False
    return True


def unknown_names(path: str, profile: Profile) -> list[str]:
    """Warnings for names that no syscall table knows: a typo, or a syscall newer than the tables (Linux 7.1)."""
    return [f"warning: {path}: {name!r} is not a syscall in any table ({', '.join(ABI_ORDER)}); it is not counted"
            for name in sorted(profile.names()) if not any(is_known(abi, name) for abi in ABI_ORDER)]


def diff_outcome(paths: Sequence[str], baseline: str | None, cap_add: Sequence[str], as_json: bool) -> Outcome:
    """The `diff` command: JSON for machines, or a table sized to the terminal (colour only on a tty).

    OLD NEW exits like diff(1): 0 when they decide every call alike (and says "identical"), 1 when not.
    """
    import shutil
    import sys

    result, sides = diff_files(paths, baseline=baseline, cap_add=cap_add)
    warnings = [w for side in sides for w in unknown_names(side.source.path, side.profile)]
    identical = len(sides) == 2 and same_policy(sides[0].profile, sides[1].profile)
    code = 1 if len(sides) == 2 and not identical else 0
    if as_json:
        return Outcome(code, warnings, stdout=json_text(to_json(result)))
    if identical:
        return Outcome(0, warnings, stdout=f"{paths[0]} and {paths[1]} are identical: they allow the same syscalls "
                                           "under the same conditions\n")
    tty = sys.stdout.isatty()
    width = shutil.get_terminal_size((100, 24)).columns if tty else 100
    return Outcome(code, warnings, stdout=render_text(result, color=tty, width=width))
