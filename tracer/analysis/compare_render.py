"""The diff's two renderings: the documented JSON (docs/diff-format.md) and a rich table for a terminal."""

from __future__ import annotations

import shutil
import sys
from io import StringIO
from typing import Any

from tracer.analysis.compare import FORMAT, VERSION, DiffResult
from tracer.analysis.conditions import ABI
from tracer.analysis.inputs import Source
from tracer.fileio import json_text
from tracer.printable import printable
from tracer.structs import Struct, asdict


def _source_json(source: Source) -> dict[str, Any]:
    """A side as the JSON has it: numbers without a name sit in `extras` under "unnamed"."""
    out = asdict(source)
    unnamed = out.pop("unnamed")
    if unnamed:
        out["extras"]["unnamed"] = unnamed
    return out


def to_json(result: DiffResult) -> dict[str, Any]:
    """The documented JSON shape (docs/diff-format.md)."""
    out: dict[str, Any] = {"format": FORMAT, "version": VERSION, "mode": result.mode, "abi": ABI}
    sides = ("baseline", "profile") if result.mode == "baseline" else ("old", "new")
    out[sides[0]] = _source_json(result.old)
    out[sides[1]] = _source_json(result.new)
    out["summary"] = asdict(result.summary)
    out["removed"] = [asdict(r) for r in result.removed]
    out["dangerous_removed"] = result.dangerous_removed
    if result.mode == "baseline":
        out["dangerous_kept"] = [asdict(k) for k in result.dangerous_kept]
        out["blocked"] = [asdict(b) for b in result.blocked]
        out["conditional"] = [asdict(c) for c in result.conditional]
    else:
        out["added"] = [asdict(a) for a in result.added]
        out["changed"] = [asdict(c) for c in result.changed]
    out["notes"] = result.notes
    out["hosts"] = [asdict(h) for h in result.hosts]
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

    if result.hosts:
        t = table("host", "architectures", "allows", "not observed (mapped from another ABI's calls)",
                  "listed, not on this host")
        for h in result.hosts:
            t.add_row(h.abi, ", ".join(a.removeprefix("SCMP_ARCH_") for a in h.architectures), str(len(h.allowed)),
                      _breakable(h.mapped_text()), _breakable(", ".join(h.absent) or "-"))
        section(f"[bold]Per host[/] ({'NEW ' if pair else ''}lists {len(result.hosts)}; counts above are x86_64):", t)

    if result.blocked:
        t = table("syscall", "baseline", "why (Docker)" if result.old.kind == "docker-default" else "why",
                  "what would allow it")
        for b in result.blocked:
            t.add_row(f"[yellow]{b.name}[/]" if b.falls_back_to else f"[red]{b.name}[/]",
                      b.refusal(), b.reason or "-", b.hint.text)
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


def _markup_safe(value: Any) -> Any:
    """`value` with every string in it printable (tracer.printable) and taken literally by rich's markup: a
    path or a profile's syscall name like `[red]` or `\x1b[2J` is shown as written, never obeyed."""
    from rich.markup import escape

    if isinstance(value, str):
        return escape(printable(value))
    if isinstance(value, Struct):
        return type(value)(**{name: _markup_safe(getattr(value, name)) for name in value._fields})
    if isinstance(value, list | tuple | set):
        return type(value)(_markup_safe(v) for v in value)
    if isinstance(value, dict):
        return {_markup_safe(k): _markup_safe(v) for k, v in value.items()}
    return value


def render(result: DiffResult, as_json: bool) -> str:
    """JSON for machines, or a table sized to the terminal (colour only when stdout is a tty)."""
    if as_json:
        return json_text(to_json(result))
    tty = sys.stdout.isatty()
    width = shutil.get_terminal_size((100, 24)).columns if tty else 100
    return render_text(_markup_safe(result), color=tty, width=width)
