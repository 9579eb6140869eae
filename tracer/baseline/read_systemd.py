"""systemd's side of a drop-in: its syscall groups, as this machine's systemd-analyze lists them, and the
reader of `SystemCallFilter=` files, which it turns into a profile document for the one reader (profile_file.py).

The groups are asked of `systemd-analyze syscall-filter` at run time, not copied: they change with every
systemd release (@system-service gained names in most), and the systemd that runs the unit is this one.
"""

from __future__ import annotations

import errno
import re
import shutil
import subprocess
from functools import cache
from typing import Any

from tracer.baseline.invalid import Invalid
from tracer.errors import UserError
from tracer.syscalls.abi import ABI_OF_SCMP
from tracer.syscalls.names import is_known

ANALYZE = "systemd-analyze"
# The filter systemd recommends for a service (systemd.exec(5), `systemd-analyze security`), as a drop-in.
DEFAULT = "[Service]\nSystemCallArchitectures=native\nSystemCallFilter=@system-service\nSystemCallErrorNumber=EPERM\n"
DEFAULT_DESCRIPTION = "systemd's @system-service (SystemCallArchitectures=native; this machine's systemd-analyze)"
# systemd's architecture identifiers -> SCMP arch ("native" is the host's: x86_64 here, as elsewhere in the tables)
ARCHITECTURES = {"native": "SCMP_ARCH_X86_64", "x86-64": "SCMP_ARCH_X86_64", "x86": "SCMP_ARCH_X86",
                 "x32": "SCMP_ARCH_X32", "arm64": "SCMP_ARCH_AARCH64", "arm": "SCMP_ARCH_ARM"}
LOCAL_ARCHES = ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32")  # what an amd64 kernel runs
_KEYS = ("SystemCallFilter", "SystemCallArchitectures", "SystemCallErrorNumber")


@cache
def groups() -> dict[str, tuple[str, ...]]:
    """Every @group this machine's systemd knows, as the names and @groups listed under it."""
    if shutil.which(ANALYZE) is None:
        raise UserError(f"systemd's syscall groups come from {ANALYZE}, which is not installed "
                        "(Debian: apt-get install systemd)", ANALYZE)
    out = subprocess.run([ANALYZE, "syscall-filter", "--no-pager"], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise UserError(f"{ANALYZE} syscall-filter failed: {out.stderr.strip() or out.returncode}", ANALYZE)
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in out.stdout.splitlines():
        word = line.strip()
        if line.startswith("@"):
            current = found.setdefault(word, [])
        elif word and not word.startswith("#") and current is not None:
            current.append(word)
    return {name: tuple(members) for name, members in found.items()}


def expand(word: str) -> set[str]:
    """The names a SystemCallFilter= word stands for: itself, or every name of its group, nested groups too."""
    if not word.startswith("@"):
        return {word}
    known = groups()
    if word not in known:
        raise Invalid(f"unknown syscall group {word} (known here: {', '.join(sorted(known))})")
    return {n for member in known[word] for n in expand(member)}


def _assignments(text: str) -> list[tuple[int, str, str]]:
    """(line number, key, value) of every assignment in [Service]; any other section or a bad line is Invalid."""
    section, out = None, []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if re.fullmatch(r"\[[^\]]+\]", line):
            section = line[1:-1]
            continue
        key, eq, value = line.partition("=")
        if not eq:
            raise Invalid(f"line {number}: expected KEY=VALUE or [Section], got {line[:60]!r}")
        if section is None:
            raise Invalid(f"line {number}: {key.strip()}= is outside any [Section]")
        if section == "Service" and key.strip() in _KEYS:
            out.append((number, key.strip(), value.strip()))
    return out


def recognises(text: str) -> bool:
    """Whether a file is a unit or drop-in (a line opens a [Section]), not JSON, YAML or a firejail profile."""
    return re.search(r"^\[[A-Za-z][A-Za-z0-9-]*\]\s*$", text, re.M) is not None


def _document(text: str) -> dict[str, Any]:
    """A drop-in's filter as a Docker-style profile document (what profile_file.py resolves), as systemd reads it:
    the first SystemCallFilter= (after a reset, "") sets the mode, an allow list or ("~") a deny list; later
    lines of the same kind add names, of the other kind take them out; @default is always allowed in
    allow-list mode; with no SystemCallErrorNumber= (or "kill") a denied call kills the process."""
    allow_mode: bool | None = None  # None: no filter yet
    listed: set[str] = set()  # the allow list, or the deny list
    arches: list[str] = []
    errno_name = "kill"
    written: set[str] = set()  # names written out, not from a group (lint judges these)
    for number, key, value in _assignments(text):
        at = f"line {number}: {key}="
        if key == "SystemCallFilter":
            if not value:
                allow_mode, listed = None, set()
                continue
            invert = value.startswith("~")
            words = [w.partition(":")[0] for w in value.removeprefix("~").split()]
            written |= {w for w in words if not w.startswith("@")}
            try:
                names = {n for w in words for n in expand(w)}
            except Invalid as e:
                raise Invalid(f"{at} {e}") from None
            if allow_mode is None:
                allow_mode = not invert
                listed = expand("@default") if allow_mode else set()
            listed = listed - names if invert == allow_mode else listed | names
        elif key == "SystemCallArchitectures":
            for word in value.split():
                if word not in ARCHITECTURES:
                    raise Invalid(f"{at} unknown architecture {word!r} (known: {', '.join(ARCHITECTURES)})")
                arches.append(ARCHITECTURES[word])
        elif value and value != "kill" and value not in errno.errorcode.values() and not value.isdigit():
            raise Invalid(f"{at} unknown errno {value!r}")
        else:
            errno_name = value or "kill"
    if allow_mode is None:
        raise Invalid("no SystemCallFilter= in [Service]: not a seccomp drop-in")
    denied_with = {"defaultAction": "SCMP_ACT_KILL_PROCESS"} if errno_name == "kill" else {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": int(errno_name) if errno_name.isdigit() else getattr(errno, errno_name)}
    arches = list(dict.fromkeys(arches)) or list(LOCAL_ARCHES)  # none listed: systemd filters every local arch
    abis = [ABI_OF_SCMP[a] for a in arches if a in ABI_OF_SCMP]

    def this_host(names: set[str]) -> set[str]:  # a group's names for other machines are skipped, as systemd does
        return {n for n in names if n in written or any(is_known(abi, n) for abi in abis)}

    doc: dict[str, Any] = {"architectures": arches}
    if allow_mode:
        doc |= {**denied_with, "syscalls": [{"names": sorted(this_host(listed)), "action": "SCMP_ACT_ALLOW"}]}
    else:
        rule = {k: v for k, v in {"names": sorted(this_host(listed)), "action": denied_with["defaultAction"],
                                  "errnoRet": denied_with.get("defaultErrnoRet")}.items() if v is not None}
        doc |= {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]}
    return doc


def document(text: str, source: str) -> dict[str, Any]:
    """The profile document of a file whose text `recognises` accepted; a problem is one UserError naming source."""
    try:
        return _document(text)
    except Invalid as e:
        raise UserError(str(e), source) from None
