"""`report --format text`: plain aligned columns, no colour.

On a terminal (`width` given) every line fits it: table cells wrap within their column (the widest
columns give way first) and long lines wrap with a hanging indent. Into a file or pipe nothing is
wrapped, so every cell stays on one line for grep; markdown and json always hold everything.
"""

from __future__ import annotations

import shlex
import textwrap

from tracer.report.formats import wording as c
from tracer.report.model import Report, SyscallEntry

_GAP = "  "
_NARROWEST = 4  # no column is squeezed below this


class _Fitted(str):
    """A table line, already laid out for the width: never re-wrapped as prose."""


def _fit(widths: list[int], words: list[int], room: int) -> list[int]:
    """Column widths that sum to at most `room` where possible. The widest column gives way first: short
    columns (up to 8) stay whole, others keep their longest word (up to 12); if that is not enough, further."""
    widths = list(widths)
    for floor in ([w if w <= 8 else max(8, min(n, 12)) for w, n in zip(widths, words, strict=True)],
                  [min(w, _NARROWEST) for w in widths]):
        floor[0] = widths[0]  # the first column (the syscall name, the key) is never squeezed
        while sum(widths) > room:
            i = max(range(len(widths)), key=lambda k: widths[k] - floor[k])
            if widths[i] <= floor[i]:
                break  # as narrow as this floor allows
            widths[i] -= 1
    return widths


def _table(headers: list[str], rows: list[list[str]], width: int | None, indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    if width is not None:
        words = [max((len(word) for r in rows for word in r[i].split()), default=0) for i in range(len(headers))]
        widths = _fit(widths, words, width - len(indent) - len(_GAP) * (len(headers) - 1))
    lines: list[str] = []
    for r in [headers, ["-" * w for w in widths], *rows]:
        cells = [textwrap.wrap(cell, max(w, 1), break_on_hyphens=False) or [""] if width is not None else [cell]
                 for cell, w in zip(r, widths, strict=True)]
        for k in range(max(len(parts) for parts in cells)):
            row = [(parts[k] if k < len(parts) else "").ljust(w) for parts, w in zip(cells, widths, strict=True)]
            line = (indent + _GAP.join(row)).rstrip()
            lines.append(_Fitted(line if width is None or len(line) <= width else line[: width - 1] + "…"))
    return lines


def _wrapped(lines: list[str], width: int | None) -> list[str]:
    """Prose lines longer than width wrapped, continuing two columns deeper than they start."""
    if width is None:
        return lines
    out = []
    for line in lines:
        if len(line) <= width or isinstance(line, _Fitted) or not line.strip():
            out.append(line)
            continue
        lead = line[: len(line) - len(line.lstrip())]
        out += textwrap.wrap(line, width, subsequent_indent=lead + "  ", break_on_hyphens=False)
    return out


def _section(title: str) -> list[str]:
    return ["", title, "=" * len(title)]


def _row(e: SyscallEntry, provenance: bool) -> list[str]:
    row = [e.name]
    if provenance:
        row += [e.abi or "-", c.count_text(e), c.runs_text(e), ",".join(c.exes_text(e)) or "-",
                "; ".join(c.arg_text(a) for a in e.args) or "-"]
    return [*row, e.status_text, "sensitive" if e.risk else ""]


def render(report: Report, width: int | None = None) -> str:
    s = report.summary
    out = [f"seccomp-learn report: {c.title(report)}", c.headline(report).replace("`", ""), ""]
    out += _table(["", ""], width=width, rows=[
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
        out += ["", f"{cls}:", *_table(headers, rows, width)]
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
                       for r in report.runs], width)
    out += ["", f"baseline: {report.baseline.description}"]
    return "\n".join(_wrapped(out, width)) + "\n"
