"""Running seccomp-learn as a user would: the real command, in a subprocess."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tracer.capture.backends.ebpf import unavailable as ebpf_unavailable
from tracer.capture.launch import fork_exec, resolve
from tracer.kernel.ptrace_abi import user_notification_available
from tracer.kernel.seccomp_filter import compile_profile
from tracer.kernel.wait_status import exit_code_of
from tracer.profile.seccomp_json import Profile

REPO_ROOT = Path(__file__).resolve().parent.parent
# `python -m tracer`, but from this checkout whatever the cwd (-m alone would find an installed copy
# when a test runs the command in a temporary directory).
SL = [sys.executable, "-m", "tracer"]  # this checkout's: tests/conftest.py puts it first on PYTHONPATH
# The faithful tracing backends, for tests that must hold for each (notify needs kernel support, ebpf root
# or CAP_BPF+CAP_PERFMON and BTF). The unfaithful notify-only backend has its own tests
# (test_notify_backend.py, test_faithful.py).
EBPF_MISSING = ebpf_unavailable()
BACKENDS = [pytest.param("ptrace"), pytest.param("notify", marks=pytest.mark.skipif(
    not user_notification_available(), reason="this kernel lacks seccomp user notification with CONTINUE")),
    pytest.param("ebpf", marks=pytest.mark.skipif(EBPF_MISSING is not None, reason=f"ebpf: {EBPF_MISSING}"))]
SHARED = REPO_ROOT.parent / "shared" / "reference"


def seccomp_learn(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run([*SL, *args], **kw)


# Every command that reads a profile file, as (profile, output) -> its arguments.
PROFILE_COMMANDS: dict[str, Callable[[str, str], list[str]]] = {
    "lint": lambda p, o: ["lint", p],
    "diff": lambda p, o: ["diff", p],
    "report": lambda p, o: ["report", p, "-o", o],
    "verify": lambda p, o: ["verify", "--add-missing", o, p, "--", "true"],
    "base": lambda p, o: ["--base", p, "-o", o, "--", "true"],
}


def assert_refused(cmd: str, bad: Path, tmp_path: Path) -> None:
    """`cmd` on the bad profile file `bad` (alone in tmp_path): one line naming it, exit 2, nothing written."""
    r = seccomp_learn(*PROFILE_COMMANDS[cmd](str(bad), str(tmp_path / "out.json")), cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith(f"seccomp-learn: {bad}"), r.stderr
    assert r.stdout == "" and sorted(p.name for p in tmp_path.iterdir()) == [bad.name]


def recorded(path: Path) -> dict[str, dict[str, Any]]:
    return json.loads(path.read_text())["abis"]


def recorded_counts(path: Path) -> dict[tuple[str, str], int]:
    return {(abi, name): e["count"] for abi, table in recorded(path).items() for name, e in table.items()}


def as_nobody(fn: Callable[[], Any]) -> Any:
    """fn() run in a forked child dropped from root to nobody; its result must be JSON and comes back as JSON."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: setuid() from root cleared it
            os.write(write_end, json.dumps(fn()).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        data = f.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def run_under(profile: Profile, argv: list[str], cwd: Path) -> tuple[int, str]:
    """argv run in cwd with the profile loaded just before its execve (no tracer); exit code and stdout."""
    out = cwd / "stdout"
    env = dict(os.environ)
    path = resolve(argv, env, str(cwd))
    compiled = compile_profile(profile)
    with open(out, "w") as f:
        def child() -> None:
            os.chdir(cwd)
            os.dup2(f.fileno(), 1)
            compiled.filter.load()
            os.execve(path, argv, env)

        code = exit_code_of(os.waitpid(fork_exec(child, f"cannot start {argv[0]} under the profile", 126), 0)[1])
    return code, out.read_text()
