"""File output: stable JSON text, written atomically so a reader (or git) never sees a half-written file."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from tracer.errors import UserError


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write text to a temp file beside path, fsync it, then rename it over path."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise UserError(f"cannot write: {exc.strerror}", str(target)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def json_text(data: Any) -> str:
    """Sorted keys, two-space indent, a newline at the end: output that diffs cleanly in git."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
