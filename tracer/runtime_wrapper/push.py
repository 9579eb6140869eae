"""`--learn-push REF`: each container's recording also goes to a registry, so a fleet's nodes learn into one
place (`seccomp-learn merge oci://REF:ID ...`). It fails open: a registry that is down, slow or refuses
the credentials costs the container at most PUSH_TIMEOUT seconds after it ended, and one warning."""

from __future__ import annotations

import os

from tracer.recording.schema import Container
from tracer.runtime_wrapper.cmdline import Invocation
from tracer.runtime_wrapper.runtimelog import note

PUSH_TIMEOUT = 15.0
RECORDING_LIMIT = 1 << 20  # what a registry artifact may hold (distribution/artifact.py)


def push_learned(inv: Invocation, path: str, container: Container) -> None:
    """Push the container's recording file (as the learn directory holds it) under the container's id as tag,
    unless the reference names a tag."""
    assert inv.learn_push is not None
    try:
        from tracer.distribution.artifact import RECORDING
        from tracer.distribution.client import Access
        from tracer.distribution.share import manifest_annotations, push, tag_for

        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            content = f.read(RECORDING_LIMIT + 1)
        access = Access(insecure=inv.learn_push_insecure, timeout=PUSH_TIMEOUT)
        ref = push(RECORDING, content, inv.learn_push, manifest_annotations(container.image, None), access,
                   default_tag=tag_for(container.id))
        note(inv, "info", f"pushed {path} to {ref}")
    except Exception as exc:  # fail open: nothing about the push may change the container's outcome
        note(inv, "warning", f"the recording was not pushed to {inv.learn_push}: {exc}")
