"""Output formats of `seccomp-learn report`, one module each, all with `render(report, width) -> str`.

`width` is the terminal's width when the report goes to one (the text format fits it), else None.

They only lay out report/content.py's `Report`; nothing here computes anything about syscalls or baselines.
`FORMATS` maps each `--format` name to its module name (imported on use).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from tracer.errors import UserError

if TYPE_CHECKING:  # the CLI reads FORMATS at start-up: the model stays unimported until a report is made
    from tracer.report.content import Report
FORMATS: dict[str, str] = {"markdown": "markdown", "json": "json_format", "text": "text"}


def check_format(fmt: str) -> None:
    """Refuse an unknown format before any work is done."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})", "--format")


def render(report: Report, fmt: str = "markdown", width: int | None = None) -> str:
    """The report in one format; `width`: the terminal's columns when it goes to one."""
    check_format(fmt)
    text: str = importlib.import_module(f"{__name__}.{FORMATS[fmt]}").render(report, width)
    return text
