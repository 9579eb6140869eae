"""Files in and out: stable JSON text, written atomically so a reader (or git) never sees a half-written
file, and the guard every YAML input passes before PyYAML builds anything from it."""

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


def check_plain_yaml(text: str, source: str, noun: str) -> None:
    """Refuse anchors and aliases (a "billion laughs" document fails at its first one, before anything is
    expanded) and nesting past 64 levels (PyYAML is quadratic in flow nesting: 1 MB of '[' would take
    minutes). A UserError names `source` and the line; `noun` says what the file is ("config")."""
    import yaml  # on use: a trace does not pay for PyYAML

    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = f"{source}:{event.start_mark.line + 1}" if event.start_mark is not None else source
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise UserError(f"YAML anchors and aliases are not allowed in the {noun}", line)
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > 64:
                raise UserError(f"{noun} is nested too deeply", line)
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
