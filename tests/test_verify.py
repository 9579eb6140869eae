"""`verify` enforces a profile for real and names exactly the calls it denies."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import seccomp_learn

from fixtures import build

WORKLOADS = {
    "python3": ["python3", "-c", "import json, sqlite3; print(json.dumps(sqlite3.sqlite_version_info))"],
    "sh-pipeline": ["sh", "-c", "echo hello | tr a-z A-Z | wc -c"],
    "tar": ["sh", "-c", "mkdir -p d && echo x > d/f && tar cf t.tar d && mkdir -p o && tar xf t.tar -C o && cat o/d/f"],
}
# A syscall each workload needs, removed from its profile.
REMOVED = {"python3": "getrandom", "sh-pipeline": "pipe2", "tar": "utimensat"}


def learn(tmp_path: Path, argv: list[str]) -> Path:
    profile = tmp_path / "p.json"
    (tmp_path / "learn").mkdir()
    r = seccomp_learn("-q", "--runtime", "none", "-o", str(profile), "--", *argv, cwd=tmp_path / "learn")
    assert r.returncode == 0, r.stderr
    return profile


def remove(profile: Path, name: str) -> Path:
    data = json.loads(profile.read_text())
    assert any(name in rule["names"] for rule in data["syscalls"]), f"{name} is not in the learned profile"
    for rule in data["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n != name]
    data["syscalls"] = [r for r in data["syscalls"] if r["names"]]
    out = profile.with_name(f"without-{name}.json")
    out.write_text(json.dumps(data))
    return out


def denied_names(stderr: str) -> set[str]:
    return set(re.findall(r"^seccomp-learn: (?:denied|would deny): \S+ (\S+) ", stderr, re.MULTILINE))


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_verify_names_exactly_the_removed_syscall(name: str, tmp_path: Path) -> None:
    argv = WORKLOADS[name]
    profile = learn(tmp_path, argv)
    (tmp_path / "ok").mkdir()
    clean = seccomp_learn("verify", str(profile), "--", *argv, cwd=tmp_path / "ok")
    assert clean.returncode == 0, clean.stderr
    assert denied_names(clean.stderr) == set()
    (tmp_path / "bad").mkdir()
    broken = seccomp_learn("verify", str(remove(profile, REMOVED[name])), "--", *argv, cwd=tmp_path / "bad")
    assert broken.returncode == 1
    assert denied_names(broken.stderr) == {REMOVED[name]}, broken.stderr


def test_complain_lets_calls_through_and_add_missing_repairs(tmp_path: Path) -> None:
    argv = WORKLOADS["sh-pipeline"]
    broken = remove(learn(tmp_path, argv), "pipe2")
    repaired = tmp_path / "repaired.json"
    r = seccomp_learn("verify", "--complain", "--add-missing", str(repaired), str(broken), "--", *argv)
    assert r.returncode == 1
    assert r.stdout.strip() == "6"  # the pipeline ran normally: nothing was enforced
    assert denied_names(r.stderr) == {"pipe2"}
    assert seccomp_learn("verify", str(repaired), "--", *argv).returncode == 0


def test_denied_argument_values_are_shown_and_widened(tmp_path: Path) -> None:
    sockets = str(build("sockets"))
    profile = tmp_path / "p.json"
    assert seccomp_learn("-q", "--runtime", "none", "-o", str(profile), "--", sockets).returncode == 0
    repaired = tmp_path / "r.json"
    r = seccomp_learn("verify", "--add-missing", str(repaired), str(profile), "--", sockets, "inet")
    assert r.returncode == 1
    assert "socket" in denied_names(r.stderr) and "AF_INET" in r.stderr
    rules = [rule for rule in json.loads(repaired.read_text())["syscalls"] if rule["names"] == ["socket"]]
    assert sorted(rule["args"][0]["value"] for rule in rules) == [1, 2]  # AF_UNIX, and now AF_INET
    assert seccomp_learn("verify", str(repaired), "--", sockets, "inet").returncode == 0


def test_repeat_counts_the_runs_each_denial_appeared_in(tmp_path: Path) -> None:
    """The script takes the umask path only when the file its first run creates exists: 2 of 3 runs."""
    script = ["/bin/dash", "-c", "[ -e m ] && umask 077; : > m"]
    (tmp_path / "learn").mkdir()
    (tmp_path / "run").mkdir()
    profile = tmp_path / "p.json"
    r = seccomp_learn("-q", "--runtime", "none", "-o", str(profile), "--", *script, cwd=tmp_path / "learn")
    assert r.returncode == 0, r.stderr
    repaired = tmp_path / "r.json"
    r = seccomp_learn("verify", "--repeat", "3", "--add-missing", str(repaired), str(profile), "--", *script,
                      cwd=tmp_path / "run")
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if " runs: " in line]
    assert len(lines) == 1 and "denied in 2 of 3 runs: x86_64 umask x" in lines[0], r.stderr
    assert f"workload exit status: 0 0 0; 1 syscall(s) denied by {profile} in 2 of 3 runs" in r.stderr
    assert seccomp_learn("verify", "--repeat", "2", str(repaired), "--", *script, cwd=tmp_path / "run").returncode == 0
    bad = seccomp_learn("verify", "--repeat", "0", str(profile), "--", *script)
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1
