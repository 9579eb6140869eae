"""Output formats of `seccomp-learn report`, one module each, all with `render(report: Report) -> str`.

They only lay out report/model.py's `Report`; nothing here computes anything about syscalls or baselines.
`FORMATS` maps each `--format` name to its module name (imported on use).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from tracer.errors import UserError

if TYPE_CHECKING:  # the CLI reads FORMATS at start-up: the model stays unimported until a report is made
    from tracer.report.model import Report

FORMATS: dict[str, str] = {"markdown": "markdown", "json": "json_format", "text": "text"}


def check_format(fmt: str) -> None:
    """Refuse an unknown format before any work is done."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})", "--format")


def render(report: Report, fmt: str = "markdown") -> str:
    check_format(fmt)
    text: str = importlib.import_module(f"{__name__}.{FORMATS[fmt]}").render(report)
    return text
