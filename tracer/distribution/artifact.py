"""The artifacts seccomp-learn puts in a registry, as plain data: media types, the manifest, its checks.

A profile is what CRI-O and KEP-6061 read: an OCI image manifest whose config media type (and
`artifactType`) is `application/vnd.cncf.seccomp-profile.config.v1+json`, with a `{}` config blob and
exactly one layer, the runtime-spec `linux.seccomp` JSON itself (not a tar). A recording is the same
shape with seccomp-learn's own types. The manifest holds no time, so the same content and annotations
always give the same digest.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tracer.errors import UserError
from tracer.record import Record

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
EMPTY_CONFIG = b"{}"
TITLE = "org.opencontainers.image.title"
# The annotations naming the image (and its manifest digest) the content was learned for, and the tool.
IMAGE = "seccomp-learn/image"
IMAGE_DIGEST = "seccomp-learn/image-digest"
VERSION = "seccomp-learn/version"
MAX_LAYER = 1 << 20  # the size container runtimes accept for a profile layer by default (KEP-6061)
MAX_MANIFEST = 1 << 20


class Kind(Record, frozen=True):
    """One kind of artifact: what identifies it (the config media type, also its artifactType), its layer."""

    noun: str
    config_media_type: str
    layer_media_type: str
    title: str


PROFILE = Kind("seccomp profile", "application/vnd.cncf.seccomp-profile.config.v1+json", "application/json",
               "profile.json")
RECORDING = Kind("seccomp-learn recording", "application/vnd.seccomp-learn.recording.config.v1+json",
                 "application/vnd.seccomp-learn.recording.v1+json", "seccomp.trace.json")
KINDS = (PROFILE, RECORDING)


def digest_of(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


class Artifact(Record, frozen=True):
    """A manifest as the bytes that are pushed (their sha256 is the digest), and every blob it names."""

    manifest: bytes
    blobs: dict[str, bytes]  # digest -> content

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)


def _descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest_of(data), "size": len(data), **extra}


def build(kind: Kind, content: bytes, annotations: dict[str, str]) -> Artifact:
    """The artifact holding `content` as its one layer; annotations go on the manifest."""
    if len(content) > MAX_LAYER:
        raise UserError(f"{len(content)} bytes: larger than the {MAX_LAYER} bytes container runtimes accept")
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": kind.config_media_type,
        "config": _descriptor(kind.config_media_type, EMPTY_CONFIG),
        "layers": [_descriptor(kind.layer_media_type, content, annotations={TITLE: kind.title})],
    }
    if annotations:
        manifest["annotations"] = dict(sorted(annotations.items()))
    text = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    return Artifact(text, {digest_of(EMPTY_CONFIG): EMPTY_CONFIG, digest_of(content): content})


class Layer(Record, frozen=True):
    """What a pulled manifest says: which kind it is, the digest of its one layer, its annotations."""

    kind: Kind
    digest: str
    size: int
    annotations: dict[str, str]


def _kind_of(manifest: dict[str, Any]) -> str | None:
    """The artifact's type, from the config media type, or artifactType under OCI 1.1's empty config."""
    config = manifest.get("config")
    media_type = config.get("mediaType") if isinstance(config, dict) else None
    if media_type == "application/vnd.oci.empty.v1+json":
        media_type = manifest.get("artifactType")
    return media_type if isinstance(media_type, str) else None


def read_manifest(raw: bytes, ref: str, wanted: tuple[Kind, ...] = KINDS) -> Layer:
    """Check a pulled manifest: one of the `wanted` kinds, exactly one layer, of a size a runtime accepts.
    Anything else is a UserError naming `ref` and what it is instead."""
    try:
        manifest = json.loads(raw)
    except (ValueError, RecursionError):
        raise UserError("the registry's manifest is not JSON", ref) from None
    if not isinstance(manifest, dict):
        raise UserError("the registry's manifest is not a JSON object", ref)
    if "manifests" in manifest:
        raise UserError("is an image index (a multi-platform image?), not a seccomp-learn artifact", ref)
    media_type = _kind_of(manifest)
    kind = next((k for k in wanted if k.config_media_type == media_type), None)
    if kind is None:
        expected = " or ".join(k.config_media_type for k in wanted)
        raise UserError(f"wrong media type: config is {media_type or 'missing'}, expected {expected} "
                        f"(is it a container image?)", ref)
    layers = manifest.get("layers")
    if not isinstance(layers, list) or len(layers) != 1 or not isinstance(layers[0], dict):
        count = len(layers) if isinstance(layers, list) else 0
        raise UserError(f"a {kind.noun} artifact has exactly one layer; this one has {count}", ref)
    layer = layers[0]
    digest, size = layer.get("digest"), layer.get("size")
    if not isinstance(digest, str) or not digest.startswith("sha256:") or not isinstance(size, int):
        raise UserError("the layer has no sha256 digest or size", ref)
    if not 0 <= size <= MAX_LAYER:
        raise UserError(f"the layer is {size} bytes: larger than {MAX_LAYER}", ref)
    annotations = manifest.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise UserError("the manifest's annotations are not an object", ref)
    return Layer(kind, digest, size, {str(k): str(v) for k, v in annotations.items()})
