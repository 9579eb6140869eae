"""What diff and report compare: a profile file, a recording (as the profile `emit` writes for it), or a baseline.

Each is read once, by the one profile reader (tracer.baseline.profile_file) or the recording loader, and a
recording is emitted once; the result carries the profile, the recording and what emit added, so no later
step reads or emits again. See docs/architecture.md.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from typing import Literal

from tracer.analysis.conditions import ABI
from tracer.analysis.danger import parse_caps
from tracer.baseline.docker_rules import DOCKER_DEFAULT_CAPS
from tracer.baseline.profile_file import (
    SANDBOXES,
    document_from_text,
    profile_from_document,
    sandbox_default,
    sandbox_of,
)
from tracer.baseline.resolve import docker_default
from tracer.errors import UserError
from tracer.fileio import read_input
from tracer.profile.policy import EmitOptions, Emitted, emit
from tracer.profile.seccomp_json import Profile
from tracer.recording import schema as rec_io
from tracer.recording.schema import Recording
from tracer.structs import Struct, field
from tracer.syscalls.names import is_known

ARCH = "amd64"  # Docker's native name for ABI, the arch Docker's default is resolved for
SourceKind = Literal["recording", "profile", "docker-default"]


class Source(Struct):
    """One side of a comparison, as the diff JSON describes it (docs/diff-format.md)."""

    path: str  # the file, or "docker" for the built-in baseline
    kind: SourceKind
    description: str
    architectures: list[str]
    default_action: str
    names: int  # distinct names its allowing rules mention
    names_x86_64: int  # of those, names the x86_64 table knows (only these are counted)
    extras: dict[str, list[str]] = field(default_factory=dict)  # recording: names emit added, by kind
    unnamed: list[str] = field(default_factory=list)  # recording: "abi#nr" numbers left out of the profile


class Loaded(Struct):
    """A profile to compare, where it came from, and (for a recording) the recording and what emit made."""

    profile: Profile
    source: Source
    recording: Recording | None = None
    emitted: Emitted | None = None
    sandbox: str | None = None  # a sandbox's file (systemd, firejail): compared with that sandbox's default

    def default_baseline(self) -> str:
        """What a single input is compared with when no --baseline is given."""
        return self.sandbox or "docker"


def source_of(path: str, kind: SourceKind, description: str, profile: Profile) -> Source:
    names = profile.allowing_names()
    return Source(path=path, kind=kind, description=description, architectures=list(profile.architectures),
                  default_action=profile.default_action, names=len(names),
                  names_x86_64=sum(1 for n in names if is_known(ABI, n)))


def _shortened(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def from_recording(rec: Recording, path: str, emit_opts: EmitOptions | None = None) -> Loaded:
    """A recording as the profile `emit` writes for it (default options unless given)."""
    try:
        emitted = emit(rec, emit_opts or EmitOptions())
    except UserError as exc:
        raise exc if exc.source else UserError(str(exc), path) from None
    return from_emitted(rec, emitted, path)


def from_emitted(rec: Recording, emitted: Emitted, path: str) -> Loaded:
    """A recording and the profile emit made of it, for a caller that has emitted already."""
    runs = " ".join("; ".join(shlex.join(r.command) for r in rec.runs).split()) or "no run"
    added = len(emitted.profile.names("SCMP_ACT_ALLOW") - rec.all_names())
    desc = (f"recording, {len(rec.runs)} run{'s' if len(rec.runs) != 1 else ''}: {_shortened(runs, 60)}; "
            f"profile as `emit` writes it, +{added} runtime docker/always names")
    source = source_of(path, "recording", desc, emitted.profile)
    source.extras = {e.kind: list(e.names) for e in emitted.extras}
    source.unnamed = [f"{abi}#{nr}" for abi, nr in emitted.unnamed]
    return Loaded(emitted.profile, source, rec, emitted)


def load_input(path: str) -> Loaded:
    """A recording or a profile file of any format, told apart by its content."""
    text = read_input(path, "profile")
    doc = document_from_text(text, path)
    if rec_io.is_recording(doc):
        return from_recording(rec_io.from_document(doc, path), path)
    profile = profile_from_document(doc, path)
    sandbox = sandbox_of(text)
    desc = "seccomp profile" if sandbox is None else f"{sandbox} seccomp settings, as {sandbox} applies them"
    return Loaded(profile, source_of(path, "profile", desc, profile), sandbox=sandbox)


def load_baseline(spec: str, cap_add: Iterable[str] = ()) -> Loaded:
    """`docker` = Docker's default profile for amd64 with Docker's default capabilities plus cap_add;
    `systemd`, `firejail` = that sandbox's own default, from this machine's systemd or firejail;
    anything else is a profile file, its capability conditions resolved for that set."""
    caps = DOCKER_DEFAULT_CAPS | parse_caps(cap_add)
    if spec == "docker":
        added = sorted(c.removeprefix("CAP_") for c in caps - DOCKER_DEFAULT_CAPS)
        desc = "Docker's default profile (amd64, default capabilities" + (
            f" + {', '.join(added)})" if added else ")")
        profile = docker_default(ARCH, caps)
        return Loaded(profile, source_of("docker", "docker-default", desc, profile))
    if spec in SANDBOXES:
        doc, desc = sandbox_default(spec)
        profile = profile_from_document(doc, spec)
        return Loaded(profile, source_of(spec, "profile", desc, profile))
    profile = profile_from_document(document_from_text(read_input(spec, "profile"), spec), spec, caps=caps)
    return Loaded(profile, source_of(spec, "profile", "seccomp profile", profile))
