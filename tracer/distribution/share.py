"""Push and pull seccomp-learn's artifacts: a file's content in, checked content out.

Everything that crosses the registry is checked as a local file would be: a pushed profile or
recording must read as one, and a pulled one must be of the kind asked for and read as one too.
"""

from __future__ import annotations

import re

from tracer import __version__
from tracer.distribution.artifact import (
    IMAGE,
    IMAGE_DIGEST,
    KINDS,
    PROFILE,
    RECORDING,
    VERSION,
    Kind,
    build,
    digest_of,
    read_manifest,
)
from tracer.distribution.client import DIGEST, Access, Client, Reference, is_reference, parse_reference
from tracer.errors import UserError
from tracer.profile.model import Profile
from tracer.record import Record
from tracer.recording.model import Recording


def client() -> Client:
    from tracer.distribution.skopeo import Skopeo

    return Skopeo()


def manifest_annotations(image: str | None, image_digest: str | None) -> dict[str, str]:
    """The manifest's annotations: the image the content was learned for (a digest in `image` counts as
    its digest), and the version of seccomp-learn. No time: the same input keeps its digest."""
    out = {VERSION: __version__}
    if image and "@" in image:
        image, _, pinned = image.partition("@")
        if image_digest and image_digest != pinned:
            raise UserError(f"--image names {pinned}, --image-digest {image_digest}", "--image-digest")
        image_digest = pinned
    if image_digest is not None and not DIGEST.fullmatch(image_digest):
        raise UserError("not an image digest: expected sha256: and 64 hex digits", image_digest)
    if image:
        out[IMAGE] = image
    if image_digest:
        out[IMAGE_DIGEST] = image_digest
    return out


def push(kind: Kind, content: bytes, ref_text: str, notes: dict[str, str], access: Access,
         default_tag: str | None = None) -> Reference:
    """Push `content` as a `kind` artifact (to `default_tag` when the reference names none); the reference
    pinned to the manifest's digest."""
    ref = parse_reference(ref_text)
    if ref.digest:
        raise UserError("push to a tag (the digest is the content's, not chosen)", ref_text)
    if ref.tag is None and default_tag is not None:
        ref = Reference(ref.repository, default_tag)
    artifact = build(kind, content, notes)
    return ref.pinned(client().push(artifact, ref, access))


def content_of(path: str) -> tuple[Kind, bytes, list[str]]:
    """What a file becomes in the registry: a recording as it is; a profile in the runtime-spec form container
    runtimes read from an artifact (converted, and said so, when it is written in another form)."""
    from tracer.baseline.read import document_from_text, profile_from_document, read_text
    from tracer.profile.formats import Metadata
    from tracer.profile.formats.oci import render
    from tracer.recording.model import is_recording

    text = read_text(path)
    doc = document_from_text(text, path)
    if is_recording(doc):
        read(RECORDING, text, path)
        return RECORDING, text.encode(), []
    spec = render(profile_from_document(doc, path), Metadata(""))
    notes = [] if spec == text else [f"{path} converted to the OCI runtime-spec form (linux.seccomp) runtimes read"]
    return PROFILE, spec.encode(), notes


def tag_for(name: str) -> str:
    """A registry tag made of a container id or name: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}."""
    tag = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:128]
    return tag if tag[:1].isalnum() or tag[:1] == "_" else f"_{tag[:127]}"


class Pulled(Record, frozen=True):
    kind: Kind
    content: bytes
    annotations: dict[str, str]
    ref: Reference  # pinned to the manifest that was read

    @property
    def text(self) -> str:
        try:
            return self.content.decode("utf-8")
        except UnicodeDecodeError:
            raise UserError(f"the {self.kind.noun} is not UTF-8 text", str(self.ref)) from None

    def image_digest_warning(self, expected: str | None) -> list[str]:
        """A warning when the artifact was learned for another image digest than `expected` (or names none)."""
        learned_for = self.annotations.get(IMAGE_DIGEST)
        if expected is None or learned_for == expected:
            return []
        said = f"was learned for {learned_for}" if learned_for else "names no image digest"
        return [f"warning: {self.ref} {said}, not {expected}: it may not fit this image"]


def pull(ref_text: str, access: Access, wanted: tuple[Kind, ...] = KINDS) -> Pulled:
    """The artifact at `ref_text`, checked: one of the `wanted` kinds, its one layer verified by digest, and
    its content readable as that kind (`read`)."""
    ref = parse_reference(ref_text)
    registry = client()
    raw = registry.manifest(ref, access)
    pinned = ref.pinned(ref.digest or digest_of(raw))
    layer = read_manifest(raw, str(ref), wanted)
    pulled = Pulled(layer.kind, registry.blob(pinned, layer.digest, access), layer.annotations, pinned)
    read(pulled.kind, pulled.text, str(pinned))
    return pulled


def read(kind: Kind, text: str, source: str) -> Profile | Recording:
    """`text` as the profile or recording it must be; any problem is a UserError naming `source`."""
    if kind == PROFILE:
        from tracer.baseline.read import document_from_text, profile_from_document

        return profile_from_document(document_from_text(text, source), source)
    import json

    from tracer.recording.model import from_document

    try:
        return from_document(json.loads(text), source)
    except (ValueError, RecursionError):
        raise UserError("not a recording: invalid JSON", source) from None


def pull_recording(ref_text: str, access: Access) -> Recording:
    recording = read(RECORDING, pull(ref_text, access, (RECORDING,)).text, ref_text)
    assert isinstance(recording, Recording)
    return recording


def load_recordings(inputs: list[str], access: Access) -> list[Recording]:
    """Recording files and `oci://REF` recordings pushed by other machines, in the order given."""
    from tracer.recording.model import load

    return [pull_recording(i, access) if is_reference(i) else load(i) for i in inputs]
