"""`seccomp-learn report`: an audit report of a recording (or a profile) against a baseline.

`build_report` turns a Recording (or `build_profile_report` a Profile) and a baseline into a `Report`
of plain data; every output format (`tracer.report_format`: markdown, json, text) renders only that,
so the formats cannot disagree. The classification against the baseline (needed, blocked, conditional,
removed surface, what would allow a call) is `tracer.diff`'s; this module adds the per-syscall
provenance a recording has (counts, runs, executables, decoded argument values), the extras `emit`
adds, the profile's argument rules in words, and hints. The JSON shape is docs/report-format.md.

Output is deterministic: everything is sorted, and the only times are the recording's run metadata.
"""

from __future__ import annotations

import errno as errno_names
import importlib
from dataclasses import dataclass, field

from tracer.analysis.diff import (
    ARCH,
    Blocked,
    Conditional,
    DiffResult,
    Loaded,
    _source,
    alternatives_text,
    cap_flag,
    danger_reason,
    diff_baseline,
    load_baseline,
    load_input,
)
from tracer.baseline import decide, required_capability
from tracer.errors import UserError
from tracer.profile.emit import EmitOptions, Emitted, emit
from tracer.profile.model import Profile
from tracer.recording.model import ArgValues, Recording
from tracer.report import formats as report_format
from tracer.syscalls.abi import ABI_OF_SCMP, abi_sort_key
from tracer.syscalls.decode import decode
from tracer.syscalls.info import CLASS_GROUPS, class_of, filterable_args

FORMAT = "seccomp-learn-report"
VERSION = 1
FORMATS = tuple(report_format.FORMATS)
THIS_PROFILE = "<this profile>"
_ALLOWS = ("allowed", "allowed_with_args")
_CLASS_ORDER = {cls: i for i, cls in enumerate(CLASS_GROUPS)}


# ---- the report: plain data -------------------------------------------------------------------------


@dataclass
class Input:
    path: str  # the file, or "recording" / "profile" when built from an object
    kind: str  # "recording" | "profile"
    tool: str  # the recording's tool ("seccomp-learn 0.1.0"), "" for a profile


@dataclass
class BaselineInfo:
    path: str  # "docker" or the file
    kind: str  # "docker-default" | "profile"
    description: str


@dataclass
class RunInfo:
    id: str
    command: list[str]
    started: str
    duration_s: float
    exit: dict[str, object]
    partial: bool
    partial_reason: str | None


@dataclass
class Summary:
    needed: int  # x86_64 names the profile allows (tracer.diff counts only x86_64 names)
    needed_allowed: int  # of those, names the baseline allows too
    baseline_allowed: int  # x86_64 names the baseline allows
    removed: int  # baseline_allowed - needed_allowed
    removed_percent: float
    observed: int | None  # distinct named syscalls the recording saw, all ABIs (None: a profile)
    abis: list[str]  # ABIs with observed syscalls (recording) or the profile's ABIs
    architectures: list[str]  # the profile's SCMP_ARCH_* list
    runs: int | None  # None for a profile
    partial_runs: list[str]  # ids of partial runs
    fails: bool  # the workload fails under the baseline unless something changes
    failing: int  # the entries of `blocked` with fails=True


@dataclass
class BlockedEntry:
    """A needed call the baseline refuses, or allows only with argument values the workload does not use."""

    name: str
    cls: str
    kind: str  # "blocked" | "conditional" (allowed only with other argument values) | "fallback" (ENOSYS)
    fails: bool  # False only for "fallback": libc retries with an older call the baseline allows
    baseline: str  # what the baseline does: "EPERM", "allowed if domain in {...}"
    reason: str  # the risk (Docker's REASONS, or tracer.diff's reason for a dangerous call), "" if none
    capability: str | None  # the capability that makes Docker's default allow it
    fix: list[str]  # `docker run` options, any one of which makes the baseline's refusal go away
    note: str  # more on the refusal or the fix, "" if nothing


@dataclass
class ArgSeen:
    index: int
    name: str  # the man-page name: "flags", "domain"
    kind: str  # "flags" | "value"
    values: list[str]  # decoded, in numeric order; empty when `many`
    many: bool  # more distinct values than the recording keeps
    bits: str | None  # flags only: every bit seen in any call, decoded


