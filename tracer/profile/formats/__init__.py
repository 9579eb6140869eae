"""Output formats: one module per format, each with `render(profile, source) -> str`.

`source` is a short provenance line (tool and number of runs) for formats that can carry one. Modules are
imported on use: the kubernetes format needs PyYAML, which a trace should not pay for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from tracer.errors import UserError
from tracer.profile.model import Profile

if TYPE_CHECKING:  # the CLI reads FORMATS at start-up
    from tracer.recording.model import Recording

Renderer = Callable[[Profile, str], str]
FORMATS = ("docker", "oci", "kubernetes")


def render(fmt: str, profile: Profile, rec: Recording) -> str:
    """The profile in format `fmt`, with the recording's tool and number of runs as its provenance (no run
    ids: they hold times and pids, and the same behaviour must give byte-identical output)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})", "--format")
    renderer: Renderer = importlib.import_module(f"{__name__}.{fmt}").render
    return renderer(profile, f"{rec.tool}; runs: {len(rec.runs)}")
