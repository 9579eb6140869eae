"""One line for the engine: on stderr (while it is still the engine's) and in the runtime's --log.

containerd reads the last error of the runtime's --log (in --log-format) into its own error message,
podman shows the runtime's stderr; both show the wrapper's line this way.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys

from tracer.runtime_wrapper.cmdline import Invocation

PROGRAM = "seccomp-learn-runtime"


def note(inv: Invocation, level: str, message: str) -> None:
    """One line for the engine: on stderr (if still ours) and in the runtime's --log, in its --log-format."""
    line = " ".join(message.split())
    if level == "error" or level == "warning":
        with contextlib.suppress(OSError, ValueError):
            print(f"{PROGRAM}: {line}", file=sys.stderr, flush=True)
    log = inv.global_values.get("log")
    if not log:
        return
    from datetime import UTC, datetime  # only when there is a log: start and delete exec the runtime sooner
    fmt = inv.global_values.get("log-format", "text")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = json.dumps({"level": level, "msg": f"{PROGRAM}: {line}", "time": now}) if fmt == "json" else \
        f'time="{now}" level={level} msg={json.dumps(f"{PROGRAM}: {line}")}'
    with contextlib.suppress(OSError):
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        with os.fdopen(fd, "a") as out:
            out.write(text + "\n")
