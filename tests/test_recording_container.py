"""A container's run in a recording: typed fields (container, oci_command, runtime), the same JSON as before.

Recordings written before these fields were typed kept them as unknown run keys (`extra`); the releases at
OLDER still do. Both directions are checked with their own code, extracted from git: each reads a recording
this version wrote and writes it back byte for byte (`merge`), and what it wrote reads into the typed fields.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO_ROOT, seccomp_learn

from tracer.recording import schema
from tracer.recording.schema import Container, OciRuntime

OLD = "be2117f"  # main before the fields were typed (issue 18)
OLDER = ("2841b99", OLD)  # ... and before its renames (recording/model.py)
CONTAINER = {"id": "4f1c", "engine": "podman", "name": "web", "image": "localhost/app:1",
             "entrypoint": ["/bin/app", "--port", "8080"]}
RUNTIME = {"path": "/usr/bin/crun", "version": "crun version 1.8.1", "executables": ["/", "/usr/bin/crun"],
           "syscalls_only_by_runtime": {"x86_64": ["capset", "prctl"]}}


def recording(**run_keys: Any) -> dict[str, Any]:
    run = {"id": "4f1c-20261207T101010-42", "command": CONTAINER["entrypoint"], "started": "2026-12-07T10:10:10Z",
           "duration_s": 0.5, "exit": {"code": 0}, "partial": False, "partial_reason": None, "kernel": "6.1.0",
           "machine": "x86_64", "follow": "all", "tasks": 3, "syscalls": 12, "backend": "ptrace", **run_keys}
    return {"format": schema.FORMAT, "version": schema.VERSION, "tool": "seccomp-learn 0.1.0", "partial": False,
            "runs": [run], "abis": {"x86_64": {"getpid": {"nr": 39, "count": 12, "runs": {run["id"]: 12},
                                                          "executables": ["/bin/app"]}}}}


CONTAINER_RUN = recording(container=CONTAINER, oci_command="exec", runtime=RUNTIME)


def test_the_fields_are_typed_and_written_as_before() -> None:
    rec = schema.from_json(CONTAINER_RUN)
    run = rec.runs[0]
    assert run.container == Container("4f1c", "podman", "web", "localhost/app:1", ["/bin/app", "--port", "8080"])
    assert run.oci_command == "exec" and run.extra == {}
    assert run.runtime == OciRuntime("/usr/bin/crun", "crun version 1.8.1", ["/", "/usr/bin/crun"],
                                     {"x86_64": ["capset", "prctl"]})
    assert schema.to_json(rec) == CONTAINER_RUN  # the same keys, the same values: old readers see no change


def extract(commit: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tracer package of commit, extracted from this repository's history."""
    if subprocess.run(["git", "-C", str(REPO_ROOT), "cat-file", "-e", f"{commit}^{{commit}}"]).returncode:
        pytest.skip(f"this checkout's history lacks {commit}")
    root = tmp_path_factory.mktemp(commit)
    archive = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", commit, "tracer"], capture_output=True,
                             check=True)
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    return root


@pytest.fixture(scope="module")
def old_tracer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return extract(OLD, tmp_path_factory)


@pytest.fixture(scope="module", params=OLDER)
def older_tracer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return extract(request.param, tmp_path_factory)


def old_command(old: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracer", *args], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(old), "PATH": "/usr/bin:/bin"})


def old_rewrite(old: Path, path: Path) -> str:
    """What an older release writes back after reading path: `merge` of path alone (the wrapper's read-merge-write)."""
    out = path.with_suffix(".merged")
    r = old_command(old, "merge", str(path), "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out.read_text()


def test_an_old_version_reads_a_new_recording_and_writes_it_back_unchanged(older_tracer: Path,
                                                                           tmp_path: Path) -> None:
    new = tmp_path / "new.trace.json"
    schema.save(schema.from_json(CONTAINER_RUN), new)
    assert old_rewrite(older_tracer, new) == new.read_text()


def test_what_an_old_version_wrote_reads_into_the_typed_fields(older_tracer: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.trace.json"
    old.write_text(json.dumps(CONTAINER_RUN))
    written = tmp_path / "written.trace.json"
    written.write_text(old_rewrite(older_tracer, old))  # its own bytes, the fields kept as unknown keys
    run = schema.load(written).runs[0]
    assert (run.container, run.oci_command, run.extra) == (Container(**CONTAINER), "exec", {})
    assert run.runtime is not None and run.runtime.syscalls_only_by_runtime == RUNTIME["syscalls_only_by_runtime"]
    assert schema.dumps(schema.load(written)) == written.read_text()


def test_merge_keeps_them(tmp_path: Path) -> None:
    a, b, out = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "m.json"
    a.write_text(json.dumps(CONTAINER_RUN))
    b.write_text(json.dumps(recording(id="other")))
    r = seccomp_learn("merge", str(a), str(b), "-o", str(out))
    assert r.returncode == 0, r.stderr
    runs = {run["id"]: run for run in json.loads(out.read_text())["runs"]}
    assert {k: runs[CONTAINER_RUN["runs"][0]["id"]][k] for k in ("container", "oci_command", "runtime")} == \
        {"container": CONTAINER, "oci_command": "exec", "runtime": RUNTIME}


@pytest.mark.parametrize("bad", [{"container": {"engine": "docker"}}, {"container": {"id": "x", "name": 3}},
                                 {"runtime": {"path": "/r", "executables": "/"}}, {"oci_command": 1}])
def test_a_malformed_field_is_one_line_naming_the_file(bad: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "bad.trace.json"
    path.write_text(json.dumps(recording(**bad)))
    r = seccomp_learn("emit", str(path), "-o", str(tmp_path / "p.json"))
    assert r.returncode == 2 and r.stderr.startswith(f"seccomp-learn: {path}: malformed recording") \
        and len(r.stderr.splitlines()) == 1, r.stderr
    assert not (tmp_path / "p.json").exists()


@pytest.mark.parametrize("command", [["report", "--format", "json"], ["diff", "--json"], ["emit", "-o", "-"]])
def test_report_diff_and_emit_say_what_the_old_version_says(command: list[str], old_tracer: Path,
                                                             tmp_path: Path) -> None:
    path = tmp_path / "c.trace.json"
    path.write_text(json.dumps(CONTAINER_RUN))
    old = old_command(old_tracer, *command, str(path))
    new = seccomp_learn(*command, str(path))
    assert (new.returncode, new.stdout) == (old.returncode, old.stdout) and new.stdout, new.stderr
