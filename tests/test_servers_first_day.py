"""The first day with real servers (issue 25): ci readiness and repeats, `-o -` kept clean, advice for short
recordings, verify naming a denied execve, an ignored Ctrl-C, a 0-column terminal, honest --base output and
the wording fixes.

Real processes throughout: lighttpd (Debian's) on a free 127.0.0.1 port with curl as the driver, sh, python3.
What a call is, and when it is made, is told by strace or by the program itself, not by our tables.
"""

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
from helpers import SL, seccomp_learn
from test_servers import free_port
from test_terminal import on_pty

LIGHTTPD = "/usr/sbin/lighttpd"
needs_lighttpd = pytest.mark.skipif(not os.path.exists(LIGHTTPD) and not os.environ.get("CI"),
                                    reason="lighttpd is not installed (.ci/run installs it)")


def lighttpd_site(tmp_path: Path) -> tuple[int, list[str]]:
    """A real lighttpd serving index.html on a free 127.0.0.1 port, in the foreground: (port, command)."""
    port = free_port()
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("hello\n")
    (tmp_path / "lighttpd.conf").write_text(
        f'server.document-root = "{tmp_path / "www"}"\nserver.bind = "127.0.0.1"\nserver.port = {port}\n'
        f'server.errorlog = "{tmp_path / "error.log"}"\n')
    return port, [LIGHTTPD, "-D", "-f", str(tmp_path / "lighttpd.conf")]


def fetch(port: int, then_sleep: float = 0.5) -> list[str]:
    """The driver: one real request (curl fails, exit 7, if nothing listens yet), then a pause. Without the
    pause lighttpd 1.4.69 may still hold the connection when SIGTERM comes, and then exits 1 (server.c:
    `if (NULL == srv->conns) rc = 0;`): measured untraced, 7 of 40 kill -TERM right after curl."""
    return ["sh", "-c", f"curl -sf -o /dev/null http://127.0.0.1:{port}/index.html && sleep {then_sleep}"]


def names(trace: Path) -> set[str]:
    return set(json.loads(trace.read_text())["abis"]["x86_64"])


# ---- 1. ci: ready, ready_cmd, ready_timeout, repeat --------------------------------------------------------


