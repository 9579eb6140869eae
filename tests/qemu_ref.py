"""What real arm64 programs call, from qemu-user: the reference for profiles meant for arm64 hosts.

``qemu_syscalls(argv, sysroot)`` runs an arm64 program under ``qemu-aarch64-static -strace`` and returns
a Counter of aarch64 syscall names plus the program's exit status. ``arm64_sysroot()`` brings the arm64
builds of a few Debian packages (the same release as the amd64 ones installed here) into a cache
directory, without touching dpkg's state. What follows was found by experiment with qemu 7.2 (Debian 12).

How qemu is run::

    qemu-aarch64-static -L SYSROOT -strace PROGRAM ARGS... 2>LOG

* ``-strace`` logs every syscall the guest makes (not qemu's own host calls), to qemu's log, which is
  stderr. Not ``-D FILE``: qemu's log file is an ordinary descriptor of the process (3), which the guest
  sees and may close (dash's ``exec 3>g`` did, and the rest of its calls went unlogged). stderr has the same
  weakness at fd 2: coreutils and xz close it just before they exit, so the first task's log must end in
  exit/exit_group or in close(2), or it is refused as incomplete. The log is mixed with the program's own
  stderr, so the workloads write nothing there. Unbuffered, the pieces of one line of concurrent tasks can
  interleave; names are still found (each call starts with ``PID name(``), and an argument is used only
  when its text is whole. Forked children keep
  emulating and keep logging; an ``execve`` of another arm64 binary would need binfmt_misc (not used: the
  workloads are single programs, or busybox, whose shell runs its applets without exec).
* qemu loads the program itself, so the log has no initial ``execve``; the calls the program makes
  start with its first ``brk``.
* ``-L SYSROOT`` makes the guest's absolute paths open SYSROOT/PATH where that exists (the dynamic
  loader, libc and libraries of the arm64 packages), and the host path otherwise (the workload's files).
* A line is ``PID name(args) = ret``. A call that blocks is printed without its return, and the next
  line of another task may follow on the same line: ``8140 wait4(-1,...)8142 rt_sigaction(...)``, with
  `` = 8142`` on a later line. Every ``PID name(`` that starts a line or follows a ``)`` is one call.
* A call qemu's strace table lacks prints as ``PID Unknown syscall NR`` (rseq is 293); libseccomp's
  aarch64 table names it, never the project's own.
* Every name is checked against libseccomp's aarch64 table: a name it does not know is qemu spelling a
  call differently, and raises, so a mismatch is never counted under the wrong name.
* ``--- SIGCHLD {...} ---`` and return-only lines are not calls.
* qemu 7.2 gives the guest no vDSO, so clock_gettime, gettimeofday and clock_getres (answered by the
  vDSO on a real arm64 host, as on amd64) show up as syscalls: ``VDSO`` names them.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

QEMU = "qemu-aarch64-static"
# Answered by the arm64 kernel's vDSO (arch/arm64/kernel/vdso/vdso.lds.S exports these three).
VDSO = frozenset({"clock_gettime", "gettimeofday", "clock_getres"})
# The arm64 builds used by tests/test_multiarch.py, with the libraries their programs load.
ARM64_PACKAGES = (
    "busybox-static", "libc6", "coreutils", "libacl1", "libattr1", "libgmp10", "libselinux1", "libpcre2-8-0",
    "python3.11-minimal", "libpython3.11-minimal", "libexpat1", "zlib1g", "libssl3", "sqlite3", "libsqlite3-0",
    "libreadline8", "libtinfo6", "xz-utils", "liblzma5", "dash",
)

_CALL = re.compile(r"(?:^|(?<=\)))(?P<pid>\d+) "
                   r"(?:Unknown syscall (?P<nr>\d+)|(?P<name>[a-z_][a-z0-9_]*)\((?P<arg0>[^,)]*))")
# linux/sched.h: the clone flags qemu prints by name (the low byte, the exit signal, it prints as a number).
CLONE_FLAGS = {
    "CLONE_VM": 0x100, "CLONE_FS": 0x200, "CLONE_FILES": 0x400, "CLONE_SIGHAND": 0x800, "CLONE_PIDFD": 0x1000,
    "CLONE_PTRACE": 0x2000, "CLONE_VFORK": 0x4000, "CLONE_PARENT": 0x8000, "CLONE_THREAD": 0x10000,
    "CLONE_NEWNS": 0x20000, "CLONE_SYSVSEM": 0x40000, "CLONE_SETTLS": 0x80000, "CLONE_PARENT_SETTID": 0x100000,
    "CLONE_CHILD_CLEARTID": 0x200000, "CLONE_DETACHED": 0x400000, "CLONE_UNTRACED": 0x800000,
    "CLONE_CHILD_SETTID": 0x1000000, "CLONE_NEWCGROUP": 0x2000000, "CLONE_NEWUTS": 0x4000000,
    "CLONE_NEWIPC": 0x8000000, "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000, "CLONE_IO": 0x80000000,
}


class QemuError(RuntimeError):
    """qemu or the arm64 packages are missing, or the log has a name libseccomp does not know."""


def _aarch64() -> tuple[object, object]:
    import pyseccomp

    return pyseccomp, pyseccomp.Arch.AARCH64


def aarch64_name(nr: int) -> str:
    """libseccomp's name for an aarch64 syscall number."""
    seccomp, arch = _aarch64()
    name = seccomp.resolve_syscall(arch, nr)  # type: ignore[attr-defined]
    return name.decode() if isinstance(name, bytes) else str(name)


