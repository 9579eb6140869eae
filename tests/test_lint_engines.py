"""What each engine does with each lint finding's profile (issue 24, item 3), measured in the real engines.

For every finding code, a minimal profile that has that finding (and lint checks it has exactly that one)
is loaded in crun, runc, podman (--network=none) and a private dockerd, running busybox
`mkdir /tmp/probe`. The engine refuses it (the container never runs the command), loads it (mkdir is denied
or allowed as the profile says), or ignores the rule (the container runs, but mkdir is allowed though the
rule denies it). crun and runc get the profile verbatim as config.json's linux.seccomp, podman and docker
as `--security-opt seccomp=FILE`. The result must be what `tracer.analysis.engine_actions` says, which is
what `lint` prints with each finding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from engines import Engines

from tracer.analysis.engine_actions import ENGINE_ACTIONS
from tracer.analysis.findings import CODES, lint_doc
from tracer.runtime_needs.containers import ENGINES, ContainerSpec, run
from tracer.syscalls.names import numbers

PROBE = ("sh", "-c", "mkdir /tmp/probe; echo mkdir=$?")  # no redirection: arch-unusable's profile denies openat
MKDIR_DENIED = {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}


def _all_but(*left_out: str) -> list[dict[str, Any]]:
    """One rule allowing every x86_64 name but `left_out` (a deny default the runtime and busybox still run under),
    and clone3 answered with ENOSYS as Docker does (libc falls back to clone), so no unconditional-clone3 finding."""
    return [{"names": sorted(set(numbers("x86_64")) - {*left_out, "clone3"}), "action": "SCMP_ACT_ALLOW"},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]


ALLOW = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"]}
DENY = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "architectures": ["SCMP_ARCH_X86_64"]}
# code -> (a minimal profile with only that finding, whether the profile as written denies mkdir; None: nothing runs)
CASES: dict[str, tuple[dict[str, Any], bool | None]] = {
    "unknown-syscall": ({**ALLOW, "syscalls": [{**MKDIR_DENIED, "names": ["mkdir", "no_such_call"]}]}, True),
    "missing-exit": ({**DENY, "syscalls": _all_but("exit_group")}, False),
    "empty-allowlist": ({**DENY, "syscalls": []}, None),
    "conflicting-actions": ({**ALLOW, "syscalls": [MKDIR_DENIED, {**MKDIR_DENIED, "errnoRet": 13}]}, True),
    "same-arg-index": ({**ALLOW, "syscalls": [{**MKDIR_DENIED, "args": [
        {"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 0o700, "op": "SCMP_CMP_EQ"}]}]},
        True),  # busybox mkdir passes 0777: denied if the two conditions are ORed, as lint says runc does
    "errno-action": ({**ALLOW, "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_TRAP", "errnoRet": 1}]}, True),
    "arch-and-archmap": ({**ALLOW, "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": []}],
                          "syscalls": [MKDIR_DENIED]}, True),
    "multiplexer-bypass": ({**ALLOW, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [
        MKDIR_DENIED, {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [
            {"index": 0, "value": 17, "op": "SCMP_CMP_EQ"}]}]}, True),
    "pointless-allow": ({**ALLOW, "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ALLOW"}]}, False),
    "legacy-name": ({**ALLOW, "syscalls": [{"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}, True),
    "name-and-names": ({**ALLOW, "syscalls": [{**MKDIR_DENIED, "name": "mkdir"}]}, True),
    "missing-counterpart": ({**DENY, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
                             "syscalls": _all_but("mkdirat")}, False),
    "arch-unusable": ({**DENY, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"], "syscalls": [
        *_all_but("openat", "openat2"),  # openat only for amd64 hosts: an arm64 host's libc cannot open files
        {"names": ["openat", "openat2"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}}]}, False),
    "complain-mode": ({**ALLOW, "defaultAction": "SCMP_ACT_LOG", "syscalls": [MKDIR_DENIED]}, True),
    "unconditional-clone3": ({**DENY, "syscalls": [{"names": sorted(numbers("x86_64")), "action": "SCMP_ACT_ALLOW"}]},
                             False),
}

# More forms of a finding, which the engines must treat as the case above
VARIANTS: dict[str, list[tuple[dict[str, Any], bool | None]]] = {
    "errno-action": [({**ALLOW, "defaultErrnoRet": 1, "syscalls": [MKDIR_DENIED]}, True)],  # on the default
}


def test_every_code_has_a_case_and_a_row() -> None:
    assert set(CASES) == set(CODES) == set(ENGINE_ACTIONS)


@pytest.mark.parametrize("code", sorted(CASES))
def test_the_case_has_exactly_its_finding(code: str) -> None:
    also = {"missing-counterpart"} if code == "arch-unusable" else set()  # open is x86-only: both hold
    for profile, _ in [CASES[code], *VARIANTS.get(code, [])]:
        assert {f.code for f in lint_doc(profile, "case.json")} == {code, *also}


def measure(engine_name: str, engines: Engines, profile: dict[str, Any], denies: bool | None,
            workdir: Path) -> str:
    """refuse, load or ignore (see the module docstring)."""
    result = run(engines.get(engine_name), ContainerSpec(PROBE, profile), workdir, timeout=60)
    said = [line for line in result.stdout.splitlines() if line.startswith("mkdir=")]
    if not said:
        return "load" if denies is None else "refuse"
    denied = said[0] != "mkdir=0"
    return "load" if denied == bool(denies) else "ignore"


@pytest.mark.parametrize("engine", ENGINES)
def test_engines_do_what_the_table_says(engine: str, engines: Engines, tmp_path: Path) -> None:
    measured = {code: {measure(engine, engines, profile, denies, tmp_path / f"{code}-{i}")
                       for i, (profile, denies) in enumerate([case, *VARIANTS.get(code, [])])}
                for code, case in sorted(CASES.items())}
    assert measured == {code: {row[engine]} for code, row in sorted(ENGINE_ACTIONS.items())}
