"""The plain seccomp user-notification backend (capture/backends/notify_only.py, `--backend notify-only`) records what
`strace -f` and the ptrace backend see.

Each run goes through a small runner in a subprocess of its own (the tracer sets signal handlers,
becomes a child subreaper and reaps every child), the way the CLI would call it. The runner
imports the installed package: no PYTHONPATH, which a python3 workload would inherit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import recorded, recorded_counts
from test_faults import wait_gone
from test_run_lifecycle import _pids_of

from fixtures import build
from tracer.capture.backends.notify_only import notify_supported, trace_notify_only, workload_processes
from tracer.capture.state import TraceOptions
from tracer.errors import UserError

pytestmark = pytest.mark.skipif(not notify_supported(), reason="no seccomp user notification on this kernel")

RUNNER = """
import sys
from tracer.recording import schema as recording
from tracer.capture.backends.notify_only import trace_notify_only
from tracer.capture.state import TraceOptions
from tracer.capture.choice import trace
backend, out, follow, duration, *argv = sys.argv[1:]
opts = TraceOptions(follow=follow, duration=float(duration) if duration else None, backend=backend)
result = (trace_notify_only if backend == "notify" else trace)(argv, opts)
recording.save(result.recording, out)
sys.exit(result.exit_code)
"""


def _runner(out: Path, argv: list[str], backend: str = "notify", follow: str = "all",
            duration: float | None = None) -> list[str]:
    return [sys.executable, "-c", RUNNER, backend, str(out), follow, "" if duration is None else str(duration), *argv]


def record(out: Path, argv: list[str], cwd: Path, backend: str = "notify", follow: str = "all",
           duration: float | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_runner(out, argv, backend, follow, duration), cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def _exit_code(status: int) -> int:
    return 128 - status if status < 0 else status


def test_same_recording_as_the_ptrace_backend(tmp_path: Path) -> None:
    """Counts, executables (exec-aware) and argument values agree with trace() on a deterministic workload."""
    argv = [str(build("fork_exec"))]
    runs = {}
    for backend in ("ptrace", "notify"):
        out = tmp_path / f"{backend}.json"
        assert record(out, argv, tmp_path, backend=backend).returncode == 0
        runs[backend] = {(abi, name): (e["count"], sorted(e["executables"]), e.get("args"))
                         for abi, table in recorded(out).items() for name, e in table.items()}
    assert runs["notify"] == runs["ptrace"]
    assert runs["notify"][("x86_64", "execve")][1][0] == "(seccomp-learn launcher, before exec)"


def test_only_the_execve_of_the_launcher_is_seen(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert record(out, ["true"], tmp_path).returncode == 0
    launcher = {name for name, e in recorded(out)["x86_64"].items()
                if "(seccomp-learn launcher, before exec)" in e["executables"]}
    assert launcher == {"execve"}
    assert json.loads(out.read_text())["runs"][0]["tasks"] == 1


def test_int80_is_recorded_as_i386(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert record(out, [str(build("int80"))], tmp_path).returncode == 0
    counts = recorded_counts(out)
    assert {("i386", "getpid"), ("i386", "write"), ("i386", "getppid")} <= set(counts)
    assert ("x86_64", "exit_group") in counts


def test_daemon_is_followed_to_the_end(tmp_path: Path) -> None:
    rec, marker = tmp_path / "r.json", tmp_path / "marker"
    assert record(rec, [str(build("daemon")), str(marker)], tmp_path).returncode == 0
    assert marker.exists()  # the tracer waited for the grandchild (POLLHUP, not the root's exit)
    data = json.loads(rec.read_text())
    assert data["runs"][0]["tasks"] == 3
    assert data["abis"]["x86_64"]["setsid"]["count"] == 1


def test_follow_main_kills_the_rest_and_says_so(tmp_path: Path) -> None:
    rec, marker = tmp_path / "r.json", tmp_path / "marker"
    assert record(rec, [str(build("daemon")), str(marker)], tmp_path, follow="main").returncode == 0
    time.sleep(0.4)
    assert not marker.exists()
    data = json.loads(rec.read_text())
    assert data["partial"] is True and "--follow main" in data["runs"][0]["partial_reason"]


def test_exit_codes_pass_through(tmp_path: Path) -> None:
    assert record(tmp_path / "a.json", [str(build("exitcode")), "77"], tmp_path).returncode == 77
    assert record(tmp_path / "b.json", [str(build("killed"))], tmp_path).returncode == 128 + signal.SIGTERM
    assert json.loads((tmp_path / "b.json").read_text())["runs"][0]["exit"] == {"signal": 15, "name": "SIGTERM"}


def test_failed_exec_is_not_exec_ok(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_text("not a program\n")
    bad.chmod(0o755)
    result = trace_notify_only([str(bad)])
    assert not result.exec_ok and result.exit_code == 126
    assert set(result.recording.names("x86_64")) == {"execve"}


def test_options_of_the_ptrace_backend_are_refused() -> None:
    for opts in (TraceOptions(attach=1), TraceOptions(filters=[lambda: None]), TraceOptions(verdict=lambda p, d: None)):
        with pytest.raises(UserError):
            trace_notify_only(["true"], opts)


def _start(tmp_path: Path, *argv: str) -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen(_runner(tmp_path / "r.json", list(argv)), stdout=subprocess.PIPE)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def test_duration_stops_the_workload(tmp_path: Path) -> None:
    rec = tmp_path / "r.json"
    start = time.monotonic()
    r = record(rec, [str(build("sleeper")), "30"], tmp_path, duration=0.5)
    assert time.monotonic() - start < 15 and r.returncode == 128 + signal.SIGTERM
    assert json.loads(rec.read_text())["runs"][0]["stopped"] == "stopped after 0.5s"


def test_tracer_death_kills_everything(tmp_path: Path) -> None:
    """SIGKILL to seccomp-learn: the guardian kills the command and all it started (orphans, new sessions), then goes.

    The spinners make no syscall: without the guardian they would outlive the listener, orphaned.
    """
    spin = "while :; do :; done"
    proc, _ = _start(tmp_path, "sh", "-c", f"({spin}) & setsid sh -c '{spin}' & echo $$; sleep 30")
    time.sleep(0.5)
    tree = _pids_of(proc.pid)
    assert len(tree) >= 5  # guardian, sh, subshell, setsid sh, sleep
    proc.kill()
    proc.wait(timeout=10)
    assert wait_gone(tree) == []


def test_guardian_killed_ends_the_run(tmp_path: Path) -> None:
    """The command dies of PR_SET_PDEATHSIG; the tracer, a child subreaper too, reaps it and ends."""
    proc, workload = _start(tmp_path, str(build("sleeper")), "30")
    guardian = int(Path(f"/proc/{workload}/stat").read_text().rsplit(")", 1)[1].split()[1])
    assert int(Path(f"/proc/{guardian}/stat").read_text().rsplit(")", 1)[1].split()[1]) == proc.pid
    os.kill(guardian, signal.SIGKILL)
    assert proc.wait(timeout=20) == 128 + signal.SIGKILL
    assert wait_gone([guardian, workload]) == []


def test_command_keeps_stdio_process_group_session_and_terminal(tmp_path: Path) -> None:
    """The guardian in between changes none of what the command inherits from seccomp-learn."""
    argv = ["sh", "-c", "cat; echo err >&2; cut -d' ' -f5-7 /proc/$$/stat"]
    r = subprocess.run(_runner(tmp_path / "r.json", argv), cwd=tmp_path, input="from stdin\n", capture_output=True,
                       text=True, timeout=60)
    ours = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[2:5]  # pgrp, session, tty_nr
    assert (r.returncode, r.stdout, r.stderr) == (0, f"from stdin\n{' '.join(ours)}\n", "err\n")
    assert json.loads((tmp_path / "r.json").read_text())["runs"][0]["tasks"] == 3  # sh, cat and cut: not the guardian


def test_no_workload_outside_a_run() -> None:
    assert workload_processes() == []
