"""firejail's side: the reader of a profile's seccomp lines, which it turns into a profile document for the
one reader (profile_file.py), and firejail's own default filter, read from the compiled filter firejail installs.

The default is taken at run time from firejail's files (its `fsec-print` of its `seccomp` filter), not
copied: it is what this machine's firejail loads for `--seccomp`.
"""

from __future__ import annotations

import errno
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

from tracer.baseline.invalid import Invalid
from tracer.errors import UserError

KEEP_ADDED = ("execve", "execveat", "prctl")  # @default-keep: allowed by firejail on its own (firejail(1))
LIBDIRS = (Path("/usr/lib/x86_64-linux-gnu/firejail"), Path("/usr/lib/firejail"), Path("/usr/libexec/firejail"))
DEFAULT = "seccomp\n"  # what firejail's default.profile (and --seccomp) loads
DEFAULT_DESCRIPTION = "firejail's default seccomp filter (this machine's firejail, as its fsec-print shows it)"
_COMMAND = re.compile(r"seccomp(\.32)?(\.keep|\.drop)?(?=\s|$)|seccomp\.block-secondary|seccomp-error-action")
_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def recognises(text: str) -> bool:
    """Whether a file is a firejail profile with seccomp lines (not JSON, YAML or a systemd unit)."""
    return any(_COMMAND.match(line.strip()) for line in text.splitlines())


@cache
def default_blocked() -> tuple[str, ...]:
    """The names firejail's default filter (`--seccomp`, `seccomp` in a profile) denies on x86_64, from the
    compiled filter firejail installs, as firejail's own fsec-print decodes it."""
    lib = next((d for d in LIBDIRS if (d / "seccomp").is_file() and (d / "fsec-print").is_file()), None)
    if lib is None:
        raise UserError("firejail's default filter is read from its installed files, which are missing "
                        "(Debian: apt-get install firejail)", "firejail")
    out = subprocess.run([str(lib / "fsec-print"), str(lib / "seccomp")], capture_output=True, text=True, check=False)
    denied = {m[1] for m in re.finditer(r"^ (\w{4}): 06 .* ret (?:ERRNO|KILL)", out.stdout, re.M)}
    return tuple(sorted({m[1] for m in re.finditer(r" jeq ([a-z_0-9]+) (\w{4}) ", out.stdout) if m[2] in denied}))


def _names(value: str, at: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    bad = [n for n in names if not _NAME.fullmatch(n)]
    if bad:
        raise Invalid(f"{at}: {bad[0]!r} is not a syscall name (firejail @groups and !names are not read here)")
    return names


def _document(text: str) -> dict[str, Any]:
    """The profile's seccomp lines as a Docker-style profile document, as firejail applies them: a keep
    list allows only its names (and @default-keep); `seccomp.drop` and `seccomp` (the default list, plus
    any names given) deny theirs. The 32-bit ABI is listed unless `seccomp.block-secondary` is given; its
    calls are then judged by the same names (firejail 0.9.72 leaves them unfiltered: formats/firejail.py),
    and `seccomp.32.keep` adds to the one list."""
    keep: list[str] | None = None
    drop: set[str] = set()
    action = "EPERM"
    arches = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not _COMMAND.match(line):
            continue  # firejail's other commands (include, caps.drop, private, ...) do not filter syscalls
        command, _, value = line.partition(" ")
        at = f"line {number}: {command}"
        if command in ("seccomp.keep", "seccomp.32.keep"):
            keep = (keep or []) + _names(value, at)
        elif command == "seccomp.block-secondary":
            arches = ["SCMP_ARCH_X86_64"]
        elif command in ("seccomp.drop", "seccomp.32.drop"):
            drop |= set(_names(value, at))
        elif command == "seccomp":
            drop |= set(default_blocked()) | set(_names(value, at))
        elif command == "seccomp-error-action":
            action = value.strip()
            if action not in ("kill", "log") and not hasattr(errno, action):
                raise Invalid(f"{at}: expected errno, kill or log, got {action!r}")
    deny = {"kill": {"defaultAction": "SCMP_ACT_KILL_PROCESS"}, "log": {"defaultAction": "SCMP_ACT_LOG"}}.get(
        action, {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": getattr(errno, action, errno.EPERM)})
    if keep is not None:
        return {**deny, "architectures": arches,
                "syscalls": [{"names": sorted(set(keep) | set(KEEP_ADDED)), "action": "SCMP_ACT_ALLOW"}]}
    if not drop:
        raise Invalid("no seccomp.keep, seccomp.drop or seccomp line with names: not a seccomp profile")
    rule = {"names": sorted(drop), "action": deny["defaultAction"]} | (
        {"errnoRet": deny["defaultErrnoRet"]} if "defaultErrnoRet" in deny else {})
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": arches, "syscalls": [rule]}


def document(text: str, source: str) -> dict[str, Any]:
    """The profile document of a file whose text `recognises` accepted; a problem is one UserError naming source."""
    try:
        return _document(text)
    except Invalid as e:
        raise UserError(str(e), source) from None
