"""`seccomp-learn lint`: find mistakes in any Docker/OCI seccomp profile, ours or not.

The raw JSON is read (not the resolved Profile), because what lint looks for is what resolving hides:
the legacy `name` form, `architectures` next to `archMap`, errnoRet where runc rejects it, two conditions
on one argument (runc ORs them), rules that multiplexed i386 calls bypass. Structure is checked with the
baseline loader's own validators, so a profile lint calls malformed is one `diff` rejects too.

Each finding is plain data: Finding(file, where, code, message); `where` is a JSON location.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracer.baseline import jsonread as jr
from tracer.baseline import read_profile_json
from tracer.baseline.docker_rules import When
from tracer.errors import UserError
from tracer.profile.model import ERRNO_ACTIONS, Arg
from tracer.syscalls.abi import ABI_OF_SCMP, ABI_ORDER
from tracer.syscalls.names import is_known

# Finding codes, and what each means (docs and `lint --help` use these).
CODES: dict[str, str] = {
    "unknown-syscall": "a name that no architecture the profile covers knows",
    "missing-exit": "exit or exit_group is not allowed under a deny default: the process cannot end cleanly",
    "empty-allowlist": "a deny default and nothing allowed: no program can even start",
    "conflicting-actions": "the same name under two different actions",
    "same-arg-index": "two conditions on one argument index in one rule: runc ORs them, not ANDs",
    "errno-action": "errnoRet / defaultErrnoRet on an action that cannot return an errno (runc rejects it)",
    "arch-and-archmap": "both 'architectures' and 'archMap' are given",
    "multiplexer-bypass": "an argument rule on an i386 call that socketcall(2)/ipc(2) reach unchecked",
    "pointless-allow": "SCMP_ACT_ALLOW rules under an SCMP_ACT_ALLOW default",
    "legacy-name": "a rule uses the legacy 'name' field instead of 'names'",
}

_ALLOWING = ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG")
# Defaults that let a call through (or hand it to a tracer / supervisor that decides).
_NOT_DENY = ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_NOTIFY")
# On i386 these calls are also reachable as socketcall(2) / ipc(2) sub-calls, whose arguments sit in
# memory seccomp cannot read: a rule on the direct call's arguments does not constrain the multiplexed one.
SOCKETCALL = frozenset({
    "socket", "bind", "connect", "listen", "accept", "getsockname", "getpeername", "socketpair", "send",
    "recv", "sendto", "recvfrom", "shutdown", "setsockopt", "getsockopt", "sendmsg", "recvmsg", "accept4",
    "recvmmsg", "sendmmsg",
})
IPC = frozenset({
    "semop", "semget", "semctl", "semtimedop", "msgsnd", "msgrcv", "msgget", "msgctl", "shmat", "shmdt",
    "shmget", "shmctl",
})
# moby native arch names (includes/excludes.arches) whose syscalls our tables cover.
_TABLED_NATIVE = frozenset({"amd64", "x86", "x32", "arm64"})
_X86_NATIVE = frozenset({"amd64", "x86"})  # natives whose filter also covers SCMP_ARCH_X86 (amd64 via archMap)


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    where: str
    code: str
    message: str

    def line(self) -> str:
        return f"{_shown(self.file)}: {self.where}: {_shown(self.message)} [{self.code}]"


@dataclass
class _Rule:
    where: str
    names: list[str]
    action: str
    errno_ret: int | None
    args: list[Arg]
    includes: When
    excludes: When
    legacy: bool

    @property
    def errno(self) -> int | None:
        """The errno this rule returns (runtime-spec default EPERM), for telling ERRNO rules apart."""
        if self.action not in ERRNO_ACTIONS:
            return None
        return 1 if self.errno_ret is None else self.errno_ret

    def verdict(self) -> str:
        return f"{self.action}({self.errno})" if self.action == "SCMP_ACT_ERRNO" else self.action


_Doc = jr.Document[_Rule]


def _shown(text: str) -> str:
    """Printable on any terminal: lone surrogates (non-UTF-8 bytes in names) as escapes, one line."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\n", "\\n").replace("\r", "\\r")


def _clip(text: str, limit: int = 400) -> str:
    """Long values (a 20 MB string in a profile) cut in the middle, so an error stays readable."""
    return text if len(text) <= limit else f"{text[:limit - 120]} [...] {text[-100:]}"


