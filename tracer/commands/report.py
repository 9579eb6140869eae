"""`seccomp-learn report`: the audit report of a recording or a profile file, to stdout or a file.

On a terminal the report fits it: text to its width, and without --format the Markdown is shown rendered
(rich). Files and pipes get the chosen format whole.
"""

from __future__ import annotations

import shutil
import sys

from tracer.analysis.inputs import load_baseline, load_input
from tracer.commands.outcome import Outcome, deliver
from tracer.commands.typed_options import (
    baseline,
    option,
    output,
    positional,
)
from tracer.fileio import STDOUT, check_output
from tracer.printable import printable_lines
from tracer.report import formats
from tracer.report.build import build_report
from tracer.structs import Struct


def _report_formats() -> list[str]:
    from tracer.report.formats import FORMATS
    return list(FORMATS)


class ReportOptions(Struct, frozen=True):
    """`seccomp-learn report RECORDING|PROFILE`."""

    source: str = positional("RECORDING|PROFILE")
    fmt: str | None = option("--format", choices=_report_formats,
                             help="markdown (a pull-request comment; the default), json (docs/report-format.md), "
                                  "text. Without it, on a terminal, the Markdown is shown rendered.")
    baseline: str | None = baseline()
    output: str = output("Report")


def run_report(o: ReportOptions) -> Outcome:
    """Each input read once: the recording or profile (told apart by content), then the baseline.

    `fmt` None is markdown, rendered when it goes to a terminal.
    """
    path, fmt, baseline, output = o.source, o.fmt, o.baseline, o.output
    formats.check_format(fmt or "markdown")
    check_output(output)
    width = shutil.get_terminal_size().columns if output == STDOUT and sys.stdout.isatty() else None
    loaded = load_input(path)
    text = formats.render(build_report(loaded, load_baseline(baseline or loaded.default_baseline())), fmt or "markdown",
                          width)
    if fmt != "json":  # JSON escapes control characters itself; names and paths in the others must be shown
        text = printable_lines(text)
    if fmt is None and width is not None:
        from tracer.report.formats.terminal import show
        text = show(text, width)
    return deliver(text, output)
