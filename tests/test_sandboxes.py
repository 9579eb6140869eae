"""Profiles for the sandboxes outside containers, checked by the sandboxes themselves.

A workload is learned once on the host; its recording is emitted as a systemd drop-in, a classic-BPF
filter, its PFC text and a firejail profile. systemd-analyze (verify, syscall-filter) judges the drop-in,
bubblewrap loads the BPF filter with `--seccomp FD` and the kernel enforces it, firejail loads the keep list.
What the files hold is read here with the test's own parsing, not with the project's reader.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import SL, seccomp_learn

WORKLOAD = ["sh", "-c", "echo hi > out.txt; cat out.txt"]
needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
needs_firejail = pytest.mark.skipif(shutil.which("firejail") is None, reason="firejail is not installed")
needs_systemd_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The workload's recording and every sandbox format emitted from it."""
    d = tmp_path_factory.mktemp("sandboxes")
    rec = d / "w.trace.json"
    r = seccomp_learn("record", "-q", "-o", str(rec), "--", *WORKLOAD, cwd=d)
    assert r.returncode == 0 and r.stdout == "hi\n", r.stderr
    out = {"recording": rec}
    for fmt, name in (("systemd", "w.conf"), ("bpf", "w.bpf"), ("pfc", "w.pfc"), ("firejail", "w.profile"),
                      ("docker", "w.json")):
        out[fmt] = d / name
        extra = ["--runtime", "none"] if fmt == "docker" else []
        r = seccomp_learn("emit", "-q", "--format", fmt, *extra, str(rec), "-o", str(out[fmt]))
        assert r.returncode == 0, r.stderr
    return out