def _path_text(path: str | os.PathLike[str]) -> str:
    """A file name as given; undecodable bytes shown as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


# ---- reading ------------------------------------------------------------------------------------------


def _parse(doc: Any) -> _Doc:
    return jr.parse_document(doc, _rule, strict=False)


def _rule(value: Any, where: str) -> _Rule:
    r = jr.obj(value, where)
    names = list(jr.strings(r.get("names"), f"{where}.names"))
    legacy = r.get("name") is not None
    if legacy:
        names.insert(0, jr.string(r["name"], f"{where}.name"))
    if not names or not all(names):
        raise jr.Invalid(f"{where}.names: expected at least one non-empty syscall name")
    action = jr.action(r.get("action"), f"{where}.action")
    errno_ret = None if r.get("errnoRet") is None else jr.integer(r["errnoRet"], f"{where}.errnoRet")
    args = r.get("args") or []
    if not isinstance(args, list):
        raise jr.Invalid(f"{where}.args: expected a list, got {type(args).__name__}")
    if r.get("comment") is not None:
        jr.string(r["comment"], f"{where}.comment")
    return _Rule(where=where, names=names, action=action, errno_ret=errno_ret,
                 args=[jr.arg(a, f"{where}.args[{i}]") for i, a in enumerate(args)],
                 includes=jr.when(r.get("includes"), f"{where}.includes"),
                 excludes=jr.when(r.get("excludes"), f"{where}.excludes"), legacy=legacy)


def _name_where(rule: _Rule, k: int) -> str:
    if rule.legacy:
        return f"{rule.where}.name" if k == 0 else f"{rule.where}.names[{k - 1}]"
    return f"{rule.where}.names[{k}]"


# ---- checks -------------------------------------------------------------------------------------------


def _disjoint(a: _Rule, b: _Rule) -> bool:
    """True when Docker's includes/excludes make the two rules never apply together."""
    for x, y in ((a, b), (b, a)):
        if set(x.includes.caps) & set(y.excludes.caps):
            return True
        if x.includes.arches and set(x.includes.arches) <= set(y.excludes.arches):
            return True
        if (x.includes.min_kernel is not None and y.excludes.min_kernel is not None
                and y.excludes.min_kernel <= x.includes.min_kernel):
            return True
    return bool(a.includes.arches and b.includes.arches and not set(a.includes.arches) & set(b.includes.arches))


def _scmp_scope(d: _Doc) -> set[str]:
    if d.architectures:
        return set(d.architectures)
    return {a for main, subs in d.arch_map for a in (main, *subs)}


def _check_unknown(d: _Doc, file: str) -> list[Finding]:
    listed = [ABI_OF_SCMP.get(a) for a in d.architectures]
    if d.architectures and all(listed):
        abis = [a for a in ABI_ORDER if a in listed]
        scope = f"the profile's architectures ({', '.join(d.architectures)})"
    else:  # archMap, no arch list, or an arch we have no table for: only what no table we have knows
        abis = list(ABI_ORDER)
        why = "archMap" if d.arch_map and not d.architectures else (
            "architectures with untabled arches" if d.architectures else "no architectures")
        scope = f"any table this tool has ({', '.join(abis)}; {why}: other arches not checked)"
    out = []
    for rule in d.rules:
        if rule.includes.arches and not set(rule.includes.arches) <= _TABLED_NATIVE:
            continue  # a rule for arches we have no table for (arm, s390, riscv64...)
        for k, name in enumerate(rule.names):
            if not any(is_known(abi, name) for abi in abis):
                out.append(Finding(file, _name_where(rule, k), "unknown-syscall",
                                   f"{name!r} is not a syscall on {scope}"))
    return out


def _check_defaults(d: _Doc, file: str) -> list[Finding]:
    out = []
    where = f"{d.prefix}defaultAction"
    allowed = {n for r in d.rules if r.action in _ALLOWING for n in r.names}
    if d.default_action not in _NOT_DENY:
        if not allowed:
            out.append(Finding(file, where, "empty-allowlist",
                               f"default {d.default_action} and no rule allows anything: nothing can run"))
        else:
            missing = [n for n in ("exit", "exit_group") if n not in allowed]
            if missing:
                out.append(Finding(file, where, "missing-exit",
                                   f"default {d.default_action} and {' and '.join(missing)} not allowed: "
                                   "processes cannot exit normally"))
    if d.default_action == "SCMP_ACT_ALLOW":
        pointless = [r.where for r in d.rules if r.action == "SCMP_ACT_ALLOW"]
        if pointless:
            shown = ", ".join(pointless[:5]) + (f" and {len(pointless) - 5} more" if len(pointless) > 5 else "")
            out.append(Finding(file, where, "pointless-allow",
                               f"default SCMP_ACT_ALLOW already allows everything: {len(pointless)} "
                               f"SCMP_ACT_ALLOW rule(s) do nothing ({shown})"))
    if d.default_errno is not None and d.default_action not in ERRNO_ACTIONS:
        out.append(Finding(file, f"{d.prefix}defaultErrnoRet", "errno-action",
                           f"default action {d.default_action} cannot return an errno; runc rejects the profile"))
    if d.architectures and d.arch_map:
        out.append(Finding(file, f"{d.prefix}archMap", "arch-and-archmap",
                           "both 'architectures' and 'archMap' are given: runtimes use 'architectures' and "
                           "ignore or reject 'archMap'; keep one"))
    return out


