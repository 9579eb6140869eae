"""`ci --check` against the registry: is the profile published for the image the same as the committed one?

A profile's `registry:` (docs/config.md) names where it is published. The registry's copy is pulled
(checked as `pull` checks it) and compared in the runtime-spec form it is published in; an artifact
that says it was learned for another image digest than `image_digest` is a warning, not a failure.
"""

from __future__ import annotations

from tracer.baseline.read import document_from_text, profile_from_document
from tracer.ci.config import ProfileSpec, shown_path
from tracer.distribution.artifact import PROFILE
from tracer.distribution.client import Access
from tracer.distribution.share import content_of, pull


def _names(text: str, source: str) -> set[str]:
    return profile_from_document(document_from_text(text, source), source).allowing_names()


def check_pin(spec: ProfileSpec) -> tuple[bool, list[str]]:
    """Whether the registry's copy differs from the committed profile, and the lines that say so."""
    pin = spec.registry
    assert pin is not None
    where = f"profile {spec.name} ({shown_path(spec.output)})"
    pulled = pull(pin.reference, Access(insecure=pin.insecure), (PROFILE,))
    lines = [f"{where}: {line}" for line in pulled.image_digest_warning(pin.image_digest)]
    if not spec.output.exists():
        return True, [*lines, f"{where}: not committed yet; the registry has {pulled.ref}"]
    kind, committed, _ = content_of(str(spec.output))
    if kind != PROFILE:
        return True, [*lines, f"{where}: is a recording, not a profile; the registry has {pulled.ref}"]
    if committed == pulled.content:
        return False, [*lines, f"{where}: the registry's {pulled.ref} is the same profile"]
    ours, theirs = _names(committed.decode(), str(spec.output)), _names(pulled.text, str(pulled.ref))
    lines.append(f"{where}: the registry's {pulled.ref} differs from the committed profile")
    width = max((len(n) for n in ours ^ theirs), default=0)
    lines += [f"  + {n:<{width}}  only in the committed profile" for n in sorted(ours - theirs)]
    lines += [f"  - {n:<{width}}  only in the registry's" for n in sorted(theirs - ours)]
    if ours == theirs:
        lines.append("  same syscalls; argument rules, architectures or the default action differ")
    return True, lines


def render_pins(specs: list[ProfileSpec]) -> tuple[int, str]:
    """Exit code 1 when any published profile differs from its committed one."""
    results = [check_pin(s) for s in specs if s.registry is not None]
    lines = [line for _, out in results for line in out]
    return int(any(differs for differs, _ in results)), "".join(f"{line}\n" for line in lines)
