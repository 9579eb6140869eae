"""What every command returns, and where its result goes: stdout or an atomically written file.

Library functions return an `Outcome`; the CLI only prints it and exits with its code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tracer.fileio import STDOUT, write_atomic, wrote
from tracer.structs import Struct, field


class Outcome(Struct):
    exit_code: int
    summary: list[str] = field(default_factory=list)  # for stderr, unless --quiet
    stdout: str | bytes = ""  # bytes: a binary profile (--format bpf -o -)
    errors: list[str] = field(default_factory=list)  # for stderr even with --quiet (a file lint could not read)
    failures: list[str] = field(default_factory=list)  # why a run failed or is partial: after the summary, even -q


def deliver(text: str | bytes, output: str, notes: Sequence[str] = (),
            written: Callable[[str], Sequence[str]] | None = None) -> Outcome:
    """'-' is stdout; anything else is written atomically. The summary is `notes`, then, when a file was
    written, `written` of the line that says so ("wrote OUTPUT", or "replaced OUTPUT" when it existed);
    by default that line alone."""
    if output == STDOUT:
        return Outcome(0, list(notes), stdout=text)
    line = wrote(output, write_atomic(output, text))
    return Outcome(0, [*notes, *(written(line) if written is not None else [line])])
