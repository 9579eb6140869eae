"""--base rebuilds its recording from the base's rules (names, actions, argument conditions), never its comments.

Each base is read here with json, as a user's editor or `jq` would leave it: one of ours with its comments
stripped or rewritten, Docker's default profile (../shared/reference), and one written by hand. The
re-learnt profile must keep every rule of the base (wider only where the base's condition has no recorded
form), for a workload that calls none of the argument-ruled names.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import SHARED, seccomp_learn
from test_determinism import SOCKETS_AND_FORK, rules

QUIET = ["sh", "-c", "echo again"]  # calls neither socket nor clone's flag words


def relearn(tmp_path: Path, base: dict[str, Any], *workload: str) -> dict[str, Any]:
    path, out = tmp_path / "base.json", tmp_path / "new.json"
    path.write_text(json.dumps(base))
    r = seccomp_learn("-q", "--base", str(path), "-o", str(out), "--", *workload, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return dict(json.loads(out.read_text()))


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("ours")
    r = seccomp_learn("-q", "-o", str(d / "p.json"), "--", sys.executable, "-c", SOCKETS_AND_FORK, cwd=d)
    assert r.returncode == 0, r.stderr
    profile = dict(json.loads((d / "p.json").read_text()))
    assert {"clone", "socket"} <= {name for name, _, args in rules(profile) if args != "[]"}
    return profile


@pytest.mark.parametrize("edit", ["stripped", "rewritten"])
def test_a_profile_of_ours_without_its_comments_keeps_every_rule(edit: str, ours: dict[str, Any],
                                                                 tmp_path: Path) -> None:
    base = json.loads(json.dumps(ours))
    for n, rule in enumerate(base["syscalls"]):
        if edit == "stripped":
            rule.pop("comment", None)
        else:
            rule["comment"] = f"reviewed by ops, rule {n}"
    again = relearn(tmp_path, base, *QUIET)
    assert rules(ours) <= rules(again), sorted(rules(ours) - rules(again))
    same = relearn(tmp_path, base, sys.executable, "-c", SOCKETS_AND_FORK)
    assert same == ours  # the same needs give the same profile back, comments and all


@pytest.mark.skipif(not (SHARED / "docker-default.json").exists(), reason="../shared/reference is absent")
def test_dockers_default_profile_as_the_base(tmp_path: Path) -> None:
    docker = json.loads((SHARED / "docker-default.json").read_text())
    again = relearn(tmp_path, docker, "true")
    allowed = {name for name, action, _ in rules(again) if action == "SCMP_ACT_ALLOW"}
    for rule in docker["syscalls"]:
        if rule["action"] != "SCMP_ACT_ALLOW" or rule.get("includes") or rule.get("excludes"):
            continue  # those depend on capabilities and architectures
        names = {n for n in rule["names"] if n not in ("recv", "send", "riscv_hwprobe")}  # not on x86_64
        assert names <= allowed, sorted(names - allowed)
        if rule["names"] == ["personality"]:  # its values, as rules of their own
            assert (("personality", "SCMP_ACT_ALLOW", json.dumps([{**rule["args"][0], "valueTwo": 0}],
                                                                  sort_keys=True)) in rules(again))
    clone = [json.loads(args) for name, _, args in rules(again) if name == "clone"]
    assert clone == [[{"index": 0, "op": "SCMP_CMP_MASKED_EQ", "value": 2114060288, "valueTwo": 0}]]


def test_a_profile_written_by_hand(tmp_path: Path) -> None:
    hand = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_EQ"}]},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_NE"}]},
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
    ]}
    again = rules(relearn(tmp_path, hand, *QUIET))
    socket = {json.loads(args)[0]["value"] for name, _, args in again if name == "socket"}
    assert socket == {1, 10}  # the values the base allows, still only those
    assert ("personality", "SCMP_ACT_ALLOW", "[]") in again  # a condition with no recorded form: wider
    assert not any(name == "mkdir" for name, _, _ in again)  # denied by the base: not a need


def test_the_report_shows_the_bases_extras_as_extras(ours: dict[str, Any], tmp_path: Path) -> None:
    base = json.loads(json.dumps(ours))
    for rule in base["syscalls"]:
        rule.pop("comment", None)
    (tmp_path / "base.json").write_text(json.dumps(base))
    r = seccomp_learn("-q", "--base", "base.json", "--record", "r.json", "-o", "p.json", "--", *QUIET, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = seccomp_learn("report", "--format", "json", "r.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    extras = {n for e in report["extras"] if e["kind"] in ("runtime", "always") for n in e["names"]}
    listed = {e["name"]: e["count"] for e in report["syscalls"]}
    assert "capset" in extras and {n for n in extras & set(listed) if not listed[n]} == set()
    assert listed["socket"] == 0  # a need of the base's own workload (its argument rules), not traced now
