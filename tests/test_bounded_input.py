"""Issue 23, findings 8-10: every reader bounded, every terminal line escaped, resources that run out.

Each reader is given /dev/zero and a FIFO (both must be refused at once: before, the first grew to 7 GiB
and the second blocked forever in open()), a SeccompProfile YAML of 2.5 MB, JSON numbers Python cannot
hold; lint is given 1000 and 10000 rules; a real directory named with ESC/OSC bytes holds a traced
program whose recording is reported and diffed; a full tmpfs and a low `ulimit -n` meet every writer.
Every command runs in a subprocess with a timeout and an address-space limit, so a regression fails
instead of hanging or eating the machine's memory.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import SL
from test_terminal import on_pty

from tracer.analysis.findings import lint_doc

KEEP = "known content: must not be overwritten\n"
AS_LIMIT = 2 << 30  # a reader that reads /dev/zero dies of MemoryError instead of swapping the machine
OSC = "e\033[31mRED\033]0;title\007"  # a directory name: colours the terminal red and retitles it


def _run(*args: str, cwd: Path | None = None, nofile: int | None = None, timeout: float = 20) -> Any:
    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    return subprocess.run([*SL, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          preexec_fn=limits)


def _one_line(proc: Any, *needles: str) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("seccomp-learn: "), proc.stderr[-2000:]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("good")
    rec, prof = d / "good.trace.json", d / "good.json"
    proc = subprocess.run([*SL, "record", "-q", "-o", str(rec), "--", "true"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([*SL, "emit", "-q", str(rec), "-o", str(prof)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return {"rec": rec, "prof": prof, "dir": d}


# (bad file, good recording, good profile, -o target) -> argv: every place a command reads a file
READERS: dict[str, Callable[[str, str, str, str], list[str]]] = {
    "emit": lambda b, r, p, o: ["emit", b, "-o", o],
    "merge": lambda b, r, p, o: ["merge", r, b, "-o", o],
    "diff": lambda b, r, p, o: ["diff", p, b],
    "diff--baseline": lambda b, r, p, o: ["diff", "--baseline", b, r],
    "report": lambda b, r, p, o: ["report", b, "-o", o],
    "report--baseline": lambda b, r, p, o: ["report", "--baseline", b, r, "-o", o],
    "lint": lambda b, r, p, o: ["lint", b],
    "verify": lambda b, r, p, o: ["verify", b, "--", "true"],
    "run--base": lambda b, r, p, o: ["run", "-o", o, "--base", b, "--", "true"],
    "emit--runtime-profile": lambda b, r, p, o: ["emit", "--runtime-profile", b, r, "-o", o],
    "ci--config": lambda b, r, p, o: ["ci", "--config", b],
    "push": lambda b, r, p, o: ["push", b, "127.0.0.1:9/never/contacted:v1"],
    "label": lambda b, r, p, o: ["label", "busybox", b],
}


@pytest.mark.parametrize("kind", ["dev-zero", "fifo"])
@pytest.mark.parametrize("reader", list(READERS))
def test_device_or_fifo_refused_at_once(reader: str, kind: str, good: dict[str, Path], tmp_path: Path) -> None:
    if kind == "fifo":
        bad = tmp_path / "input.json"
        os.mkfifo(bad)
    else:
        bad = Path("/dev/zero")
    target = tmp_path / "target.json"
    target.write_text(KEEP)
    t0 = time.monotonic()
    proc = _run(*READERS[reader](str(bad), str(good["rec"]), str(good["prof"]), str(target)), cwd=tmp_path)
    assert time.monotonic() - t0 < 20
    _one_line(proc, str(bad), "not a regular file")
    assert target.read_text() == KEEP


def _seccomp_profile_yaml(extra_keys: int) -> str:
    lines = ["apiVersion: security-profiles-operator.x-k8s.io/v1beta1", "kind: SeccompProfile",
             "metadata:", "  name: big", "  annotations:"]
    lines += [f"    key{i:07d}: value" for i in range(extra_keys)]
    lines += ["spec:", "  defaultAction: SCMP_ACT_ERRNO", "  syscalls:", "  - action: SCMP_ACT_ALLOW",
              "    names: [exit, exit_group, read]"]
    return "\n".join(lines) + "\n"


def test_yaml_size_capped(tmp_path: Path) -> None:
    small, big = tmp_path / "small.yaml", tmp_path / "big.yaml"
    small.write_text(_seccomp_profile_yaml(10))
    big.write_text(_seccomp_profile_yaml(100_000))  # 2.5 MB: 11.7 s and 300 MB in PyYAML before
    assert big.stat().st_size > 2_000_000
    assert _run("lint", str(small)).returncode == 0
    for argv in (["lint", str(big)], ["diff", str(big)]):
        t0 = time.monotonic()
        proc = _run(*argv, timeout=60)
        assert time.monotonic() - t0 < 10
        _one_line(proc, str(big), "larger than 1 MiB")


def test_runtime_profile_integer_past_the_digit_limit(good: dict[str, Path], tmp_path: Path) -> None:
    """--runtime-profile had its own reader: a 4300+ digit integer was a ValueError traceback."""
    bad = tmp_path / "runtime.json"
    bad.write_text('{"format": "seccomp-learn-runtime-profile", "version": ' + "9" * 5000 + "}")
    target = tmp_path / "target.json"
    target.write_text(KEEP)
    _one_line(_run("emit", "--runtime-profile", str(bad), str(good["rec"]), "-o", str(target)), str(bad))
    assert target.read_text() == KEEP


# ---- lint: linear in the number of rules ----------------------------------------------------------------


def _many_rules(n: int) -> dict[str, Any]:
    """n rules naming one syscall (the conflict check) with argument conditions (the i386 multiplexer check)."""
    rules = [{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": i, "op": "SCMP_CMP_EQ"}]}
             for i in range(n)]
    rules.append({"names": ["socketcall", "exit_group", "read"], "action": "SCMP_ACT_ALLOW"})
    rules.append({"names": ["read"], "action": "SCMP_ACT_ERRNO"})  # one conflict, so the check does run
    return {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": rules}


def _lint_lines(doc: dict[str, Any]) -> int:
    """How many lines of Python lint_doc executes for doc: its work, counted exactly rather than timed."""
    count = 0

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        count += event == "line"
        return local

    sys.settrace(lambda frame, event, arg: local)
    try:
        findings = lint_doc(doc, "many.json")
    finally:
        sys.settrace(None)
    assert [f.code for f in findings].count("conflicting-actions") == 1
    return count


def test_lint_is_linear_in_rules() -> None:
    """8000 rules took 5.9 s and 100 000 did not finish: each rule was compared with every earlier one.

    Ten times the rules must be about ten times the work (before: 84 times, 762 524 and 64 315 124 lines).
    """
    lint_doc(_many_rules(5), "warm-up")  # the tables' caches are built once, outside the count
    small, large = _lint_lines(_many_rules(300)), _lint_lines(_many_rules(3000))
    assert large < 12 * small, f"300 rules: {small} lines, 3000 rules: {large} lines"


# ---- terminal escape injection ----------------------------------------------------------------------------


def _rendered(argv: list[str], cwd: Path) -> bytes:
    """What argv writes on a 160-column terminal (its stdout on a pty: rich's colours and tables)."""
    code, out = on_pty(argv, "stdout", columns=160, cwd=cwd)
    assert code in (0, 1), out[-2000:]
    return out.encode()


def _assert_escaped(out: bytes, what: str) -> None:
    assert b"\x1b]" not in out and b"\x07" not in out, (what, out[-1500:])  # no OSC (retitle), no bell
    assert b"e\x1b[31mRED" not in out and b"\x1b[2J" not in out, (what, out[-1500:])


def test_control_characters_in_paths_and_names_are_escaped(tmp_path: Path) -> None:
    """A traced program in a directory named with ESC/OSC bytes, and a profile (its file named with rich
    markup) naming "\\x1b[2Jevil": report (text, Markdown, rich on a terminal), diff (pipe and terminal), lint
    and the error lines show them escaped."""
    directory = tmp_path / OSC
    directory.mkdir()
    program = directory / "prog"
    shutil.copy("/bin/true", program)
    rec = tmp_path / "esc.trace.json"
    proc = subprocess.run([*SL, "record", "-o", str(rec), "--", f"./{OSC}/prog"], capture_output=True, timeout=60,
                          cwd=tmp_path)  # relative: the diff's description keeps the command's first 60 characters
    assert proc.returncode == 0, proc.stderr
    assert f"./{OSC}/prog" in json.loads(rec.read_text())["runs"][0]["command"]  # the real bytes, JSON-escaped
    evil = tmp_path / "[red]evil.json"  # rich markup in a file name: shown, not obeyed
    evil.write_text(json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                                "syscalls": [{"names": ["exit_group", "\u001b[2Jevil"], "action": "SCMP_ACT_ALLOW"}]}))
    outputs: dict[str, bytes] = {}
    for name, argv in {"report-text": ["report", "--format", "text", str(rec)],
                       "report-markdown": ["report", "--format", "markdown", str(rec)],
                       "report-profile": ["report", "--format", "text", str(evil)],
                       "diff": ["diff", str(rec)],
                       "diff-pair": ["diff", str(evil), str(rec)],
                       "lint": ["lint", str(evil)]}.items():
        proc = subprocess.run([*SL, *argv], capture_output=True, timeout=60, cwd=tmp_path)
        assert proc.returncode in (0, 1), (name, proc.stderr)
        outputs[name] = proc.stdout + proc.stderr
    outputs["report-rich"] = _rendered(["report", str(rec)], tmp_path)
    outputs["diff-rich"] = _rendered(["diff", str(evil), str(rec)], tmp_path)
    outputs["error"] = subprocess.run([*SL, "emit", str(directory / "absent.json")], capture_output=True,
                                      timeout=60).stderr
    outputs["exec-error"] = subprocess.run([*SL, "-o", str(tmp_path / "p.json"), "--", f"./{OSC}/absent"],
                                           capture_output=True, timeout=60, cwd=tmp_path).stderr
    for name, out in outputs.items():
        _assert_escaped(out, name)
    for name in ("report-text", "report-markdown", "report-rich", "diff", "diff-rich", "error", "exec-error"):
        assert b"e\\x1b[31mRED\\x1b]0;title\\x07" in outputs[name], (name, outputs[name][-1500:])
    for name in ("report-profile", "diff-pair", "lint"):  # diff warns of the unknown name on stderr
        assert b"\\x1b[2Jevil" in outputs[name], (name, outputs[name][-1500:])
    assert b"[red]evil.json" in outputs["diff-rich"], outputs["diff-rich"][:1500]


