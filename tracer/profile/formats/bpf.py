"""The compiled classic-BPF seccomp filter, as `bwrap --seccomp FD` (bubblewrap, Flatpak) loads it.

libseccomp compiles it (tracer/kernel/seccomp_filter.py, imported on use: only this format needs the
library at emit time), for the profile's architectures: the native one, plus i386 or x32 when observed or
asked for with --arch; a call of another arch is killed, as libseccomp's filters do.
"""

from __future__ import annotations

from tracer.profile.formats import Metadata
from tracer.profile.model import Profile


def render(profile: Profile, meta: Metadata) -> bytes:
    from tracer.kernel.seccomp_filter import export

    del meta  # a BPF program has no room for a comment
    return export(profile, "bpf")
