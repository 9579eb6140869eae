"""What a wait status says, as a shell says it: the exit code, or 128+N for a death by signal N."""

from __future__ import annotations

import os
import signal


def exit_code_of(status: int) -> int:
    """A wait status as a shell reports it: the exit code, or 128+N when signal N killed the process."""
    return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def describe_exit(code: int) -> str:
    """An exit code for a message: 143 (SIGTERM) when it stands for a signal."""
    if code > 128 and code - 128 < signal.NSIG:
        try:
            return f"{code} ({signal.Signals(code - 128).name})"
        except ValueError:
            pass
    return str(code)
