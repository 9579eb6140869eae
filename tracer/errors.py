"""The one error type the CLI turns into a one-line message and exit code 2."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: a file, a profile, a command line. Never a bug."""

    def __init__(self, message: str, source: str | None = None, exit_code: int = 2) -> None:
        self.source = source
        self.exit_code = exit_code
        super().__init__(f"{source}: {message}" if source else message)