# ---- full disk, no file descriptors -----------------------------------------------------------------------


@pytest.fixture
def full_disk(tmp_path: Path) -> Any:
    """A 256 KiB tmpfs, filled up; unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "full"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], check=True)
    try:
        for name in ("p.json", "r.json"):
            (mnt / name).write_text(KEEP)
        fd = os.open(mnt / "fill", os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            with pytest.raises(OSError, match="No space left"):
                for _ in range(1000):  # 4 MiB at most: bounded even if the size option were ignored
                    os.write(fd, b"\0" * 4096)
        finally:
            os.close(fd)
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_full_disk_is_one_line_old_files_kept(full_disk: Path, good: dict[str, Path], tmp_path: Path) -> None:
    p, r = str(full_disk / "p.json"), str(full_disk / "r.json")
    rec, prof = str(good["rec"]), str(good["prof"])
    elsewhere = str(tmp_path / "elsewhere.json")
    for argv, written in [(["-o", p, "--", "true"], p), (["record", "-o", r, "--", "true"], r),
                          (["-o", elsewhere, "--record", r, "--", "true"], r), (["emit", rec, "-o", p], p),
                          (["merge", rec, "-o", r], r), (["report", rec, "-o", p], p),
                          (["verify", "--add-missing", p, prof, "--", "true"], p)]:
        _one_line(_run(*argv, cwd=tmp_path), written, "No space left on device")
        assert (full_disk / "p.json").read_text() == KEEP and (full_disk / "r.json").read_text() == KEEP
        assert sorted(os.listdir(full_disk)) == ["fill", "p.json", "r.json"], argv  # no temp file left


@pytest.mark.parametrize("nofile", [5, 6, 7])
def test_too_few_file_descriptors_is_one_line(nofile: int, tmp_path: Path) -> None:
    """`ulimit -n` 5-7: Python starts, tracing cannot (before: an EMFILE traceback from os.pipe()); 4 and
    fewer stop the interpreter itself before any of seccomp-learn runs."""
    target = tmp_path / "p.json"
    target.write_text(KEEP)
    _one_line(_run("-o", str(target), "--", "true", nofile=nofile, cwd=tmp_path), "Too many open files",
              "ulimit -n")
    assert target.read_text() == KEEP
    assert sorted(os.listdir(tmp_path)) == ["p.json"]
