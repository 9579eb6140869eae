"""Emitted profiles enforced for real with libseccomp (pyseccomp) in a child before exec."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_under, seccomp_learn

from fixtures import build
from tracer.baseline.profile_file import load_profile_file
from tracer.profile.seccomp_json import Profile

# Workload, and a syscall it cannot run without (removing it must make the run fail).
WORKLOADS = {
    "python3": (["python3", "-c", "import json, sqlite3; print(json.dumps([sqlite3.sqlite_version_info[0]]))"],
                "openat"),
    "sh-pipeline": (["sh", "-c", "echo hello | tr a-z A-Z | grep -c HELLO"], "pipe2"),
    "tar": (["sh", "-c", "mkdir -p d && echo x > d/f && tar cf t.tar d && tar tf t.tar"], "openat"),
}


def without(profile: Profile, name: str) -> Profile:
    for rule in profile.syscalls:
        if name in rule.names:
            rule.names.remove(name)
    profile.syscalls = [r for r in profile.syscalls if r.names]
    assert name not in profile.names()
    return profile


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_profile_runs_the_workload_and_one_less_breaks_it(name: str, tmp_path: Path) -> None:
    argv, critical = WORKLOADS[name]
    learn_dir, run_dir, broken_dir = (tmp_path / d for d in ("learn", "run", "broken"))
    for d in (learn_dir, run_dir, broken_dir):
        d.mkdir()
    profile_path = tmp_path / "p.json"
    learned = seccomp_learn("-q", "--runtime", "none", "-o", str(profile_path), "--", *argv, cwd=learn_dir)
    assert learned.returncode == 0, learned.stderr
    code, out = run_under(load_profile_file(profile_path), argv, run_dir)
    assert (code, out) == (0, learned.stdout)
    code, _ = run_under(without(load_profile_file(profile_path), critical), argv, broken_dir)
    assert code != 0


def test_done_when_python_json_sqlite3(tmp_path: Path) -> None:
    """Issue 2's acceptance: `seccomp-learn -o p.json -- python3 -c 'import json, sqlite3'` runs under p.json."""
    argv = ["python3", "-c", "import json, sqlite3"]
    assert seccomp_learn("-q", "-o", str(tmp_path / "p.json"), "--", *argv).returncode == 0
    assert run_under(load_profile_file(tmp_path / "p.json"), argv, tmp_path)[0] == 0


def test_socket_family_rule_is_enforced(tmp_path: Path) -> None:
    sockets = str(build("sockets"))
    assert seccomp_learn("-q", "--runtime", "none", "-o", str(tmp_path / "p.json"), "--", sockets).returncode == 0
    profile = load_profile_file(tmp_path / "p.json")
    assert "socket" not in {n for r in profile.syscalls if not r.args for n in r.names}  # conditional only
    assert run_under(profile, [sockets], tmp_path)[0] == 0  # AF_UNIX: allowed
    assert run_under(profile, [sockets, "inet"], tmp_path)[0] == 1  # AF_INET: EPERM
    no_args = tmp_path / "names.json"
    assert seccomp_learn("-q", "--no-args", "--runtime", "none", "-o", str(no_args), "--", sockets).returncode == 0
    assert run_under(load_profile_file(no_args), [sockets, "inet"], tmp_path)[0] == 0


def test_clone_namespace_flags_are_denied(tmp_path: Path) -> None:
    clone_ns = str(build("clone_ns"))
    p = tmp_path / "p.json"
    assert seccomp_learn("-q", "--runtime", "none", "-o", str(p), "--", clone_ns, "plain").returncode == 0
    profile = load_profile_file(p)
    assert run_under(profile, [clone_ns, "plain"], tmp_path)[0] == 0
    assert run_under(profile, [clone_ns, "newuser"], tmp_path)[0] == 1
