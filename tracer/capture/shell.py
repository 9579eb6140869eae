"""Driver strings are shell commands: --during CMD, --ready-cmd CMD and a ci config's `during: "..."` run with
`/bin/sh -c CMD`, as a single command string does in hyperfine, `flock -c`, `su -c`, `ssh HOST CMD` and make,
so redirections, pipes and `&&` work. A ci config's list form (`during: [prog, arg]`) is run as argv, as a
Dockerfile's exec form is.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

SHELL = ("/bin/sh", "-c")


def shell_argv(command: str) -> list[str]:
    """The argv that runs `command` as the shell runs it."""
    return [*SHELL, command]


def as_written(argv: Sequence[str]) -> str:
    """A driver as the user wrote it: the shell string, or the argv quoted for a shell."""
    if len(argv) == 3 and tuple(argv[:2]) == SHELL:
        return argv[2]
    return shlex.join(argv)
