"""Building the audit report (report/content.py) of a recording or a profile against a baseline.

The classification against the baseline (needed, blocked, conditional, removed surface, what would allow
a call) is the diff's (analysis/compare.py); this adds the per-syscall provenance a recording has (counts,
runs, executables, decoded argument values), the extras `emit` added, the profile's argument rules in
words, and hints. Output is deterministic: everything is sorted, and the only times are the recording's
run metadata. See docs/report-format.md.
"""

from __future__ import annotations

from tracer.analysis.compare import Blocked, Conditional, DiffResult, diff_baseline
from tracer.analysis.conditions import alternatives_text
from tracer.analysis.danger import cap_flag, danger_reason
from tracer.analysis.inputs import ARCH, Loaded, from_recording, load_baseline
from tracer.baseline.decide import decide, refusal_text
from tracer.baseline.resolve import required_capability
from tracer.profile.limits import limits
from tracer.profile.policy import EmitOptions, Emitted
from tracer.profile.seccomp_json import Profile
from tracer.recording.coverage import SHORT_SERVER_S, short_server_runs
from tracer.recording.schema import PRE_EXEC_NAME, ArgValues, Recording
from tracer.recording.union import runs_covering
from tracer.report import formats
from tracer.report.content import (
    THIS_PROFILE,
    ArgSeen,
    BaselineInfo,
    BlockedEntry,
    HintEntry,
    Input,
    NameStatus,
    Report,
    ReportSummary,
    RuleEntry,
    RunInfo,
    SyscallEntry,
)
from tracer.structs import Struct
from tracer.syscalls.abi import ABI_OF_SCMP, abi_sort_key
from tracer.syscalls.decode import shown, sockopt_name
from tracer.syscalls.info import CLASS_GROUPS, class_of, filterable_args

_CLASS_ORDER = {cls: i for i, cls in enumerate(CLASS_GROUPS)}


def _entry_order(name: str, abi: str | None) -> tuple[int, str, tuple[int, str]]:
    return (_CLASS_ORDER.get(class_of(name), len(_CLASS_ORDER)), name, abi_sort_key(abi or ""))


def _blocked_entries(result: DiffResult, is_docker: bool) -> list[BlockedEntry]:
    out = []
    for b in result.blocked:
        out.append(_from_blocked(b, is_docker))
    for c in result.conditional:
        if c.fits == "no":
            out.append(_from_conditional(c))
    return sorted(out, key=lambda e: (not e.fails, _entry_order(e.name, None)))


def _from_blocked(b: Blocked, is_docker: bool) -> BlockedEntry:
    baseline = b.refusal()
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


class _Verdicts(Struct):
    """The baseline's answer for each needed name: the diff's entries, indexed once by name."""

    baseline: Loaded
    is_docker: bool
    conditional: dict[str, Conditional]
    blocked: dict[str, Blocked]

    @classmethod
    def of(cls, result: DiffResult, baseline: Loaded, is_docker: bool) -> _Verdicts:
        return cls(baseline, is_docker, {c.name: c for c in result.conditional}, {b.name: b for b in result.blocked})

    def of_name(self, name: str) -> tuple[NameStatus, str, str | None]:
        """(status, text, capability) of one needed name, from the diff where it has it."""
        c = self.conditional.get(name)
        if c is not None:
            fit = {"yes": "observed values fit", "no": "refuses " + ("; ".join(c.misfits) or c.needed_text),
                   "unknown": "cannot tell if the values fit"}[c.fits]
            return "allowed_with_args", f"allowed if {c.baseline_text} ({fit})", None
        b = self.blocked.get(name)
        if b is not None:
            cap = b.hint.capability
            if b.falls_back_to:
                return "blocked", f"blocked ({b.errno}); libc falls back to {', '.join(b.falls_back_to)}", cap
            if cap and b.hint.kind == "capability":
                return "needs_capability", f"needs {cap}", cap
            return "blocked", f"blocked ({b.refusal()})", None
        d = decide(self.baseline.profile, name)  # a name the diff does not count (not on x86_64)
        if d.status == "allowed":
            return "allowed", "allowed", None
        if d.status == "allowed_with_args":
            return "allowed_with_args", "allowed if " + alternatives_text(name, d.args), None
        cap = required_capability(name, ARCH) if self.is_docker else None
        if cap:
            return "needs_capability", f"needs {cap}", cap
        return "blocked", f"blocked ({refusal_text(d.action, d.errno_ret)})", None


def _args_seen(abi: str, name: str, args: dict[int, ArgValues]) -> list[ArgSeen]:
    out = []
    for spec in filterable_args(abi, name):
        seen = args.get(spec.index)
        if seen is None:
            continue
        bits = None
        if spec.kind == "flags" and seen.bits is not None:
            bits = shown(spec.decoder, seen.bits)
        levels = args.get(1) if spec.decoder == "sockopt_name" else None  # an option is named by its level
        if seen.many:
            values = []
        elif levels is not None and not levels.many:
            values = [sockopt_name(v, levels.values) for v in sorted(seen.values)]
        else:
            values = [shown(spec.decoder, v) for v in sorted(seen.values)]
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


def _limit_hints(profile: Profile) -> list[HintEntry]:
    """The argument rules that forbid a common variation of the observed use (profile/limits.py)."""
    return [HintEntry("limit", limit.text, [limit.name]) for limit in limits(profile)]


