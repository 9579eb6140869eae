"""--base PROFILE: the kernel allows what the base allows; only the rest is traced."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import seccomp_learn

from fixtures import build


def names(profile: Path) -> set[str]:
    return {n for rule in json.loads(profile.read_text())["syscalls"] for n in rule["names"]}


def test_incremental_relearning_traces_only_what_is_new(tmp_path: Path) -> None:
    base, full_trace = tmp_path / "base.json", tmp_path / "full.trace.json"
    workload = ["sh", "-c", "echo hi > out.txt; cat out.txt"]
    r = seccomp_learn("-q", "-o", str(base), "--record", str(full_trace), "--", *workload, cwd=tmp_path)
    assert r.returncode == 0
    new, new_trace = tmp_path / "new.json", tmp_path / "new.trace.json"
    mkdir = str(build("mkdir"))
    again = [*workload[:2], f"{workload[2]}; {mkdir} {tmp_path / 'd'}"]
    r = seccomp_learn("-q", "-o", str(new), "--record", str(new_trace), "--base", str(base), "--", *again,
                      cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "hi\n"
    rec = json.loads(new_trace.read_text())
    run = rec["runs"][0]
    assert run["incremental_base"]["profile"] == str(base)
    full = json.loads(full_trace.read_text())["runs"][0]["syscalls"]
    assert run["syscalls"] < full / 3  # most calls were allowed by the kernel, not traced
    traced = {n for n, e in rec["abis"]["x86_64"].items() if e["count"]}
    assert {"mkdir", "rmdir"} <= traced
    assert names(new) == names(base) | {"mkdir", "rmdir"}


def test_incremental_profile_is_enforceable(tmp_path: Path) -> None:
    base, new = tmp_path / "base.json", tmp_path / "new.json"
    argv = ["python3", "-c", "import json"]
    assert seccomp_learn("-q", "-o", str(base), "--", *argv).returncode == 0
    assert seccomp_learn("-q", "-o", str(new), "--base", str(base), "--", *argv).returncode == 0
    assert seccomp_learn("verify", str(new), "--", *argv).returncode == 0
