"""libseccomp's PFC text of the filter `--format bpf` writes: the same program, for review."""

from __future__ import annotations

from tracer.profile.formats import Metadata
from tracer.profile.model import Profile


def render(profile: Profile, meta: Metadata) -> str:
    from tracer.kernel.seccomp_filter import export

    return f"# seccomp-learn ({meta.source}): the filter of --format bpf, as libseccomp prints it\n" + \
        export(profile, "pfc").decode()
