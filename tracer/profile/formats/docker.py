"""Docker's seccomp JSON (also read by podman, CRI-O, runc and crun through their front ends).

A profile for two hosts (amd64 and arm64) is written as Docker's default profile writes it: an `archMap`
entry per host with its compat arches, from which docker and podman pick the running host's.
"""

from __future__ import annotations

from typing import Any

from tracer.fileio import json_text
from tracer.profile.formats.metadata import Metadata
from tracer.profile.model import Profile, Syscall
from tracer.syscalls.abi import host_groups


def syscall_json(rule: Syscall, comments: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"names": rule.names, "action": rule.action}
    if rule.args:
        out["args"] = [{"index": a.index, "value": a.value, "valueTwo": a.value_two, "op": a.op} for a in rule.args]
    if rule.errno_ret is not None:
        out["errnoRet"] = rule.errno_ret
    if comments and rule.comment:
        out["comment"] = rule.comment
    return out


def profile_json(profile: Profile, comments: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"defaultAction": profile.default_action, "architectures": profile.architectures}
    if profile.default_errno_ret is not None:
        out["defaultErrnoRet"] = profile.default_errno_ret
    out["syscalls"] = [syscall_json(rule, comments) for rule in profile.syscalls]
    return out


def render(profile: Profile, meta: Metadata) -> str:
    del meta  # Docker's format has no top-level comment field; each rule carries its reason
    out = profile_json(profile, comments=True)
    groups = host_groups(profile.architectures)
    if groups:
        del out["architectures"]
        out = {"defaultAction": out.pop("defaultAction"),
               "archMap": [{"architecture": main, "subArchitectures": subs} for main, subs in groups], **out}
    return json_text(out)