def aarch64_number(name: str) -> int:
    """libseccomp's aarch64 number for a name; negative when aarch64 has no such call."""
    seccomp, arch = _aarch64()
    return int(seccomp.resolve_syscall(arch, name))  # type: ignore[attr-defined]


def parse_qemu_log(lines: Iterable[str], first_args: dict[str, set[str]] | None = None) -> collections.Counter[str]:
    """Count the guest syscalls in a ``qemu -strace`` log; see the module docstring. With ``first_args``, also
    collect each call's first argument as qemu printed it (``prctl`` -> {"15", "16"})."""
    counts: collections.Counter[str] = collections.Counter()
    for line in lines:
        for m in _CALL.finditer(line):
            name = aarch64_name(int(m["nr"])) if m["nr"] else m["name"]
            if aarch64_number(name) < 0:
                raise QemuError(f"qemu logged {name!r}, which libseccomp's aarch64 table does not know: {line!r}")
            counts[name] += 1
            if first_args is not None and m["arg0"] is not None:
                first_args.setdefault(name, set()).add(m["arg0"])
    return counts


_FLAGS_TEXT = re.compile(r"(?:CLONE_[A-Z_]+|0x[0-9a-f]+)(?:\|(?:CLONE_[A-Z_]+|0x[0-9a-f]+))*")


def clone_flags(text: str) -> int | None:
    """qemu's clone flags (``CLONE_VM|CLONE_FS|0x11``) as the number; None when the text is not whole."""
    if not _FLAGS_TEXT.fullmatch(text):
        return None
    value = 0
    for part in text.split("|"):
        value |= CLONE_FLAGS[part] if part in CLONE_FLAGS else int(part, 0)
    return value


def qemu_binary() -> str:
    path = shutil.which(QEMU)
    if path is None:
        raise QemuError(f"{QEMU} not found on PATH (apt-get install qemu-user-static)")
    return path


def qemu_syscalls(argv: Sequence[str], sysroot: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None,
                  env: Mapping[str, str] | None = None, *, timeout: float = 120.0,
                  first_args: dict[str, set[str]] | None = None) -> tuple[collections.Counter[str], int]:
    """Run the arm64 program argv[0] (a path inside sysroot) under qemu; return (name counts, exit status)."""
    proc = subprocess.run([qemu_binary(), "-L", os.fspath(sysroot), "-strace", *argv], cwd=cwd,
                          env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout, check=False)
    lines = proc.stderr.decode(errors="replace").splitlines()
    first = next((m["pid"] for line in lines for m in [_CALL.match(line)] if m), None)
    if first is None or not any(re.match(rf"{first} (exit(_group)?\(|close\(2\))", line) for line in lines):
        raise QemuError(f"qemu's log for {list(argv)!r} (exit {proc.returncode}) is empty or does not end the "
                        f"first task: {' | '.join(lines[-3:])}")
    return parse_qemu_log(lines, first_args), proc.returncode


# ---- the arm64 packages --------------------------------------------------------------------------------


def default_cache() -> Path:
    """Where the arm64 packages are kept between runs (SECCOMP_LEARN_ARM64_CACHE overrides it)."""
    if os.environ.get("SECCOMP_LEARN_ARM64_CACHE"):
        return Path(os.environ["SECCOMP_LEARN_ARM64_CACHE"])
    if os.geteuid() == 0:
        return Path("/var/cache/seccomp-learn-arm64")
    return Path(__file__).resolve().parent.parent / "build" / "arm64"


def _apt(cache: Path, *args: str, timeout: float) -> None:
    """apt-get with a private state: arm64 package lists in the cache, dpkg's status and arches untouched."""
    opts = [f"-oDir::State::Lists={cache / 'apt' / 'lists'}", f"-oDir::Cache={cache / 'apt' / 'cache'}",
            "-oDir::State::status=/dev/null", "-oAPT::Architecture=arm64", "-oAPT::Architectures::=arm64",
            "-oDebug::NoLocking=1", "-qq"]
    for d in ("apt/lists/partial", "apt/cache/archives/partial", "debs"):
        (cache / d).mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["apt-get", *opts, *args], cwd=cache / "debs", capture_output=True, text=True,
                          timeout=timeout, check=False)
    if proc.returncode != 0:
        raise QemuError(f"apt-get {args[0]} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")


def arm64_sysroot(cache: Path | None = None, packages: Sequence[str] = ARM64_PACKAGES) -> Path:
    """The arm64 packages extracted into one tree (cache/root), downloaded once; returns the tree."""
    cache = cache or default_cache()
    root = cache / "root"
    marker = root / ".packages"
    wanted = "\n".join(sorted(packages)) + "\n"
    if marker.exists() and marker.read_text() == wanted:
        return root
    _apt(cache, "update", timeout=600)
    for old in (cache / "debs").glob("*.deb"):
        old.unlink()
    _apt(cache, "download", *packages, timeout=600)
    debs = sorted((cache / "debs").glob("*.deb"))
    if len(debs) != len(packages):
        raise QemuError(f"expected {len(packages)} arm64 packages in {cache / 'debs'}, found {len(debs)}")
    staging = Path(tempfile.mkdtemp(prefix="root.", dir=cache))
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(staging)], check=True, timeout=300)
    (staging / ".packages").write_text(wanted)
    if root.exists():
        shutil.rmtree(root)
    staging.rename(root)
    return root
