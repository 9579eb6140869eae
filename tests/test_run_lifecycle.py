"""How seccomp-learn behaves as a process: exit codes, signals, partial recordings, EXITKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import BACKENDS, SL, as_nobody, recorded, seccomp_learn

from fixtures import build
from tracer.kernel import procfs


@pytest.mark.parametrize("code", [0, 3, 77])
def test_exit_code_passes_through(code: int, tmp_path: Path) -> None:
    r = seccomp_learn("-q", "-o", str(tmp_path / "p.json"), "--", str(build("exitcode")), str(code))
    assert r.returncode == code
    assert (tmp_path / "p.json").exists()


def test_killed_by_signal_gives_128_plus_n(tmp_path: Path) -> None:
    rec = tmp_path / "r.json"
    r = seccomp_learn("record", "-q", "-o", str(rec), "--", str(build("killed")))
    assert r.returncode == 128 + signal.SIGTERM
    run = json.loads(rec.read_text())["runs"][0]
    assert run["exit"] == {"signal": 15, "name": "SIGTERM"}
    assert run["partial"] is False  # the workload ended by itself


def test_stdio_passes_through(tmp_path: Path) -> None:
    r = seccomp_learn("-q", "-o", str(tmp_path / "p.json"), "--", "sh", "-c", "cat; echo err >&2",
                      input="from stdin\n")
    assert r.stdout == "from stdin\n"
    assert r.stderr == "err\n"


def test_command_after_double_dash_is_untouched(tmp_path: Path) -> None:
    r = seccomp_learn("-q", "-o", str(tmp_path / "p.json"), "--", "sh", "-c", 'printf "%s|" "$@"', "sh",
                      "-o", "--help", "--")
    assert r.stdout == "-o|--help|--|"


def test_missing_command_is_127_and_writes_nothing(tmp_path: Path) -> None:
    r = seccomp_learn("-o", str(tmp_path / "p.json"), "--", "no-such-program-xyz", cwd=tmp_path)
    assert r.returncode == 127
    assert r.stderr.strip().count("\n") == 0 and "no-such-program-xyz" in r.stderr
    assert "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_no_command_is_an_error(tmp_path: Path) -> None:
    r = seccomp_learn("run", cwd=tmp_path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


def test_daemon_is_followed_to_the_end(tmp_path: Path) -> None:
    rec = tmp_path / "r.json"
    marker = tmp_path / "marker"
    assert seccomp_learn("record", "-q", "-o", str(rec), "--", str(build("daemon")), str(marker)).returncode == 0
    assert marker.exists()  # seccomp-learn waited for the grandchild
    data = json.loads(rec.read_text())
    assert data["runs"][0]["tasks"] == 3
    assert data["abis"]["x86_64"]["setsid"]["count"] == 1


def test_follow_main_kills_the_rest_and_says_so(tmp_path: Path) -> None:
    rec = tmp_path / "r.json"
    marker = tmp_path / "marker"
    r = seccomp_learn("record", "-q", "--follow", "main", "-o", str(rec), "--", str(build("daemon")), str(marker))
    assert r.returncode == 0
    time.sleep(0.4)
    assert not marker.exists()  # the grandchild was killed before it wrote the marker
    data = json.loads(rec.read_text())
    assert data["partial"] is True
    assert "--follow main" in data["runs"][0]["partial_reason"]


def _start(tmp_path: Path, *argv: str, backend: str = "ptrace") -> tuple[subprocess.Popen[bytes], int]:
    """Start seccomp-learn on a sleeper; return it and the workload's pid once it runs."""
    proc = subprocess.Popen([*SL, "record", "-q", "--backend", backend, "-o", str(tmp_path / "r.json"), "--", *argv],
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None
    workload = int(proc.stdout.readline())
    return proc, workload


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _pids_of(ppid_root: int) -> list[int]:
    """Every live process whose ancestry includes ppid_root."""
    return procfs.descendants(ppid_root)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signal_is_forwarded_and_recording_is_partial(sig: int, backend: str, tmp_path: Path) -> None:
    proc, workload = _start(tmp_path, str(build("sleeper")), "30", "child", backend=backend)
    proc.send_signal(sig)
    assert proc.wait(timeout=20) == 128 + sig
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["partial"] is True
    assert signal.Signals(sig).name in data["runs"][0]["partial_reason"]
    assert data["runs"][0]["exit"]["signal"] == sig
    deadline = time.monotonic() + 5  # a zombie is gone once init has reaped it
    while time.monotonic() < deadline and _alive(workload):
        time.sleep(0.05)
    assert not _alive(workload)


@pytest.mark.parametrize("backend", BACKENDS)
def test_second_signal_kills_a_workload_that_ignores_the_first(backend: str, tmp_path: Path) -> None:
    proc, _ = _start(tmp_path, "sh", "-c", "trap '' TERM; echo $$; sleep 30", backend=backend)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert proc.poll() is None  # the shell ignores SIGTERM
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 128 + signal.SIGKILL
    assert json.loads((tmp_path / "r.json").read_text())["partial"] is True


def test_exitkill_leaves_no_traced_process(tmp_path: Path) -> None:
    proc, workload = _start(tmp_path, str(build("sleeper")), "30", "child")
    time.sleep(0.3)
    tree = _pids_of(proc.pid)
    assert workload in tree and len(tree) >= 2
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(p) for p in tree):
        time.sleep(0.05)
    left = [p for p in tree if _alive(p)]
    assert left == [], f"still alive after the tracer died: {left}"
    assert not (tmp_path / "r.json").exists()  # nothing half-written either


