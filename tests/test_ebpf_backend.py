"""The eBPF backend: what the kernel holds after a run, attach, refusal without privilege, ptrace inside.

What it records is checked against `strace -f` by tests/test_trace_parity.py and for faithfulness by
tests/test_faithful.py (both run every backend); tests/test_ebpf_parity.py compares its profiles with
the notify backend's. `bpftool` (Debian's, not ours) says which BPF programs and maps exist.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from helpers import EBPF_MISSING, SL, recorded, seccomp_learn

from tracer.capture.backends import ebpf_programs as prog
from tracer.kernel import btf

pytestmark = pytest.mark.skipif(EBPF_MISSING is not None, reason=f"ebpf: {EBPF_MISSING}")
PREFIX = "sclearn_"  # the names capture/ebpf.py gives its programs and maps


def ours() -> set[tuple[str, int, str]]:
    """Our BPF programs and maps the kernel holds now, as bpftool lists them: (kind, id, name)."""
    found = set()
    for kind in ("prog", "map"):
        out = subprocess.run(["bpftool", "-j", kind, "show"], capture_output=True, text=True, check=True).stdout
        found |= {(kind, int(o["id"]), str(o.get("name", ""))) for o in json.loads(out or "[]")
                  if str(o.get("name", "")).startswith(PREFIX)}
    return found


def held(pids: Iterable[str] | None = None) -> set[tuple[str, int]]:
    """The (kind, id) of every BPF program and map a live process (or one of `pids`) holds a descriptor of."""
    found = set()
    for pid in pids if pids is not None else (e.name for e in Path("/proc").iterdir() if e.name.isdigit()):
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                kind = {"anon_inode:bpf-prog": "prog", "anon_inode:bpf-map": "map"}.get(os.readlink(fd))
                if kind is not None:
                    info = Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text()
                    found |= {(kind, int(line.split()[1])) for line in info.splitlines()
                              if line.startswith(f"{kind}_id:")}
        except (OSError, ValueError):
            continue  # gone, or not ours to read
    return found


def none_left() -> list[str]:
    """Ours that no live process holds (a leak: another engineer's or test's tracer may run meanwhile), after
    the kernel has had a moment (objects are freed after an RCU grace period); [] if none."""
    deadline = time.monotonic() + 5
    while (left := {o for o in ours() if o[:2] not in held()}) and time.monotonic() < deadline:
        time.sleep(0.05)
    return sorted(f"{kind} {name} (id {i})" for kind, i, name in left)


def test_nothing_is_left_in_the_kernel_after_a_run(tmp_path: Path) -> None:
    assert none_left() == [], "BPF objects of an earlier run are still loaded"
    r = seccomp_learn("record", "-q", "--backend", "ebpf", "-o", str(tmp_path / "r.json"), "--", "sh", "-c",
                      "ls / | wc -l")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "r.json").read_text())["runs"][0]["backend"] == "ebpf"
    assert none_left() == []


def test_nothing_is_left_in_the_kernel_after_the_tracer_is_killed(tmp_path: Path) -> None:
    proc = subprocess.Popen([*SL, "record", "-q", "--backend", "ebpf", "-o", str(tmp_path / "r.json"), "--",
                             "sleep", "30"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while len(programs := {k for k in held([str(proc.pid)]) if k[0] == "prog"}) < 4 \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(programs) == 4, "the programs never loaded"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert none_left() == []
    assert not programs & {o[:2] for o in ours()}, "the killed tracer's programs are still loaded"
    assert not (tmp_path / "r.json").exists()


def test_auto_records_with_ebpf_as_root(tmp_path: Path) -> None:
    r = seccomp_learn("record", "-q", "-o", str(tmp_path / "r.json"), "--", "true")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "r.json").read_text())["runs"][0]["backend"] == "ebpf"


def test_attach_counts_the_process_and_what_it_starts_from_now_on(tmp_path: Path) -> None:
    marker = tmp_path / "m"
    loop = subprocess.Popen(["sh", "-c", f"while :; do mkdir -p {marker}; rmdir {marker}; sleep 0.02; done"])
    try:
        r = seccomp_learn("record", "-q", "--backend", "ebpf", "--pid", str(loop.pid), "--duration", "0.5",
                          "-o", str(tmp_path / "r.json"))
        assert r.returncode == 0, r.stderr
        assert loop.poll() is None, "attaching changed the process"
    finally:
        loop.kill()
        loop.wait()
    run = json.loads((tmp_path / "r.json").read_text())["runs"][0]
    assert (run["attached_pid"], run["exit"], run["partial"]) == (loop.pid, {"detached": True}, True)
    x86 = recorded(tmp_path / "r.json")["x86_64"]
    assert "/usr/bin/mkdir" in x86["mkdir"]["executables"], "a child started after the attach was not counted"
    assert "/usr/bin/rmdir" in x86["rmdir"]["executables"]
    assert "/usr/bin/dash" in x86["wait4"]["executables"], "the attached process itself was not counted"


def test_exits_wake_the_tracer_only_once_the_root_has_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    """50 children end before the root: no exit event (nothing waits for them); two outlive it: their exits are
    told, and the run waits for the last, whose calls are counted."""
    from tracer.capture.backends.ebpf import Recorder, trace_ebpf
    from tracer.capture.state import TraceOptions
    from tracer.kernel import bpf
    kinds: list[int] = []
    records = bpf.RingBuffer.records

    def seen(ring: bpf.RingBuffer) -> Iterator[bytes]:
        for record in records(ring):
            kinds.append(prog.EXIT_EVENT.unpack_from(record)[0])
            yield record
    monkeypatch.setattr(bpf.RingBuffer, "records", seen)
    script = "for i in $(seq 50); do /bin/true; done; (sleep 0.3; exec uname) >/dev/null & exit 0"
    result = trace_ebpf(["sh", "-c", script], TraceOptions(), Recorder())
    assert result.exit_code == 0 and not result.recording.runs[-1].partial
    assert "/usr/bin/uname" in result.recording.abis["x86_64"]["uname"].executables, "the run ended too soon"
    assert 1 <= kinds.count(prog.EV_EXIT) <= 3, kinds  # the root, the subshell (uname), its sleep


# The tracer as `python -m tracer` runs it, with 0.3 s more between the spawn and run_session (its handlers).
_SLOW_START = """
import runpy, sys, time
from tracer.capture.backends import ebpf
run_session = ebpf.run_session
ebpf.run_session = lambda *args: (time.sleep(0.3), run_session(*args))[1]
sys.argv[0] = "tracer"
runpy.run_module("tracer", run_name="__main__", alter_sys=True)
"""


def test_a_signal_as_soon_as_the_workload_runs_is_forwarded(tmp_path: Path) -> None:
    """Nothing holds an ebpf workload back, so it may signal the tracer before its handlers are in place:
    the signal waits, blocked, and is then forwarded as any other (not the end of the tracer)."""
    r = subprocess.run([SL[0], "-c", _SLOW_START, "record", "-q", "--backend", "ebpf", "-o",
                        str(tmp_path / "r.json"), "--", "sh", "-c", "kill -TERM $PPID; exec sleep 5"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 128 + signal.SIGTERM, r.stderr
    run = json.loads((tmp_path / "r.json").read_text())["runs"][0]
    assert run["partial"] is True and "SIGTERM" in run["partial_reason"]


def test_without_privilege_it_fails_before_the_workload_starts(tmp_path: Path) -> None:
    created = tmp_path / "created"
    r = subprocess.run(["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--", *SL, "record", "-q", "--backend",
                        "ebpf", "-o", str(tmp_path / "r.json"), "--", "touch", str(created)],
                       capture_output=True, text=True, timeout=60)  # root without capabilities
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "needs root or CAP_BPF and CAP_PERFMON" in r.stderr, r.stderr
    assert not created.exists() and not (tmp_path / "r.json").exists()


def test_the_workload_may_use_ptrace_itself(tmp_path: Path) -> None:
    log = tmp_path / "strace.log"
    r = seccomp_learn("record", "-q", "--backend", "ebpf", "-o", str(tmp_path / "r.json"), "--", "strace", "-f",
                      "-o", str(log), "true")
    assert r.returncode == 0, r.stderr
    assert "execve(\"/usr/bin/true\"" in log.read_text()
    assert "ptrace" in recorded(tmp_path / "r.json")["x86_64"]


def test_a_full_map_is_counted_and_makes_the_run_partial(monkeypatch: pytest.MonkeyPatch) -> None:
    """A count map with room for 4 keys: `true` makes about 17 distinct calls, the rest are dropped and said."""
    from tracer.capture.backends import ebpf_programs as prog
    from tracer.capture.backends.ebpf import Recorder, trace_ebpf
    from tracer.capture.state import TraceOptions
    monkeypatch.setattr(prog, "COUNT_ENTRIES", 4)
    result = trace_ebpf(["true"], TraceOptions(), Recorder())
    run = result.recording.runs[-1]
    assert result.exit_code == 0 and run.partial
    dropped = int(str(run.partial_reason).split("the kernel dropped ")[1].split(" syscall counts")[0])
    assert dropped > 0
    assert sum(len(table) for table in result.recording.abis.values()) <= 4


def _bpftool_offsets(wanted: dict[str, tuple[str, ...]]) -> dict[tuple[str, str], int]:
    """The byte offsets bpftool's raw dump of the kernel's BTF gives, from each struct's fullest definition."""
    out = subprocess.run(["bpftool", "btf", "dump", "file", btf.VMLINUX, "format", "raw"], capture_output=True,
                         text=True, check=True, timeout=120).stdout
    best: dict[str, dict[str, int]] = {}
    current: dict[str, int] | None = None
    for line in out.splitlines():
        head = re.match(r"\[\d+\] STRUCT '(\w+)' size=\d+ vlen=(\d+)", line)
        if head:
            current = None
            if head[1] in wanted and int(head[2]) > len(best.get(head[1], {})):
                current = best[head[1]] = {}
        elif current is not None and (member := re.match(r"\s+'(\w*)' type_id=\d+ bits_offset=(\d+)", line)):
            current[member[1]] = int(member[2]) // 8
        elif not line.startswith(("\t", " ")):
            current = None
    return {(s, m): best[s][m] for s, members in wanted.items() for m in members}


def test_kernel_field_offsets_are_bpftools_and_kept_for_the_boot_only_where_trusted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The programs' struct offsets are what bpftool reads from the same BTF; the per-boot copy is read back
    (a changed value shows it is), and ignored once someone else could have written it."""
    cache = tmp_path / "run"
    monkeypatch.setattr(btf, "CACHE", str(cache))
    expected = _bpftool_offsets(prog.FIELDS)
    assert btf.member_offsets(prog.FIELDS) == expected  # searched: the cache was empty
    kept = cache / "btf-offsets"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700 and stat.S_IMODE(kept.stat().st_mode) == 0o600
    changed = re.sub(r"^task_struct tgid \d+$", "task_struct tgid 7", kept.read_text(), flags=re.M)
    kept.write_text(changed)
    assert btf.member_offsets(prog.FIELDS)[("task_struct", "tgid")] == 7  # read back, not searched
    kept.chmod(0o620)
    assert btf.member_offsets(prog.FIELDS) == expected  # group-writable: searched again, and rewritten
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text(changed)
    kept.unlink()
    kept.symlink_to(elsewhere)
    assert btf.member_offsets(prog.FIELDS) == expected  # not followed
