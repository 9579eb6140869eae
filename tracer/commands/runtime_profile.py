"""`seccomp-learn runtime-profile`: what the installed runtime calls after loading a container's filter."""

from __future__ import annotations

import shlex

from tracer.commands.outcome import Outcome, deliver
from tracer.fileio import json_text
from tracer.runtimes.containers import Engine
from tracer.runtimes.measure import measure


def run_runtime_profile(runtime: str, runs: int, engine_command: str | None, run_flags: tuple[str, ...],
                        attach: int | None, output: str) -> Outcome:
    engine = Engine(runtime, tuple(shlex.split(engine_command or runtime)), run_flags)
    return deliver(json_text(measure(engine, runs, attach=attach).to_json()), output)
