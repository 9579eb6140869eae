"""Output formats: one module per format, each with `render(profile, source) -> str`.

`source` is a short provenance line (tool and runs) for formats that can carry one.
"""

from __future__ import annotations

from collections.abc import Callable

from ..profile import Profile
from . import docker, kubernetes, oci

Renderer = Callable[[Profile, str], str]
FORMATS: dict[str, Renderer] = {
    "docker": docker.render,
    "oci": oci.render,
    "kubernetes": kubernetes.render,
}
