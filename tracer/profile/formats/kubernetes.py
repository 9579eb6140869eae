"""A security-profiles-operator SeccompProfile (apiVersion security-profiles-operator.x-k8s.io/v1)."""

from __future__ import annotations

import re
from typing import Any

from tracer.errors import UserError
from tracer.profile.formats.docker import profile_json
from tracer.profile.formats.metadata import Metadata
from tracer.profile.model import Profile

API_VERSION = "security-profiles-operator.x-k8s.io/v1"
READ_API_VERSIONS = (API_VERSION, "security-profiles-operator.x-k8s.io/v1beta1")  # both served by the CRD
KIND = "SeccompProfile"
NAME = "seccomp-learn"  # metadata.name without --name; give each profile its own when applying several

# What the API server accepts: a DNS subdomain (RFC 1123) for the name, a DNS label for the namespace.
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def check_names(name: str | None, namespace: str | None) -> None:
    """Refuse a name or namespace that `kubectl apply` would reject, before anything runs."""
    if name is not None and not (len(name) <= 253 and _SUBDOMAIN.fullmatch(name)):
        raise UserError("not a valid object name: lower-case letters, digits, '-' and '.', at most 253 characters, "
                        "starting and ending with a letter or digit", f"--name {name}")
    if namespace is not None and not (len(namespace) <= 63 and _LABEL.fullmatch(namespace)):
        raise UserError("not a valid namespace: lower-case letters, digits and '-', at most 63 characters, "
                        "starting and ending with a letter or digit", f"--namespace {namespace}")


def render(profile: Profile, meta: Metadata) -> str:
    """The SeccompProfile; meta's name and namespace were checked by formats.check."""
    import yaml  # on use: a trace does not pay for PyYAML

    if profile.default_errno_ret not in (None, 1):
        raise UserError("the SeccompProfile CRD has no defaultErrnoRet: only the default errno 1 (EPERM) can be used",
                        "--format kubernetes")
    spec = profile_json(profile, comments=False)
    spec.pop("defaultErrnoRet", None)
    metadata: dict[str, Any] = {"name": meta.name or NAME, "annotations": {"seccomp-learn/source": meta.source}}
    if meta.namespace is not None:
        metadata["namespace"] = meta.namespace
    doc = {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}
    return yaml.safe_dump(doc, sort_keys=True, default_flow_style=False, width=1000)