def _allowed_json(path: Path) -> set[str]:
    return {n for r in json.loads(path.read_text())["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}


def _settings(path: Path) -> dict[str, list[str]]:
    """Every KEY=VALUE of a unit file, values of repeated keys in order."""
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def _systemd_known_names() -> set[str]:
    """Every name this machine's systemd knows: the members of its groups, nested groups expanded."""
    text = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager"], capture_output=True, text=True,
                          check=True).stdout
    members: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("@"):
            group = members.setdefault(line.strip(), [])
        elif line.strip() and not line.strip().startswith("#"):
            group.append(line.strip())

    def names(word: str) -> set[str]:
        return {n for m in members[word] for n in names(m)} if word.startswith("@") else {word}

    return {n for g in members for n in names(g)}


# ---- systemd --------------------------------------------------------------------------------------------


@needs_systemd_analyze
def test_drop_in_lists_the_allowed_names_each_known_to_systemd(learned: dict[str, Path]) -> None:
    settings = _settings(learned["systemd"])
    listed = [n for value in settings["SystemCallFilter"] for n in value.split()]
    assert set(listed) == _allowed_json(learned["docker"]) and len(listed) == len(set(listed))
    assert sorted(set(listed) - _systemd_known_names()) == []
    assert settings["SystemCallArchitectures"] == ["native"] and settings["SystemCallErrorNumber"] == ["EPERM"]


@needs_systemd_analyze
def test_drop_in_passes_systemd_analyze_verify(learned: dict[str, Path], tmp_path: Path) -> None:
    unit = tmp_path / "sl-demo.service"
    unit.write_text("[Unit]\nDescription=seccomp-learn test\n[Service]\nType=oneshot\nExecStart=/bin/true\n")
    drop_in = tmp_path / "sl-demo.service.d" / "seccomp-learn.conf"
    drop_in.parent.mkdir()
    for text, clean in ((learned["systemd"].read_text(), True),
                        (learned["systemd"].read_text() + "SystemCallFilter=no_such_call\n", False)):
        drop_in.write_text(text)
        r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
        about_drop_in = [line for line in r.stderr.splitlines() if line.startswith(str(drop_in))]
        assert r.returncode == 0, r.stderr
        # the control (a name systemd does not know) shows that verify did read the drop-in
        assert about_drop_in == [] if clean else "no_such_call" in "".join(about_drop_in), r.stderr


def test_drop_in_says_what_systemd_cannot_express(learned: dict[str, Path], tmp_path: Path) -> None:
    rec = json.loads(learned["recording"].read_text())
    rec["abis"]["i386"] = {"getpid": rec["abis"]["x86_64"]["write"]}  # an i386 call was seen too
    path = tmp_path / "i386.trace.json"
    path.write_text(json.dumps(rec))
    r = seccomp_learn("emit", "-q", "--format", "systemd", str(path), "-o", "-")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^SystemCallArchitectures=native x86$", r.stdout, re.M), r.stdout
    # the workload's fcntl and the ENOSYS fallbacks carry rules a name list cannot hold: the comment names them
    docker = json.loads(learned["docker"].read_text())
    ruled = {n for rule in docker["syscalls"] if rule.get("args") for n in rule["names"]}
    comment = "\n".join(line for line in r.stdout.splitlines() if line.startswith("#"))
    assert ruled and all(re.search(rf"^#   {n}: the profile allows it only for ", comment, re.M) for n in ruled)
    assert "ENOSYS" in comment


def test_systemd_unit_writes_only_the_drop_in_under_root_dir(learned: dict[str, Path], tmp_path: Path) -> None:
    r = seccomp_learn("systemd-unit", "web.service", str(learned["recording"]), "--root-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    written = [p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()]
    assert written == [Path("etc/systemd/system/web.service.d/seccomp-learn.conf")]
    assert (tmp_path / written[0]).read_text() == learned["systemd"].read_text()
    for bad in ("../web", "a/b", ".hidden", ""):
        r = seccomp_learn("systemd-unit", bad, str(learned["recording"]), "--root-dir", str(tmp_path))
        assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr, (bad, r)
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()] == written


# ---- bubblewrap: the compiled filter -----------------------------------------------------------------------


def _without(learned: dict[str, Path], name: str, fmt: str, tmp_path: Path) -> bytes:
    """The workload's profile in `fmt` with `name` taken out of its recording."""
    rec = json.loads(learned["recording"].read_text())
    del rec["abis"]["x86_64"][name]
    cut = tmp_path / f"no-{name}.trace.json"
    cut.write_text(json.dumps(rec))
    return subprocess.run([*SL, "emit", "-q", "--format", fmt, str(cut), "-o", "-"], capture_output=True,
                          check=True).stdout


def _bwrap(bpf: bytes, argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """argv under `bwrap --seccomp FD` with this filter, the root read-only and cwd writable."""
    read, write = os.pipe()
    os.write(write, bpf)  # a filter is at most 32 KiB: it fits the pipe
    os.close(write)
    try:
        return subprocess.run(["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--bind", str(cwd), str(cwd),
                               "--chdir", str(cwd), "--seccomp", str(read), *argv], capture_output=True, text=True,
                              pass_fds=(read,), timeout=60)
    finally:
        os.close(read)


@needs_bwrap
def test_bpf_holds_under_bwrap_and_removing_openat_breaks_it(learned: dict[str, Path], tmp_path: Path) -> None:
    plain = subprocess.run(WORKLOAD, capture_output=True, text=True, cwd=tmp_path, check=False)
    (tmp_path / "out.txt").unlink()
    under = _bwrap(learned["bpf"].read_bytes(), WORKLOAD, tmp_path)
    assert (under.returncode, under.stdout) == (plain.returncode, plain.stdout) == (0, "hi\n"), under.stderr
    without = _bwrap(_without(learned, "openat", "bpf", tmp_path), WORKLOAD, tmp_path)  # opens out.txt
    assert without.returncode != 0 and without.stdout == "", without


def test_bpf_bytes_are_deterministic_and_pfc_shows_the_arches(learned: dict[str, Path], tmp_path: Path) -> None:
    again = tmp_path / "again.bpf"
    r = seccomp_learn("emit", "-q", "--format", "bpf", str(learned["recording"]), "-o", str(again))
    assert r.returncode == 0 and again.read_bytes() == learned["bpf"].read_bytes(), r.stderr
    assert len(again.read_bytes()) % 8 == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["again.bpf"]
    pfc = learned["pfc"].read_text()
    assert "# filter for arch x86_64 " in pfc and "arch x86 " not in pfc
    r = seccomp_learn("emit", "-q", "--format", "pfc", "--arch", "x86_64,x86", str(learned["recording"]), "-o", "-")
    assert "# filter for arch x86_64 " in r.stdout and "# filter for arch x86 " in r.stdout, r.stdout


# ---- firejail ------------------------------------------------------------------------------------------------


def _firejail(options: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["firejail", "--quiet", *options, *WORKLOAD], capture_output=True, text=True, cwd=cwd,
                          timeout=60, check=False)


@needs_firejail
def test_firejail_keep_list_and_profile_hold(learned: dict[str, Path], tmp_path: Path) -> None:
    text = learned["firejail"].read_text()
    keep = re.findall(r"^seccomp\.keep (\S+)$", text, re.M)
    assert len(keep) == 1 and set(keep[0].split(",")) == _allowed_json(learned["docker"])
    assert "seccomp.block-secondary" in text.splitlines() and "seccomp-error-action EPERM" in text.splitlines()
    for options in (["--noprofile", f"--seccomp.keep={keep[0]}"], [f"--profile={learned['firejail']}"]):
        r = _firejail(options, tmp_path)
        assert (r.returncode, r.stdout) == (0, "hi\n"), (options, r.stderr)
        (tmp_path / "out.txt").unlink()
    cut = tmp_path / "no-openat.profile"
    cut.write_bytes(_without(learned, "openat", "firejail", tmp_path))
    r = _firejail([f"--profile={cut}"], tmp_path)
    assert r.returncode != 0 and r.stdout == "", r