@needs_lighttpd
def test_ci_ready_and_repeat_with_lighttpd(tmp_path: Path) -> None:
    port, command = lighttpd_site(tmp_path)
    # The driver pauses 1.5 s so that every run reaches lighttpd's first tick (getloadavg: sysinfo), and
    # `allow: [madvise]` covers its malloc_trim, made when the monotonic seconds are a multiple of 64 (strace -k
    # shows both): the profile is the same on every run and --check passes (measured: 40 of 40).
    (tmp_path / "seccomp-learn.yaml").write_text(json.dumps({"profiles": {"web": {
        "output": "out/web.json", "allow": ["madvise"],
        "runs": [{"name": "serve", "command": command, "during": fetch(port, 1.5),
                  "ready": f"tcp:127.0.0.1:{port}", "ready_timeout": 20, "repeat": 2}]}}}))
    wrote = seccomp_learn("ci", cwd=tmp_path)
    assert wrote.returncode == 0, wrote.stderr
    assert "[1/2] web/serve#1" in wrote.stderr and "[2/2] web/serve#2" in wrote.stderr
    rec = json.loads((tmp_path / "out/web.trace.json").read_text())
    assert [r["id"] for r in rec["runs"]] == ["web/serve#1", "web/serve#2"]
    assert {"accept4", "sysinfo"} <= set(rec["abis"]["x86_64"])  # it served the request; it ran its timer
    rules = json.loads((tmp_path / "out/web.json").read_text())["syscalls"]
    assert [r["names"] for r in rules if r["comment"].startswith("listed:")] == [["madvise"]]  # seen or not
    check = seccomp_learn("ci", "--check", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "up to date" in check.stdout


@needs_lighttpd
def test_ci_ready_cmd_and_a_server_that_is_never_ready(tmp_path: Path) -> None:
    port, command = lighttpd_site(tmp_path)
    other = free_port()
    (tmp_path / "seccomp-learn.yaml").write_text(json.dumps({"profiles": {
        "web": {"output": "out/web.json", "runs": [
            {"name": "serve", "command": command, "during": fetch(port),
             "ready_cmd": f"curl -sf -o /dev/null http://127.0.0.1:{port}/index.html"}]},
        "never": {"output": "out/never.json", "runs": [
            {"name": "serve", "command": command, "during": fetch(other),
             "ready": f"tcp:127.0.0.1:{other}", "ready_timeout": 1}]}}}))
    ok = seccomp_learn("ci", "--only", "web", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    never = seccomp_learn("ci", "--only", "never", cwd=tmp_path)
    assert never.returncode == 1
    assert f"run never/serve failed: tcp:127.0.0.1:{other}: not ready after 1s" in never.stderr
    assert not (tmp_path / "out/never.json").exists()


@pytest.mark.parametrize(("run", "message"), [
    ('{ready: "tcp:127.0.0.1:1"}', "runs[0].ready: holds back the during driver: needs during too"),
    ('{during: [/bin/true], ready: "tcp:127.0.0.1:x"}', "runs[0].ready: expected tcp:HOST:PORT with a port"),
    ('{during: [/bin/true], ready_timeout: 3}', "runs[0].ready_timeout: needs --ready or --ready-cmd"),
    ("{repeat: 0}", "runs[0].repeat: must be a number of runs from 1 to 1000, got int 0"),
])
def test_ci_ready_and_repeat_are_checked(tmp_path: Path, run: str, message: str) -> None:
    run = run.replace("{", "{name: r, command: [/bin/true], ", 1)
    (tmp_path / "c.yaml").write_text(f"profiles:\n  p:\n    output: p.json\n    runs:\n      - {run}\n")
    r = seccomp_learn("ci", "--config", "c.yaml", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert f"c.yaml:5: profiles.p.{message}" in r.stderr


def test_ci_allow_names_are_checked(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("profiles:\n  p:\n    output: p.json\n    allow: [madvise, madvse]\n"
                                     "    runs: [{name: r, command: [/bin/true]}]\n")
    typo = seccomp_learn("ci", "--config", "c.yaml", cwd=tmp_path)
    assert typo.returncode == 2 and "c.yaml:4: profiles.p.allow[1]: 'madvse' is not a syscall name" in typo.stderr


# ---- 2. -o - keeps stdout for the profile --------------------------------------------------------------


def test_stdout_dash_holds_only_the_profile(tmp_path: Path) -> None:
    prog = ["python3", "-c", "print('hello from the workload')"]
    r = seccomp_learn("-q", "-o", "-", "--", *prog, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    json.loads(r.stdout)  # the profile alone
    assert "hello from the workload" in r.stderr and "hello" not in r.stdout
    (tmp_path / "p.json").write_text(r.stdout)
    lint = seccomp_learn("lint", "p.json", cwd=tmp_path)
    assert (lint.returncode, lint.stdout) == (0, "p.json: no findings\n"), lint.stderr
    rec = seccomp_learn("record", "-q", "-o", "-", "--", "echo", "hi", cwd=tmp_path)
    assert json.loads(rec.stdout)["runs"][0]["exit"] == {"code": 0} and rec.stderr == "hi\n"
    to_file = seccomp_learn("-q", "-o", "q.json", "--", "echo", "hi", cwd=tmp_path)
    assert to_file.stdout == "hi\n"  # with a file, the workload's stdout is its own, untouched


# ---- 3. short recordings, one-run names, --repeat --------------------------------------------------------


@needs_lighttpd
def test_short_server_run_is_said_and_a_longer_one_sees_the_timer(tmp_path: Path) -> None:
    port, command = lighttpd_site(tmp_path)
    ready = ["--ready", f"tcp:127.0.0.1:{port}"]
    get = f"curl -sf -o /dev/null http://127.0.0.1:{port}/index.html"
    short = seccomp_learn("record", "-o", "short.trace.json", "--repeat", "2", *ready, "--during",
                          f"sh -c '{get} && sleep 0.5'", "--", *command, cwd=tmp_path)
    assert short.returncode == 0, short.stderr
    assert "run 1 of 2: traced" in short.stderr and "run 2 of 2: traced" in short.stderr
    assert re.search(r"note: 2 of 2 runs were stopped after [01]\.\ds or less: what a server does on a timer "
                     r"\(lighttpd.s sysinfo", short.stderr), short.stderr
    report = seccomp_learn("report", "--format", "json", "short.trace.json", cwd=tmp_path)
    assert "short-run" in {h["kind"] for h in json.loads(report.stdout)["hints"]}
    long = seccomp_learn("record", "-o", "long.trace.json", *ready, "--during", f"sh -c '{get} && sleep 2.2'",
                         "--", *command, cwd=tmp_path)
    assert long.returncode == 0, long.stderr
    assert "note:" not in long.stderr
    assert "sysinfo" in names(tmp_path / "long.trace.json")


def test_repeat_says_what_only_one_run_saw(tmp_path: Path) -> None:
    # State left by the first run changes the second (as git's utimensat, or postgres on a reused data dir).
    script = "if [ -e marker ]; then mkdir made; else : > marker; fi"
    r = seccomp_learn("record", "-o", "r.trace.json", "--run-id", "st", "--repeat", "2", "--", "sh", "-c", script,
                      cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "made").is_dir()
    assert re.search(r"low coverage: seen only in run st#2 \(1 of 2\): .*\bmkdir\b", r.stderr), r.stderr
    assert "note: some syscalls were seen in only one of 2 runs" in r.stderr
    runs = json.loads((tmp_path / "r.trace.json").read_text())["runs"]
    assert [run["id"] for run in runs] == ["st#1", "st#2"]
    failed = seccomp_learn("record", "-o", "f.trace.json", "--repeat", "3", "--", "sh", "-c", "exit 3",
                           cwd=tmp_path)
    assert failed.returncode == 3 and "run 1 of 3 failed: no more runs" in failed.stderr


# ---- 4. verify names a denied execve ------------------------------------------------------------------------


def test_verify_names_a_denied_execve_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "deny.json").write_text('{"defaultAction": "SCMP_ACT_ERRNO"}')
    r = seccomp_learn("verify", "deny.json", "--", "true", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "seccomp-learn: denied: x86_64 execve x1 (errno 1)" in r.stderr
    assert "true did not start; 1 syscall(s) denied by deny.json" in r.stderr
    assert "could not be executed" not in r.stderr


def test_verify_complain_wording(tmp_path: Path) -> None:
    (tmp_path / "deny.json").write_text('{"defaultAction": "SCMP_ACT_ERRNO"}')
    r = seccomp_learn("verify", "--complain", "deny.json", "--", "true", cwd=tmp_path)
    assert r.returncode == 1
    assert re.search(r"workload exit status: 0; \d+ syscall\(s\) would be denied by deny.json", r.stderr), r.stderr


# ---- 5. a workload that ignores Ctrl-C -----------------------------------------------------------------------


def test_ignored_sigint_is_said_and_a_second_one_kills(tmp_path: Path) -> None:
    script = 'trap "" INT; : > ready; exec sleep 30'  # sh ignores SIGINT, and sleep inherits it
    proc = subprocess.Popen([*SL, "-o", "p.json", "--", "sh", "-c", script], cwd=tmp_path, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "ready").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line == "seccomp-learn: the workload ignores SIGINT; Ctrl-C again kills it\n"
        assert proc.poll() is None  # it did go on
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 137  # killed, as the line said
        partial = "the recording is partial: seccomp-learn received SIGINT, SIGINT and stopped the workload"
        assert partial in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()


# ---- 6. a terminal with 0 columns ----------------------------------------------------------------------------


def test_progress_on_a_zero_column_terminal_is_80_wide(tmp_path: Path) -> None:
    code, err = on_pty(["-o", "p.json", "--", "sleep", "1.6"], "stderr", columns=0, cwd=tmp_path)
    assert code == 0, err
    assert re.search(r"\r\x1b\[Kseccomp-learn: 1 task\(s\), \d+ syscalls, \d+ distinct, 1s", err), repr(err)


# ---- 7. --base: honest summary and merge coverage ------------------------------------------------------------


def test_base_summary_and_merge_count_untraced_calls(tmp_path: Path) -> None:
    prog = ["python3", "-c", "import json, sqlite3"]
    assert seccomp_learn("-q", "-o", "base.json", "--", *prog, cwd=tmp_path).returncode == 0
    inc = seccomp_learn("--base", "base.json", "--record", "inc.trace.json", "-o", "inc.json", "--", *prog,
                        cwd=tmp_path)
    assert inc.returncode == 0, inc.stderr
    traced, from_base = map(int, re.search(r"; (\d+) distinct syscalls traced, (\d+) more from --base base.json "
                                           r"\(allowed by the kernel untraced, so not counted\)", inc.stderr).groups())
    assert from_base > traced and "distinct syscalls observed" not in inc.stderr
    assert seccomp_learn("record", "-q", "-o", "full.trace.json", "--", *prog, cwd=tmp_path).returncode == 0
    merged = seccomp_learn("merge", "full.trace.json", "inc.trace.json", "-o", "m.trace.json", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    assert "low coverage" not in merged.stderr  # the base let those calls run: the --base run covers them
    base_run = json.loads((tmp_path / "inc.trace.json").read_text())["runs"][0]["incremental_base"]
    assert len(base_run["untraced"]) == base_run["allowed_in_kernel"] > 0


# ---- 9. wording: --ready help, clone3, socket option levels ---------------------------------------------------


def test_ready_help_matches_what_it_does() -> None:
    text = " ".join(seccomp_learn("run", "--help").stdout.split())
    assert "accepts a connection" not in text
    assert "--ready tcp:HOST:PORT|unix:PATH Start the --during driver only once a socket listens there (looked " \
           "up in /proc/net: no probe connection reaches the workload)" in text


def test_lint_finds_clone3_allowed_with_any_arguments(tmp_path: Path) -> None:
    threads = "import threading; t = threading.Thread(target=print); t.start(); t.join()"
    assert seccomp_learn("-q", "-o", "p.json", "--", "python3", "-c", threads, cwd=tmp_path).returncode == 0
    strace = subprocess.run(["strace", "-f", "-e", "trace=clone3", "-o", "st.txt", sys.executable, "-c", threads],
                            cwd=tmp_path, capture_output=True, timeout=60)
    assert strace.returncode == 0 and "clone3(" in (tmp_path / "st.txt").read_text()  # the reference
    lint = seccomp_learn("lint", "p.json", cwd=tmp_path)
    assert lint.returncode == 1
    assert re.search(r"^p.json: syscalls\[\d+\].names\[\d+\]: clone3 is allowed with any arguments.*"
                     r"\[unconditional-clone3\] \(every engine loads it\)$", lint.stdout, re.MULTILINE), lint.stdout


def test_report_names_socket_options_with_their_level(tmp_path: Path) -> None:
    prog = ("import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
            "s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)")
    assert seccomp_learn("record", "-q", "-o", "r.trace.json", "--", "python3", "-c", prog,
                         cwd=tmp_path).returncode == 0
    report = json.loads(seccomp_learn("report", "--format", "json", "r.trace.json", cwd=tmp_path).stdout)
    entry = next(e for e in report["syscalls"] if e["name"] == "setsockopt")
    optname = next(a for a in entry["args"] if a["name"] == "optname")
    # SO_REUSEADDR is 2 under SOL_SOCKET, TCP_NODELAY 1 under SOL_TCP (Python's socket module says so)
    assert "SOL_SOCKET:SO_REUSEADDR" in optname["values"][1] and "SOL_TCP:TCP_NODELAY" in optname["values"][0]
    assert not any("IP_TTL" in v or "IPV6" in v for v in optname["values"])  # levels never used: not offered
