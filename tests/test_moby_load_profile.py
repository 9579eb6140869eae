"""moby's own LoadProfile cases (github.com/moby/profiles, seccomp/seccomp_linux_test.go and its fixtures),
written here in the project's words, as a test of the reader (tracer.baseline.profile_file) and of lint (issue 24, 3).

What moby loads, the reader loads to the same rules; what moby refuses, the reader refuses with moby's
reason, and lint reports as an error, naming what each engine does. The minKernel forms are moby's
TestMarshalUnmarshalFilter table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import seccomp_learn

from tracer.analysis.findings import lint_doc
from tracer.baseline.profile_file import profile_from_document
from tracer.errors import UserError
from tracer.profile.seccomp_json import Arg

ERRNO = "SCMP_ACT_ERRNO"
ALLOW = "SCMP_ACT_ALLOW"
# moby's fixtures/example.json: the legacy `name` form, a masked clone, an errno rule
LEGACY_EXAMPLE = {"defaultAction": ERRNO, "defaultErrnoRet": 1, "syscalls": [
    {"name": "clone", "action": ALLOW, "args": [{"index": 0, "value": 2114060288, "valueTwo": 0,
                                                 "op": "SCMP_CMP_MASKED_EQ"}]},
    {"name": "open", "action": ALLOW, "args": []},
    {"name": "close", "action": ALLOW, "args": []},
    {"name": "syslog", "action": ERRNO, "errnoRet": 12345, "args": []},
]}
# moby's fixtures/conditional_include.json: rules kept or dropped by the container's capabilities
CONDITIONAL = {"defaultAction": ERRNO, "syscalls": [
    {"names": ["chmod"], "action": ALLOW},
    {"names": ["syslog"], "action": ALLOW, "includes": {"caps": ["CAP_SYSLOG"]}},
    {"names": ["ptrace"], "action": ALLOW, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
]}
# TestLoadProfileValidation (with arch names that exist: the reader checks them first)
REFUSED = {
    "arch-and-archmap": ({"defaultAction": ERRNO, "architectures": ["SCMP_ARCH_X86_64"], "archMap": [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}]},
        "both 'architectures' and 'archMap'"),
    "name-and-names": ({"defaultAction": ERRNO, "syscalls": [{"name": "accept", "names": ["accept"],
                                                             "action": ALLOW}]}, "both 'name' and 'names'"),
}
MIN_KERNEL_REFUSED = [3, 3.12, True, "0.0", "3", ".3", "3.", "true", '3.12.1"', "4.15abc"]
MIN_KERNEL_LOADED = [None, "", "0.5", "0.50", "5.0", "50.0", "4.15"]


def test_legacy_example_loads_as_moby_loads_it() -> None:
    p = profile_from_document(LEGACY_EXAMPLE, "example.json")
    assert (p.default_action, p.default_errno_ret) == (ERRNO, 1)
    got = [(r.names, r.action, r.args, r.errno_ret) for r in p.syscalls]
    assert got == [(["clone"], ALLOW, [Arg(0, 2114060288, "SCMP_CMP_MASKED_EQ", 0)], None),
                   (["open"], ALLOW, [], None), (["close"], ALLOW, [], None), (["syslog"], ERRNO, [], 12345)]
    assert sorted(f.code for f in lint_doc(LEGACY_EXAMPLE)) == ["legacy-name"] * 4 + ["missing-exit"]


@pytest.mark.parametrize("extra", [{"defaultErrnoRet": 6}, {"listenerPath": "/var/run/seccompaget.sock",
                                                            "listenerMetadata": "opaque-metadata"},
                                   {"flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"]}])
def test_top_level_fields_moby_loads(extra: dict[str, Any]) -> None:
    p = profile_from_document({"defaultAction": ERRNO, **extra}, "p.json")
    assert (p.default_action, p.syscalls) == (ERRNO, [])
    assert p.default_errno_ret == extra.get("defaultErrnoRet")  # moby: nil unless given
    assert [f.code for f in lint_doc({"defaultAction": ERRNO, **extra})] == ["empty-allowlist"]


@pytest.mark.parametrize(("caps", "names"), [((), ["chmod", "ptrace"]),
                                             (("CAP_SYSLOG",), ["chmod", "syslog", "ptrace"]),
                                             (("CAP_SYS_ADMIN",), ["chmod"])])
def test_conditional_rules_follow_the_capabilities(caps: tuple[str, ...], names: list[str]) -> None:
    p = profile_from_document(CONDITIONAL, "conditional_include.json", caps=caps)
    assert [n for r in p.syscalls for n in r.names] == names


@pytest.mark.parametrize("code", sorted(REFUSED))
def test_what_moby_refuses_the_reader_refuses_and_lint_calls_an_error(code: str, tmp_path: Path) -> None:
    doc, reason = REFUSED[code]
    with pytest.raises(UserError, match=reason):
        profile_from_document(doc, "p.json")
    [finding] = [f for f in lint_doc(doc, "p.json") if f.code == code]
    assert finding.code == code and ": error: " in finding.line() and "docker refuses it" in finding.line()
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    verify = seccomp_learn("verify", str(path), "--", "true")
    assert verify.returncode == 2 and verify.stderr.count("\n") == 1 and reason in verify.stderr, verify.stderr
    lint = seccomp_learn("lint", str(path))
    assert lint.returncode == 1 and f"[{code}] (docker refuses it, podman refuses it" in lint.stdout


@pytest.mark.parametrize("value", MIN_KERNEL_REFUSED + MIN_KERNEL_LOADED, ids=repr)
def test_min_kernel_forms(value: Any) -> None:
    doc = {"defaultAction": ERRNO, "syscalls": [
        {"names": ["exit_group", "exit"], "action": ALLOW},
        {"names": ["chmod"], "action": ALLOW, "includes": {"arches": ["amd64"], "minKernel": value}}]}
    if any(value is v or (type(value) is type(v) and value == v) for v in MIN_KERNEL_REFUSED):
        with pytest.raises(UserError, match="minKernel"):
            profile_from_document(doc, "p.json")
        with pytest.raises(UserError, match="minKernel"):
            lint_doc(doc, "p.json")
    else:
        names = {n for r in profile_from_document(doc, "p.json", kernel=(255, 255)).syscalls for n in r.names}
        assert "chmod" in names  # every loaded form is met by the newest kernel a version can name
        assert lint_doc(doc, "p.json") == []
