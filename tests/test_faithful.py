"""Tracing changes nothing the workload sees: the signal-faithfulness fixtures under every backend.

Each fixture (fixtures/nonblock.c ... jobctl.c; docs/kernel-facts.md, "Signals and tracing") installs
its handlers without SA_RESTART, prints one verdict line and exits 1 when it saw something an
untraced run never shows. The references: each passes untraced; `strace -f` fails epollchld (ptrace
queues signals the task ignores), and the unfaithful notify-only backend fails zeroread, so the
fixtures can fail. Every loop in them is bounded, and every run here has a timeout.
"""

from __future__ import annotations

import ctypes
import json
import mmap
import os
import signal
import struct
import subprocess
import time
from pathlib import Path

import pytest
from helpers import BACKENDS, seccomp_learn

from fixtures import build
from tracer.capture.notify import notify_supported
from tracer.capture.notify_safe import hybrid_filter, listener_takes
from tracer.kernel import ptrace as pt
from tracer.syscalls.abi import AUDIT_ARCH_X86_64
from tracer.syscalls.names import number_of

FIXTURES = ["nonblock", "zeroread", "blockread", "epollchld", "sigreturn", "jobctl"]
# The shell pipeline of docs/kernel-facts.md, in one traced shell so that the tracer's start-up is paid once.
PIPELINE = ('i=0; while [ $i -lt {n} ]; do r=$(sh -c "echo hello world | tr a-z A-Z | wc -w"); '
            '[ "$r" = 2 ] || {{ echo "UNFAITHFUL: round $i printed [$r]"; exit 1; }}; i=$((i+1)); done; '
            'echo "faithful: {n} pipelines printed 2"')
PIPELINE_ROUNDS = {"notify": 300, "ptrace": 150}  # ptrace stops cost 3x more: a shorter run, same stress
NOTIFY_ONLY = pytest.mark.skipif(not notify_supported(), reason="no seccomp user notification on this kernel")


def _verdict(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in proc.stdout.splitlines() if line.startswith(("faithful:", "UNFAITHFUL:"))]
    return lines[-1] if lines else f"no verdict (exit {proc.returncode}): {proc.stderr[-300:]}"


