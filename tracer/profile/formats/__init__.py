"""Output formats: one module per format, each with `render(profile, source) -> str`.

`source` is a short provenance line (tool and runs) for formats that can carry one. Modules are
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
    """The profile in format `fmt`, with the recording's tool and run ids as its provenance."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})", "--format")
    renderer: Renderer = importlib.import_module(f"{__name__}.{fmt}").render
    return renderer(profile, f"{rec.tool}; runs: {', '.join(r.id for r in rec.runs)}")
