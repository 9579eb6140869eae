"""Emitted profiles in real OCI runtimes (crun, runc): the container starts, runs, and exits as without one.

Also re-measures the runtime extras: each syscall listed as always needed by a runtime is
removed in turn, and the container must then fail to start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import seccomp_learn
from oci import RUNTIMES, available, run

from fixtures import build
from tracer.profile.extras import RUNTIMES as EXTRAS

pytestmark = pytest.mark.parametrize("runtime", [pytest.param(r, marks=pytest.mark.skipif(
    not available(r), reason=f"{r} is not installed (.ci/run installs it)")) for r in RUNTIMES])

WORKLOADS = {
    "python3": ["python3", "-c", "import json, sqlite3; print(json.dumps({'ok': sqlite3.sqlite_version > '3'}))"],
    "sh-pipeline": ["sh", "-c", "echo hello world | tr a-z A-Z | wc -w"],
    "tar": ["sh", "-c", "mkdir -p d && echo x > d/f && tar czf t.tgz d && rm -r d && tar xzf t.tgz && cat d/f"],
    # The workload calls prctl itself (PR_SET_NAME), so its own prctl rule is argument-filtered; the
    # runtime's prctl calls (capability bounding set, keepcaps) must still be allowed.
    "prctl-set-name": ["python3", "-c", "import ctypes; print(ctypes.CDLL(None).prctl(15, b'x', 0, 0, 0))"],
}


def learn(tmp_path: Path, runtime: str, argv: list[str], *extra: str) -> dict[str, Any]:
    out = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}.json"
    work = tmp_path / f"learn-{out.stem}"
    work.mkdir()
    r = seccomp_learn("-q", "--format", "oci", "--runtime", runtime, *extra, "-o", str(out), "--", *argv, cwd=work)
    assert r.returncode == 0, r.stderr
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def drop(profile: dict[str, Any], name: str) -> dict[str, Any]:
    rules = [{**rule, "names": [n for n in rule["names"] if n != name]} for rule in profile["syscalls"]]
    return {**profile, "syscalls": [r for r in rules if r["names"]]}


def names(profile: dict[str, Any]) -> set[str]:
    return {n for rule in profile["syscalls"] for n in rule["names"]}


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_workload_runs_in_container_under_profile(runtime: str, workload: str, tmp_path: Path) -> None:
    argv = WORKLOADS[workload]
    bare = run(runtime, tmp_path / "bare", argv, None)
    assert bare.returncode == 0, bare.stderr
    profile = learn(tmp_path, runtime, argv)
    confined = run(runtime, tmp_path / "confined", argv, profile)
    assert (confined.returncode, confined.stdout) == (bare.returncode, bare.stdout), confined.stderr
    broken = run(runtime, tmp_path / "broken", argv, drop(profile, "openat" if workload != "sh-pipeline" else "pipe2"))
    assert broken.returncode != 0


def test_without_runtime_extras_the_container_does_not_start(runtime: str, tmp_path: Path) -> None:
    argv = [str(build("exitcode")), "0"]
    r = run(runtime, tmp_path / "c", argv, learn(tmp_path, "none", argv))
    assert r.returncode != 0
    assert r.stdout == ""


def test_each_listed_runtime_syscall_is_needed(runtime: str, tmp_path: Path) -> None:
    """Re-measure the versioned data: drop each 'needs' syscall the workload does not use itself."""
    argv = [str(build("exitcode")), "0"]
    profile = learn(tmp_path, runtime, argv)
    assert run(runtime, tmp_path / "full", argv, profile).returncode == 0
    own = names(learn(tmp_path, "none", argv, "--no-fallback"))
    not_needed = []
    for name in sorted(set(EXTRAS[runtime].needs) - own):
        if run(runtime, tmp_path / f"without-{name}", argv, drop(profile, name)).returncode == 0:
            not_needed.append(name)
    assert not_needed == [], f"{runtime} started without {not_needed}: update tracer/extras.py"


def test_profile_for_two_hosts_runs_and_the_native_part_holds(runtime: str, tmp_path: Path) -> None:
    """`--arch x86_64,aarch64`: the runtime loads a two-arch filter; names this host lacks (arm64's *at calls
    are all amd64 names too, amd64's mkdir is not an arm64 name) are left out per arch, and mkdir stays enforced.
    What runc 1.1.5 and crun 1.8.1 do with each form (docs/architecture.md, "Profiles for two hosts"):"""
    argv = ["sh", "-c", "mkdir /tmp/d && ln -s d /tmp/l && readlink /tmp/l && rm -r /tmp/d"]
    bare = run(runtime, tmp_path / "bare", argv, None)
    assert (bare.returncode, bare.stdout) == (0, "d\n"), bare.stderr
    profile = learn(tmp_path, runtime, argv, "--arch", "x86_64,aarch64")
    assert profile["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"]
    assert {"mkdir", "mkdirat"} <= names(profile)
    forms = {
        "two arches": profile,
        # an architecture list without the host's: libseccomp keeps the native arch in every filter
        "arm64 only": {**profile, "architectures": ["SCMP_ARCH_AARCH64"]},
        # with the 32-bit compat arches too, as Docker's archMap gives them
        "with compat": {**profile, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64",
                                                     "SCMP_ARCH_ARM"]},
        # a name no arch has: both runtimes skip it without a word
        "unknown name": {**profile, "syscalls": [*profile["syscalls"], {"names": ["no_such_call"],
                                                                        "action": "SCMP_ACT_ALLOW"}]},
    }
    for form, seccomp in forms.items():
        confined = run(runtime, tmp_path / form.replace(" ", "-"), argv, seccomp)
        assert (confined.returncode, confined.stdout) == (0, "d\n"), f"{form}: {confined.stderr}"
    broken = run(runtime, tmp_path / "no-mkdir", argv, drop(profile, "mkdir"))
    assert broken.returncode != 0 and "mkdir" in broken.stderr
