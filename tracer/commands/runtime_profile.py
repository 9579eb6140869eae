"""`seccomp-learn runtime-profile`: what the installed runtime calls after loading a container's filter."""

from __future__ import annotations

import shlex

from tracer.commands.outcome import Outcome, deliver
from tracer.fileio import json_text, read_json
from tracer.profile.extras import Runtime, measured_runtime
from tracer.runtime_needs.containers import Engine
from tracer.runtime_needs.measure import measure


def read_runtime_profile(path: str) -> Runtime:
    """The list `runtime-profile -o FILE` wrote, for `--runtime-profile FILE`."""
    doc = read_json(path, "runtime profile")
    return measured_runtime(doc, path)


def run_runtime_profile(runtime: str, runs: int, engine_command: str | None, run_flags: tuple[str, ...],
                        attach: int | None, output: str) -> Outcome:
    engine = Engine(runtime, tuple(shlex.split(engine_command or runtime)), run_flags)
    return deliver(json_text(measure(engine, runs, attach=attach).to_json()), output)
