"""`seccomp-learn ci --check`: how each committed profile differs from the one the runs produce."""

from __future__ import annotations

import os

from tracer.baseline.profile_file import document_from_text, profile_from_document
from tracer.ci.config import shown_path
from tracer.ci.runs import Built
from tracer.errors import UserError
from tracer.fileio import read_input
from tracer.printable import printable
from tracer.recording import schema as rec_io
from tracer.recording.schema import Recording
from tracer.structs import Struct, field


class Drift(Struct):
    """How a profile on disk differs from the one the runs produce."""

    added: dict[str, list[str]] = field(default_factory=dict)  # name -> runs that saw it (or why added)
    removed: dict[str, list[str]] = field(default_factory=dict)  # name -> runs that saw it last time
    missing: bool = False  # no profile on disk yet
    unreadable: str | None = None


def _runs_seeing(rec: Recording, name: str) -> list[str]:
    return sorted({run for table in rec.abis.values() if name in table for run in table[name].counts})


def drift(b: Built) -> Drift | None:
    """None when the profile on disk is byte-identical to the new one."""
    old_text = None
    if os.path.exists(b.spec.output):
        try:
            old_text = read_input(b.spec.output, "profile")
        except UserError as exc:
            return Drift(unreadable=str(exc))
    if old_text == b.text:
        return None
    new_names = b.emitted.profile.names()
    out = Drift()
    old_names: set[str] = set()
    if old_text is None:
        out.missing = True
    else:
        source = str(b.spec.output)
        try:
            old_names = profile_from_document(document_from_text(old_text, source), source).names()
        except UserError as exc:
            out.unreadable = f"not a profile ({str(exc).removeprefix(f'{source}: ')})"
    why_extra = {n: f"{e.kind} extra" for e in b.emitted.extras for n in e.names}
    for name in sorted(new_names - old_names):
        out.added[name] = _runs_seeing(b.recording, name) or [why_extra.get(name, "added by the emitter")]
    old_rec = None
    if b.spec.recording.exists():
        try:
            old_rec = rec_io.load(b.spec.recording)
        except UserError:
            old_rec = None
    for name in sorted(old_names - new_names):
        out.removed[name] = _runs_seeing(old_rec, name) if old_rec else []
    return out


def render_check(built: list[Built]) -> tuple[int, str]:
    """Exit code 1 when any profile would change, and the lines that say how."""
    lines = []
    changed = 0
    for b in built:
        d = drift(b)
        where = f"profile {b.spec.name} ({shown_path(b.spec.output)})"
        if d is None:
            lines.append(f"{where}: up to date")
            continue
        changed += 1
        if d.missing:
            lines.append(f"{where}: would be created ({len(b.emitted.profile.names())} syscalls)")
            continue
        if d.unreadable:
            lines.append(f"{where}: would be replaced: {d.unreadable}")
            continue
        lines.append(f"{where}: would change")
        width = max((len(n) for n in [*d.added, *d.removed]), default=0)
        for name, runs in d.added.items():
            lines.append(f"  + {name:<{width}}  seen by {', '.join(runs)}")
        for name, runs in d.removed.items():
            was = f"no run sees it now (last seen by {', '.join(runs)})" if runs else "no run sees it now"
            lines.append(f"  - {name:<{width}}  {was}")
        if not d.added and not d.removed:
            lines.append("  same syscalls; argument rules, architectures or comments differ")
    if changed:
        lines.append(f"{changed} of {len(built)} profile(s) out of date: run `seccomp-learn ci` and commit the result")
    return (1 if changed else 0), "".join(f"{printable(line)}\n" for line in lines)
