"""`seccomp-learn runtime-profile`: what the installed runtime calls after loading a container's filter."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from tracer.commands.outcome import Outcome, deliver
from tracer.fileio import json_text, read_json
from tracer.profile.extras import Runtime, measured_runtime
from tracer.runtime_needs.containers import Engine
from tracer.runtime_needs.measure import measure

if TYPE_CHECKING:
    from tracer.commands.typed_options import RuntimeProfileOptions


def read_runtime_profile(path: str) -> Runtime:
    """The list `runtime-profile -o FILE` wrote, for `--runtime-profile FILE`."""
    doc = read_json(path, "runtime profile")
    return measured_runtime(doc, path)


def run_runtime_profile(o: RuntimeProfileOptions) -> Outcome:
    engine = Engine(o.runtime, tuple(shlex.split(o.engine_command or o.runtime)), o.run_flags)
    return deliver(json_text(measure(engine, o.runs, attach=o.attach).to_json()), o.output)
