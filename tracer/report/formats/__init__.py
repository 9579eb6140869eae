"""Output formats of `seccomp-learn report`, one module each, all with `render(report, width) -> str`.

`width` is the terminal's width when the report goes to one (the text format fits it), else None.

They only lay out `tracer.report.Report`; nothing here computes anything about syscalls or baselines.
`FORMATS` maps each `--format` name to its module name (imported on use).
"""

from __future__ import annotations

FORMATS: dict[str, str] = {"markdown": "markdown", "json": "json_format", "text": "text"}
