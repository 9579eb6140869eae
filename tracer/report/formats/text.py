"""`report --format text`: plain aligned columns for a terminal (no colour, no wrapping: try less -S)."""

from __future__ import annotations

import shlex

from tracer.report.formats import _common as c
from tracer.report.model import Report, SyscallEntry


def _table(headers: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for r in [headers, ["-" * w for w in widths], *rows]:
        lines.append((indent + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True))).rstrip())
    return lines


def _section(title: str) -> list[str]:
    return ["", title, "=" * len(title)]


def _row(e: SyscallEntry, provenance: bool) -> list[str]:
    row = [e.name]
    if provenance:
        row += [e.abi or "-", c.count_text(e), c.runs_text(e), ",".join(c.exes_text(e)) or "-",
                "; ".join(c.arg_text(a) for a in e.args) or "-"]
    return [*row, e.status_text, "sensitive" if e.risk else ""]


def render(report: Report) -> str:
    s = report.summary
    out = [f"seccomp-learn report: {c.title(report)}", c.headline(report).replace("`", ""), ""]
    out += _table(["", ""], [
        ["syscalls needed", c.needed_text(report)],
        [f"allowed by {c.baseline_name(report)}", f"{s.baseline_allowed} (x86_64)"],
        ["needed and allowed by it", str(s.needed_allowed)],
        ["attack surface removed", f"{s.removed} of {s.baseline_allowed} ({s.removed_percent:g}%)"],
        ["ABIs", c.abis_text(report)],
        ["runs", c.runs_summary(report)],
    ])[2:]
    out += [f"note: {n}" for n in report.notes]

    out += _section("What the baseline would block")
    if not report.blocked:
        out.append(f"nothing: {c.baseline_name(report)} allows every syscall it needs")
    else:
        if s.fails:
            out += ["The workload fails under plain docker run unless one of these changes is made:"]
            out += [f"  {line}" for line in c.change_lines(report)]
            out += [f"  ({c.profile_note().replace('`', '')})", ""]
        for b in report.blocked:
            fix = " or ".join(b.fix) + (f" ({b.note})" if b.note and b.fix else "") if b.fix else b.note
            out += [f"  {b.name} ({b.cls}): baseline {b.baseline}", f"    why: {b.reason or '-'}",
                    f"    change: {fix}"]

    if report.hosts:
        out += _section(f"Per host ({len(report.hosts)})")
        out += [f"  {h.line()}" for h in report.hosts]

    provenance = report.input.kind == "recording"
    out += _section(f"Needed syscalls by class ({len(report.syscalls)})")
    if not provenance:
        out.append("counts, runs, executables and argument values are unavailable: the input is a profile")
    headers = ["syscall"]
    if provenance:
        headers += ["abi", "count", "runs", "executables", "arguments seen"]
    headers += ["baseline", ""]
    classes = c.classes(report)
    for cls in classes:
        rows = [_row(e, provenance) for e in report.syscalls if e.cls == cls]
        out += ["", f"{cls}:", *_table(headers, rows)]
    risky = [e for e in report.syscalls if e.risk]
    if risky:
        out += ["", "sensitive:"] + [f"  {e.name}: {e.risk}" for e in risky]

    if report.extras:
        out += _section("Extras added to the profile")
        out += [f"  {e.kind}: {' '.join(e.text(n) for n in e.names)}\n    {e.reason.split(': ', 1)[-1]}"
                for e in report.extras]

    out += _section("Argument rules in the profile")
    out += [f"  {r.name}: only when {r.text}" for r in report.rules] or ["  none: any arguments are allowed"]

    if report.hints:
        out += _section("Hints")
        out += [f"  - {h.kind}: {h.text.replace('`', '')}" for h in report.hints]

    if report.runs:
        out += _section("Runs")
        out += _table(["run", "started", "duration", "exit", "partial", "command"],
                      [[r.id, r.started, f"{r.duration_s:g}s", c.exit_text(r),
                        (r.partial_reason or "yes") if r.partial else "no", shlex.join(r.command)]
                       for r in report.runs])
    out += ["", f"baseline: {report.baseline.description}"]
    return "\n".join(out) + "\n"
