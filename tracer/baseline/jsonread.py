"""Reading Docker/OCI seccomp profile JSON: typed values at JSON locations, and the document's structure.

Shared by the baseline loader (which then resolves the profile) and lint (which reports on the raw rules),
so a profile lint calls malformed is one the loader rejects too. Problems raise Invalid naming the JSON
location; callers turn that into a UserError naming the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tracer.baseline.docker_rules import When
from tracer.profile.model import ACTIONS, ERRNO_ACTIONS, OPERATORS, Arg

__all__ = ["SCMP_ARCHES", "Document", "Invalid", "action", "arch_name", "arg", "integer", "kernel_version",
           "obj", "parse_document", "string", "strings", "when"]

SCMP_ARCHES = frozenset(
    f"SCMP_ARCH_{a}"
    for a in ("X86", "X86_64", "X32", "ARM", "AARCH64", "MIPS", "MIPS64", "MIPS64N32", "MIPSEL", "MIPSEL64",
              "MIPSEL64N32", "PPC", "PPC64", "PPC64LE", "S390", "S390X", "PARISC", "PARISC64", "RISCV64",
              "LOONGARCH64", "M68K", "SH", "SHEB")
)

R = TypeVar("R")


class Invalid(Exception):
    """A validation problem at a JSON location; turned into UserError with the file name."""


def integer(value: Any, where: str, hi: int = 2**64 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= hi:
        raise Invalid(f"{where}: expected an integer from 0 to {hi}, got {json.dumps(value)}")
    return value


def string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{where}: expected a string, got {json.dumps(value)}")
    return value


def strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise Invalid(f"{where}: expected a list of strings, got {json.dumps(value)}")
    return tuple(string(v, f"{where}[{i}]") for i, v in enumerate(value))


def obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"{where}: expected an object, got {json.dumps(value)}")
    return value


def action(value: Any, where: str) -> str:
    if string(value, where) not in ACTIONS:
        raise Invalid(f"{where}: unknown action {value!r}")
    return value


def arch_name(value: Any, where: str) -> str:
    if string(value, where) not in SCMP_ARCHES:
        raise Invalid(f"{where}: unknown architecture {value!r}")
    return value


def kernel_version(value: Any, where: str) -> tuple[int, int] | None:
    """moby's KernelVersion: "<kernel>.<major>", each 0-255, not 0.0; "" parses as 0.0 (always met)."""
    if value is None:
        return None
    text = string(value, where)
    if text == "":
        return (0, 0)
    m = re.fullmatch(r"(\d{1,9})\.(\d{1,9})", text)  # bounded: int() refuses over 4300 digits
    if not m or int(m[1]) > 255 or int(m[2]) > 255 or (int(m[1]), int(m[2])) == (0, 0):
        raise Invalid(f'{where}: invalid kernel version {text!r}, expected "<kernel>.<major>"')
    return int(m[1]), int(m[2])


def when(value: Any, where: str) -> When:
    if value is None:
        return When()
    w = obj(value, where)
    return When(caps=strings(w.get("caps"), f"{where}.caps"), arches=strings(w.get("arches"), f"{where}.arches"),
                min_kernel=kernel_version(w.get("minKernel"), f"{where}.minKernel"))


def arg(value: Any, where: str) -> Arg:
    a = obj(value, where)
    op = string(a.get("op"), f"{where}.op")
    if op not in OPERATORS:
        raise Invalid(f"{where}.op: unknown operator {op!r}")
    return Arg(index=integer(a.get("index"), f"{where}.index", 5), value=integer(a.get("value"), f"{where}.value"),
               op=op, value_two=integer(a.get("valueTwo", 0), f"{where}.valueTwo"))


@dataclass
class Document(Generic[R]):
    """A profile's structure, validated but not resolved; `rules` as the caller's rule parser read them.

    prefix is where the profile sits in the file: "" for a profile, "linux.seccomp." in an OCI config.json.
    """

    prefix: str
    default_action: str
    default_errno: int | None
    architectures: list[str]
    arch_map: list[tuple[str, tuple[str, ...]]]
    rules: list[R] = field(default_factory=list)


def parse_document(doc: Any, parse_rule: Callable[[Any, str], R], *, strict: bool = True) -> Document[R]:
    """Read a Docker/OCI seccomp profile, or the linux.seccomp of an OCI config.json.

    `parse_rule(value, where)` reads each syscalls entry. strict (the loader) rejects what runtimes reject:
    defaultErrnoRet on a default action that cannot return an errno, and both `architectures` and `archMap`;
    its locations are relative to the profile object. Not strict (lint) leaves those two for the caller to
    report, and its locations in an OCI config carry the `linux.seccomp.` prefix.
    """
    prefix = ""
    doc = obj(doc, "profile")
    if "defaultAction" not in doc and isinstance(doc.get("linux"), dict):  # an OCI config.json
        if doc["linux"].get("seccomp") is None:
            raise Invalid("OCI config has no linux.seccomp")
        doc = obj(doc["linux"]["seccomp"], "linux.seccomp")
        prefix = "linux.seccomp."
    at = "" if strict else prefix
    if "defaultAction" not in doc:
        raise Invalid("missing defaultAction" if strict else f"not a seccomp profile: no {at}defaultAction")
    default_action = action(doc["defaultAction"], f"{at}defaultAction")
    raw_errno = doc.get("defaultErrnoRet")
    default_errno = None if raw_errno is None else integer(raw_errno, f"{at}defaultErrnoRet")
    if strict and default_errno is not None and default_action not in ERRNO_ACTIONS:
        raise Invalid(f"defaultErrnoRet: default action {default_action} cannot return an errno")
    archs = [arch_name(a, f"{at}architectures[{i}]")
             for i, a in enumerate(strings(doc.get("architectures"), f"{at}architectures"))]
    raw_map = doc.get("archMap") or []
    if strict and archs and raw_map:
        raise Invalid("both 'architectures' and 'archMap' are given; use one")
    arch_map = []
    for i, entry in enumerate(_list(raw_map, f"{at}archMap", strict)):
        e = obj(entry, f"{at}archMap[{i}]")
        subs = strings(e.get("subArchitectures"), f"{at}archMap[{i}].subArchitectures")
        arch_map.append((arch_name(e.get("architecture"), f"{at}archMap[{i}].architecture"),
                         tuple(arch_name(s, f"{at}archMap[{i}].subArchitectures") for s in subs)))
    raw_rules = _list(doc.get("syscalls") or [], f"{at}syscalls", strict)
    rules = [parse_rule(r, f"{at}syscalls[{i}]") for i, r in enumerate(raw_rules)]
    return Document(prefix, default_action, default_errno, archs, arch_map, rules)


def _list(value: Any, where: str, show_value: bool) -> list[Any]:
    if not isinstance(value, list):
        got = json.dumps(value) if show_value else type(value).__name__
        raise Invalid(f"{where}: expected a list, got {got}")
    return value
