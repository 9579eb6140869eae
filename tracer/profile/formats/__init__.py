"""Output formats: one module per format, each with `render(profile, meta) -> str`; the compiled formats
(bpf, pfc) are listed here for the CLI and made by enforce/export.py.

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
from tracer.profile.seccomp_json import Profile

if TYPE_CHECKING:  # the CLI reads FORMATS at start-up
    from tracer.recording.schema import Recording
FORMATS = ("docker", "oci", "kubernetes", "systemd", "bpf", "pfc", "firejail")
# The sandboxes outside containers: no container runtime runs anything after their filter is loaded but the
# exec of the program (bwrap, firejail) or what the sandbox allows on its own (systemd), so --runtime is none.
SANDBOX_FORMATS = ("systemd", "bpf", "pfc", "firejail")
BINARY_FORMATS = ("bpf",)
_OUTPUT = {"kubernetes": "seccomp.yaml", "systemd": "seccomp-learn.conf", "bpf": "seccomp.bpf", "pfc": "seccomp.pfc",
           "firejail": "seccomp.profile"}


Rendered = str | bytes  # bytes only for the binary formats
Renderer = Callable[[Profile, Metadata], Rendered]


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


def render(fmt: str, profile: Profile, rec: Recording, name: str | None = None,
           namespace: str | None = None) -> Rendered:
    """The profile in format `fmt`, with the recording's tool and number of runs as its provenance (no run
    ids: they hold times and pids, and the same behaviour must give byte-identical output). The compiled
    formats (bpf, pfc) need libseccomp: enforce/export.py renders them, and every other format through this."""
    return render_profile(fmt, profile, provenance(rec), name, namespace)


def render_profile(fmt: str, profile: Profile, source: str, name: str | None = None,
                   namespace: str | None = None) -> Rendered:
    """The profile in format `fmt`, `source` its provenance line (for a profile no recording made)."""
    check(fmt, name, namespace)
    renderer: Renderer = importlib.import_module(f"{__name__}.{fmt}").render
    return renderer(profile, Metadata(source, name, namespace))


def provenance(rec: Recording) -> str:
    """The recording's tool and number of runs, the provenance line a format holds."""
    return f"{rec.tool}; runs: {len(rec.runs)}"


def name_only_notes(fmt: str, profile: Profile) -> list[str]:
    """For the formats that filter by name only (systemd, firejail): what the file's comments say was dropped,
    in one summary line; nothing for the others."""
    if fmt not in ("systemd", "firejail"):
        return []
    from tracer.profile.formats.systemd import dropped
    lost = [note.split(":")[0] for note in dropped(profile)]
    return [f"note: {fmt} filters by name only; what it cannot hold for {' '.join(lost)} is said in the file"] \
        if lost else []


def default_output(fmt: str) -> str:
    """The profile's file name when -o is not given: the extension follows the format."""
    return _OUTPUT.get(fmt, "seccomp.json")


def default_runtime(fmt: str) -> str:
    """--runtime when not given: docker (runc) for the container formats, none for the sandboxes."""
    return "none" if fmt in SANDBOX_FORMATS else "docker"
