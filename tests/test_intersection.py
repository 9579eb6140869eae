"""`diff --against-baseline`: the names it says a KEP-6061 node drops are those Docker's own default profile
(upstream JSON, ../shared/reference) makes the kernel refuse."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from helpers import SHARED, run_under, seccomp_learn

from tracer.baseline.read import profile_from_document

# Calls that are harmless as made here (every argument given, zero unless said: no pointer, a query, a no-op),
# each refused or not by Docker.
CALLS = {"getpid": (), "read": (2**64 - 1,), "mount": (), "unshare": (), "bpf": (), "clone3": (), "keyctl": (),
         "setns": (2**64 - 1,), "personality": (0xFFFFFFFF,), "syslog": ()}
REFUSED = 200  # the baseline's default errno in this test, so a refusal is told from the kernel's own errors
SCRIPT = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
for word in sys.argv[1:]:
    name, nr, *args = word.split(":")
    args = [int(a) for a in args] + [0] * (6 - len(args))  # registers a call does not get are not left to chance
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(int(nr)), *(ctypes.c_ulong(a) for a in args))
    print(name, ctypes.get_errno() if r == -1 else 0)
"""


def test_dropped_names_are_what_docker_refuses(tmp_path: Path) -> None:
    docker = SHARED / "docker-default.json"
    if not docker.is_file():
        pytest.skip("../shared/reference/docker-default.json is not here")
    from tracer.syscalls.names import number_of

    upstream = json.loads(docker.read_text())
    baseline = profile_from_document({**upstream, "defaultErrnoRet": REFUSED}, str(docker))
    argv = [sys.executable, "-c", SCRIPT,
            *(":".join([name, str(number_of("x86_64", name)), *map(str, args)]) for name, args in CALLS.items())]
    code, out = run_under(baseline, argv, tmp_path)
    assert code == 0
    errnos = {name: int(e) for name, e in (line.split() for line in out.splitlines())}
    refused = {name for name, e in errnos.items() if e in (REFUSED, 38)}  # 38: ENOSYS, Docker's answer to clone3
    assert {"mount", "bpf"} <= refused and "getpid" not in refused  # the reference itself works

    profile = tmp_path / "wide.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                                   "syscalls": [{"names": sorted(CALLS), "action": "SCMP_ACT_ALLOW"}]}))
    done = seccomp_learn("diff", "--against-baseline", str(profile))
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Silently dropped")) + 2
    listed = set()
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        listed.add(line.split()[0])
    assert listed == refused
    assert f"{len(CALLS) - len(refused)} of the {len(CALLS)}" in done.stdout

    narrow = tmp_path / "narrow.json"
    narrow.write_text(json.dumps({**json.loads(profile.read_text()), "syscalls": [
        {"names": sorted(set(CALLS) - refused), "action": "SCMP_ACT_ALLOW"}]}))
    kept = seccomp_learn("diff", "--against-baseline", str(narrow))
    assert kept.returncode == 0 and "drops nothing" in kept.stdout
