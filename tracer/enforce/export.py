"""Every output format in one call, the compiled ones included: the classic-BPF program libseccomp makes of a
profile, for `bwrap --seccomp FD` (bubblewrap, Flatpak), and its PFC text for review.

The text formats are profile/formats'; the compiled ones need libseccomp (kernel/seccomp_filter.py), which
is why they are made here, below the kernel room. The filter covers the profile's architectures: the native
one, plus i386 or x32 when observed or asked for with --arch; a call of another arch is killed, as in every
libseccomp filter. The same profile gives the same bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracer.profile import formats
from tracer.profile.seccomp_json import Profile

if TYPE_CHECKING:
    from tracer.recording.schema import Recording
COMPILED_FORMATS = ("bpf", "pfc")


def render(fmt: str, profile: Profile, rec: Recording, name: str | None = None,
           namespace: str | None = None) -> formats.Rendered:
    """The profile in format `fmt` (see formats.render); bytes for bpf."""
    return render_profile(fmt, profile, formats.provenance(rec), name, namespace)


def render_profile(fmt: str, profile: Profile, source: str, name: str | None = None,
                   namespace: str | None = None) -> formats.Rendered:
    """The profile in format `fmt`, `source` its provenance line (for a profile no recording made)."""
    if fmt not in COMPILED_FORMATS:
        return formats.render_profile(fmt, profile, source, name, namespace)
    from tracer.kernel.seccomp_filter import export  # on use: a learning run writing JSON does not pay for it

    formats.check(fmt, name, namespace)
    if fmt == "bpf":
        return export(profile, "bpf")
    return f"# seccomp-learn ({source}): the filter of --format bpf, as libseccomp prints it\n" + \
        export(profile, "pfc").decode()