def _traced(backend: str, argv: list[str], tmp_path: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return seccomp_learn("record", "-q", "--backend", backend, "-o", str(tmp_path / "r.json"), "--", *argv,
                         timeout=timeout)


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_passes_untraced(name: str) -> None:
    proc = subprocess.run([str(build(name))], capture_output=True, text=True, timeout=30)
    assert (proc.returncode, _verdict(proc).split(":")[0]) == (0, "faithful"), _verdict(proc)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_is_faithful(name: str, backend: str, tmp_path: Path) -> None:
    proc = _traced(backend, [str(build(name))], tmp_path)
    assert (proc.returncode, _verdict(proc).split(":")[0]) == (0, "faithful"), _verdict(proc)


@pytest.mark.parametrize("backend", BACKENDS)
def test_shell_pipeline_never_fails_or_hangs(backend: str, tmp_path: Path) -> None:
    script = PIPELINE.format(n=PIPELINE_ROUNDS[backend])
    proc = _traced(backend, ["sh", "-c", script], tmp_path, timeout=90)
    assert (proc.returncode, _verdict(proc).split(":")[0]) == (0, "faithful"), _verdict(proc)


def test_epollchld_fails_under_strace() -> None:
    """The reference: any ptrace tracer that does not repair ignored signals makes epoll_wait fail."""
    proc = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", str(build("epollchld")), "100"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and _verdict(proc).startswith("UNFAITHFUL: epoll_wait did not time out"), _verdict(proc)


def test_epoll_wait_is_counted_once_when_repaired(tmp_path: Path) -> None:
    """A call restarted by the ignored-signal repair was made once by the workload: counted once."""
    for backend in ("ptrace", "notify"):
        proc = _traced(backend, [str(build("epollchld")), "50"], tmp_path)
        assert proc.returncode == 0, _verdict(proc)
        recording = json.loads((tmp_path / "r.json").read_text())
        assert recording["runs"][0].get("signal_repairs", 0) > 0  # the repair did happen
        assert recording["abis"]["x86_64"]["epoll_wait"]["count"] == 50


@NOTIFY_ONLY
def test_notify_only_warns_and_is_unfaithful(tmp_path: Path) -> None:
    """The backend without ptrace says, on stderr and in the recording, that it can change the workload: it does."""
    proc = _traced("notify-only", [str(build("zeroread"))], tmp_path)
    assert "warning: --backend notify-only can change what the workload does" in proc.stderr
    assert "can change what the workload does" in (tmp_path / "r.json").read_text()
    # Untraced it always exits 0; here reads fail (exit 1), or one of its set-up calls did (exit 2).
    assert proc.returncode in (1, 2), _verdict(proc)


@NOTIFY_ONLY
@pytest.mark.parametrize("name", ["blockread", "epollchld", "jobctl"])
def test_notify_only_keeps_what_needs_no_repair(name: str, tmp_path: Path) -> None:
    """Without ptrace nothing queues ignored signals or touches job control: these hold even there."""
    proc = _traced("notify-only", [str(build(name))], tmp_path)
    assert "warning: --backend notify-only" in proc.stderr
    assert (proc.returncode, _verdict(proc).split(":")[0]) == (0, "faithful"), _verdict(proc)


ERRNO_LISTENER, ERRNO_TRACER = 11, 22
ROUTED = [  # (name, arguments): calls whose route depends on their arguments, and a few that do not
    ("getppid", ()), ("read", (0, 0, 0)), ("openat", (-100, 0, 0)), ("execve", (0, 0, 0)),
    ("futex", (0, 1, 0, 0)), ("futex", (0, 0x81, 0, 0)), ("futex", (0, 0, 0, 0)), ("futex", (0, 0x80, 0, 1234)),
    ("futex", (0, 0x189, 0, 1 << 40)), ("futex", (0, 9, 0, 0)), ("futex", (0, 6, 0, 0)),
    ("mmap", (0, 4096, 3, 0x22, -1, 0)), ("mmap", (0, 4096, 3, 0x2, 3, 0)),
    ("fcntl", (0, 1)), ("fcntl", (0, 7)), ("fcntl", (0, 38)), ("fcntl", (0, (1 << 32) | 7)),
    ("flock", (0, 2)), ("flock", (0, 6)), ("wait4", (-1, 0, 1, 0)), ("wait4", (-1, 0, 0, 0)),
    ("waitid", (0, 0, 0, 1)), ("waitid", (0, 0, 0, 4)), ("ioctl", (0, 0x5401)), ("ioctl", (0, 0x5402)),
    ("getrandom", (0, 0, 1)), ("getrandom", (0, 0, 4)), ("getrandom", (0, 0, 0)), ("rt_sigreturn", ()),
]


def test_the_kernel_routes_calls_as_the_repair_assumes() -> None:
    """hybrid_filter() run by the kernel (its two actions swapped for two errnos) sends each call where
    listener_takes() says; the repair relies on that to tell a withdrawn call from an interrupted one."""
    shared = mmap.mmap(-1, 4096)
    libc = ctypes.CDLL(None, use_errno=True)
    prog = hybrid_filter(0x00050000 | ERRNO_LISTENER, 0x00050000 | ERRNO_TRACER)  # SECCOMP_RET_ERRNO | errno
    calls = [(number_of("x86_64", name), [ctypes.c_long(a) for a in args]) for name, args in ROUTED]
    pid = os.fork()
    if pid == 0:  # from the filter on, every call fails with an errno: report through shared memory, then spin
        results = (ctypes.c_int * 64).from_buffer(shared)
        pt.prctl(pt.PR_SET_NO_NEW_PRIVS, 1)
        prog.install()
        for i, (nr, args) in enumerate(calls):
            libc.syscall(ctypes.c_long(nr), *args)
            results[i + 1] = ctypes.get_errno()
        results[0] = 1
        while True:
            pass
    deadline = time.monotonic() + 10
    while struct.unpack_from("i", shared)[0] != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    kernel = struct.unpack_from(f"{len(ROUTED)}i", shared, 4)
    for (name, args), errno_seen in zip(ROUTED, kernel, strict=True):
        words = [a & (2**64 - 1) for a in (*args, 0, 0, 0, 0, 0, 0)[:6]]
        expected = ERRNO_LISTENER if listener_takes(AUDIT_ARCH_X86_64, number_of("x86_64", name) or -1, words) \
            else ERRNO_TRACER
        assert errno_seen == expected, f"{name}{args}: kernel errno {errno_seen}, expected {expected}"
    assert {ERRNO_LISTENER, ERRNO_TRACER} == set(kernel)
