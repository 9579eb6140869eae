"""podman's image policy: a derived image whose `io.containers.seccomp.profile` label holds the profile.

`podman run --seccomp-policy=image` reads that label (containers/common's seccomp JSON: Docker's format)
and uses it instead of the default profile, so the profile travels inside the image itself. The image
is built by `podman build` from a Containerfile of one line, `FROM IMAGE`; the label is given with
`--label`, so the JSON needs no Containerfile quoting (where `$` would be expanded).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from tracer.errors import UserError

LABEL = "io.containers.seccomp.profile"
BUILD_TIMEOUT = 300


def label_value(path: str) -> str:
    """The profile file as the label holds it: Docker JSON (podman's own format) on one line."""
    from tracer.baseline.read import profile_from_document, read_document
    from tracer.profile.formats import Metadata
    from tracer.profile.formats.docker import render

    text = render(profile_from_document(read_document(path), path), Metadata(""))
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


def derived_tag(image: str) -> str:
    """IMAGE's name with `-seccomp` after its tag: busybox:1 -> busybox:1-seccomp."""
    if "@" in image:
        raise UserError("an image named by digest needs --tag for the derived image", image)
    name, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
    return f"{name}:{tag}-seccomp"


def build_labelled(podman: list[str], image: str, tag: str, profile_json: str) -> None:
    """`podman build` the image FROM `image` with the label; a failure is one line with podman's message."""
    with tempfile.TemporaryDirectory(prefix="seccomp-learn-label-") as context:
        containerfile = Path(context) / "Containerfile"
        containerfile.write_text(f"FROM {image}\n")
        argv = [*podman, "build", "--quiet", "--network=none", "--label",
                f"{LABEL}={profile_json}", "--tag", tag, "--file", str(containerfile), context]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                                  stdin=subprocess.DEVNULL, check=False)
        except OSError as exc:
            raise UserError(f"cannot run {podman[0]}: {exc.strerror}") from None
        except subprocess.TimeoutExpired:
            raise UserError(f"podman build did not finish in {BUILD_TIMEOUT} s", image) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise UserError(f"podman build failed: {last}", image)
