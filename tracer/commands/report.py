"""`seccomp-learn report`: the audit report of a recording or a profile file, to stdout or a file."""

from __future__ import annotations

from tracer.analysis.inputs import load_baseline, load_input
from tracer.commands.outcome import Outcome, deliver
from tracer.report import formats
from tracer.report.build import build_report


def run_report(path: str, fmt: str, baseline: str, output: str) -> Outcome:
    """Each input read once: the recording or profile (told apart by content), then the baseline."""
    formats.check_format(fmt)
    return deliver(formats.render(build_report(load_input(path), load_baseline(baseline)), fmt), output)
