"""What `seccomp-learn ci` shows while it runs: which run, elapsed time and syscalls so far, on stderr."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from tracer.printable import printable

if TYPE_CHECKING:
    from tracer.capture.state import Tally
class Progress:
    """Which run, elapsed time and syscalls so far, on stderr: rich on a tty, lines otherwise."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.rich = None
        self.status: Any = None
        self.label = ""
        self.last_plain = 0.0
        if not quiet and sys.stderr.isatty():
            from rich.console import Console

            self.rich = Console(stderr=True, highlight=False)

    def line(self, text: str) -> None:
        if self.quiet:
            return
        text = printable(text)  # the config's commands, as written
        if self.rich is not None:
            from rich.markup import escape

            self.rich.print(f"[bold]seccomp-learn:[/bold] {escape(text)}", markup=True, soft_wrap=True)
        else:
            print(f"seccomp-learn: {text}", file=sys.stderr, flush=True)

    def start(self, label: str, command: list[str]) -> None:
        self.label = label
        self.last_plain = 0.0
        self.line(f"{label}: running {' '.join(command)}")
        if self.rich is not None:
            from rich.markup import escape

            self.label = escape(label)
            self.status = self.rich.status(f"{self.label}: 0s")
            self.status.start()

    def tick(self, tally: Tally) -> None:
        """trace()'s progress callback, from its timer thread."""
        if self.quiet:
            return
        if self.status is not None:
            self.status.update(f"{self.label}: {tally.elapsed:.0f}s, {tally.syscalls} syscalls")
        elif tally.elapsed - self.last_plain >= 30:
            self.last_plain = tally.elapsed
            self.line(f"{self.label}: still running, {tally.elapsed:.0f}s, {tally.syscalls} syscalls")

    def done(self, text: str) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None
        self.line(text)
