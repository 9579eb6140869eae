"""`seccomp-learn diff`: a profile or recording against a baseline, or OLD against NEW."""

from __future__ import annotations

from collections.abc import Sequence

from tracer.analysis.diff import diff_files
from tracer.analysis.diff_render import render
from tracer.commands.outcome import Outcome


def run_diff(paths: Sequence[str], baseline: str | None, cap_add: Sequence[str], as_json: bool) -> Outcome:
    return Outcome(0, stdout=render(diff_files(paths, baseline=baseline, cap_add=cap_add), as_json))
