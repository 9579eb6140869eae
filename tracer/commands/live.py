"""Live progress of a plain run on a terminal: one line on stderr, rewritten in place, erased at the end.

Only on a terminal (pipes and files get the summary alone), and one plain line rather than a rich
display: the workload writes to the same terminal, and a line it overwrites is simply redrawn.
"""

from __future__ import annotations

import os
import threading

from tracer.capture.state import Tally

DEFAULT_WIDTH = 80  # when the terminal does not say (no size, or 0 columns), as shutil.get_terminal_size
_ERASE = "\r\x1b[K"  # carriage return, erase to the end of the line


class LiveLine:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.Lock()  # show() runs in the session's timer thread
        self.shown = False
        self.closed = False

    @classmethod
    def on_terminal(cls, fd: int = 2) -> LiveLine | None:
        return cls(fd) if os.isatty(fd) else None

    def show(self, tally: Tally) -> None:
        text = (f"seccomp-learn: {tally.tasks} task(s), {tally.syscalls} syscalls, {tally.distinct} distinct, "
                f"{tally.elapsed:.0f}s")
        try:
            width = os.get_terminal_size(self.fd).columns or DEFAULT_WIDTH  # 0: unknown (`script -qc`)
        except OSError:
            width = DEFAULT_WIDTH
        with self.lock:
            if not self.closed:
                os.write(self.fd, (_ERASE + text[: max(width - 1, 1)]).encode())
                self.shown = True

    def note(self, text: str) -> None:
        """A line for the user: printed over the progress line, which the next update redraws below it."""
        with self.lock:
            os.write(self.fd, f"{_ERASE}{text}\n".encode())
            self.shown = False

    def clear(self) -> None:
        with self.lock:
            self.closed = True
            if self.shown:
                os.write(self.fd, _ERASE.encode())
