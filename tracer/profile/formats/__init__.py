"""Output formats: one module per format, each with `render(profile, source) -> str`.

`source` is a short provenance line (tool and runs) for formats that can carry one. Modules are
imported on use: the kubernetes format needs PyYAML, which a trace should not pay for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from tracer.profile.model import Profile

Renderer = Callable[[Profile, str], str]
FORMATS = ("docker", "oci", "kubernetes")


def renderer(name: str) -> Renderer:
    render: Renderer = importlib.import_module(f"{__name__}.{name}").render
    return render
