"""The registry client: Debian's skopeo, run as a program (containers/image: podman's own registry code).

It copies an OCI layout directory to the registry byte for byte (`--preserve-digests`), so the digest
is the one artifact.py computed; it reads credentials as podman and docker do; its errors are
turned into one line naming the reference.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile

from tracer.distribution.artifact import MANIFEST_MEDIA_TYPE, MAX_MANIFEST, Artifact, digest_of
from tracer.distribution.client import Access, Reference
from tracer.errors import UserError

_FATAL = re.compile(r'level=fatal msg="((?:[^"\\]|\\.)*)"')
_WRAPPER = re.compile(r'^Error parsing image name "[^"]*": ')  # skopeo's wrapping of every inspect error
_HINTS = (  # what skopeo says -> what it means for the user
    ("manifest unknown", "no such artifact in the registry"),
    ("name unknown", "no such repository in the registry"),
    ("connection refused", "the registry is not reachable"),
    ("no such host", "the registry's host name is unknown"),
    ("i/o timeout", "the registry is not reachable"),
    ("server gave HTTP response to HTTPS client", "the registry speaks plain HTTP: --insecure allows it"),
    ("unauthorized", "the registry refused the credentials (or none were found: --authfile, REGISTRY_AUTH_FILE, "
                     "DOCKER_CONFIG, ~/.docker/config.json)"),
    ("authentication required", "the registry needs credentials (--authfile, REGISTRY_AUTH_FILE, DOCKER_CONFIG, "
                                "~/.docker/config.json)"),
    ("denied", "the registry denied access"),
)


def _program() -> str:
    path = shutil.which("skopeo")
    if path is None:
        raise UserError("skopeo is not installed (apt-get install skopeo): seccomp-learn pushes and pulls with it")
    return path


def _message(stderr: str) -> str:
    """skopeo's fatal message, prefixed with what it means when that is known."""
    found = _FATAL.findall(stderr)
    text = found[-1].replace('\\"', '"') if found else (stderr.strip().splitlines() or ["failed"])[-1]
    text = _WRAPPER.sub("", text)
    hint = next((meaning for needle, meaning in _HINTS if needle in text), None)
    return f"{hint} ({text})" if hint else text


def _run(verb: str, flags: list[str], places: list[str], ref: Reference, access: Access, side: str = "") -> bytes:
    """skopeo VERB FLAGS PLACES; `side` is copy's "src-" or "dest-" for the TLS and credential flags."""
    if access.insecure:
        flags = [*flags, f"--{side}tls-verify=false"]
    if access.authfile:
        flags = [*flags, f"--{side}authfile={access.authfile}"]
    command = [_program(), "--command-timeout", f"{access.timeout:g}s", verb, *flags, *places]
    try:
        done = subprocess.run(command, capture_output=True, timeout=access.timeout + 5, check=False)
    except subprocess.TimeoutExpired:
        raise UserError(f"the registry did not answer in {access.timeout:g} s", str(ref)) from None
    if done.returncode != 0:
        raise UserError(_message(done.stderr.decode("utf-8", "replace")), str(ref))
    return done.stdout


class Skopeo:
    """tracer.distribution.client.Client, by skopeo."""

    def push(self, artifact: Artifact, ref: Reference, access: Access) -> str:
        with tempfile.TemporaryDirectory(prefix="seccomp-learn-push-") as layout:
            blobs = os.path.join(layout, "blobs", "sha256")
            os.makedirs(blobs)
            for digest, data in {**artifact.blobs, artifact.digest: artifact.manifest}.items():
                with open(os.path.join(blobs, digest.removeprefix("sha256:")), "wb") as f:
                    f.write(data)
            index = {"schemaVersion": 2, "manifests": [{"mediaType": MANIFEST_MEDIA_TYPE, "digest": artifact.digest,
                                                       "size": len(artifact.manifest)}]}
            with open(os.path.join(layout, "index.json"), "w") as f:
                json.dump(index, f)
            with open(os.path.join(layout, "oci-layout"), "w") as f:
                f.write('{"imageLayoutVersion":"1.0.0"}')
            digest_file = os.path.join(layout, "pushed.digest")
            target = ref if ref.tag or ref.digest else Reference(ref.repository, "latest")
            _run("copy", ["--quiet", "--preserve-digests", "--digestfile", digest_file],
                 [f"oci:{layout}", f"docker://{target}"], ref, access, "dest-")
            with open(digest_file) as f:
                pushed = f.read().strip()
        if pushed != artifact.digest:  # --preserve-digests refuses to change it; checked all the same
            raise UserError(f"the registry stored {pushed}, not {artifact.digest}", str(ref))
        return pushed

    def manifest(self, ref: Reference, access: Access) -> bytes:
        raw = _run("inspect", ["--raw"], [f"docker://{ref}"], ref, access)
        if len(raw) > MAX_MANIFEST:
            raise UserError(f"the manifest is larger than {MAX_MANIFEST} bytes", str(ref))
        if ref.digest and digest_of(raw) != ref.digest:
            raise UserError(f"the registry's manifest has digest {digest_of(raw)}", str(ref))
        return raw

    def blob(self, ref: Reference, digest: str, access: Access) -> bytes:
        """skopeo has no blob command: the pinned manifest is copied to a dir: layout, blobs verified."""
        with tempfile.TemporaryDirectory(prefix="seccomp-learn-pull-") as out:
            _run("copy", ["--quiet"], [f"docker://{ref}", f"dir:{out}"], ref, access, "src-")
            with open(os.path.join(out, digest.removeprefix("sha256:")), "rb") as f:
                data = f.read()
        if digest_of(data) != digest:
            raise UserError(f"blob {digest} does not match its digest", str(ref))
        return data