@dataclass
class SyscallEntry:
    name: str
    abi: str | None  # None for a profile (its rules are per name, for every listed ABI)
    cls: str
    nr: int | None
    count: int | None  # None: a profile has no counts
    runs: int | None  # runs that saw it
    runs_total: int | None
    run_ids: list[str]
    executables: list[str]
    args: list[ArgSeen]
    status: str  # "allowed" | "allowed_with_args" | "needs_capability" | "blocked"
    status_text: str  # "allowed", "allowed if ...", "needs CAP_SYS_ADMIN", "blocked (EPERM)"
    capability: str | None
    risk: str | None  # one sentence for sensitive calls


@dataclass
class ExtraEntry:
    kind: str  # runtime | always | vdso | fallback
    reason: str
    names: list[str]


@dataclass
class RuleEntry:
    name: str
    text: str  # "domain in {AF_UNIX, AF_INET}"


@dataclass
class HintEntry:
    kind: str  # sigreturn | one-run | unnamed | partial | abi | launcher | condition
    text: str
    names: list[str]


@dataclass
class Report:
    input: Input
    baseline: BaselineInfo
    summary: Summary
    runs: list[RunInfo] = field(default_factory=list)
    blocked: list[BlockedEntry] = field(default_factory=list)
    change: list[str] = field(default_factory=list)  # `docker run` options that make it work
    syscalls: list[SyscallEntry] = field(default_factory=list)  # by class, then name, then ABI
    extras: list[ExtraEntry] = field(default_factory=list)
    rules: list[RuleEntry] = field(default_factory=list)
    hints: list[HintEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ---- building -----------------------------------------------------------------------------------------


def _entry_order(name: str, abi: str | None) -> tuple[int, str, tuple[int, str]]:
    return (_CLASS_ORDER.get(class_of(name), len(_CLASS_ORDER)), name, abi_sort_key(abi or ""))


def _errno_text(errno_ret: int | None, action: str) -> str:
    if errno_ret is not None:
        return errno_names.errorcode.get(errno_ret, f"errno {errno_ret}")
    return action.removeprefix("SCMP_ACT_").lower()


def _blocked_entries(result: DiffResult, is_docker: bool) -> list[BlockedEntry]:
    out = []
    for b in result.blocked:
        out.append(_from_blocked(b, is_docker))
    for c in result.conditional:
        if c.fits == "no":
            out.append(_from_conditional(c))
    return sorted(out, key=lambda e: (not e.fails, _entry_order(e.name, None)))


def _from_blocked(b: Blocked, is_docker: bool) -> BlockedEntry:
    baseline = b.errno or b.action.removeprefix("SCMP_ACT_").lower()
    reason = b.reason or danger_reason(b.name) or ""
    profile_opt = f"--security-opt seccomp={THIS_PROFILE}"
    if b.falls_back_to:
        return BlockedEntry(b.name, b.cls, "fallback", False, baseline, reason, b.hint.capability, [],
                            f"nothing to change: libc falls back to {', '.join(b.falls_back_to)}, which the "
                            "baseline allows")
    if b.hint.kind == "capability" and b.hint.capability:
        return BlockedEntry(b.name, b.cls, "blocked", True, baseline, reason, b.hint.capability,
                            [b.hint.text, profile_opt],
                            f"with the profile alone the kernel may still require {b.hint.capability} for it")
    note = f"the baseline allows {b.hint.text}" if b.hint.kind == "argument" else \
        "no capability makes the baseline allow it" if is_docker else ""
    return BlockedEntry(b.name, b.cls, "blocked", True, baseline, reason, None, [profile_opt], note)


def _from_conditional(c: Conditional) -> BlockedEntry:
    cap = c.hint.capability if c.hint is not None else None
    fix = [cap_flag(cap)] if cap else []
    refused = "; ".join(c.misfits) or c.needed_text
    return BlockedEntry(c.name, c.cls, "conditional", True, f"allowed if {c.baseline_text}",
                        danger_reason(c.name) or "", cap, [*fix, f"--security-opt seccomp={THIS_PROFILE}"],
                        f"the workload uses {refused}")


def _change(blocked: list[BlockedEntry], is_docker: bool) -> list[str]:
    """The `docker run` options that make the workload run: capabilities if they fix every failing call,
    and always the learned profile."""
    failing = [b for b in blocked if b.fails]
    if not failing:
        return []
    opts = []
    if is_docker and all(b.capability for b in failing):
        opts.append(" ".join(sorted({cap_flag(b.capability) for b in failing if b.capability})))
    opts.append(f"--security-opt seccomp={THIS_PROFILE}")
    return opts


def _status(name: str, baseline: Loaded, result: DiffResult, is_docker: bool) -> tuple[str, str, str | None]:
    """(status, text, capability) of one needed name under the baseline, from the diff where it has it."""
    for c in result.conditional:
        if c.name == name:
            fit = {"yes": "observed values fit", "no": "refuses " + ("; ".join(c.misfits) or c.needed_text),
                   "unknown": "cannot tell if the values fit"}[c.fits]
            return "allowed_with_args", f"allowed if {c.baseline_text} ({fit})", None
    for b in result.blocked:
        if b.name == name:
            cap = b.hint.capability
            if b.falls_back_to:
                return "blocked", f"blocked ({b.errno}); libc falls back to {', '.join(b.falls_back_to)}", cap
            if cap and b.hint.kind == "capability":
                return "needs_capability", f"needs {cap}", cap
            return "blocked", f"blocked ({b.errno or b.action.removeprefix('SCMP_ACT_').lower()})", None
    d = decide(baseline.profile, name)  # a name tracer.diff does not count (not on x86_64)
    if d.status == "allowed":
        return "allowed", "allowed", None
    if d.status == "allowed_with_args":
        return "allowed_with_args", "allowed if " + alternatives_text(name, d.args), None
    cap = required_capability(name, ARCH) if is_docker else None
    if cap:
        return "needs_capability", f"needs {cap}", cap
    return "blocked", f"blocked ({_errno_text(d.errno_ret, d.action)})", None


def _decoded(decoder: str | None, value: int) -> str:
    if decoder is not None:
        try:
            return decode(decoder, value)
        except (ValueError, KeyError):
            pass
    return str(value) if value < 0x100 else f"{value:#x}"


def _args_seen(abi: str, name: str, args: dict[int, ArgValues]) -> list[ArgSeen]:
    out = []
    for spec in filterable_args(abi, name):
        seen = args.get(spec.index)
        if seen is None:
            continue
        bits = None
        if spec.kind == "flags" and seen.bits is not None:
            bits = _decoded(spec.decoder, seen.bits)
        values = [] if seen.many else [_decoded(spec.decoder, v) for v in sorted(seen.values)]
        out.append(ArgSeen(spec.index, spec.name, spec.kind, values, seen.many, bits))
    return out


def _rules(profile: Profile) -> list[RuleEntry]:
    out = []
    for name in sorted(profile.names()):
        d = decide(profile, name)
        if d.status == "allowed_with_args":
            out.append(RuleEntry(name, alternatives_text(name, d.args)))
    return out


def _abi_hint(profile: Profile) -> list[HintEntry]:
    if profile.architectures not in ([], ["SCMP_ARCH_X86_64"]):
        return []
    lists = "lists only SCMP_ARCH_X86_64" if profile.architectures else "lists no architectures"
    return [HintEntry("abi", f"32-bit ABI refused: the profile {lists}, so the kernel refuses every "
                             "i386 (int 0x80) and x32 syscall; Docker's default allows both. Record a 32-bit "
                             "workload or use `emit --arch x86_64,x86,x32` if it needs them.", [])]


def _launcher_hint(rec: Recording) -> list[HintEntry]:
    """Syscalls seen only before the workload's first exec: seccomp-learn's launcher made them.

    The tracer records them under the executable PRE_EXEC_NAME. After the filter is on, the launcher makes
    one call, the execve of the command. In older recordings, without the marker anywhere, it is
    recognised by exactly one execve per run (every run has that one, so the workload made none).
    """
    from tracer.capture.session import PRE_EXEC_NAME

    where = f" (recorded under the executable `{PRE_EXEC_NAME}`)"
    pre = sorted({key for t in rec.abis.values() for key, s in t.items()
                  if not key.startswith("#") and s.executables and s.executables <= {PRE_EXEC_NAME}})
    marked = any(PRE_EXEC_NAME in s.executables for t in rec.abis.values() for s in t.values())
    if not pre and not marked and rec.runs:
        execve = [s for t in rec.abis.values() for k, s in t.items() if k == "execve"]
        if execve and all(sum(s.counts.get(r.id, 0) for s in execve) == 1 for r in rec.runs):
            pre, where = ["execve"], " (once per run)"
    if not pre:
        return []
    text = (f"Seen only before the workload's first exec of its own image: {', '.join(pre)}. seccomp-learn's "
            f"launcher made it{where}, not the workload, which never called it.")
    if pre == ["execve"]:
        text += (" That execve is the launcher starting the command; the profile keeps it because in a "
                 "container the runtime makes the same call after loading the filter.")
    return [HintEntry("launcher", text, pre)]


def _recording_hints(rec: Recording, profile: Profile, emitted: Emitted) -> list[HintEntry]:
    hints: list[HintEntry] = []
    seen = set().union(*(rec.names(abi) for abi in rec.abis)) if rec.abis else set()
    if "rt_sigaction" in seen and "rt_sigreturn" not in seen:
        group = next((e.kind for e in emitted.extras if "rt_sigreturn" in e.names), None)
        tail = (f"the profile allows rt_sigreturn anyway (the `{group}` extra), so a handler that does run "
                "can return" if group else
                "the profile does NOT allow rt_sigreturn (extras off): a handler that runs later cannot "
                "return and the process dies")
        text = f"Signal handlers were installed (rt_sigaction) but none ran (no rt_sigreturn): {tail}."
        hints.append(HintEntry("sigreturn", text, ["rt_sigaction", "rt_sigreturn"]))
    if len(rec.runs) > 1:
        once = sorted(
            (f"{key}" if len(rec.abis) == 1 else f"{key} ({abi})", next(iter(s.counts)))
            for abi, table in rec.abis.items() for key, s in table.items()
            if len(s.counts) == 1 and not key.startswith("#")  # unnamed numbers have their own hint
        )
        if once:
            listing = ", ".join(f"{n} ({run})" for n, run in once)
            text = (f"Seen in only one of {len(rec.runs)} runs: {listing}. Rare paths (errors, retries, "
                    "timing) may need more runs to be sure.")
            hints.append(HintEntry("one-run", text, [n for n, _ in once]))
    if emitted.unnamed:
        names = [f"{abi} #{nr}" for abi, nr in emitted.unnamed]
        text = (f"Syscall numbers with no name in the tables: {', '.join(names)}. They are not in the "
                "profile (a profile can only name syscalls): the calls fail under it unless the program "
                "copes.")
        hints.append(HintEntry("unnamed", text, names))
    partial = [r for r in rec.runs if r.partial]
    if partial:
        listing = "; ".join(f"{r.id}: {r.partial_reason or 'no reason recorded'}" for r in partial)
        text = f"Partial run(s), the workload may need more than recorded: {listing}."
        hints.append(HintEntry("partial", text, [r.id for r in partial]))
    hints += _abi_hint(profile)
    hints += _launcher_hint(rec)
    return hints


def _condition_hints(result: DiffResult) -> list[HintEntry]:
    unknown = [c for c in result.conditional if c.fits == "unknown"]
    if not unknown:
        return []
    listing = "; ".join(f"{c.name}: {c.baseline_text}" for c in unknown)
    text = ("The baseline allows these only with some argument values and the input does not say which it "
            f"uses; check them: {listing}.")
    return [HintEntry("condition", text, [c.name for c in unknown])]


def _summary(result: DiffResult, blocked: list[BlockedEntry], **kw: object) -> Summary:
    s = result.summary
    failing = sum(1 for b in blocked if b.fails)
    return Summary(needed=s.needed, needed_allowed=s.needed_allowed, baseline_allowed=s.baseline_allowed,
                   removed=s.removed, removed_percent=s.removed_percent, fails=failing > 0, failing=failing,
                   **kw)  # type: ignore[arg-type]


def _count_notes(result: DiffResult) -> list[str]:
    missing = result.summary.not_counted
    return [f"Not x86_64 syscalls, so not in the summary's counts: {', '.join(missing)}."] if missing else []


def _baseline_info(b: Loaded) -> BaselineInfo:
    return BaselineInfo(b.source.path, b.source.kind, b.source.description)


def build_report(rec: Recording, baseline: str = "docker", emit_opts: EmitOptions | None = None,
                 path: str = "recording") -> Report:
    """The report of a recording: the profile `emit` writes for it (with emit_opts), against `baseline`."""
    emitted = emit(rec, emit_opts or EmitOptions())
    profile = emitted.profile
    base = load_baseline(baseline)
    is_docker = base.source.kind == "docker-default"
    loaded = Loaded(profile, _source(path, "recording", "recording", profile,
                                     {e.kind: list(e.names) for e in emitted.extras}), rec)
    result = diff_baseline(loaded, base)
    blocked = _blocked_entries(result, is_docker)
    n = len(rec.runs)
    entries = []
    for abi, table in rec.abis.items():
        for key, stats in table.items():
            if key.startswith("#"):
                continue
            status, text, cap = _status(key, base, result, is_docker)
            entries.append(SyscallEntry(
                name=key, abi=abi, cls=class_of(key), nr=stats.nr, count=stats.count, runs=len(stats.counts),
                runs_total=n, run_ids=sorted(stats.counts), executables=sorted(stats.executables),
                args=_args_seen(abi, key, stats.args), status=status, status_text=text, capability=cap,
                risk=danger_reason(key)))
    entries.sort(key=lambda e: _entry_order(e.name, e.abi))
    abis = sorted((abi for abi in rec.abis if rec.names(abi)), key=abi_sort_key)
    summary = _summary(result, blocked, observed=len({e.name for e in entries}), abis=abis,
                       architectures=list(profile.architectures), runs=n,
                       partial_runs=sorted(r.id for r in rec.runs if r.partial))
    runs = [RunInfo(r.id, list(r.command), r.started, round(r.duration_s, 3), dict(r.exit), r.partial,
                    r.partial_reason) for r in rec.runs]
    return Report(
        input=Input(path, "recording", rec.tool), baseline=_baseline_info(base), summary=summary, runs=runs,
        blocked=blocked, change=_change(blocked, is_docker), syscalls=entries,
        extras=[ExtraEntry(e.kind, e.reason, list(e.names)) for e in emitted.extras], rules=_rules(profile),
        hints=_recording_hints(rec, profile, emitted) + _condition_hints(result),
        notes=_count_notes(result),
    )


def build_profile_report(profile: Profile, baseline: str = "docker", path: str = "profile") -> Report:
    """The report of a Docker/OCI profile: names, status under the baseline, risks and rules; a profile
    has no counts, runs, executables or argument values, and the report says so."""
    base = load_baseline(baseline)
    is_docker = base.source.kind == "docker-default"
    loaded = Loaded(profile, _source(path, "profile", "seccomp profile", profile))
    result = diff_baseline(loaded, base)
    blocked = _blocked_entries(result, is_docker)
    names = sorted(profile.names("SCMP_ACT_ALLOW") | profile.names("SCMP_ACT_LOG"))
    entries = []
    for name in names:
        if decide(profile, name).status not in _ALLOWS:  # shadowed by an earlier deny rule
            continue
        status, text, cap = _status(name, base, result, is_docker)
        entries.append(SyscallEntry(name=name, abi=None, cls=class_of(name), nr=None, count=None, runs=None,
                                    runs_total=None, run_ids=[], executables=[], args=[], status=status,
                                    status_text=text, capability=cap, risk=danger_reason(name)))
    entries.sort(key=lambda e: _entry_order(e.name, None))
    abis = sorted({ABI_OF_SCMP.get(a, a) for a in profile.architectures}, key=abi_sort_key)
    summary = _summary(result, blocked, observed=None, abis=abis, architectures=list(profile.architectures),
                       runs=None, partial_runs=[])
    notes = ["Input is a profile, not a recording: counts, runs, executables, argument values seen and the "
             "extras emit added are unavailable."]
    notes += _count_notes(result)
    return Report(input=Input(path, "profile", ""), baseline=_baseline_info(base), summary=summary,
                  blocked=blocked, change=_change(blocked, is_docker), syscalls=entries,
                  rules=_rules(profile), hints=_abi_hint(profile) + _condition_hints(result), notes=notes)


# ---- rendering ----------------------------------------------------------------------------------------


def _check_format(fmt: str) -> None:
    """Refuse an unknown format before any work is done."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})", "--format")


def render(report: Report, fmt: str = "markdown", width: int | None = None) -> str:
    """The report in one format; `width`: the terminal's columns when it goes to one."""
    _check_format(fmt)
    module = importlib.import_module(f"{report_format.__name__}.{report_format.FORMATS[fmt]}")
    text: str = module.render(report, width)
    return text


def render_report(rec: Recording, fmt: str = "markdown", baseline: str = "docker",
                  emit_opts: EmitOptions | None = None) -> str:
    """The report of a recording in one format (markdown, json, text)."""
    return render(build_report(rec, baseline, emit_opts), fmt)


def report_file(path: str, fmt: str = "markdown", baseline: str = "docker", width: int | None = None) -> str:
    """The `report` command's library entry: a recording or a profile file, told apart by its content."""
    _check_format(fmt)
    loaded = load_input(path)
    if loaded.recording is not None:
        return render(build_report(loaded.recording, baseline, path=path), fmt, width)
    return render(build_profile_report(loaded.profile, baseline, path=path), fmt, width)
