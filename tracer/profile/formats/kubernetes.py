"""A security-profiles-operator SeccompProfile (apiVersion security-profiles-operator.x-k8s.io/v1)."""

from __future__ import annotations

import yaml

from tracer.errors import UserError
from tracer.profile.formats.docker import profile_json
from tracer.profile.model import Profile

API_VERSION = "security-profiles-operator.x-k8s.io/v1"


NAME = "seccomp-learn"  # metadata.name; rename it when applying more than one profile


def render(profile: Profile, source: str) -> str:
    if profile.default_errno_ret not in (None, 1):
        raise UserError("the SeccompProfile CRD has no defaultErrnoRet: only the default errno 1 (EPERM) can be used",
                        "--format kubernetes")
    spec = profile_json(profile, comments=False)
    spec.pop("defaultErrnoRet", None)
    doc = {
        "apiVersion": API_VERSION,
        "kind": "SeccompProfile",
        "metadata": {"name": NAME, "annotations": {"seccomp-learn/source": source}},
        "spec": spec,
    }
    return yaml.safe_dump(doc, sort_keys=True, default_flow_style=False, width=1000)
