"""Every profile format the tool writes is read back by every command that takes a profile.

A real workload is learned once with `--format kubernetes`, and its recording emitted as Docker JSON and
as the OCI object; lint, diff, report, verify and --base then run on each file as a user would. What a
file holds is read here with json/yaml, not with the project's reader, and verify's verdict is the
kernel's (the profile is enforced).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import PROFILE_COMMANDS, SHARED, assert_refused, seccomp_learn

FORMATS = ("docker", "oci", "kubernetes")
WORKLOAD = ["sh", "-c", "echo hi > out.txt; cat out.txt"]
SUFFIX = {"docker": "json", "oci": "json", "kubernetes": "yaml"}


def _spec(path: Path) -> dict[str, Any]:
    """The profile object in a file: the JSON itself, or a SeccompProfile's spec."""
    text = path.read_text()
    return yaml.safe_load(text)["spec"] if path.suffix == ".yaml" else json.loads(text)


def _allowed(path: Path) -> set[str]:
    return {n for r in _spec(path)["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}


@pytest.fixture(scope="module")
def profiles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("formats")
    k8s, rec = d / "p.kubernetes.yaml", d / "p.trace.json"
    r = seccomp_learn("-q", "--format", "kubernetes", "-o", str(k8s), "--record", str(rec), "--", *WORKLOAD, cwd=d)
    assert r.returncode == 0 and r.stdout == "hi\n", r.stderr
    out = {"kubernetes": k8s}
    for fmt in ("docker", "oci"):
        out[fmt] = d / f"p.{fmt}.json"
        r = seccomp_learn("emit", "-q", "--format", fmt, str(rec), "-o", str(out[fmt]))
        assert r.returncode == 0, r.stderr
    assert yaml.safe_load(k8s.read_text())["kind"] == "SeccompProfile"
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_lint(fmt: str, profiles: dict[str, Path]) -> None:
    r = seccomp_learn("lint", str(profiles[fmt]))
    assert (r.returncode, r.stdout, r.stderr) == (0, f"{profiles[fmt]}: no findings\n", "")


def test_lint_locations_in_a_seccomp_profile(profiles: dict[str, Path], tmp_path: Path) -> None:
    doc = yaml.safe_load(profiles["kubernetes"].read_text())
    doc["spec"]["syscalls"].append({"name": "getpid", "action": "SCMP_ACT_ALLOW"})
    path = tmp_path / "legacy.yaml"
    path.write_text(yaml.safe_dump(doc))
    r = seccomp_learn("lint", str(path))
    at = len(doc["spec"]["syscalls"]) - 1
    assert r.returncode == 1 and r.stdout.startswith(f"{path}: spec.syscalls[{at}].name: error: legacy 'name' form"), r


@pytest.mark.parametrize("fmt", FORMATS)
def test_diff(fmt: str, profiles: dict[str, Path]) -> None:
    r = seccomp_learn("diff", "--json", str(profiles[fmt]))
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["profile"]["kind"] == "profile" and data["profile"]["names"] == len(_allowed(profiles[fmt]))
    docker = json.loads(seccomp_learn("diff", "--json", str(profiles["docker"])).stdout)
    assert data["summary"] == docker["summary"] and data["blocked"] == docker["blocked"]
    pair = json.loads(seccomp_learn("diff", "--json", str(profiles["docker"]), str(profiles[fmt])).stdout)
    assert pair["added"] == [] and pair["changed"] == [] and pair["summary"]["removed"] == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_report(fmt: str, profiles: dict[str, Path]) -> None:
    r = seccomp_learn("report", "--format", "json", str(profiles[fmt]))
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["input"] == {"path": str(profiles[fmt]), "kind": "profile", "tool": ""}
    assert {e["name"] for e in report["syscalls"]} == _allowed(profiles[fmt])


@pytest.mark.parametrize("fmt", FORMATS)
def test_verify(fmt: str, profiles: dict[str, Path], tmp_path: Path) -> None:
    r = seccomp_learn("verify", str(profiles[fmt]), "--", *WORKLOAD, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "hi\n", r.stderr


def test_verify_enforces_a_seccomp_profile(profiles: dict[str, Path], tmp_path: Path) -> None:
    doc = yaml.safe_load(profiles["kubernetes"].read_text())
    for rule in doc["spec"]["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n != "openat"]
    doc["spec"]["syscalls"] = [rule for rule in doc["spec"]["syscalls"] if rule["names"]]
    path = tmp_path / "no-openat.yaml"
    path.write_text(yaml.safe_dump(doc))
    r = seccomp_learn("verify", str(path), "--", *WORKLOAD, cwd=tmp_path)
    denied = {line.split()[3] for line in r.stderr.splitlines() if line.startswith("seccomp-learn: denied: ")}
    assert r.returncode == 1 and "openat" in denied, r.stderr  # (and the loader's writev of why it failed)


@pytest.mark.parametrize("fmt", FORMATS)
def test_base(fmt: str, profiles: dict[str, Path], tmp_path: Path) -> None:
    new, trace = tmp_path / "new.json", tmp_path / "new.trace.json"
    r = seccomp_learn("-q", "--base", str(profiles[fmt]), "-o", str(new), "--record", str(trace), "--", *WORKLOAD,
                      cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "hi\n", r.stderr
    run = json.loads(trace.read_text())["runs"][0]
    unconditional = {n for rule in _spec(profiles[fmt])["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW"
                     and not rule.get("args") for n in rule["names"]}
    assert run["incremental_base"] == {"profile": str(profiles[fmt]), "allowed_in_kernel": len(unconditional),
                                       "untraced": sorted(unconditional)}
    names = {n for rule in json.loads(new.read_text())["syscalls"] for n in rule["names"]}
    assert names == {n for rule in _spec(profiles["docker"])["syscalls"] for n in rule["names"]}


@pytest.mark.skipif(not (SHARED / "spo-seccompprofile-crd.yaml").exists(), reason="../shared/reference is absent")
def test_every_version_the_crd_serves_is_read(profiles: dict[str, Path], tmp_path: Path) -> None:
    crd = yaml.safe_load((SHARED / "spo-seccompprofile-crd.yaml").read_text())
    served = [f"{crd['spec']['group']}/{v['name']}" for v in crd["spec"]["versions"] if v["served"]]
    doc = yaml.safe_load(profiles["kubernetes"].read_text())
    assert len(served) >= 2
    for version in served:
        path = tmp_path / f"{version.rsplit('/', 1)[1]}.yaml"
        path.write_text(yaml.safe_dump({**doc, "apiVersion": version}))
        r = seccomp_learn("lint", str(path))
        assert (r.returncode, r.stdout, r.stderr) == (0, f"{path}: no findings\n", ""), (version, r.stderr)


BAD_YAML = {
    "syntax": "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile\nspec: {defaultAction: [\n",
    "kind": "apiVersion: v1\nkind: Pod\nspec:\n  containers: []\n",
    "api-version": "apiVersion: example.com/v1\nkind: SeccompProfile\nspec:\n  defaultAction: SCMP_ACT_ERRNO\n",
    "no-spec": "apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\n",
    "alias": ("apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile\n"
              "spec:\n  defaultAction: &a SCMP_ACT_ERRNO\n  x: *a\n"),
}

# Every command with the two commonest mistakes; the rest once (they take the same path through the reader).
BAD_CASES = [(cmd, case) for cmd in sorted(PROFILE_COMMANDS) for case in ("syntax", "kind")]
BAD_CASES += [("lint", case) for case in ("api-version", "no-spec", "alias")]


@pytest.mark.parametrize(("cmd", "case"), BAD_CASES)
def test_bad_seccomp_profile_is_one_line_exit_2(cmd: str, case: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_YAML[case])
    assert_refused(cmd, bad, tmp_path)
