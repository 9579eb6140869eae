"""Complain mode: a learned profile with defaultAction SCMP_ACT_LOG refuses nothing, and the kernel logs what
its rules miss (type-1326 records read from the audit netlink group), in every output format."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from tests.helpers import seccomp_learn
from tracer.baseline.read import load_profile_file
from tracer.capture.launch import exit_code_of, resolve
from tracer.kernel.seccomp_filter import compile_profile
from tracer.runtimes.audit import AuditLog

LEARNED = ["sh", "-c", "echo learned"]
# dash's own cd and umask: calls the learning run never made, in the shell's own process (its pid is known)
NEW_PATH = ["sh", "-c", "cd / && umask 077 && echo new path"]


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("complain") / "t.json"
    r = seccomp_learn("record", "-q", "-o", str(path), "--", *LEARNED)
    assert r.returncode == 0, r.stderr
    return path


def _run(profile_path: Path, argv: list[str], cwd: Path) -> tuple[int, int, str]:
    """argv with the profile loaded just before its execve, no tracer: (pid, exit code, stdout)."""
    compiled = compile_profile(load_profile_file(str(profile_path)))
    path = resolve(argv, dict(os.environ), str(cwd))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(write_end, 1)
            compiled.filter.load()
            os.execv(path, argv)
        finally:
            os._exit(127)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        out = f.read()
    return pid, exit_code_of(os.waitpid(pid, 0)[1]), out


@pytest.mark.parametrize("fmt", ["docker", "oci", "kubernetes"])
def test_complain_profile_in_every_format_is_linted_as_such(trace: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"p.{fmt}"
    r = seccomp_learn("emit", "--complain", "--format", fmt, "--runtime", "none", "-o", str(out), str(trace))
    assert r.returncode == 0, r.stderr
    assert "complain mode" in r.stderr
    doc = yaml.safe_load(out.read_text()) if fmt == "kubernetes" else json.loads(out.read_text())
    spec = doc["spec"] if fmt == "kubernetes" else doc
    assert spec["defaultAction"] == "SCMP_ACT_LOG" and "defaultErrnoRet" not in spec
    plain = tmp_path / f"enforced.{fmt}"
    assert seccomp_learn("emit", "--format", fmt, "--runtime", "none", "-o", str(plain), str(trace)).returncode == 0
    enforced = yaml.safe_load(plain.read_text())  # JSON is YAML
    enforced = enforced["spec"] if fmt == "kubernetes" else enforced
    assert spec["syscalls"] == enforced["syscalls"] and enforced["defaultAction"] == "SCMP_ACT_ERRNO"
    linted = seccomp_learn("lint", str(out))
    assert linted.returncode == 1 and "[complain-mode]" in linted.stdout, linted.stdout
    assert "[complain-mode]" not in seccomp_learn("lint", str(plain)).stdout


def test_complain_refuses_nothing_and_the_kernel_logs_what_the_rules_miss(
        trace: Path, tmp_path: Path, audit_log: AuditLog) -> None:
    enforced, complain = tmp_path / "enforced.json", tmp_path / "complain.json"
    for path, extra in ((enforced, []), (complain, ["--complain"])):
        r = seccomp_learn("emit", *extra, "--runtime", "none", "-o", str(path), str(trace))
        assert r.returncode == 0, r.stderr
    assert _run(enforced, NEW_PATH, tmp_path)[1:] != (0, "new path\n")  # the test can fail: cd is refused
    audit_log.sync()
    mark = audit_log.mark()
    pid, code, out = _run(complain, NEW_PATH, tmp_path)
    assert (code, out) == (0, "new path\n")
    audit_log.sync()
    logged = {r.name for r in audit_log.records() if r.serial > mark and r.pid == pid}
    assert {"chdir", "umask"} <= logged, logged
    learned = {n for rule in json.loads(enforced.read_text())["syscalls"] for n in rule["names"]}
    assert not logged & learned  # only what the rules miss is logged


def test_complain_with_another_default_action_is_refused(trace: Path, tmp_path: Path) -> None:
    r = seccomp_learn("emit", "--complain", "--default-action", "kill", "-o", str(tmp_path / "p.json"), str(trace))
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "--complain" in r.stderr
    assert not (tmp_path / "p.json").exists()


def test_learning_run_writes_a_complain_profile(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    r = seccomp_learn("--complain", "-q", "-o", str(out), "--", *LEARNED)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["defaultAction"] == "SCMP_ACT_LOG"


def test_an_argument_ruled_name_logs_its_unmatched_values(tmp_path: Path, audit_log: AuditLog) -> None:
    """socket is allowed for AF_UNIX only (the value learned); AF_INET falls through to the default: logged, not
    refused."""
    learn = ["/usr/bin/python3.11", "-I", "-S", "-c", "import socket, sys; socket.socket(int(sys.argv[1])).close()"]
    trace, complain = tmp_path / "t.json", tmp_path / "c.json"
    assert seccomp_learn("record", "-q", "-o", str(trace), "--", *learn, "1").returncode == 0
    assert seccomp_learn("emit", "--complain", "--runtime", "none", "-o", str(complain), str(trace)).returncode == 0
    rules = [r for r in json.loads(complain.read_text())["syscalls"] if r["names"] == ["socket"]]
    assert [r["args"][0]["value"] for r in rules] == [1]  # AF_UNIX
    audit_log.sync()
    mark = audit_log.mark()
    pid, code, _ = _run(complain, [*learn, "2"], tmp_path)  # AF_INET
    assert code == 0
    audit_log.sync()
    assert "socket" in {r.name for r in audit_log.records() if r.serial > mark and r.pid == pid}
