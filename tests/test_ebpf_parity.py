"""Parity: the eBPF backend learns the same profile as the notify backend, for real programs.

The programs are the fidelity suite's workloads (tests/test_fidelity.py, learned on the host the same
way) and the signal fixtures (tests/test_faithful.py). Each is learned under both backends and emitted
as a Docker profile; the allowed names and every argument rule must be the same. The notify backend is
itself checked against `strace -f` (tests/test_trace_parity.py), as is the eBPF backend.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from helpers import EBPF_MISSING, seccomp_learn
from test_faithful import FIXTURES
from test_fidelity import RUN_TIMEOUT, WORKLOADS, script

from fixtures import build
from tracer.capture.backends.notify_only import notify_supported
from tracer.runtime_needs.containers import CONTAINER_PATH

pytestmark = pytest.mark.skipif(EBPF_MISSING is not None or not notify_supported(),
                                reason=f"ebpf: {EBPF_MISSING}, or no seccomp user notification")
# Calls whose presence follows the scheduling of the run under any backend (between two notify runs too):
# a dash `wait` that finds its child already gone makes no rt_sigsuspend; a server's last epoll_wait may be
# cut short by the signal that stops it.
RACY = {"rt_sigsuspend"}


def learned(backend: str, argv: list[str], work: Path) -> dict[str, Any]:
    """The Docker profile `run` learns for argv under backend: name -> its rules (action, args)."""
    work.mkdir()
    out = work / "profile.json"
    r = seccomp_learn("-q", "--backend", backend, "-o", str(out), "--", *argv, cwd=work,
                      env={"PATH": CONTAINER_PATH, "HOME": str(work), "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
                      timeout=RUN_TIMEOUT)
    assert r.returncode == 0, f"{backend}: {r.stderr[-500:]}"
    rules: dict[str, Any] = {}
    for rule in json.loads(out.read_text())["syscalls"]:
        for name in rule["names"]:
            if name not in RACY:
                rules.setdefault(name, []).append((rule["action"], json.dumps(rule.get("args"), sort_keys=True)))
    return rules


def same_profile(argv: list[str], tmp_path: Path) -> None:
    ours, notify = learned("ebpf", argv, tmp_path / "ebpf"), learned("notify", argv, tmp_path / "notify")
    assert set(ours) == set(notify), f"only ebpf: {set(ours) - set(notify)}; only notify: {set(notify) - set(ours)}"
    assert {n: sorted(r) for n, r in ours.items()} == {n: sorted(r) for n, r in notify.items()}


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_fidelity_workload_learns_the_same_profile(name: str, tmp_path: Path, free_port: int) -> None:
    same_profile(["sh", "-c", script(name, free_port)], tmp_path)


@pytest.mark.parametrize("name", FIXTURES)
def test_signal_fixture_learns_the_same_profile(name: str, tmp_path: Path) -> None:
    same_profile([str(build(name))], tmp_path)


@pytest.fixture
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