def test_recording_is_written_atomically_and_is_valid_json(tmp_path: Path) -> None:
    rec = tmp_path / "r.json"
    rec.write_text("old")
    assert seccomp_learn("record", "-q", "-o", str(rec), "--", "true").returncode == 0
    assert "x86_64" in recorded(rec)
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temp file left behind


@pytest.mark.skipif(os.geteuid() != 0, reason="already unprivileged: every other test covers it")
def test_works_unprivileged() -> None:
    """Drop to nobody in a forked child and trace from there (the no_new_privs path)."""
    from tracer.capture.choice import trace
    def run() -> list[Any]:
        result = trace(["/bin/sh", "-c", "/bin/true; /bin/true"])
        return [result.exit_code, sorted(result.recording.names("x86_64"))]

    exit_code, names = as_nobody(run)
    assert exit_code == 0
    assert {"execve", "wait4", "exit_group"} <= set(names)
    assert {"clone", "vfork", "fork"} & set(names)  # the child was followed
    assert "prctl" not in names  # no_new_privs was set by the launcher before exec, not seen as the workload's


def test_duration_stops_a_server_with_the_stop_signal(tmp_path: Path) -> None:
    rec = tmp_path / "r.json"
    start = time.monotonic()
    r = seccomp_learn("record", "-q", "--duration", "0.5", "--stop-signal", "INT", "-o", str(rec), "--",
                      str(build("sleeper")), "30")
    assert time.monotonic() - start < 15
    assert r.returncode == 0  # it died of the stop signal seccomp-learn sent: the end it was meant to have
    run = json.loads(rec.read_text())["runs"][0]
    assert run["stopped"] == "stopped after 0.5s" and run["partial"] is False
    assert run["exit"] == {"signal": signal.SIGINT, "name": "SIGINT"}  # the recording keeps what happened


def test_during_driver_ends_the_run(tmp_path: Path) -> None:
    rec = tmp_path / "r.json"
    marker = tmp_path / "driver-ran"
    r = seccomp_learn("record", "-q", "--during", f"touch {marker}", "-o", str(rec), "--", str(build("sleeper")), "30")
    assert r.returncode == 0  # stopped as planned by the driver's end
    assert marker.exists()
    data = json.loads(rec.read_text())
    assert data["runs"][0]["stopped"] == "stopped when the --during driver ended"
    assert "touch" not in " ".join(e for t in data["abis"].values() for s in t.values() for e in s["executables"])


def test_sigusr1_writes_a_partial_snapshot_and_tracing_goes_on(tmp_path: Path) -> None:
    proc, _ = _start(tmp_path, str(build("sleeper")), "2")
    rec = tmp_path / "r.json"
    proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while not rec.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    snap = json.loads(rec.read_text())
    assert snap["partial"] is True and snap["runs"][0]["exit"] == {"running": True}
    assert proc.wait(timeout=20) == 0
    final = json.loads(rec.read_text())
    assert final["partial"] is False and final["runs"][0]["exit"] == {"code": 0}
    assert "exit_group" in final["abis"]["x86_64"]


def test_attach_to_a_running_process_and_detach(tmp_path: Path) -> None:
    target = subprocess.Popen([str(build("sleeper")), "30", "child"], stdout=subprocess.PIPE)
    try:
        assert target.stdout is not None
        target.stdout.readline()
        rec = tmp_path / "r.json"
        tracer = subprocess.Popen([*SL, "record", "-q", "-o", str(rec), "--pid", str(target.pid)])
        time.sleep(1.5)
        tracer.send_signal(signal.SIGINT)
        assert tracer.wait(timeout=20) == 0
        assert target.poll() is None  # still running after seccomp-learn detached
        data = json.loads(rec.read_text())
        run = data["runs"][0]
        assert run["attached_pid"] == target.pid and run["exit"] == {"detached": True}
        assert "start-up was not traced" in run["partial_reason"]
        assert "clock_nanosleep" in data["abis"]["x86_64"] or "nanosleep" in data["abis"]["x86_64"]
        state = Path(f"/proc/{target.pid}/status").read_text()
        assert "TracerPid:\t0" in state  # really detached, not left stopped
    finally:
        target.kill()
        target.wait()


def test_attach_to_a_missing_pid_is_one_line(tmp_path: Path) -> None:
    r = seccomp_learn("record", "-o", str(tmp_path / "r.json"), "--pid", "999999999")
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr
