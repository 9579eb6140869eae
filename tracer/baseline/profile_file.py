"""The one reader of seccomp profile files, in every format the project writes or meets.

Docker/OCI seccomp JSON, an OCI config.json (its linux.seccomp), a security-profiles-operator
SeccompProfile (YAML, or JSON), and the name lists of the sandboxes: a systemd unit or drop-in
(SystemCallFilter=, baseline/read_systemd.py) and a firejail profile (seccomp.keep, baseline/read_firejail.py), each
read as the profile document it amounts to.
`read_document` gives the validated structure with every rule as written
(lint reports on that); `load_profile_file` resolves it into a Profile as moby would (everything else).
Problems raise Invalid at a location in the document; the public functions turn that into one
UserError naming the file. See docs/architecture.md.
"""

from __future__ import annotations

import importlib
import json
import os
import re
from collections.abc import Iterable
from typing import Any

from tracer.baseline.docker_rules import DOCKER_DEFAULT_CAPS, Rule, When
from tracer.baseline.invalid import Invalid
from tracer.baseline.resolve import resolve
from tracer.errors import UserError
from tracer.fileio import NotJSON, check_plain_yaml, parse_json, read_input
from tracer.profile.formats.kubernetes import KIND, READ_API_VERSIONS
from tracer.profile.seccomp_json import ACTIONS, ERRNO_ACTIONS, OPERATORS, Arg, Profile
from tracer.structs import Struct, field

SCMP_ARCHES = frozenset(
    f"SCMP_ARCH_{a}"
    for a in ("X86", "X86_64", "X32", "ARM", "AARCH64", "MIPS", "MIPS64", "MIPS64N32", "MIPSEL", "MIPSEL64",
              "MIPSEL64N32", "PPC", "PPC64", "PPC64LE", "S390", "S390X", "PARISC", "PARISC64", "RISCV64",
              "LOONGARCH64", "M68K", "SH", "SHEB")
)


# ---- typed values at a location -----------------------------------------------------------------------


def _as_json(value: Any) -> str:
    """A value in an error message, as JSON where it can be (YAML can also hold dates)."""
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return repr(value)


def integer(value: Any, where: str, hi: int = 2**64 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= hi:
        raise Invalid(f"{where}: expected an integer from 0 to {hi}, got {_as_json(value)}")
    return value


def string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{where}: expected a string, got {_as_json(value)}")
    return value


def strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise Invalid(f"{where}: expected a list of strings, got {_as_json(value)}")
    return tuple(string(v, f"{where}[{i}]") for i, v in enumerate(value))


def obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"{where}: expected an object, got {_as_json(value)}")
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


def _list(value: Any, where: str, show_value: bool) -> list[Any]:
    if not isinstance(value, list):
        got = _as_json(value) if show_value else type(value).__name__
        raise Invalid(f"{where}: expected a list, got {got}")
    return value


# ---- the document -------------------------------------------------------------------------------------


class WrittenRule(Struct):
    """One syscalls entry as written (validated, not resolved), and where it is in the file."""

    where: str
    names: list[str]
    action: str
    errno_ret: int | None
    args: list[Arg]
    includes: When
    excludes: When
    comment: str
    legacy: bool  # the name came from the legacy `name` field (it is names[0])


class Document(Struct):
    """A profile's structure, validated but not resolved.

    prefix is where the profile sits in the file: "" for a profile, "linux.seccomp." in an OCI config.json,
    "spec." in a SeccompProfile.
    """

    prefix: str
    default_action: str
    default_errno: int | None
    architectures: list[str]
    arch_map: list[tuple[str, tuple[str, ...]]]
    rules: list[WrittenRule] = field(default_factory=list)


def _rule(value: Any, where: str, strict: bool) -> WrittenRule:
    """One syscalls entry. `name` is read as moby reads it: a string, "" meaning absent."""
    r = obj(value, where)
    names = list(strings(r.get("names"), f"{where}.names"))
    legacy = bool(r.get("name") is not None and string(r["name"], f"{where}.name"))
    if legacy:
        if strict and names:
            raise Invalid(f"{where}: both 'name' and 'names' are given; use 'names'")
        names.insert(0, r["name"])
    if not names or not all(names):
        raise Invalid(f"{where}.names: expected at least one non-empty syscall name")
    act = action(r.get("action"), f"{where}.action")
    errno_ret = None if r.get("errnoRet") is None else integer(r["errnoRet"], f"{where}.errnoRet")
    if strict and errno_ret is not None and act not in ERRNO_ACTIONS:
        raise Invalid(f"{where}.errnoRet: action {act} cannot return an errno")
    args = _list(r.get("args") or [], f"{where}.args", strict)
    comment = "" if r.get("comment") is None else string(r["comment"], f"{where}.comment")
    return WrittenRule(where=where, names=names, action=act, errno_ret=errno_ret,
                       args=[arg(a, f"{where}.args[{i}]") for i, a in enumerate(args)],
                       includes=when(r.get("includes"), f"{where}.includes"),
                       excludes=when(r.get("excludes"), f"{where}.excludes"), comment=comment, legacy=legacy)


def _seccomp_profile_spec(doc: dict[str, Any]) -> dict[str, Any]:
    """The spec of a security-profiles-operator SeccompProfile, which holds the profile itself."""
    kind, version = doc.get("kind"), doc.get("apiVersion")
    if kind != KIND or version not in READ_API_VERSIONS:
        raise Invalid(f"not a seccomp profile: kind {kind!r}, apiVersion {version!r} (expected kind {KIND}, "
                      f"apiVersion {' or '.join(READ_API_VERSIONS)})")
    spec = obj(doc.get("spec"), "spec")
    if spec.get("baseProfileName"):
        raise Invalid("spec.baseProfileName: a SeccompProfile that extends another one cannot be read alone")
    return spec


def parse_document(doc: Any, *, strict: bool = True) -> Document:
    """Read a Docker/OCI seccomp profile, the linux.seccomp of an OCI config.json, or a SeccompProfile.

    strict (the loader) rejects what runtimes reject: the legacy `name` beside `names`, errnoRet or
    defaultErrnoRet on an action that cannot return an errno, and both `architectures` and `archMap`;
    its locations are relative to the profile object. Not strict (lint) leaves those for the caller to
    report, and its locations carry the prefix (`linux.seccomp.`, `spec.`).
    """
    prefix = ""
    doc = obj(doc, "profile")
    if "kind" in doc or "apiVersion" in doc:  # a Kubernetes object
        doc, prefix = _seccomp_profile_spec(doc), "spec."
    elif "defaultAction" not in doc and isinstance(doc.get("linux"), dict):  # an OCI config.json
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
    rules = [_rule(r, f"{at}syscalls[{i}]", strict) for i, r in enumerate(raw_rules)]
    return Document(prefix, default_action, default_errno, archs, arch_map, rules)


# ---- files --------------------------------------------------------------------------------------------


SANDBOXES = ("systemd", "firejail")  # the sandboxes whose files are read (tracer.baseline.read_<name>)


def _sandbox(name: str) -> Any:
    """The module that reads a sandbox's files (imported on use: a JSON profile does not pay for it)."""
    return importlib.import_module(f"tracer.baseline.read_{name}")


def sandbox_of(text: str) -> str | None:
    """The sandbox whose file this is (a systemd unit or drop-in, a firejail profile), or None."""
    if text.lstrip()[:1] == "{":
        return None
    return next((name for name in SANDBOXES if _sandbox(name).recognises(text)), None)


def sandbox_default(name: str) -> tuple[Any, str]:
    """A sandbox's own default filter as a profile document, and its description."""
    module = _sandbox(name)
    return module.document(module.DEFAULT, name), module.DEFAULT_DESCRIPTION


def document_from_text(text: str, source: str) -> Any:
    """JSON, else (when it does not open like JSON) a systemd unit, a firejail profile or a YAML mapping;
    anything else is a UserError."""
    sandbox = sandbox_of(text)
    if sandbox is not None:
        return _sandbox(sandbox).document(text, source)
    try:
        return parse_json(text, source)
    except NotJSON as e:
        not_json = e
    if text.lstrip()[:1] in ("{", "[", ""):
        raise not_json
    doc = _yaml(text, source)
    if not isinstance(doc, dict):
        raise not_json  # neither JSON nor a YAML mapping: say what JSON found
    return doc


def _yaml(text: str, source: str) -> Any:
    import yaml  # on use: a trace with a JSON --base does not pay for PyYAML

    try:
        check_plain_yaml(text, source, "profile")
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise UserError(f"not valid JSON or YAML: {e.problem or e.context}{where}", source) from None
    except yaml.YAMLError as e:
        raise UserError(f"not valid JSON or YAML: {e}", source) from None


def read_document(path: str | os.PathLike[str]) -> Any:
    """The parsed content of a profile file (any format), not yet validated; a UserError names the file."""
    return document_from_text(read_input(path, "profile"), os.fsdecode(path))


def profile_from_document(doc: Any, source: str, *, arch: str = "amd64", caps: Iterable[str] = DOCKER_DEFAULT_CAPS,
                          kernel: tuple[int, int] | None = None) -> Profile:
    """Validate a profile document and resolve Docker's includes/excludes as moby would: for native `arch`,
    bounding set `caps` and `kernel` (None = this host). Any problem is a UserError naming `source`."""
    try:
        d = parse_document(doc, strict=True)
        rules = [Rule(names=tuple(r.names), action=r.action, errno_ret=r.errno_ret, args=tuple(r.args),
                      includes=r.includes, excludes=r.excludes, comment=r.comment) for r in d.rules]
        profile = resolve(rules, d.arch_map, default_action=d.default_action, default_errno_ret=d.default_errno,
                          arch=arch, caps=caps, kernel=kernel)
    except Invalid as e:
        raise UserError(str(e), source) from e
    except RecursionError as e:
        raise UserError("profile nested too deeply", source) from e
    if d.architectures:
        profile.architectures = d.architectures
    return profile


def load_profile_file(path: str | os.PathLike[str], *, arch: str = "amd64",
                      caps: Iterable[str] = DOCKER_DEFAULT_CAPS,
                      kernel: tuple[int, int] | None = None) -> Profile:
    """A profile file of any format, resolved (see profile_from_document)."""
    return profile_from_document(read_document(path), str(path), arch=arch, caps=caps, kernel=kernel)
