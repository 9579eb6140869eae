"""The same behaviour gives byte-identical profiles; `ci --check` after `ci` is quiet; `--base` keeps the base.

The workloads are real threaded servers from Debian (redis-server) and Python's threading HTTP
server, each driven by a client over 127.0.0.1.
"""

from __future__ import annotations

import json
import shlex
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import seccomp_learn

needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed "
                                 "(.ci/run installs it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def redis_workload(port: int) -> tuple[list[str], str]:
    """redis-server on 127.0.0.1 with no persistence, and a redis-cli driver that waits for it (bounded)."""
    server = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    driver = (f"for i in $(seq 50); do redis-cli -p {port} ping >/dev/null 2>&1 && break; sleep 0.1; done; "
              f"redis-cli -p {port} set k v >/dev/null && redis-cli -p {port} get k")
    return server, shlex.join(["sh", "-c", driver])


# Every socket is closed by the workload itself: one collected unclosed raises a ResourceWarning whose text is its
# repr, which asks the kernel for the peer (getpeername), so whether that call is made depends on when a handler
# thread's garbage is collected (about 1 run in 10 under ebpf, which does not slow the threads down).
THREADED_HTTP = """
import http.server, threading, urllib.request
srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)
t = threading.Thread(target=srv.serve_forever)
t.start()
for _ in range(5):
    with urllib.request.urlopen(f'http://127.0.0.1:{srv.server_address[1]}/') as response:
        response.read()
srv.shutdown()
t.join()
srv.server_close()
"""


def learn(tmp_path: Path, out: str, *args: str) -> bytes:
    r = seccomp_learn("-q", "-o", str(tmp_path / out), *args, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    return (tmp_path / out).read_bytes()


@needs_redis
def test_threaded_server_learned_twice_is_byte_identical(tmp_path: Path) -> None:
    port = free_port()
    server, driver = redis_workload(port)
    first = learn(tmp_path, "a.json", "--during", driver, "--", *server)
    second = learn(tmp_path, "b.json", "--during", driver, "--", *server)
    assert first == second
    assert b"redis-server-" not in first  # no generated run id (time, pid) in the profile


def test_threaded_python_learned_twice_is_byte_identical(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", THREADED_HTTP]
    for fmt in ("docker", "oci", "kubernetes"):
        assert learn(tmp_path, f"a.{fmt}", "--format", fmt, "--", *argv) == \
            learn(tmp_path, f"b.{fmt}", "--format", fmt, "--", *argv)


@needs_redis
def test_ci_check_right_after_ci_is_quiet_five_times(tmp_path: Path) -> None:
    port = free_port()
    server, driver = redis_workload(port)
    (tmp_path / "seccomp-learn.yaml").write_text(json.dumps({"profiles": {
        "redis": {"output": "out/redis.json", "runs": [
            {"name": "server", "command": server, "during": shlex.split(driver)}]},
        "web": {"output": "out/web.json", "runs": [
            {"name": "threads", "command": [sys.executable, "-c", THREADED_HTTP]}]},
    }}))
    r = seccomp_learn("ci", "-q", cwd=tmp_path, timeout=180)
    assert r.returncode == 0, r.stderr
    for attempt in range(5):
        r = seccomp_learn("ci", "--check", "-q", cwd=tmp_path, timeout=180)
        assert r.returncode == 0, f"check {attempt + 1}: {r.stdout}{r.stderr}"
        assert r.stdout.count("up to date") == 2


def rules(profile: dict[str, Any]) -> set[tuple[str, str, str]]:
    """Each (name, action, conditions) a profile allows, comments left out."""
    return {(name, rule["action"], json.dumps(rule.get("args", []), sort_keys=True))
            for rule in profile["syscalls"] for name in rule["names"]}


SOCKETS_AND_FORK = """
import os, socket
socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).close()
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
"""


def test_base_keeps_every_rule_of_the_base_argument_rules_included(tmp_path: Path) -> None:
    profile = tmp_path / "p.json"
    learn(tmp_path, "p.json", "--", sys.executable, "-c", SOCKETS_AND_FORK)
    base = json.loads(profile.read_text())
    conditional = {name for name, _, args in rules(base) if args != "[]"}
    assert {"clone", "socket"} <= conditional  # the base holds these only under argument rules
    # Re-learn in place with a workload that calls neither: every rule of the base must stay.
    learn(tmp_path, "p.json", "--base", str(profile), "--", "sh", "-c", "echo again")
    again = json.loads(profile.read_text())
    assert rules(base) <= rules(again), sorted(rules(base) - rules(again))
    # The same base re-learnt with the same workload gives the same profile back.
    learn(tmp_path, "q.json", "--", sys.executable, "-c", SOCKETS_AND_FORK)
    learn(tmp_path, "r.json", "--base", str(tmp_path / "q.json"), "--", sys.executable, "-c", SOCKETS_AND_FORK)
    assert rules(json.loads((tmp_path / "q.json").read_text())) == rules(json.loads((tmp_path / "r.json").read_text()))
