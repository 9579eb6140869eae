"""Faults: what is left on disk and in /proc after each one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import SL, as_nobody, seccomp_learn
from test_run_lifecycle import _alive, _pids_of, _start

from fixtures import build
from tracer.capture.backends.notify_only import notify_supported


def wait_gone(pids: list[int], seconds: float = 5) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


def test_workload_killed_with_sigkill_mid_run(tmp_path: Path) -> None:
    proc, workload = _start(tmp_path, str(build("sleeper")), "30")
    os.kill(workload, signal.SIGKILL)
    assert proc.wait(timeout=20) == 128 + signal.SIGKILL
    run = json.loads((tmp_path / "r.json").read_text())["runs"][0]
    assert run["exit"] == {"signal": 9, "name": "SIGKILL"}
    assert run["partial"] is False  # seccomp-learn traced it to its end
    assert wait_gone([workload]) == []


def test_thread_still_running_when_main_thread_exits(tmp_path: Path) -> None:
    rec, marker = tmp_path / "r.json", tmp_path / "marker"
    r = seccomp_learn("record", "-q", "-o", str(rec), "--", str(build("thread_outlives")), str(marker))
    assert r.returncode == 0
    assert marker.exists()
    names = json.loads(rec.read_text())["abis"]["x86_64"]
    assert {"clock_nanosleep", "openat", "exit_group"} <= set(names)


def test_a_thousand_short_lived_children(tmp_path: Path) -> None:
    rec = tmp_path / "r.json"
    services = set(_pids_of(os.getpid()))  # what session fixtures started (a private dockerd, a registry)
    r = seccomp_learn("record", "-q", "-o", str(rec), "--", str(build("many_children")), "1000", timeout=300)
    assert r.returncode == 0
    data = json.loads(rec.read_text())
    assert data["runs"][0]["tasks"] == 1001
    forks = sum(data["abis"]["x86_64"].get(n, {}).get("count", 0) for n in ("clone", "clone3", "fork", "vfork"))
    assert forks == 1000
    assert data["abis"]["x86_64"]["wait4"]["count"] >= 1000
    assert set(_pids_of(os.getpid())) - services == set()  # nothing of this run left behind


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run su without a password")
def test_workload_execs_a_setuid_binary_as_root(tmp_path: Path) -> None:
    rec = tmp_path / "r.json"
    r = seccomp_learn("record", "-q", "-o", str(rec), "--", "/usr/bin/su", "nobody", "-s", "/bin/sh", "-c", "id -u")
    assert (r.returncode, r.stdout.strip()) == (0, "65534")
    names = json.loads(rec.read_text())["abis"]["x86_64"]
    assert {"setuid", "setgid"} & set(names)


@pytest.mark.skipif(os.geteuid() != 0, reason="drops from root to nobody")
def test_setuid_binary_unprivileged_is_explained() -> None:
    """Unprivileged, a set-id program runs without its privileges (ptrace and no_new_privs): say so."""
    from tracer.capture.choice import trace
    from tracer.commands.learn import trace_notes
    def run() -> list[Any]:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
        result = trace(["/usr/bin/passwd", "-S"])
        return [result.exit_code, trace_notes(result)]

    exit_code, notes = as_nobody(run)
    assert exit_code in (0, 1, 3)  # it ran to its end (with or without being able to read /etc/shadow)
    assert any("/usr/bin/passwd is set-id but ran without its privileges" in n for n in notes)


def test_workload_that_uses_ptrace_gets_a_clear_message(tmp_path: Path) -> None:
    r = seccomp_learn("-o", str(tmp_path / "p.json"), "--backend", "ptrace", "--", "strace", "-f", "-o", "/dev/null",
                      "true", timeout=60)
    assert r.returncode != 0  # strace inside cannot trace its child: it is already traced
    assert "the workload called ptrace" in r.stderr


def test_workload_that_uses_ptrace_works_under_the_notify_only_backend(tmp_path: Path) -> None:
    r = seccomp_learn("-o", str(tmp_path / "p.json"), "--backend", "notify-only", "--", "strace", "-f", "-o",
                      "/dev/null", "true", timeout=60)
    assert r.returncode == 0, r.stderr  # no ptrace involved: a debugger inside the workload can attach
    assert "the workload called ptrace" not in r.stderr
    assert "warning: --backend notify-only can change what the workload does" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("backend", ["ptrace", "notify", "notify-only"])
@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT twice", "SIGKILL"])
def test_tracer_stopped_leaves_nothing_stopped_or_orphaned(how: str, backend: str, tmp_path: Path) -> None:
    """The notify-only backend has no EXITKILL: its guardian process (capture/backends/notify_only.py) cleans up
    instead.

    The spinning subshell makes no syscall, so unlike the sleepers it would outlive a listener that is gone.
    """
    if backend.startswith("notify") and not notify_supported():
        pytest.skip("no seccomp user notification on this kernel")
    out, spin = tmp_path / "r.json", "(while :; do :; done)"
    out.write_text("previous recording\n")
    proc = subprocess.Popen([*SL, "record", "-q", "--backend", backend, "-o", str(out), "--", "sh", "-c",
                             f"trap '' INT; {spin} & echo $$; {build('sleeper')} 30 child"], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()
    time.sleep(0.5)
    tree = _pids_of(proc.pid)
    assert len(tree) >= 3
    if how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)
    elif how == "SIGINT twice":
        proc.send_signal(signal.SIGINT)  # the shell ignores it ...
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)  # ... so the second one kills everything
    else:
        proc.kill()
    proc.wait(timeout=20)
    assert wait_gone(tree) == [], "a traced process survived"
    for pid in tree:
        assert not Path(f"/proc/{pid}").exists() or "TracerPid:\t0" in Path(f"/proc/{pid}/status").read_text()
    text = out.read_text()
    if how == "SIGKILL":
        assert text == "previous recording\n"  # never replaced by a half-written file
    else:
        data = json.loads(text)
        assert data["partial"] is True and data["runs"][0]["partial_reason"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
