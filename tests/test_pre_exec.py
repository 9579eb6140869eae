"""TraceOptions.pre_exec: every backend that starts a command runs it once, in the child, before the exec.

Each run is a runner in a subprocess of its own (a tracer sets signal handlers and reaps children). The hook
writes what it sees (its pid, its executable, a getpriority call of its own) to a log; the workload, /bin/sh,
then appends its own pid ($$) to the same log. Whether the hook ran in the workload's process before its exec
is read from /proc and the shell, not from the tracer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import BACKENDS, recorded

from tracer.capture.backends.notify_only import notify_supported

RUNNER = """
import os, sys
from tracer.capture.choice import trace
from tracer.capture.state import TraceOptions
from tracer.recording import schema
backend, log, out, *argv = sys.argv[1:]

def hook():
    with open(log, "a") as f:
        f.write(f"{os.getpid()} {os.readlink('/proc/self/exe')} {os.getpriority(os.PRIO_PROCESS, 0)}\\n")

result = trace(argv, TraceOptions(backend=backend, pre_exec=hook))
schema.save(result.recording, out)
print(os.getpid())
sys.exit(result.exit_code)
"""


@pytest.mark.parametrize("backend", [*BACKENDS, pytest.param("notify-only", marks=pytest.mark.skipif(
    not notify_supported(), reason="no seccomp user notification on this kernel"))])
def test_the_hook_runs_once_in_the_child_before_its_exec(backend: str, tmp_path: Path) -> None:
    log, out = tmp_path / "log", tmp_path / "rec.json"
    r = subprocess.run([sys.executable, "-c", RUNNER, backend, str(log), str(out), "sh", "-c", f"echo $$ >> {log}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    tracer_pid = int(r.stdout)
    hook_line, shell_line = log.read_text().splitlines()  # exactly once, and before the workload ran
    pid, exe, _ = hook_line.split()
    assert int(pid) == int(shell_line) != tracer_pid  # the process that then became sh: the child
    assert exe == os.path.realpath(sys.executable)  # not yet exec'd
    names = set(recorded(out)["x86_64"])
    assert "getpriority" not in names  # the hook's own calls are not the workload's
    assert "execve" in names and "write" in names  # the workload is
