"""`seccomp-learn emit`: the profile for one or more recordings (several are merged first)."""

from __future__ import annotations

from tracer.commands.outcome import Outcome, deliver
from tracer.errors import UserError
from tracer.profile import formats
from tracer.profile.emit import EmitOptions, Emitted, emit
from tracer.recording import model as rec_io
from tracer.recording.merge import merge_files


def emit_summary(emitted: Emitted, path: str) -> list[str]:
    """What a written profile holds: its size, the extras added, and what could not go in."""
    p = emitted.profile
    lines = [f"wrote {path}: {len(p.names())} syscalls ({', '.join(p.architectures)}), "
             f"default {p.default_action}"]
    lines += [f"  + {e.kind}: {' '.join(e.names)}" for e in emitted.extras]
    lines += [f"  + mapped {m.line()}" for m in emitted.mappings]
    lines += [f"  note: {note}" for m in emitted.mappings for note in m.notes]
    if not p.syscalls:
        lines.append("  warning: the profile allows nothing")
    lines += [f"  warning: {abi} syscall {nr} has no name in the tables and is not in the profile"
              for abi, nr in emitted.unnamed]
    return lines


def run_emit(recording_paths: list[str], eopts: EmitOptions, fmt: str, output: str) -> Outcome:
    rec = rec_io.load(recording_paths[0]) if len(recording_paths) == 1 else merge_files(recording_paths)
    try:
        emitted = emit(rec, eopts)
        text = formats.render(fmt, emitted.profile, rec)
    except UserError as exc:  # name the input(s) when the problem is in the recording
        raise exc if exc.source else UserError(str(exc), ", ".join(recording_paths)) from None
    return deliver(text, output, written=emit_summary(emitted, output))
