"""Where a pod names a pushed profile: KEP-6061's `seccompProfile: {type: OCI, oci: {reference}}` and the
CRI-O annotation that pulls the same artifact on clusters without the feature gate.

Both name the artifact by digest (KEP-6061's API validation rejects tags), so the reference is resolved
against the registry, and checked to be a seccomp profile artifact, before anything is written.
"""

from __future__ import annotations

import re
from typing import Any

from tracer.distribution.client import Reference
from tracer.errors import UserError

CRIO_ANNOTATION = "seccomp-profile.kubernetes.cri-o.io"  # /POD for every container, /NAME for one (CRI-O 1.30+)
FORMAT = "kubernetes-oci"
_CONTAINER_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")  # a DNS label, as the API server requires


def check_container(name: str | None) -> None:
    if name is not None and not (len(name) <= 63 and _CONTAINER_NAME.fullmatch(name)):
        raise UserError("not a valid container name: lower-case letters, digits and '-', at most 63 characters",
                        f"--container {name}")


def seccomp_profile(ref: Reference) -> dict[str, Any]:
    """The `seccompProfile` of a pod's or container's securityContext (Kubernetes 1.38+,
    feature gate SecurityProfileOCIArtifact)."""
    return {"type": "OCI", "oci": {"reference": str(ref)}}


def crio_annotations(ref: Reference, container: str | None) -> dict[str, str]:
    return {f"{CRIO_ANNOTATION}/{container or 'POD'}": str(ref)}


def snippets(ref: Reference, container: str | None = None) -> str:
    """Two YAML documents: the securityContext (pod level, or the container's with `container`) and the
    CRI-O annotation form, each with a comment saying where it goes."""
    import yaml

    where = f"spec.containers[name={container}]" if container else "spec"
    context = {"securityContext": {"seccompProfile": seccomp_profile(ref)}}
    annotations = {"metadata": {"annotations": crio_annotations(ref, container)}}

    def dump(doc: dict[str, Any]) -> str:
        return yaml.safe_dump(doc, sort_keys=True, default_flow_style=False, width=1000)

    return (f"# KEP-6061 (Kubernetes 1.38+, feature gate SecurityProfileOCIArtifact): merge into {where}\n"
            f"{dump(context)}---\n"
            "# CRI-O 1.30+ without the gate (the runtime handler must allow the annotation): merge into the pod\n"
            f"{dump(annotations)}")
