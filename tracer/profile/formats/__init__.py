"""Output formats: one module per format, each with `render(profile, meta) -> str`.

`meta` carries a short provenance line (tool and number of runs) for formats that can hold one, and
the object's name and namespace for the Kubernetes format. Modules are imported on use: the
kubernetes format needs PyYAML, which a trace should not pay for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from tracer.errors import UserError
from tracer.profile.formats.metadata import Metadata
from tracer.profile.model import Profile

if TYPE_CHECKING:  # the CLI reads FORMATS at start-up
    from tracer.recording.model import Recording

FORMATS = ("docker", "oci", "kubernetes")


Renderer = Callable[[Profile, Metadata], str]


def check(fmt: str, name: str | None = None, namespace: str | None = None) -> None:
    """Refuse an unknown format, or a --name/--namespace it cannot hold, before any work is done."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})", "--format")
    if name is None and namespace is None:
        return
    if fmt != "kubernetes":
        raise UserError("--name and --namespace set the metadata of a SeccompProfile: use --format kubernetes",
                        "--name/--namespace")
    from tracer.profile.formats.kubernetes import check_names

    check_names(name, namespace)


def render(fmt: str, profile: Profile, rec: Recording, name: str | None = None, namespace: str | None = None) -> str:
    """The profile in format `fmt`, with the recording's tool and number of runs as its provenance (no run
    ids: they hold times and pids, and the same behaviour must give byte-identical output)."""
    return render_profile(fmt, profile, f"{rec.tool}; runs: {len(rec.runs)}", name, namespace)


def render_profile(fmt: str, profile: Profile, source: str, name: str | None = None,
                   namespace: str | None = None) -> str:
    """The profile in format `fmt`, `source` its provenance line (for a profile no recording made)."""
    check(fmt, name, namespace)
    renderer: Renderer = importlib.import_module(f"{__name__}.{fmt}").render
    return renderer(profile, Metadata(source, name, namespace))


def default_output(fmt: str) -> str:
    """The profile's file name when -o is not given: the extension follows the format."""
    return "seccomp.yaml" if fmt == "kubernetes" else "seccomp.json"
