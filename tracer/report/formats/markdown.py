"""`report --format markdown`: a GitHub pull-request comment (tables; the long per-syscall list folds)."""

from __future__ import annotations

import shlex

from tracer.report.formats import wording as c
from tracer.report.model import Report, SyscallEntry


def _cell(text: str) -> str:
    """Table-safe: pipes escaped (GitHub honours `\\|` inside code spans too), no line breaks."""
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{_cell(text)}`" if text else ""


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return [_row(*headers), _row(*("---" for _ in headers)), *(_row(*r) for r in rows), ""]


def _status_cell(e: SyscallEntry) -> str:
    """The baseline's answer; refusals in bold, so they stand out in a long table."""
    text = _cell(e.status_text)
    return text if e.status in ("allowed", "allowed_with_args") else f"**{text}**"


def _syscall_row(e: SyscallEntry, provenance: bool) -> list[str]:
    row = [_code(e.name)]
    if provenance:
        args = "<br>".join(_code(c.arg_text(a)) for a in e.args) or "-"
        exes = ", ".join(_code(x) for x in c.exes_text(e)) or "-"
        row += [e.abi or "-", c.count_text(e), c.runs_text(e), exes, args]
    row += [_status_cell(e), _cell(e.risk or "")]
    return row


def render(report: Report, width: int | None = None) -> str:
    del width  # a pull-request comment: the reader's browser lays it out (on a terminal, see terminal.py)
    s = report.summary
    out = [f"## seccomp-learn report: {_code(c.title(report))}", ""]
    out += [f"**{c.headline(report)}**", ""]
    out += _table([" ", " "], [
        ["Syscalls needed", _cell(c.needed_text(report))],
        [f"Allowed by {_cell(c.baseline_name(report))}", f"{s.baseline_allowed} (x86_64)"],
        ["Needed and allowed by it", str(s.needed_allowed)],
        ["Attack surface removed", f"**{s.removed} of {s.baseline_allowed} ({s.removed_percent:g}%)**"],
        ["ABIs", _cell(c.abis_text(report))],
        ["Runs", _cell(c.runs_summary(report))],
    ])
    for note in report.notes:
        out += [f"> {note}", ""]

    out += ["### What the baseline would block", ""]
    if not report.blocked:
        out += [f"Nothing: {_cell(c.baseline_name(report))} allows every syscall it needs"
                + (" with the argument values it uses." if report.input.kind == "recording" else "."), ""]
    else:
        if s.fails:
            out += ["The workload fails under plain `docker run` unless one of these changes is made:", ""]
            out += ["```sh", *c.change_lines(report), "```", "", f"_{c.profile_note()}_", ""]
        rows = [[_code(b.name), b.cls, _cell(b.baseline), _cell(b.reason or "-"),
                 " or ".join(_code(f) for f in b.fix) + (f" ({_cell(b.note)})" if b.note else "")
                 if b.fix else _cell(b.note)] for b in report.blocked]
        out += _table(["syscall", "class", "baseline", "why it is refused", "change"], rows)

    if report.hosts:
        out += ["### Per host", "", "Names marked with `<-` were mapped from calls observed on another ABI, "
                "not observed on this one.", ""]
        out += _table(["host", "architectures", "allows", "not observed (mapped)", "listed, not on this host"],
                      [[h.abi, ", ".join(_code(a) for a in h.architectures), str(len(h.allowed)),
                        _cell(h.mapped_text()), ", ".join(_code(n) for n in h.absent) or "-"] for h in report.hosts])

    provenance = report.input.kind == "recording"
    out += ["### Needed syscalls by class", ""]
    if not provenance:
        out += ["_Counts, runs, executables and argument values are unavailable: the input is a profile._",
                ""]
    classes = c.classes(report)
    counts = ", ".join(f"{cls} {sum(1 for e in report.syscalls if e.cls == cls)}" for cls in classes)
    out += ["<details>", f"<summary>{len(report.syscalls)} syscalls: {counts}</summary>", ""]
    headers = ["syscall"]
    if provenance:
        headers += ["ABI", "count", "runs", "executables", "arguments seen"]
    headers += ["baseline", "risk"]
    for cls in classes:
        out += [f"#### {cls}", ""]
        out += _table(headers, [_syscall_row(e, provenance) for e in report.syscalls if e.cls == cls])
    out += ["</details>", ""]

    if report.extras:
        out += ["### Extras added to the profile", ""]
        out += _table(["kind", "syscalls", "why"],
                      [[e.kind, ", ".join(_code(e.text(n)) for n in e.names), _cell(e.reason.split(": ", 1)[-1])]
                       for e in report.extras])

    out += ["### Argument rules in the profile", ""]
    if report.rules:
        out += _table(["syscall", "allowed only when"],
                      [[_code(r.name), _cell(r.text)] for r in report.rules])
    else:
        out += ["None: every syscall the profile allows is allowed with any arguments.", ""]

    if report.hints:
        out += ["### Hints", ""]
        out += [f"- **{h.kind}**: {h.text}" for h in report.hints] + [""]

    if report.runs:
        out += ["### Runs", ""]
        out += _table(["run", "command", "started", "duration", "exit", "partial"],
                      [[_code(r.id), _code(shlex.join(r.command)), r.started, f"{r.duration_s:g}s",
                        c.exit_text(r), _cell(r.partial_reason or "yes") if r.partial else "no"]
                       for r in report.runs])
    out.append(f"<sub>Baseline: {_cell(report.baseline.description)}. {_cell(report.input.tool)}</sub>")
    return "\n".join(out).rstrip("\n") + "\n"
