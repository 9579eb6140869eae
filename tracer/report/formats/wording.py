"""Wording shared by the human formats (markdown, text): the same sentence must not be phrased twice."""

from __future__ import annotations

import os
import shlex

from tracer.report.model import THIS_PROFILE, ArgSeen, Report, RunInfo, SyscallEntry
from tracer.syscalls.info import CLASS_GROUPS


def baseline_name(report: Report) -> str:
    b = report.baseline
    return "Docker's default profile" if b.kind == "docker-default" else f"the baseline {b.path}"


def classes(report: Report) -> list[str]:
    """The classes the needed syscalls fall in, in CLASS_GROUPS order (any others after, by name)."""
    known = [cls for cls in CLASS_GROUPS if any(e.cls == cls for e in report.syscalls)]
    return known + sorted({e.cls for e in report.syscalls} - set(known))


def title(report: Report) -> str:
    if report.input.kind == "recording" and report.runs:
        commands = sorted({shlex.join(r.command) for r in report.runs})
        return "; ".join(commands)
    return report.input.path


def headline(report: Report) -> str:
    s = report.summary
    base = baseline_name(report)
    if s.fails:
        what = "plain `docker run`" if report.baseline.kind == "docker-default" else base
        return (f"Fails under {what} without a change: {s.failing} needed syscall"
                f"{'s are' if s.failing != 1 else ' is'} refused by {base}.")
    if report.blocked:
        return f"Runs under {base}: the calls it refuses fall back to older ones it allows."
    return f"Runs under {base}: everything it needs is allowed."


def change_lines(report: Report) -> list[str]:
    """One `docker run ...` line per way to make it run, best first."""
    return [f"docker run {opt} IMAGE ..." for opt in report.change]


def profile_note() -> str:
    return f"{THIS_PROFILE} is the profile `seccomp-learn emit` writes for this input."


def runs_text(e: SyscallEntry) -> str:
    return "-" if e.runs is None else f"{e.runs} of {e.runs_total}"


def exes_text(e: SyscallEntry) -> list[str]:
    return [os.path.basename(x) or x for x in e.executables]


def arg_text(a: ArgSeen) -> str:
    if a.many:
        bits = f" (bits seen: {a.bits})" if a.bits else ""
        return f"{a.name}: many{bits}"
    return f"{a.name}: {', '.join(a.values) if a.values else 'none'}"


def count_text(e: SyscallEntry) -> str:
    return "-" if e.count is None else str(e.count)


def exit_text(r: RunInfo) -> str:
    if "signal" in r.exit:
        return str(r.exit.get("name") or f"signal {r.exit['signal']}")
    return f"exit {r.exit.get('code', '?')}"


def abis_text(report: Report) -> str:
    s = report.summary
    return f"{', '.join(s.abis) or 'none'} (profile: {', '.join(s.architectures) or 'no architectures'})"


def runs_summary(report: Report) -> str:
    s = report.summary
    if s.runs is None:
        return "unavailable (a profile)"
    if not s.partial_runs:
        return f"{s.runs}, none partial"
    return f"{s.runs}, {len(s.partial_runs)} partial: {', '.join(s.partial_runs)}"


def needed_text(report: Report) -> str:
    s = report.summary
    if s.observed is None:
        return f"{s.needed} (names the profile allows, x86_64)"
    return f"{s.needed} (x86_64): {s.observed} observed + {s.needed - s.observed} added by emit"
