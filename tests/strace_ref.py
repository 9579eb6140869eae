"""Reference syscall counts from strace, for tracer-vs-strace parity tests.

``strace_syscalls(argv)`` runs the workload under strace 6.1 and returns a Counter of
``(abi, name) -> count`` plus the workload's exit status. What follows was found by experiment
with strace 6.1 on Linux 6.18 x86_64.

How strace is run::

    strace -f -n --quiet=attach,exit -s 0 -o LOG argv...

* ``-qq`` is ``--quiet=attach,personality,exit``, and ``-q`` also covers ``personality``. Both
  suppress the ``[ Process PID=N runs in 32 bit mode. ]`` lines that mark ABI switches. The default
  (no ``-q``) suppresses them too when a command is run with ``-o``. So ``--quiet=attach,exit`` is
  used: it is ``-qq`` minus ``personality``. (``-q`` and ``--quiet`` cannot be combined.) The
  personality lines go to the ``-o`` log, not to stderr, with the usual pid prefix under ``-f``.
* An i386 syscall made with ``int $0x80`` from a 64-bit process is printed under its i386 name.
  ``getpid`` is i386 nr 20 and x86_64 nr 39, yet the line just says ``getpid()``. The name alone
  often cannot tell the ABI, so the ABI comes from two sources:

  - the personality lines, tracked per pid. strace 6.1 keeps the personality per task (tcb), so
    the lines of different pids interleave correctly. A new task starts in strace's *current*
    personality: that of the last syscall decoded from any task. A child forked by an i386
    ``fork`` therefore gets no line if it stays in i386 mode, and gets a "64 bit" line when it
    first uses ``syscall``. This module mirrors that: a pid seen for the first time takes the ABI
    of the last syscall line in the log.
  - ``-n`` (``--syscall-number``), which prefixes every line with ``[ NR]``, the number in the
    task's current ABI. An x32 number keeps its 0x40000000 bit. If the tracked ABI disagrees
    with the number (our table's name for (abi, nr) is not strace's name), the ABI whose table
    does agree wins. That catches a missed personality switch. Numbers 403..450+ are the same on
    i386 and x86_64 (clone3 = 435 on both), as are unknown numbers, so only the tracked
    personality can tell those apart.

  Quirk: with ``-n``, a personality line carries the *previous* syscall's number, e.g.
  ``1234  [  11] [ Process PID=1234 runs in x32 mode. ]``. That number is ignored.
* strace 6.1's tables end at nr 450. A higher number, or one the kernel does not have, prints as
  ``syscall_0x1c3(...)`` (hex; x32 ones include the bit: ``syscall_0x40000258``). Those lines get
  their name from ``tracer.syscalls.names.name_of``. With no name there either, the key is ``"#<nr>"``,
  e.g. ``("x86_64", "#500")``. Every line's name comes from our table when the table knows the
  number, so the keys use the tracer's spelling. Lines where strace's own name differs are
  collected (see ``parse_strace_log(mismatches=...)``).
* ``NAME(... <unfinished ...>`` followed later by ``<... NAME resumed>...`` is one syscall. It is
  counted at the ``unfinished`` line. A resumed line is never counted. An unfinished line whose
  task dies before resuming still counts: the syscall was entered.
* ``--- SIGxxx {...} ---``, ``+++ exited with N +++``, ``+++ killed by SIGxxx +++`` and
  ``+++ superseded by execve in pid N +++`` are not syscalls.
* ``exit_group(0) = ?`` and ``exit(0) = ?`` (no return) count. A ``kill(getpid(), SIGTERM)``
  that kills the caller still prints ``= 0`` and counts.
* The initial ``execve`` of the command counts like any other line. strace resolves PATH itself,
  so it shows exactly one ``execve``: the successful one. A ptrace tracer that starts tracing
  at the post-exec SIGTRAP never sees that execve's entry.
* strace returns the workload's exit status, and re-raises the fatal signal if the workload dies
  by one. The status returned here is therefore subprocess-style: ``3`` for ``exit(3)``, ``-15``
  for death by SIGTERM.
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

from tracer.syscalls.names import name_of

X32_SYSCALL_BIT = 0x40000000

_PERSONALITY_ABI = {"64 bit": "x86_64", "32 bit": "i386", "x32": "x32"}

# "1234  [  20] rest" -- the pid prefix is there under -f, the number under -n.
_LINE = re.compile(r"^(?P<pid>\d+)\s+(?:\[\s*(?P<nr>\d+)\]\s+)?(?P<rest>.*)$")
_PERSONALITY = re.compile(r"^\[ Process PID=(?P<pid>\d+) runs in (?P<mode>64 bit|32 bit|x32) mode\. \]")
_CALL = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\(")
_UNNAMED = re.compile(r"^syscall_0x(?P<hex>[0-9a-fA-F]+)$")


class StraceError(RuntimeError):
    """strace is missing, failed to run the workload, or printed a line this parser does not know."""


def _abis_naming(name: str, nr: int) -> list[str]:
    return [abi for abi in ("x86_64", "i386") if name_of(abi, nr) == name]


def parse_strace_log(
    lines: Iterable[str],
    *,
    mismatches: list[tuple[str, int, str, str]] | None = None,
) -> collections.Counter[tuple[str, str]]:
    """Count the syscalls in a ``strace -f -n --quiet=attach,exit`` log; see the module docstring.

    If ``mismatches`` is given, ``(abi, nr, strace_name, table_name)`` is appended for every line
    whose strace name disagrees with our table (the key uses the table name).
    """
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    abi_of: dict[int, str] = {}
    last_abi = "x86_64"  # strace's global "current personality"; a native process starts in it

    for raw in lines:
        line = raw.rstrip("\n")
        if not line.strip():
            continue
        m = _LINE.match(line)
        if m is None:
            raise StraceError(f"unexpected strace line (no pid prefix; was -f given?): {line!r}")
        pid = int(m["pid"])
        rest = m["rest"]

        pm = _PERSONALITY.match(rest)
        if pm is not None:
            abi_of[int(pm["pid"])] = _PERSONALITY_ABI[pm["mode"]]
            continue
        if rest.startswith(("<...", "---", "+++")) or rest.startswith("<detached"):
            # resumed halves, signal deliveries, exits/kills/superseded: not syscall entries
            continue
        cm = _CALL.match(rest)
        if cm is None:
            raise StraceError(f"unexpected strace line: {line!r}")
        strace_name = cm["name"]

        abi = abi_of.setdefault(pid, last_abi)
        um = _UNNAMED.match(strace_name)
        if um is not None:
            nr = int(um["hex"], 16)
        elif m["nr"] is not None:
            nr = int(m["nr"])
        else:
            raise StraceError(f"strace line without a syscall number (was -n given?): {line!r}")

        if nr & X32_SYSCALL_BIT:
            abi = "x32"
            nr &= ~X32_SYSCALL_BIT
        elif abi == "x32":
            abi = "x86_64"  # an x32 task making a plain 64-bit call
        if um is None and name_of(abi, nr) != strace_name:
            # The tracked personality is stale (or strace spells the name differently).
            candidates = _abis_naming(strace_name, nr)
            if len(candidates) == 1:
                abi = candidates[0]
        abi_of[pid] = abi
        last_abi = abi

        table_name = name_of(abi, nr)
        if table_name is not None:
            name = table_name
            if um is None and table_name != strace_name and mismatches is not None:
                mismatches.append((abi, nr, strace_name, table_name))
        elif um is None:
            name = strace_name  # strace knows it, our table does not
        else:
            name = f"#{nr}"
        counts[(abi, name)] += 1
    return counts


def strace_binary() -> str:
    path = shutil.which("strace")
    if path is None:
        raise StraceError("strace not found on PATH")
    return path


def strace_command(argv: Sequence[str], logfile: str | os.PathLike[str]) -> list[str]:
    return [
        strace_binary(),
        "-f",
        "-n",
        "--quiet=attach,exit",
        "-s",
        "0",
        "-o",
        os.fspath(logfile),
        "--",
        *argv,
    ]


def strace_syscalls(
    argv: list[str],
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = 120.0,
    mismatches: list[tuple[str, int, str, str]] | None = None,
) -> tuple[collections.Counter[tuple[str, str]], int]:
    """Run ``argv`` under strace; return ``(Counter of (abi, name) -> count, workload exit status)``.

    The status is subprocess-style (negative = killed by that signal). The workload's stdout and
    stderr are captured and discarded. strace waits for every traced task, including daemonised
    grandchildren, before it exits.
    """
    with tempfile.TemporaryDirectory(prefix="strace-ref-") as tmpdir:
        log = Path(tmpdir) / "strace.log"
        proc = subprocess.run(
            strace_command(argv, log),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if not log.exists() or log.stat().st_size == 0:
            raise StraceError(
                f"strace produced no log for {argv!r} (exit {proc.returncode}): "
                f"{proc.stderr.decode(errors='replace')}"
            )
        with log.open(encoding="utf-8", errors="replace") as fh:
            counts = parse_strace_log(fh, mismatches=mismatches)
    return counts, proc.returncode
