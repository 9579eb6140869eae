"""Learning and verifying servers: the --during driver decides the run, --ready holds it back (issue 10, 1 and 3).

Real servers (python3 -m http.server on 127.0.0.1, a unix socket server) and real drivers (curl).
The driver's expected exit code is what curl itself returns against the same address, not a number
written here.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import run_under, seccomp_learn

from fixtures import build


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_server(port: int, delay: float = 0.0) -> list[str]:
    """A real server that starts listening only after `delay` seconds (so a driver must wait for it)."""
    serve = f"exec {sys.executable} -m http.server {port} --bind 127.0.0.1"
    return ["sh", "-c", f"sleep {delay}; {serve}"] if delay else serve.removeprefix("exec ").split()


def test_failing_driver_fails_the_run_and_writes_no_profile(tmp_path: Path) -> None:
    port, closed = free_port(), free_port()
    driver = ["curl", "-sf", f"http://127.0.0.1:{closed}/"]
    curl_code = subprocess.run(driver, timeout=30).returncode  # what curl says with nobody listening
    assert curl_code != 0
    profile, rec = tmp_path / "p.json", tmp_path / "r.json"
    r = seccomp_learn("-o", str(profile), "--record", str(rec), "--during", " ".join(driver), "--",
                      *http_server(port), timeout=60)
    assert r.returncode == 1, r.stderr
    failed = [line for line in r.stderr.splitlines() if "run failed" in line]
    assert len(failed) == 1 and f"exited with {curl_code}" in failed[0] and "curl" in failed[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not profile.exists()
    run = json.loads(rec.read_text())["runs"][0]
    assert run["partial"] is True and f"exited with {curl_code}" in run["partial_reason"]

    kept = seccomp_learn("-q", "-o", str(profile), "--keep-going", "--during", " ".join(driver), "--",
                         *http_server(port), timeout=60)
    assert kept.returncode == 1 and json.loads(profile.read_text())["syscalls"]


def test_ready_holds_the_driver_back_and_a_planned_stop_exits_0(tmp_path: Path) -> None:
    port = free_port()
    profile, rec = tmp_path / "p.json", tmp_path / "r.json"
    r = seccomp_learn("-o", str(profile), "--record", str(rec), "--ready", f"tcp:127.0.0.1:{port}",
                      "--during", f"curl -sf -o /dev/null http://127.0.0.1:{port}/", "--",
                      *http_server(port, delay=1.0), timeout=60)
    assert r.returncode == 0, r.stderr  # not 143: seccomp-learn's own SIGTERM ended the server, as planned
    assert '"GET / HTTP/1.1" 200' in r.stderr  # the server's log: curl was served, so it waited
    data = json.loads(rec.read_text())
    run = data["runs"][0]
    assert run["exit"] == {"signal": signal.SIGTERM, "name": "SIGTERM"} and run["partial"] is False
    assert run["stopped"] == "stopped when the --during driver ended"
    assert {"accept4", "sendto"} <= set(data["abis"]["x86_64"]) or {"accept", "sendto"} <= set(data["abis"]["x86_64"])


@pytest.mark.parametrize("kind", ["unix", "cmd"])
def test_ready_unix_socket_and_ready_cmd(kind: str, tmp_path: Path) -> None:
    sock = tmp_path / "s.sock"
    server = [sys.executable, "-c", "import socket, time\n"
              f"time.sleep(1); s = socket.socket(socket.AF_UNIX); s.bind({str(sock)!r}); s.listen()\n"
              "while True:\n    c, _ = s.accept(); c.sendall(b'hello'); c.close()"]
    client = f"{sys.executable} -c \"import socket; s = socket.socket(socket.AF_UNIX); s.connect({str(sock)!r}); " \
             f"assert s.recv(5) == b'hello'\""
    wait = ["--ready", f"unix:{sock}"] if kind == "unix" else ["--ready-cmd", f"test -S {sock}"]
    r = seccomp_learn("-o", str(tmp_path / "p.json"), *wait, "--during", client, "--", *server, timeout=60)
    assert r.returncode == 0, r.stderr  # without the wait, the client finds no socket and fails
    assert "allowed" in r.stderr and (tmp_path / "p.json").exists()


def test_not_ready_in_time_fails_without_running_the_driver(tmp_path: Path) -> None:
    marker = tmp_path / "driver-ran"
    start = time.monotonic()
    r = seccomp_learn("-o", str(tmp_path / "p.json"), "--ready", f"tcp:127.0.0.1:{free_port()}", "--ready-timeout",
                      "1", "--during", f"touch {marker}", "--", "sleep", "30", timeout=60)
    assert time.monotonic() - start < 15
    assert r.returncode == 1
    (line,) = [line for line in r.stderr.splitlines() if "run failed" in line]
    assert "not ready after 1s" in line and "did not run" in line
    assert not marker.exists() and not (tmp_path / "p.json").exists()


# ---- verify (issue 10, 3) -------------------------------------------------------------------------------


def _learn(tmp_path: Path, *args: str) -> Path:
    """Learned in tmp_path, where run_under runs it too (a shell whose $PWD is elsewhere calls getcwd)."""
    profile = tmp_path / "learned.json"
    r = seccomp_learn("-q", "--runtime", "none", "-o", str(profile), *args, timeout=60, cwd=tmp_path)
    assert r.returncode in (0, 3), r.stderr
    return profile


def test_verify_exits_with_the_workloads_own_code(tmp_path: Path) -> None:
    profile = _learn(tmp_path, "--", "sh", "-c", "exit 3")
    r = seccomp_learn("verify", str(profile), "--", "sh", "-c", "exit 3")
    assert r.returncode == 3, r.stderr
    assert "0 syscall(s) denied" in r.stderr


def test_verify_kill_ends_the_task_with_sigsys_as_the_kernel_does(tmp_path: Path) -> None:
    """The reference is the kernel: the same profile loaded with no tracer at all (run_under)."""
    from tracer.baseline.profile_file import load_profile_file
    script = "ls / >/dev/null; echo status=$?"
    profile = _learn(tmp_path, "--default-action", "kill", "--", "sh", "-c", script)
    data = json.loads(profile.read_text())
    for rule in data["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n != "getdents64"]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))

    _, untraced = run_under(load_profile_file(broken), ["sh", "-c", script], tmp_path)
    assert untraced == "status=159\n"  # ls died of SIGSYS under the kernel alone

    r = seccomp_learn("verify", str(broken), "--", "sh", "-c", script)
    assert r.stdout == untraced
    assert "Bad system call" in r.stderr  # the shell's own words for SIGSYS (for SIGKILL it says "Killed")
    assert r.returncode == 1 and "getdents64" in r.stderr and "SIGSYS" in r.stderr


def test_verify_drives_a_server_and_stops_it_on_time(tmp_path: Path) -> None:
    port = free_port()
    driver = ["--ready", f"tcp:127.0.0.1:{port}", "--during", f"curl -sf -o /dev/null http://127.0.0.1:{port}/"]
    # The driver lets the request's thread end before the server is stopped (glibc madvises a dead thread's
    # stack), and the server runs in the directory it was learned in: both runs then make the same calls.
    driver[-1] = f"sh -c 'curl -sf -o /dev/null http://127.0.0.1:{port}/ && sleep 0.5'"
    profile = _learn(tmp_path, *driver, "--", *http_server(port))
    r = seccomp_learn("verify", *driver, str(profile), "--", *http_server(port), timeout=60, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert '"GET / HTTP/1.1" 200' in r.stderr and "0 syscall(s) denied" in r.stderr
    sleeper = [str(build("sleeper")), "30"]
    timed = ["--duration", "0.5", "--stop-signal", "INT"]
    sleeper_profile = _learn(tmp_path, *timed, "--", *sleeper)
    start = time.monotonic()
    slept = seccomp_learn("verify", *timed, str(sleeper_profile), "--", *sleeper, timeout=60)
    assert time.monotonic() - start < 15
    assert slept.returncode == 0, slept.stderr  # SIGINT, sent by seccomp-learn after 0.5 s, ended it as planned
