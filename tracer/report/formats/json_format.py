"""`report --format json`: the Report as one JSON object, the shape documented in docs/report-format.md."""

from __future__ import annotations

from typing import Any

from tracer.fileio import json_text
from tracer.report.content import FORMAT, VERSION, Report
from tracer.structs import asdict


def to_json(report: Report) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, **asdict(report)}


def render(report: Report, width: int | None = None) -> str:
    del width  # machines read it whole
    return json_text(to_json(report))