def _check_rules(d: _Doc, file: str) -> list[Finding]:
    out = []
    first_seen: dict[str, list[_Rule]] = {}
    for rule in d.rules:
        if rule.legacy:
            out.append(Finding(file, f"{rule.where}.name", "legacy-name",
                               f"legacy 'name' form ({rule.names[0]!r}): use \"names\": [...]"))
        if rule.errno_ret is not None and rule.action not in ERRNO_ACTIONS:
            out.append(Finding(file, f"{rule.where}.errnoRet", "errno-action",
                               f"action {rule.action} cannot return an errno; runc rejects the profile"))
        by_index: dict[int, int] = {}
        for a in rule.args:
            by_index[a.index] = by_index.get(a.index, 0) + 1
        for index, n in sorted(by_index.items()):
            if n > 1:
                out.append(Finding(file, f"{rule.where}.args", "same-arg-index",
                                   f"{n} conditions on argument {index}: runc ORs conditions on one argument "
                                   "(any one matching is enough); use separate rules to say so explicitly"))
        for k, name in enumerate(rule.names):
            for other in first_seen.get(name, []):
                if other.verdict() != rule.verdict() and not _disjoint(other, rule):
                    out.append(Finding(file, _name_where(rule, k), "conflicting-actions",
                                       f"{name!r} is {rule.verdict()} here but {other.verdict()} in "
                                       f"{other.where}: which one applies is up to libseccomp's rule merging"))
                    break
            first_seen.setdefault(name, []).append(rule)
    return out


def _effectively_allowed(d: _Doc, name: str) -> str | None:
    """Where `name` is allowed (a rule's location or the default), or None."""
    for r in d.rules:
        if name in r.names and r.action in _ALLOWING:
            return r.where
    if d.default_action in _ALLOWING and not any(name in r.names for r in d.rules):
        return f"{d.prefix}defaultAction"
    return None


def _check_multiplexers(d: _Doc, file: str) -> list[Finding]:
    if "SCMP_ARCH_X86" not in _scmp_scope(d):
        return []
    out = []
    for rule in d.rules:
        if not rule.args or (rule.includes.arches and not set(rule.includes.arches) & _X86_NATIVE):
            continue
        if rule.excludes.arches and set(rule.excludes.arches) >= _X86_NATIVE:
            continue
        for k, name in enumerate(rule.names):
            mux = "socketcall" if name in SOCKETCALL else "ipc" if name in IPC else None
            via = mux and _effectively_allowed(d, mux)
            if via:
                out.append(Finding(file, _name_where(rule, k), "multiplexer-bypass",
                                   f"the argument rule on {name!r} can be bypassed on SCMP_ARCH_X86: {mux}(2) "
                                   f"is allowed ({via}) and reaches {name} with arguments seccomp cannot read"))
    return out


def lint_doc(doc: Any, file: str = "<profile>") -> list[Finding]:
    """Findings for one parsed profile document. Malformed structure is a UserError naming `file`."""
    try:
        d = _parse(doc)
    except jr.Invalid as e:
        raise UserError(_shown(str(e)), file) from None
    except RecursionError:
        raise UserError("profile nested too deeply", file) from None
    findings = (_check_defaults(d, file) + _check_unknown(d, file) + _check_rules(d, file)
                + _check_multiplexers(d, file))
    return sorted(set(findings), key=lambda f: (_order(f.where), f.code, f.message))


def _order(where: str) -> tuple[Any, ...]:
    """Sort JSON locations in document order (syscalls[10] after syscalls[9])."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[\[\].]+", where) if p)


def lint_file(path: str | os.PathLike[str]) -> list[Finding]:
    """Findings for one profile file (Docker/OCI JSON or an OCI config.json with linux.seccomp)."""
    shown = _path_text(path)
    try:
        doc = read_profile_json(path)
    except UserError as e:
        raise UserError(_shown(str(e).removeprefix(f"{e.source}: ")), shown) from None
    return lint_doc(doc, shown)


@dataclass
class LintOutcome:
    """What the CLI prints: findings on stdout, unreadable files and a count on stderr."""

    exit_code: int
    summary: list[str]
    stdout: str = ""
    errors: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def lint_paths(paths: Sequence[str | os.PathLike[str]]) -> LintOutcome:
    """Lint every file; exit 2 if any could not be read, else 1 if anything was found, else 0.

    stdout has one line per finding, or "FILE: no findings" for a clean file, in the order given.
    """
    findings: list[Finding] = []
    errors: list[str] = []
    lines: list[str] = []
    for path in paths:
        try:
            found = lint_file(path)
        except UserError as e:
            errors.append(_clip(str(e)))
            continue
        findings += found
        lines += [f"{f.line()}\n" for f in found] or [f"{_path_text(path)}: no findings\n"]
    files = {f.file for f in findings}
    summary = [f"{len(findings)} finding(s) in {len(files)} of {len(paths)} file(s)"] if findings else []
    code = 2 if errors else 1 if findings else 0
    return LintOutcome(code, summary, "".join(lines), errors, findings)


def codes_of(findings: Iterable[Finding]) -> set[str]:
    return {f.code for f in findings}


__all__ = ["CODES", "IPC", "SOCKETCALL", "Finding", "LintOutcome", "codes_of", "lint_doc",
           "lint_file", "lint_paths"]
