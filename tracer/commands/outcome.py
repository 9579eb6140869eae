"""Where a command's result goes: stdout or an atomically written file.

Library functions return an `Outcome`; the CLI only prints it and exits with its code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tracer.fileio import STDOUT, write_atomic, wrote


@dataclass
class Outcome:
    exit_code: int
    summary: list[str] = field(default_factory=list)  # for stderr
    stdout: str = ""


def deliver(text: str, output: str) -> Outcome:
    """'-' is stdout; anything else is written atomically and named in the summary."""
    if output == STDOUT:
        return Outcome(0, stdout=text)
    return Outcome(0, [wrote(output, write_atomic(output, text))])
