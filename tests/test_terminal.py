"""On a terminal (issue 10, 8): live progress, a text report that fits, Markdown rendered; counts that agree.

The terminal is a real pseudo-terminal (python's pty module) with its window size set, as a user's is.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

from helpers import SL, seccomp_learn

ERASE = "\r\x1b[K"


def on_pty(args: list[str], stream: str, columns: int = 80, timeout: float = 60, cwd: Path | None = None
           ) -> tuple[int, str]:
    """Run seccomp-learn with `stream` (stdout or stderr) on a pty this wide; the other one is discarded."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    where = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, stream: slave}
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}  # the window size decides
    proc = subprocess.Popen([*SL, *args], stdin=subprocess.DEVNULL, stdout=where["stdout"], stderr=where["stderr"],
                            cwd=cwd, env=env)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the pty
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=10), out.decode(errors="replace").replace("\r\n", "\n")


def test_live_progress_on_a_terminal_is_erased_before_the_summary(tmp_path: Path) -> None:
    code, err = on_pty(["-o", "p.json", "--", "sh", "-c", "sleep 2.5; true"], "stderr", cwd=tmp_path)
    assert code == 0, err
    progress = re.findall(r"\r\x1b\[Kseccomp-learn: (\d+) task\(s\), (\d+) syscalls, (\d+) distinct, (\d+)s", err)
    assert len(progress) >= 2, repr(err)  # updated every second
    assert int(progress[-1][0]) >= 2 and int(progress[-1][3]) >= 1  # sh and sleep; time goes on
    summary = err.rsplit(ERASE, 1)[1]
    assert summary.startswith("seccomp-learn: traced ")  # erased, then the summary on a clean line
    piped = seccomp_learn("-o", "p.json", "--", "sh", "-c", "sleep 1.5", cwd=tmp_path)
    assert "\x1b" not in piped.stderr and "distinct," not in piped.stderr  # no progress into a pipe or file


def test_text_report_fits_the_terminal(tmp_path: Path) -> None:
    rec = tmp_path / "r.json"
    assert seccomp_learn("record", "-q", "-o", str(rec), "--", "python3", "-c", "import json").returncode == 0
    piped = seccomp_learn("report", "--format", "text", str(rec)).stdout
    assert max(len(line) for line in piped.splitlines()) > 90  # whole cells when not on a terminal
    for columns in (100, 80, 60):
        code, out = on_pty(["report", "--format", "text", str(rec)], "stdout", columns=columns)
        assert code == 0
        assert max(len(line) for line in out.splitlines()) <= columns, columns
        assert "newfstatat" in out or "fstat" in out


def test_report_on_a_terminal_renders_the_markdown(tmp_path: Path) -> None:
    rec = tmp_path / "r.json"
    assert seccomp_learn("record", "-q", "-o", str(rec), "--", "python3", "-c", "import json").returncode == 0
    piped = seccomp_learn("report", str(rec)).stdout
    assert "<details>" in piped and "| --- |" in piped  # raw Markdown for a file or a pull request
    code, shown = on_pty(["report", str(rec)], "stdout", columns=100)
    assert code == 0
    assert "\x1b[" in shown and "<details>" not in shown and "<br>" not in shown and "| --- |" not in shown
    assert "Needed syscalls by class" in shown


def test_run_summary_and_report_count_the_same_things(tmp_path: Path) -> None:
    r = seccomp_learn("-o", "p.json", "--record", "r.json", "--", "python3", "-c", "import json, sqlite3",
                      cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    observed = int(re.search(r"(\d+) distinct syscalls observed", r.stderr).group(1))  # type: ignore[union-attr]
    allowed, seen, extras = map(int, re.search(  # type: ignore[union-attr]
        r"(\d+) syscalls allowed \((\d+) observed \+ (\d+) extras\)", r.stderr).groups())
    assert (seen, seen + extras) == (observed, allowed)
    profile = json.loads((tmp_path / "p.json").read_text())
    assert allowed == len({n for rule in profile["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW"
                           for n in rule["names"]})  # counted from the file itself
    recording = json.loads((tmp_path / "r.json").read_text())
    assert observed == len(recording["abis"]["x86_64"])
    report = json.loads(seccomp_learn("report", "--format", "json", "r.json", cwd=tmp_path).stdout)["summary"]
    assert (report["observed"], report["needed"]) == (observed, allowed)
