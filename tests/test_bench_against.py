"""scripts/bench --against REV: REV's tracer timed beside this checkout's in one run, from a temporary git
worktree that is gone afterwards (also after Ctrl-C), as `git worktree list` tells."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = [sys.executable, str(REPO / "scripts" / "bench")]


def git(*argv: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *argv], capture_output=True, text=True, check=True).stdout.strip()


def worktrees() -> set[str]:
    return {line.split(" ", 1)[1] for line in git("worktree", "list", "--porcelain").splitlines()
            if line.startswith("worktree ")}


@pytest.fixture(autouse=True)
def _git_checkout() -> None:
    if subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, check=False).returncode:
        pytest.skip("not a git checkout: --against needs the repository's history")


def checkout_of(stdout: str) -> str:
    found = re.search(r"a temporary checkout in (\S+);", stdout)
    assert found, stdout
    return found.group(1)


def test_against_head_times_both_tracers_and_removes_its_worktree(tmp_path: Path) -> None:
    before, short, commit = worktrees(), git("rev-parse", "--short", "HEAD"), git("rev-parse", "HEAD")
    out = tmp_path / "bench.json"
    proc = subprocess.run([*BENCH, "--quick", "--only", "gcc", "--against", "HEAD", "--backend", "ptrace",
                           "--json", str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    rows = {f[0]: f for line in proc.stdout.splitlines() if (f := line.split()) and f[0].startswith("sl:")}
    for name in ("sl:ptrace", f"sl:ptrace@{short}"):  # a table row each: min, median, max seconds
        assert name in rows, proc.stdout
        assert all(re.fullmatch(r"\d+\.\d{3}", x) for x in rows[name][1:4]), rows[name]
    assert not any(line.split()[:1] == ["sl:notify"] for line in proc.stdout.splitlines())  # --backend ptrace only
    assert re.search(r"sl:ptrace: gcc -O0 hello\.c \d+\.\d{3}$", proc.stdout, re.M), proc.stdout
    result = json.loads(out.read_text())
    assert result["against"]["commit"] == commit == result["revision"]["commit"]
    assert set(result["workloads"]["gcc -O0 hello.c"]["variants"]) >= {"sl:ptrace", f"sl:ptrace@{short}"}
    checkout = checkout_of(proc.stdout)
    assert not Path(checkout).exists()
    assert worktrees() - before == set()


def test_ctrl_c_removes_the_worktree(tmp_path: Path) -> None:
    before = worktrees()
    proc = subprocess.Popen([*BENCH, "--quick", "--only", "gcc", "--against", "HEAD", "--backend", "ptrace"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout
        seen = ""
        deadline = time.monotonic() + 60
        while "== overhead" not in seen and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:  # the bench ended before its first section
                break
            seen += line
        checkout = checkout_of(seen)
        assert Path(checkout, "tracer").is_dir()
        assert checkout in worktrees()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "bench: interrupted" in err
    assert not Path(checkout).exists()
    assert worktrees() - before == set()


def test_unknown_revision_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run([*BENCH, "--startup", "--against", "no-such-revision-xyz"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"bench: --against no-such-revision-xyz: not a commit of the repository at {REPO}"]
    assert proc.stdout == ""
