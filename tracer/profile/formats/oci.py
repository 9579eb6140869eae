"""The OCI runtime-spec `linux.seccomp` object (config.json), for runc/crun bundles."""

from __future__ import annotations

from tracer.fileio import json_text
from tracer.profile.formats.docker import profile_json
from tracer.profile.formats.metadata import Metadata
from tracer.profile.model import Profile


def render(profile: Profile, meta: Metadata) -> str:
    del meta  # the runtime-spec schema has no comment field
    return json_text(profile_json(profile, comments=False))
