"""Each companion row (tracer/profile/companions.py), provoked on purpose in a real program.

For every row: `strace -f` shows that the provoking run makes the row's calls and that the learning run
does not (so the row is what saves the profile), the profile learned from the learning run carries the row
(its rule's comment names the trigger), and `verify` of the provoking run under it denies nothing, while
the same profile emitted with --no-companions is denied the row's calls.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import seccomp_learn
from tests.strace_ref import strace_syscalls
from tracer.profile.companions import COMPANIONS

PY = "/usr/bin/python3.11"
CONNECT = ("import socket, sys, os\n"
           "srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)\n"
           "if sys.argv[1] == 'tcp':\n"
           "    c = socket.create_connection(srv.getsockname(), timeout=5)\n"
           "else:\n"
           "    u = socket.socket(socket.AF_UNIX); u.bind('u'); u.listen(1)\n"
           "    c = socket.socket(socket.AF_UNIX); c.settimeout(5); c.connect('u'); os.unlink('u')\n"
           "c.close()\n")
THREAD = ("import threading, time, os\n"
          "t = threading.Thread(target=time.sleep, args=(0 if os.environ.get('JOIN') else 30,), daemon=True)\n"
          "t.start()\n"
          "t.join() if os.environ.get('JOIN') else (time.sleep(0.05), os._exit(0))\n")
# The learning run's main thread sleeps too, so clock_nanosleep is learned whether or not the thread got to its
# own sleep before the process exited (a backend that never stops the workload, ebpf, often does not)
# row -> (the learning run, the run that meets the condition)
RUNS: dict[str, tuple[list[str], list[str]]] = {
    "realloc-mremap": ([PY, "-I", "-S", "-c", "b = bytearray(1000); b.extend(bytes(10))"],
                       [PY, "-I", "-S", "-c", "b = bytearray(40_000_000); b.extend(bytes(10))"]),
    "thread-exit-madvise": ([PY, "-I", "-S", "-c", THREAD], ["env", "JOIN=1", PY, "-I", "-S", "-c", THREAD]),
    "wait-sigsuspend": (["/bin/dash", "-c", "(sleep 0.01); wait"], ["/bin/dash", "-c", "sleep 0.5 & wait"]),
    "nonblocking-connect": ([PY, "-I", "-S", "-c", CONNECT, "unix"], [PY, "-I", "-S", "-c", CONNECT, "tcp"]),
}
ROWS = {row.key: row for row in COMPANIONS}


def test_every_row_has_a_reproduction() -> None:
    assert set(RUNS) == set(ROWS)
    assert all(row.evidence.endswith(f"[{row.key}]") for row in COMPANIONS)


@pytest.mark.parametrize("key", sorted(RUNS))
def test_companion_row_provoked_and_held(key: str, tmp_path: Path) -> None:
    row, (learning, provoking) = ROWS[key], RUNS[key]
    provoked, status = strace_syscalls(provoking, cwd=tmp_path)
    assert status == 0
    assert {n for _, n in provoked} >= set(row.adds), f"{provoking} did not make {row.adds}"
    learned_calls, status = strace_syscalls(learning, cwd=tmp_path)
    assert status == 0 and not {n for _, n in learned_calls} & set(row.adds)

    trace = tmp_path / "t.json"
    assert seccomp_learn("record", "-q", "-o", str(trace), "--", *learning, cwd=tmp_path).returncode == 0
    profiles = {}
    for name, extra in (("with", []), ("without", ["--no-companions"])):
        profiles[name] = tmp_path / f"{name}.json"
        r = seccomp_learn("emit", "--runtime", "none", *extra, "-o", str(profiles[name]), str(trace))
        assert r.returncode == 0, r.stderr
    rules = json.loads(profiles["with"].read_text())["syscalls"]
    ours = [r for r in rules if r.get("comment", "").startswith("companion:") and f"({key})" in r["comment"]]
    assert ours and set(row.adds) <= {n for r in rules for n in r["names"]}
    assert "was observed" in ours[0]["comment"]

    held = seccomp_learn("verify", str(profiles["with"]), "--", *provoking, cwd=tmp_path)
    assert held.returncode == 0 and "denied:" not in held.stderr, held.stderr
    missed = seccomp_learn("verify", str(profiles["without"]), "--", *provoking, cwd=tmp_path)
    denied = {line.split()[3] for line in missed.stderr.splitlines() if "denied: " in line}
    assert missed.returncode == 1 and denied & set(row.adds), missed.stderr
