"""The emitter on real recordings: deterministic, minimal, explicit about every extra."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import SHARED, seccomp_learn

from fixtures import build
from tracer.profile.emit import EmitOptions, emit
from tracer.profile.extras import ALWAYS, FALLBACKS, RUNTIMES, VDSO
from tracer.recording import model as recording


@pytest.fixture(scope="module")
def sockets_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rec") / "sockets.trace.json"
    assert seccomp_learn("record", "-q", "-o", str(out), "--", str(build("sockets"))).returncode == 0
    return out


def emit_json(trace: Path, *args: str) -> dict[str, Any]:
    r = seccomp_learn("emit", str(trace), *args)
    assert r.returncode == 0, r.stderr
    data: dict[str, Any] = json.loads(r.stdout)
    return data


def rules_by_comment(profile: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [r for r in profile["syscalls"] if r.get("comment", "").startswith(prefix)]


def test_output_is_deterministic_and_sorted(sockets_trace: Path) -> None:
    first = seccomp_learn("emit", str(sockets_trace)).stdout
    assert first == seccomp_learn("emit", str(sockets_trace)).stdout
    profile = json.loads(first)
    assert first == json.dumps(profile, indent=2, sort_keys=True) + "\n"
    for rule in profile["syscalls"]:
        assert rule["names"] == sorted(rule["names"])


def test_observed_names_equal_the_recording(sockets_trace: Path) -> None:
    profile = emit_json(sockets_trace, "--runtime", "none", "--no-fallback", "--no-companions")
    rec = recording.load(sockets_trace)
    assert {n for r in profile["syscalls"] for n in r["names"]} == rec.names("x86_64") | {"exit", "restart_syscall",
                                                                                           "rt_sigreturn"}
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO" and profile["defaultErrnoRet"] == 1
    assert profile["architectures"] == ["SCMP_ARCH_X86_64"]


def test_argument_rules_follow_dockers_patterns(sockets_trace: Path) -> None:
    profile = emit_json(sockets_trace)
    socket_rules = [r for r in profile["syscalls"] if r["names"] == ["socket"]]
    assert [r["args"] for r in socket_rules] == [[{"index": 0, "op": "SCMP_CMP_EQ", "value": 1, "valueTwo": 0}]]
    for rule in profile["syscalls"]:
        indexes = [a["index"] for a in rule.get("args", [])]
        assert len(indexes) == len(set(indexes)), rule  # never two conditions on one index
    unconditional = {n for r in profile["syscalls"] if not r.get("args") for n in r["names"]}
    assert "socket" not in unconditional
    assert "socket" in unconditional_names(emit_json(sockets_trace, "--no-args"))


def unconditional_names(profile: dict[str, Any]) -> set[str]:
    return {n for r in profile["syscalls"] if not r.get("args") and r["action"] == "SCMP_ACT_ALLOW"
            for n in r["names"]}


def test_clone_flags_are_masked_to_what_was_seen(tmp_path: Path) -> None:
    trace = tmp_path / "t.json"
    assert seccomp_learn("record", "-q", "-o", str(trace), "--", str(build("threads"))).returncode == 0
    rec = recording.load(trace)
    name = "clone3" if "clone" not in rec.names("x86_64") else "clone"
    if name == "clone3":  # glibc's pthread_create uses clone3, whose flags seccomp cannot see
        trace = tmp_path / "f.json"
        assert seccomp_learn("record", "-q", "-o", str(trace), "--", str(build("fork_exec"))).returncode == 0
        rec = recording.load(trace)
    seen = rec.abis["x86_64"]["clone"].args[0].bits
    clone_rules = [r for r in emit_json(trace)["syscalls"] if r["names"] == ["clone"]]
    assert clone_rules == [{"action": "SCMP_ACT_ALLOW", "comment": clone_rules[0]["comment"], "names": ["clone"],
                            "args": [{"index": 0, "op": "SCMP_CMP_MASKED_EQ", "value": ~seen & 0xFFFFFFFF,
                                      "valueTwo": 0}]}]
    assert clone_rules[0]["args"][0]["value"] & 0x10000000  # CLONE_NEWUSER is never allowed


def test_extras_are_separate_named_rules(sockets_trace: Path) -> None:
    profile = emit_json(sockets_trace, "--runtime", "crun", "--portable")
    runtime = {n for r in rules_by_comment(profile, "runtime:") for n in r["names"]}
    observed = recording.load(sockets_trace).names("x86_64")
    # Each extra rule holds its whole list, observed or not, so a name never moves between rules.
    assert runtime == {*RUNTIMES["crun"].needs, *RUNTIMES["crun"].sometimes} and runtime & observed
    # prctl is allowed for the option values crun was measured to pass, not for every option.
    prctl = [r["args"] for r in rules_by_comment(profile, "runtime:") if r["names"] == ["prctl"]]
    assert sorted(a[0]["value"] for a in prctl) == sorted(next(v for n, _, v in RUNTIMES["crun"].arg_values
                                                               if n == "prctl"))
    assert {n for r in rules_by_comment(profile, "vdso:") for n in r["names"]} == set(VDSO) - runtime
    assert {n for r in rules_by_comment(profile, "always:") for n in r["names"]} == set(ALWAYS) - runtime
    assert not {n for r in rules_by_comment(profile, "observed in") for n in r["names"]} & (runtime | set(ALWAYS))
    fallback = rules_by_comment(profile, "fallback:")
    expected = {new for new, old in FALLBACKS.items() if set(old) & observed and new not in observed}
    assert [(r["action"], r["errnoRet"], set(r["names"])) for r in fallback] == [("SCMP_ACT_ERRNO", 38, expected)]
    assert not rules_by_comment(emit_json(sockets_trace, "--no-fallback"), "fallback:")
    assert not rules_by_comment(emit_json(sockets_trace, "--runtime", "none"), "runtime:")


def test_architectures_are_the_observed_abis(tmp_path: Path) -> None:
    trace = tmp_path / "t.json"
    assert seccomp_learn("record", "-q", "-o", str(trace), "--", str(build("int80"))).returncode == 0
    assert emit_json(trace)["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]
    assert emit_json(trace, "--arch", "x86_64,x86,x32")["architectures"] == [
        "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]


@pytest.mark.parametrize(("action", "expected"), [("kill_process", "SCMP_ACT_KILL_PROCESS"), ("log", "SCMP_ACT_LOG")])
def test_default_action(sockets_trace: Path, action: str, expected: str) -> None:
    profile = emit_json(sockets_trace, "--default-action", action)
    assert profile["defaultAction"] == expected and "defaultErrnoRet" not in profile
    assert emit_json(sockets_trace, "--errno", "13")["defaultErrnoRet"] == 13


def test_unknown_name_is_an_error(sockets_trace: Path, tmp_path: Path) -> None:
    data = json.loads(sockets_trace.read_text())
    data["abis"]["x86_64"]["not_a_syscall"] = {**data["abis"]["x86_64"]["read"], "nr": 9999}
    bad = tmp_path / "bad.trace.json"
    bad.write_text(json.dumps(data))
    out = tmp_path / "p.json"
    r = seccomp_learn("emit", str(bad), "-o", str(out))
    assert r.returncode == 2 and "not_a_syscall" in r.stderr and len(r.stderr.splitlines()) == 1
    assert not out.exists()


def test_unnamed_numbers_are_reported_not_written(tmp_path: Path) -> None:
    trace, out = tmp_path / "t.json", tmp_path / "p.json"
    assert seccomp_learn("record", "-q", "-o", str(trace), "--", str(build("rawhigh"))).returncode == 0
    r = seccomp_learn("emit", str(trace), "-o", str(out))
    assert r.returncode == 0
    assert "x86_64 syscall 500 has no name" in r.stderr and "x86_64 syscall 1000 has no name" in r.stderr
    assert not any(n.startswith("#") for rule in json.loads(out.read_text())["syscalls"] for n in rule["names"])


def test_emit_library_gives_the_same_profile_as_the_cli(sockets_trace: Path) -> None:
    from tracer.profile import formats

    rec = recording.load(sockets_trace)
    cli = seccomp_learn("emit", str(sockets_trace)).stdout
    assert formats.render("docker", emit(rec, EmitOptions()).profile, rec) == cli


# ---- formats ----------------------------------------------------------------------------

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/reference is not present")


@needs_shared
def test_oci_format_validates_against_the_runtime_spec_schema(sockets_trace: Path) -> None:
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    schemas = {name: json.loads((SHARED / f"oci-{name}.schema.json").read_text())
               for name in ("config-linux", "defs-linux", "defs")}
    registry = Registry().with_resources(
        [(f"{name}.json", Resource.from_contents(s, default_specification=DRAFT7)) for name, s in schemas.items()])
    seccomp_schema = schemas["config-linux"]["linux"]["properties"]["seccomp"]
    validator = jsonschema.Draft7Validator({**seccomp_schema, "$id": "config-linux.json"}, registry=registry)
    profile = emit_json(sockets_trace, "--format", "oci")
    assert list(validator.iter_errors(profile)) == []
    assert "comment" not in json.dumps(profile)
    assert list(validator.iter_errors({**profile, "defaultAction": "SCMP_ACT_BOGUS"}))  # the schema does bite


@needs_shared
def test_kubernetes_format_matches_the_spo_crd(sockets_trace: Path) -> None:
    import jsonschema

    crd = yaml.safe_load((SHARED / "spo-seccompprofile-crd.yaml").read_text())
    served = {v["name"]: v for v in crd["spec"]["versions"]}
    doc = yaml.safe_load(seccomp_learn("emit", str(sockets_trace), "--format", "kubernetes").stdout)
    group, version = doc["apiVersion"].split("/")
    assert group == crd["spec"]["group"] and served[version]["storage"] is True
    assert doc["kind"] == crd["spec"]["names"]["kind"]
    spec_schema = served[version]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert list(jsonschema.Draft7Validator(spec_schema).iter_errors(doc["spec"])) == []


def test_emit_notes_an_installed_runtime_of_another_version(sockets_trace: Path, tmp_path: Path) -> None:
    """The runtime lists say which version they were measured on; another installed version is named."""
    measured = dict(RUNTIMES["runc"].versions)["runc"]
    shim = tmp_path / "bin" / "runc"
    shim.parent.mkdir()
    shim.write_text("#!/bin/sh\necho 'runc version 99.1.0'\n")
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{shim.parent}:{os.environ['PATH']}"}
    r = seccomp_learn("emit", str(sockets_trace), "--runtime", "runc", "-o", str(tmp_path / "p.json"), env=env)
    assert r.returncode == 0, r.stderr
    assert f"installed runc 99.1.0 (lists measured on {measured})" in r.stderr
    assert "prctl (arg0 in 8, 24, 47)" in r.stderr
    r = seccomp_learn("emit", str(sockets_trace), "--runtime", "runc", "-o", str(tmp_path / "q.json"))
    assert "lists measured on" not in r.stderr  # the runc installed here is the measured one
