"""`seccomp-learn report`, run as a user would, on real recordings and hand-made inputs.

What the baseline blocks is checked against `decide(docker_default(), name)` computed here, not taken from
tracer.report or tracer.diff; the JSON is checked against the key tables of docs/report-format.md.
The markdown golden file is tests/data/report_sockets.md. The test never writes it: when the report changes,
the failure names a copy of the new report to review and copy over the golden by hand.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO_ROOT, seccomp_learn

from fixtures import build
from tracer.baseline.decide import decide
from tracer.baseline.reasons import REASONS
from tracer.baseline.resolve import docker_default
from tracer.recording import schema as rec_io
from tracer.recording.schema import ArgValues, Recording, Run, SyscallStats
from tracer.report.build import render_report

GOLDEN = Path(__file__).parent / "data" / "report_sockets.md"
DOC = REPO_ROOT / "docs" / "report-format.md"
ALLOWS = ("allowed", "allowed_with_args")
CLONE_NEWNS = 0x20000


def _record(out: Path, *argv: str, run_id: str | None = None) -> Path:
    extra = ["--run-id", run_id] if run_id else []
    proc = seccomp_learn("record", "-q", "-o", str(out), *extra, "--", *argv)
    assert proc.returncode == 0, proc.stderr
    return out


def _report(*args: str) -> str:
    proc = seccomp_learn("report", *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def sockets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "sockets.trace.json"
    return _record(out, str(build("sockets")), "inet", run_id="sockets")


@pytest.fixture(scope="module")
def python_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "python.trace.json"
    return _record(out, "python3", "-c", "import json, sqlite3")


def _handmade(path: Path) -> Path:
    """A recording of a workload that needs unshare(CLONE_NEWNS) and keyctl, in two runs."""
    runs = [Run(id=rid, command=["./ns-tool"], started="2025-01-01T00:00:00Z", duration_s=0.5,
                exit={"code": 0}) for rid in ("a", "b")]
    rec = Recording(tool="hand-made", runs=runs)
    table = rec.abis.setdefault("x86_64", {})
    for name, nr, counts in (("read", 0, {"a": 3, "b": 2}), ("exit_group", 231, {"a": 1, "b": 1}),
                             ("execve", 59, {"a": 1, "b": 1}), ("keyctl", 250, {"a": 2}),
                             ("unshare", 272, {"a": 1, "b": 1}), ("rt_sigaction", 13, {"a": 4, "b": 4})):
        table[name] = SyscallStats(nr=nr, counts=dict(counts), executables={"/usr/bin/ns-tool"})
    table["unshare"].args[0] = ArgValues(values={CLONE_NEWNS}, bits=CLONE_NEWNS)
    table["keyctl"].args[0] = ArgValues(values={0})  # KEYCTL_GET_KEYRING_ID
    table["#999"] = SyscallStats(nr=999, counts={"b": 1}, executables={"/usr/bin/ns-tool"})
    rec_io.save(rec, path)
    return path


# ---- golden -------------------------------------------------------------------------------------------


def _normalise(text: str, sockets_bin: Path) -> str:
    text = text.replace(str(sockets_bin), "<sockets>").replace(sockets_bin.name, "<sockets>")
    python = os.path.realpath(sys.executable)
    text = text.replace(python, "<python>").replace(f"`{os.path.basename(python)}`", "`<python>`")
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "<started>", text)
    text = re.sub(r"\| [0-9.]+s \|", "| <duration> |", text)
    return re.sub(r"seccomp-learn \d+\.\d+\.\d+\S*</sub>", "seccomp-learn <version></sub>", text)


def test_golden_markdown(sockets: Path, tmp_path: Path) -> None:
    text = _normalise(_report(str(sockets)), build("sockets"))
    if text != GOLDEN.read_text():
        new = tmp_path / GOLDEN.name
        new.write_text(text)
        pytest.fail(f"the report differs from {GOLDEN}; review {new} (diff -u {GOLDEN} {new}) and copy it over "
                    "the golden file if the change is meant")


def test_sockets_content(sockets: Path) -> None:
    md = _report(str(sockets))
    assert "domain: AF_UNIX, AF_INET" in md  # decoded symbolically
    assert "domain in {AF_UNIX, AF_INET}" in md  # the argument rule, in words
    assert "**launcher**" in md and "**abi**" in md


# ---- blocked by the baseline: computed independently -------------------------------------------------


def _needed(profile_json: dict[str, Any]) -> set[str]:
    return {e["name"] for e in profile_json["syscalls"]}


def _check_blocked(doc: dict[str, Any]) -> None:
    docker = docker_default()
    blocked = {b["name"] for b in doc["blocked"]}
    for name in blocked:
        assert decide(docker, name).status != "allowed", name
    for e in doc["syscalls"]:
        if e["abi"] in ("x86_64", None) and decide(docker, e["name"]).status not in ALLOWS:
            assert e["name"] in blocked, e["name"]
            assert e["status"] in ("blocked", "needs_capability")


def test_blocked_real_recordings(sockets: Path, python_json: Path) -> None:
    for path in (sockets, python_json):
        doc = json.loads(_report("--format", "json", str(path)))
        _check_blocked(doc)
        assert doc["summary"]["fails"] is False and doc["change"] == []


def test_handmade_recording_unshare_keyctl(tmp_path: Path) -> None:
    path = _handmade(tmp_path / "ns.trace.json")
    doc = json.loads(_report("--format", "json", str(path)))
    _check_blocked(doc)
    blocked = {b["name"]: b for b in doc["blocked"]}
    assert blocked["unshare"]["reason"] == REASONS["unshare"]
    assert blocked["unshare"]["capability"] == "CAP_SYS_ADMIN"
    assert blocked["keyctl"]["reason"] == REASONS["keyctl"]
    assert blocked["keyctl"]["capability"] is None
    assert doc["summary"]["fails"] and doc["summary"]["failing"] == 2
    assert doc["change"] == ["--security-opt seccomp=<this profile>"]  # no capability allows keyctl
    kinds = {h["kind"]: h for h in doc["hints"]}
    assert kinds["one-run"]["names"] == ["keyctl"]
    assert kinds["unnamed"]["names"] == ["x86_64 #999"]
    assert "sigreturn" in kinds and "launcher" in kinds and "abi" in kinds
    unshare = next(e for e in doc["syscalls"] if e["name"] == "unshare")
    assert unshare["args"][0]["values"] == ["CLONE_NEWNS"] and unshare["runs"] == 2
    md = _report(str(path))
    section = md.split("### What the baseline would block")[1].split("### Needed")[0]
    assert "| `unshare` |" in section and "| `keyctl` |" in section and "--cap-add SYS_ADMIN" in section
    assert REASONS["keyctl"] in section


def test_handmade_profile(tmp_path: Path) -> None:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                                "syscalls": [{"names": ["read", "exit_group", "unshare", "keyctl"],
                                              "action": "SCMP_ACT_ALLOW"},
                                             {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                                              "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]}))
    doc = json.loads(_report("--format", "json", str(path)))
    _check_blocked(doc)
    assert {b["name"] for b in doc["blocked"] if b["fails"]} == {"unshare", "keyctl"}
    assert doc["input"]["kind"] == "profile" and doc["summary"]["runs"] is None
    assert all(e["count"] is None for e in doc["syscalls"])
    assert doc["rules"] == [{"name": "socket", "text": "domain == AF_UNIX"}]
    assert any("unavailable" in n for n in doc["notes"])
    md = _report(str(path))
    assert "unavailable" in md and "| `keyctl` |" in md
    text = _report("--format", "text", str(path))
    assert "keyctl (system): baseline EPERM" in text


# ---- formats ------------------------------------------------------------------------------------------


def _doc_keys() -> dict[str, set[str]]:
    """The keys each table of docs/report-format.md documents, by section title."""
    keys: dict[str, set[str]] = {}
    section = ""
    for line in DOC.read_text().splitlines():
        if line.startswith("#"):
            section = line.lstrip("# ").strip()
        m = re.match(r"\| (`[^|]+`(?:, `[^|]+`)*) \|", line)
        if m:
            keys.setdefault(section, set()).update(re.findall(r"`([^`]+)`", m[1]))
    return keys


def test_json_matches_documented_keys(sockets: Path, tmp_path: Path) -> None:
    documented = _doc_keys()
    for path in (sockets, _handmade(tmp_path / "ns.trace.json")):
        doc = json.loads(_report("--format", "json", str(path)))
        assert set(doc) == documented["Top level"]
        assert doc["format"] == "seccomp-learn-report" and doc["version"] == 1
        assert set(doc["summary"]) == documented["Summary"]
        assert doc["blocked"] or path == sockets
        for b in doc["blocked"]:
            assert set(b) == documented["Blocked"]
        for e in doc["syscalls"]:
            assert set(e) == documented["Syscall"]
            for a in e["args"]:
                assert set(a) == documented["ArgSeen"]
        for r in doc["runs"]:
            assert set(r) == {"id", "command", "started", "duration_s", "exit", "partial", "partial_reason"}
        for x in doc["extras"]:
            assert set(x) == {"kind", "reason", "names", "values"}
        for h in doc["hints"]:
            assert set(h) == {"kind", "text", "names"}


def test_markdown_row_per_syscall(python_json: Path) -> None:
    md = _report(str(python_json))
    rec = rec_io.load(python_json)
    for abi in rec.abis:
        for name in rec.names(abi):
            assert re.search(rf"^\| `{re.escape(name)}` \| {abi} \| ", md, re.M), name
    assert "<details>" in md and "</details>" in md


def test_output_file_and_library_entry(python_json: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    proc = seccomp_learn("report", "-o", str(out), str(python_json))
    assert proc.returncode == 0 and proc.stdout == "", proc.stderr
    rec = rec_io.load(python_json)
    md = render_report(rec, "markdown")
    assert md == render_report(rec, "markdown")  # deterministic
    assert out.read_text().split("\n", 1)[1] == md.split("\n", 1)[1]  # the title is the same command
    assert render_report(rec, "text").startswith("seccomp-learn report: python3 -c")


@pytest.mark.parametrize("content", ["{", "[]", '{"format": "seccomp-learn-recording", "version": 1}',
                                     '{"format": "seccomp-learn-recording", "version": 1, "runs": [], '
                                     '"abis": {"x86_64": {"read": {"nr": 0, "count": 1, "executables": [], '
                                     '"runs": {"nope": 1}}}}}'])
def test_malformed_input(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    proc = seccomp_learn("report", str(path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and str(path) in proc.stderr


def test_bad_baseline(python_json: Path, tmp_path: Path) -> None:
    proc = seccomp_learn("report", "--baseline", str(tmp_path / "missing.json"), str(python_json))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
