"""Where a command's profile goes, and the one way there: check the output before any work, then emit,
render and deliver, with the summary that says what the profile holds (run, emit, container, systemd-unit)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tracer.commands.outcome import Outcome, deliver
from tracer.enforce import export
from tracer.fileio import STDOUT, check_output
from tracer.profile import formats
from tracer.profile.limits import limits
from tracer.profile.policy import EmitOptions, Emitted, emit
from tracer.recording.schema import Recording
from tracer.structs import Struct


class Made(Struct, frozen=True):
    """A profile rendered for its output, and what emit made of the recording."""

    text: formats.Rendered
    emitted: Emitted
    rec: Recording


class ProfileOutput(Struct, frozen=True):
    """A profile's destination and labels: `path` ("-" is standard output), the format, and for
    `--format kubernetes` its metadata.name and metadata.namespace."""

    path: str
    fmt: str = "docker"
    name: str | None = None
    namespace: str | None = None

    def check(self) -> None:
        """Refuse, before anything runs or is read, a format, a name or an output that cannot be written."""
        formats.check(self.fmt, self.name, self.namespace)
        check_output(self.path)

    def make(self, rec: Recording, eopts: EmitOptions) -> Made:
        """The profile of rec, rendered in this output's format."""
        emitted = emit(rec, eopts)
        return Made(export.render(self.fmt, emitted.profile, rec, self.name, self.namespace), emitted, rec)

    def write(self, made: Made, notes: Sequence[str] = (), more: Callable[[], Sequence[str]] | None = None) -> Outcome:
        """Deliver a made profile. The summary: `notes`, then what the profile holds (headed, for a file, by
        the line that says it was written), then `more()`."""
        def summary(written: str | None) -> list[str]:
            return [*emit_summary(made.emitted, made.rec, written, self.fmt), *(more() if more else ())]

        if self.path == STDOUT:
            return Outcome(0, [*notes, *summary(None)], stdout=made.text)
        return deliver(made.text, self.path, notes, written=summary)

    def deliver(self, rec: Recording, eopts: EmitOptions, notes: Sequence[str] = (),
                more: Callable[[], Sequence[str]] | None = None) -> Outcome:
        """Emit, render and deliver rec's profile (see write)."""
        return self.write(self.make(rec, eopts), notes, more)


def emit_summary(emitted: Emitted, rec: Recording, written: str | None, fmt: str = "docker") -> list[str]:
    """What a profile holds, counted as the report counts it (allowed = observed + extras), the extras added,
    and what could not go in (and what `fmt` could not hold). `written` ("wrote FILE", "replaced FILE") heads
    the counts; None (the profile went to stdout) leaves them out."""
    p = emitted.profile
    allowed = p.allowing_names()
    observed = allowed & (rec.all_names() - emitted.base_extras)
    fallback = sum(len(e.names) for e in emitted.extras if e.kind == "fallback")
    lines = [] if written is None else [
        f"{written}: {len(allowed)} syscalls allowed ({len(observed)} observed + {len(allowed - observed)} extras)"
        + (f", {fallback} fallback names get ENOSYS" if fallback and fmt not in ("systemd", "firejail") else "")
        + f"; {', '.join(p.architectures)}, default {p.default_action}"]
    lines += [f"  + {e.kind}: {' '.join(e.text(n) for n in e.names)}" for e in emitted.extras]
    lines += [f"  + mapped {m.line()}" for m in emitted.mappings]
    lines += [f"  limit: {limit.text}" for limit in limits(p)]
    lines += [f"  note: {note}" for m in emitted.mappings for note in m.notes]
    lines += [f"  {note}" for note in formats.name_only_notes(fmt, p)]
    if p.default_action == "SCMP_ACT_LOG":
        lines.append("  complain mode: calls the rules do not allow run and are logged (audit type 1326); "
                     "`seccomp-learn audit --add-to PROFILE` reads the records")
    if not p.syscalls:
        lines.append("  warning: the profile allows nothing")
    lines += [f"  warning: {abi} syscall {nr} has no name in the tables and is not in the profile"
              for abi, nr in emitted.unnamed]
    return lines
