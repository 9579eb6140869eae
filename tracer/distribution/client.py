"""What seccomp-learn asks of an OCI-distribution client, whichever one implements it.

The client moves bytes: it pushes an Artifact under a reference and fetches a manifest and a blob,
with the registry's credentials and TLS as the user has them set up. What the bytes mean is
artifact.py's. The one implementation is skopeo.py (why: docs/architecture.md, "Distribution").
"""

from __future__ import annotations

import re
from typing import Protocol

from tracer.distribution.artifact import Artifact
from tracer.errors import UserError
from tracer.record import Record

SCHEME = "oci://"  # how an input names a registry artifact rather than a file (as security-profiles-operator does)
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# registry[:port]/path[:tag][@sha256:...], as the distribution spec's grammar, lower-case paths
_REFERENCE = re.compile(r"(?P<repo>[A-Za-z0-9.-]+(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+)"
                        r"(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(@(?P<digest>sha256:[0-9a-f]{64}))?")


class Reference(Record, frozen=True):
    """An artifact's place: `registry/repository`, and a tag or a digest (or both)."""

    repository: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        return self.repository + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def pinned(self, digest: str) -> Reference:
        """The same repository at exactly this manifest."""
        return Reference(self.repository, None, digest)


def is_reference(text: str) -> bool:
    """Whether a command's input names an artifact (`oci://...`) rather than a file."""
    return text.startswith(SCHEME)


def parse_reference(text: str) -> Reference:
    """A reference as docker and skopeo take it (oci:// or docker:// in front is allowed); the registry part
    must be explicit (a name with a dot or a port, or localhost): nothing is pushed to Docker Hub by accident."""
    plain = text.removeprefix(SCHEME).removeprefix("docker://")
    match = _REFERENCE.fullmatch(plain)
    host = plain.split("/", 1)[0]
    if not match or not ("." in host or ":" in host or host == "localhost"):
        raise UserError("not a registry reference: expected REGISTRY[:PORT]/REPOSITORY[:TAG][@sha256:DIGEST] "
                        "(e.g. 127.0.0.1:5000/app/profile:v1)", text)
    return Reference(match["repo"], match["tag"], match["digest"])


class Access(Record, frozen=True):
    """How to reach a registry: plain HTTP only when asked, credentials from this file or the usual ones."""

    insecure: bool = False  # plain HTTP, or HTTPS without verifying the certificate (127.0.0.1 registries)
    authfile: str | None = None  # else REGISTRY_AUTH_FILE, then containers' auth.json, DOCKER_CONFIG, ~/.docker
    timeout: float = 120  # seconds for one registry operation: a registry that stalls fails, never hangs


class Client(Protocol):
    def push(self, artifact: Artifact, ref: Reference, access: Access) -> str:
        """Push every blob and the manifest as given; returns the manifest's digest."""

    def manifest(self, ref: Reference, access: Access) -> bytes:
        """The manifest `ref` names, as the registry stores it."""

    def blob(self, ref: Reference, digest: str, access: Access) -> bytes:
        """One blob of the repository, checked against its digest."""
