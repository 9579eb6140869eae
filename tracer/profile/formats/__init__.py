"""Output formats: one module per format, each with `render(profile, meta) -> str`.

`meta` carries a short provenance line (tool and runs) for formats that can hold one, and the
object's name and namespace for the Kubernetes format. Modules are imported on use: the
kubernetes format needs PyYAML, which a trace should not pay for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from tracer.profile.model import Profile

FORMATS = ("docker", "oci", "kubernetes")


@dataclass(frozen=True)
class Metadata:
    source: str  # tool and runs
    name: str | None = None  # kubernetes metadata.name (default: seccomp-learn)
    namespace: str | None = None  # kubernetes metadata.namespace (default: none, the one kubectl applies to)


Renderer = Callable[[Profile, Metadata], str]


def renderer(name: str) -> Renderer:
    render: Renderer = importlib.import_module(f"{__name__}.{name}").render
    return render
