"""`seccomp-learn lint`: findings on stdout; unreadable files, and a count, on stderr."""

from __future__ import annotations

from tracer.analysis.findings import lint_paths
from tracer.commands.outcome import Outcome
from tracer.commands.typed_options import (
    QuietOptions,
    positional,
    quiet,
)


class LintOptions(QuietOptions, frozen=True):
    """`seccomp-learn lint PROFILE...`."""

    profiles: tuple[str, ...] = positional("PROFILE", nargs="+")
    quiet: bool = quiet("No summary on stderr.")


def run_lint(o: LintOptions) -> Outcome:
    """Exit 2 if any file could not be read, else 1 if anything was found, else 0.

    stdout has one line per finding, or "FILE: no findings" for a clean file, in the order given.
    """
    linted, errors = lint_paths(o.profiles)
    findings = [f for _, found in linted for f in found]
    lines: list[str] = []
    for shown, found in linted:
        lines += [f"{f.line()}\n" for f in found] or [f"{shown}: no findings\n"]
    files = {f.file for f in findings}
    summary = [f"{len(findings)} finding(s) in {len(files)} of {len(o.profiles)} file(s)"] if findings else []
    code = 2 if errors else 1 if findings else 0
    return Outcome(code, summary, "".join(lines), errors)