def _launcher_hint(rec: Recording) -> list[HintEntry]:
    """Syscalls seen only before the workload's first exec: seccomp-learn's launcher made them.

    The tracer records them under the executable PRE_EXEC_NAME. After the filter is on, the launcher makes
    one call, the execve of the command. In older recordings, without the marker anywhere, it is
    recognised by exactly one execve per run (every run has that one, so the workload made none).
    """
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
    seen = rec.all_names() - emitted.base_extras
    if "rt_sigaction" in seen and "rt_sigreturn" not in seen:
        group = next((e.kind for e in emitted.extras if "rt_sigreturn" in e.names), None)
        tail = (f"the profile allows rt_sigreturn anyway (the `{group}` extra), so a handler that does run "
                "can return" if group else
                "the profile does NOT allow rt_sigreturn (extras off): a handler that runs later cannot "
                "return and the process dies")
        text = f"Signal handlers were installed (rt_sigaction) but none ran (no rt_sigreturn): {tail}."
        hints.append(HintEntry("sigreturn", text, ["rt_sigaction", "rt_sigreturn"]))
    if len(rec.runs) > 1:
        covering = {(abi, key): runs_covering(rec, key, s) for abi, table in rec.abis.items()
                    for key, s in table.items() if not key.startswith("#")}  # unnamed numbers: their own hint
        once = sorted((key if len(rec.abis) == 1 else f"{key} ({abi})", next(iter(runs)))
                      for (abi, key), runs in covering.items() if len(runs) == 1)
        if once:
            listing = ", ".join(f"{n} ({run})" for n, run in once)
            text = (f"Seen in only one of {len(rec.runs)} runs: {listing}. Rare paths (errors, retries, "
                    "timing, state left by an earlier run) may need more runs to be sure (`--repeat N`).")
            hints.append(HintEntry("one-run", text, [n for n, _ in once]))
    short = short_server_runs(rec)
    if short:
        listing = ", ".join(f"{r.id} ({r.duration_s:.1f}s)" for r in short)
        text = (f"Stopped by seccomp-learn after less than {SHORT_SERVER_S:g}s: {listing}. What a server does on a "
                "timer (lighttpd's sysinfo, a second after it starts) may be missing: let it run longer (a longer "
                "`--during` driver, or `--duration`), or merge more runs (`--repeat N`).")
        hints.append(HintEntry("short-run", text, [r.id for r in short]))
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
    hints += _limit_hints(profile)
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


def _summary(result: DiffResult, blocked: list[BlockedEntry], *, observed: int | None, abis: list[str],
             architectures: list[str], runs: int | None, partial_runs: list[str]) -> ReportSummary:
    s = result.summary
    failing = sum(1 for b in blocked if b.fails)
    return ReportSummary(needed=s.needed, needed_allowed=s.needed_allowed, baseline_allowed=s.baseline_allowed,
                         removed=s.removed, removed_percent=s.removed_percent, observed=observed, abis=abis,
                         architectures=architectures, runs=runs, partial_runs=partial_runs, fails=failing > 0,
                         failing=failing)


def _count_notes(result: DiffResult) -> list[str]:
    missing = result.summary.not_counted
    return [f"Not x86_64 syscalls, so not in the summary's counts: {', '.join(missing)}."] if missing else []


def _baseline_info(b: Loaded) -> BaselineInfo:
    return BaselineInfo(b.source.path, b.source.kind, b.source.description)


def build_report(subject: Loaded, baseline: Loaded) -> Report:
    """The report of a loaded recording (with what emit made of it) or profile, against a loaded baseline."""
    result = diff_baseline(subject, baseline)
    is_docker = baseline.source.kind == "docker-default"
    blocked = _blocked_entries(result, is_docker)
    verdicts = _Verdicts.of(result, baseline, is_docker)
    base_info = _baseline_info(baseline)
    change = _change(blocked, is_docker)
    if subject.recording is not None and subject.emitted is not None:
        return _recording_report(subject.recording, subject.emitted, subject.source.path, result, blocked,
                                 verdicts, base_info, change)
    profile = subject.profile
    entries = []
    for name in sorted(profile.allowing_names()):
        if not decide(profile, name).allows:  # shadowed by an earlier deny rule
            continue
        status, text, cap = verdicts.of_name(name)
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
    return Report(input=Input(subject.source.path, "profile", ""), baseline=base_info, summary=summary,
                  blocked=blocked, change=change, syscalls=entries, rules=_rules(profile),
                  hints=_abi_hint(profile) + _limit_hints(profile) + _condition_hints(result), notes=notes,
                  hosts=result.hosts)


def _recording_report(rec: Recording, emitted: Emitted, path: str, result: DiffResult,
                      blocked: list[BlockedEntry], verdicts: _Verdicts, base_info: BaselineInfo,
                      change: list[str]) -> Report:
    profile = emitted.profile
    n = len(rec.runs)
    entries = []
    for abi, table in rec.abis.items():
        for key, stats in table.items():
            if key.startswith("#") or key in emitted.base_extras:  # those are the extras'
                continue
            status, text, cap = verdicts.of_name(key)
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
        input=Input(path, "recording", rec.tool), baseline=base_info, summary=summary, runs=runs,
        blocked=blocked, change=change, syscalls=entries,
        extras=list(emitted.extras), rules=_rules(profile),
        hints=_recording_hints(rec, profile, emitted) + _condition_hints(result),
        notes=_count_notes(result), hosts=result.hosts,
    )


def render_report(rec: Recording, fmt: str = "markdown", baseline: str = "docker",
                  emit_opts: EmitOptions | None = None) -> str:
    """The report of a recording in one format (markdown, json, text): the library's one-call entry."""
    formats.check_format(fmt)
    return formats.render(build_report(from_recording(rec, "recording", emit_opts), load_baseline(baseline)), fmt)
