"""A profile says beforehand what common variations of the learned use its argument rules forbid (issue 24, 5).

The reference is real git: `git gc --aggressive` learned with one pack thread, then run with two. Under
the profile the kernel denies the thread's clone (verify names it, git says "unable to create thread");
the summary and the report said so before. `--allow-threads` makes the same learning run's profile hold.
The hardening grade of both comes from seccompute, an external grader (PyPI), which must stay A.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import seccomp_learn

THREADS_LIMIT = ("clone: threads are denied (no run started a thread); learn a run that does, or "
                 "`--allow-threads`")
GC = ["git", "gc", "--aggressive", "-q"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small git repository with a few commits (enough objects for gc to pack with threads)."""
    path = tmp_path / "repo"
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(path)], check=True, timeout=60)
    for i in range(20):
        (path / f"f{i}").write_text("".join(f"{n}\n" for n in range(i * 200)))
    subprocess.run([*git, "add", "."], check=True, timeout=60)
    subprocess.run([*git, "commit", "-qm", "one"], check=True, timeout=60)
    return path


def grade(profile: Path) -> str:
    seccompute = shutil.which("seccompute")
    assert seccompute, "seccompute (pip install seccompute; in the [test] extra) is needed"
    out = subprocess.run([seccompute, str(profile), "--json"], capture_output=True, text=True, timeout=60)
    return str(json.loads(out.stdout)["grade"])


def test_threads_denied_is_said_and_allow_threads_lets_git_gc_run(repo: Path, tmp_path: Path) -> None:
    learned, widened, rec = tmp_path / "p.json", tmp_path / "threads.json", tmp_path / "r.trace.json"
    one_thread = ["git", "-c", "pack.threads=1", *GC[1:]]
    r = seccomp_learn("-o", str(learned), "--record", str(rec), "--", *one_thread, cwd=repo)
    assert r.returncode == 0, r.stderr
    assert f"seccomp-learn:   limit: {THREADS_LIMIT}" in r.stderr.splitlines()
    report = seccomp_learn("report", "--format", "text", str(rec))
    hints = [line.strip() for line in report.stdout.splitlines()]
    assert f"- limit: {THREADS_LIMIT.replace('`', '')}" in hints, report.stdout

    two_threads = ["git", "-c", "pack.threads=2", *GC[1:]]
    denied = seccomp_learn("verify", str(learned), "--", *two_threads, cwd=repo)
    assert denied.returncode == 1
    assert "unable to create thread" in denied.stderr
    assert "denied: x86_64 clone" in denied.stderr and "CLONE_THREAD" in denied.stderr

    r = seccomp_learn("-o", str(widened), "--allow-threads", "--", *one_thread, cwd=repo)
    assert r.returncode == 0, r.stderr
    assert THREADS_LIMIT not in r.stderr
    held = seccomp_learn("verify", str(widened), "--", *two_threads, cwd=repo)
    assert held.returncode == 0, held.stderr
    assert "denied:" not in held.stderr

    assert (grade(learned), grade(widened)) == ("A", "A")


def test_allow_family_widens_the_socket_rule(tmp_path: Path) -> None:
    """python3 opens an AF_INET socket only; the rule denies AF_INET6 until --allow-family AF_INET6."""
    code = "import socket; socket.socket(socket.AF_INET).close()"
    v6 = "import socket; socket.socket(socket.AF_INET6).close(); print('v6')"
    learned, widened = tmp_path / "p.json", tmp_path / "v6.json"
    r = seccomp_learn("-o", str(learned), "--", "python3", "-c", code)
    assert r.returncode == 0, r.stderr
    assert any(line.startswith("seccomp-learn:   limit: socket: AF_INET6") and "`--allow-family AF_INET6`" in line
               for line in r.stderr.splitlines()), r.stderr
    assert seccomp_learn("verify", str(learned), "--", "python3", "-c", v6).returncode == 1
    r = seccomp_learn("-o", str(widened), "--allow-family", "inet6", "--", "python3", "-c", code)
    assert r.returncode == 0, r.stderr
    held = seccomp_learn("verify", str(widened), "--", "python3", "-c", v6)
    assert (held.returncode, held.stdout) == (0, "v6\n"), held.stderr
    bad = seccomp_learn("-o", str(widened), "--allow-family", "AF_NOPE", "--", "true")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "AF_NOPE" in bad.stderr
