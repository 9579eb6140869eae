"""A security-profiles-operator SeccompProfile (apiVersion security-profiles-operator.x-k8s.io/v1)."""

from __future__ import annotations

from tracer.errors import UserError
from tracer.profile.formats.docker import profile_json
from tracer.profile.model import Profile

API_VERSION = "security-profiles-operator.x-k8s.io/v1"
READ_API_VERSIONS = (API_VERSION, "security-profiles-operator.x-k8s.io/v1beta1")  # both served by the CRD
KIND = "SeccompProfile"
NAME = "seccomp-learn"  # metadata.name; rename it when applying more than one profile


def render(profile: Profile, source: str) -> str:
    import yaml  # on use: a trace does not pay for PyYAML

    if profile.default_errno_ret not in (None, 1):
        raise UserError("the SeccompProfile CRD has no defaultErrnoRet: only the default errno 1 (EPERM) can be used",
                        "--format kubernetes")
    spec = profile_json(profile, comments=False)
    spec.pop("defaultErrnoRet", None)
    doc = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": NAME, "annotations": {"seccomp-learn/source": source}},
        "spec": spec,
    }
    return yaml.safe_dump(doc, sort_keys=True, default_flow_style=False, width=1000)
