"""`seccomp-learn lint`: find mistakes in any seccomp profile (Docker, OCI, SeccompProfile), ours or not.

Rules are read as written (not resolved), because what lint looks for is what resolving hides: the
legacy `name` form, `architectures` next to `archMap`, errnoRet where crun refuses it, two conditions on
one argument (runc ORs them), rules that multiplexed i386 calls bypass. The reader is the loader's own
(tracer.baseline.profile_file), so a profile lint calls malformed is one `diff` rejects too.

Each finding is plain data: Finding(file, where, code, message); `where` is a location in the document.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

from tracer.analysis.engine_actions import engines_text, refused
from tracer.baseline.docker_rules import When
from tracer.baseline.invalid import Invalid
from tracer.baseline.profile_file import Document, WrittenRule, parse_document, read_document
from tracer.errors import UserError
from tracer.printable import printable
from tracer.profile.seccomp_json import ALLOWING_ACTIONS, ERRNO_ACTIONS, effective_errno
from tracer.structs import Struct
from tracer.syscalls.abi import ABI_OF_SCMP, ABI_ORDER, HOST_ABI, MAPPED_ABIS, SCMP_ARCH
from tracer.syscalls.abi_map import targets
from tracer.syscalls.names import is_known

# Finding codes, and what each means (docs and `lint --help` use these).
CODES: dict[str, str] = {
    "unknown-syscall": "a name that no architecture the profile covers knows",
    "missing-exit": "exit or exit_group is not allowed under a deny default: the process cannot end cleanly",
    "empty-allowlist": "a deny default and nothing allowed: no program can even start",
    "conflicting-actions": "the same name under two different actions",
    "same-arg-index": "two conditions on one argument index in one rule: runc ORs them, not ANDs",
    "errno-action": "errnoRet / defaultErrnoRet on an action that cannot return an errno (crun refuses it)",
    "arch-and-archmap": "both 'architectures' and 'archMap' are given",
    "multiplexer-bypass": "an argument rule on an i386 call that socketcall(2)/ipc(2) reach unchecked",
    "pointless-allow": "SCMP_ACT_ALLOW rules under an SCMP_ACT_ALLOW default",
    "legacy-name": "a rule uses the legacy 'name' field instead of 'names'",
    "name-and-names": "a rule has both the legacy 'name' and 'names' (Docker refuses the profile)",
    "missing-counterpart": "a profile for two hosts allows a call one host lacks, but not what that host's libc "
                           "calls instead (mkdir allowed, arm64's mkdirat not)",
    "complain-mode": "defaultAction SCMP_ACT_LOG: the profile logs what its rules do not allow and refuses nothing",
    "unconditional-clone3": "clone3 is allowed with any arguments: its flags are behind a pointer no filter can "
                            "read, so new namespaces (CLONE_NEWUSER, ...) are allowed too",
    "arch-unusable": "an architecture is listed, but for an essential call (exec, exit, open, memory) the "
                     "profile allows elsewhere, no allowed name exists on it: programs cannot run there",
}

# Defaults that let a call through (or hand it to a tracer / supervisor that decides).
_NOT_DENY = (*ALLOWING_ACTIONS, "SCMP_ACT_TRACE", "SCMP_ACT_NOTIFY")
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
_HOST_NATIVE = {"x86_64": "amd64", "aarch64": "arm64"}  # a host ABI's moby native name (includes.arches)
# Calls every program makes on every ABI, each as the names that can serve it.
_ESSENTIALS = {"exec": ("execve", "execveat"), "exit": ("exit_group", "exit"),
               "open": ("open", "openat", "openat2", "creat"), "memory": ("mmap", "mmap2", "brk")}


class Finding(Struct, frozen=True, order=True):
    file: str
    where: str
    code: str
    message: str

    def line(self) -> str:
        """FILE: WHERE: [error: ]MESSAGE [CODE] (what the engines do); an error is a finding some engine refuses."""
        error = "error: " if refused(self.code) else ""
        engines = engines_text(self.code)
        line = f"{printable(self.file)}: {self.where}: {error}{printable(self.message)} [{self.code}]"
        return f"{line} ({engines})" if engines else line


def _verdict(rule: WrittenRule) -> str:
    """The rule's action, with its errno for ERRNO rules (so two errnos tell apart)."""
    errno = effective_errno(rule.action, rule.errno_ret)
    return f"{rule.action}({errno})" if rule.action == "SCMP_ACT_ERRNO" else rule.action


def _clip(text: str, limit: int = 400) -> str:
    """Long values (a 20 MB string in a profile) cut in the middle, so an error stays readable."""
    return text if len(text) <= limit else f"{text[:limit - 120]} [...] {text[-100:]}"


def _path_text(path: str | os.PathLike[str]) -> str:
    """A file name as given; undecodable bytes shown as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _name_where(rule: WrittenRule, k: int) -> str:
    if rule.legacy:
        return f"{rule.where}.name" if k == 0 else f"{rule.where}.names[{k - 1}]"
    return f"{rule.where}.names[{k}]"


# ---- checks -------------------------------------------------------------------------------------------


def _disjoint(a: WrittenRule, b: WrittenRule) -> bool:
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


def _scmp_scope(d: Document) -> set[str]:
    if d.architectures:
        return set(d.architectures)
    return {a for main, subs in d.arch_map for a in (main, *subs)}


def _check_unknown(d: Document, file: str) -> list[Finding]:
    arches = d.architectures or [a for main, subs in d.arch_map for a in (main, *subs)]
    listed = [ABI_OF_SCMP.get(a) for a in arches]
    if arches and all(listed):
        abis = [a for a in ABI_ORDER if a in listed]
        scope = f"the profile's {'architectures' if d.architectures else 'archMap'} ({', '.join(arches)})"
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


def _check_defaults(d: Document, file: str) -> list[Finding]:
    out = []
    where = f"{d.prefix}defaultAction"
    allowed = {n for r in d.rules if r.action in ALLOWING_ACTIONS for n in r.names}
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
    if d.default_action == "SCMP_ACT_LOG":
        out.append(Finding(file, where, "complain-mode",
                           "complain mode: default SCMP_ACT_LOG lets every call run and logs those no rule allows; "
                           "nothing is enforced (`seccomp-learn audit --add-to` makes the enforced profile)"))
    if d.default_action == "SCMP_ACT_ALLOW":
        pointless = [r.where for r in d.rules if r.action == "SCMP_ACT_ALLOW"]
        if pointless:
            shown = ", ".join(pointless[:5]) + (f" and {len(pointless) - 5} more" if len(pointless) > 5 else "")
            out.append(Finding(file, where, "pointless-allow",
                               f"default SCMP_ACT_ALLOW already allows everything: {len(pointless)} "
                               f"SCMP_ACT_ALLOW rule(s) do nothing ({shown})"))
    if d.default_errno is not None and d.default_action not in ERRNO_ACTIONS:
        out.append(Finding(file, f"{d.prefix}defaultErrnoRet", "errno-action",
                           f"default action {d.default_action} cannot return an errno"))
    if d.architectures and d.arch_map:
        out.append(Finding(file, f"{d.prefix}archMap", "arch-and-archmap",
                           "both 'architectures' and 'archMap' are given; keep one"))
    return out


_Firsts = list[tuple[int, str, WrittenRule]]  # (position, verdict, rule): a group's first rule of each verdict


def _check_rules(d: Document, file: str) -> list[Finding]:
    out = []
    # For each name, the earlier rules grouped by their includes/excludes (whether two rules can apply
    # together depends on those alone), each group keeping the first rule of each of its first two
    # verdicts: enough to name the first earlier rule with another verdict, in time linear in the rules.
    seen: dict[str, dict[tuple[When, When], _Firsts]] = {}
    verdicts: dict[str, set[str]] = {}
    for pos, rule in enumerate(d.rules):
        if rule.legacy and len(rule.names) > 1:  # the reader puts `name` first, then `names`
            out.append(Finding(file, f"{rule.where}.name", "name-and-names",
                               f"both 'name' ({rule.names[0]!r}) and 'names' are given: keep only \"names\""))
        elif rule.legacy:
            out.append(Finding(file, f"{rule.where}.name", "legacy-name",
                               f"legacy 'name' form ({rule.names[0]!r}): use \"names\": [...]"))
        if rule.errno_ret is not None and rule.action not in ERRNO_ACTIONS:
            out.append(Finding(file, f"{rule.where}.errnoRet", "errno-action",
                               f"action {rule.action} cannot return an errno"))
        by_index: dict[int, int] = {}
        for a in rule.args:
            by_index[a.index] = by_index.get(a.index, 0) + 1
        for index, n in sorted(by_index.items()):
            if n > 1:
                out.append(Finding(file, f"{rule.where}.args", "same-arg-index",
                                   f"{n} conditions on argument {index}: runc ORs conditions on one argument "
                                   "(any one matching is enough); use separate rules to say so explicitly"))
        verdict = _verdict(rule)
        for k, name in enumerate(rule.names):
            groups = seen.setdefault(name, {})
            other = _first_conflict(groups, rule, verdict) if verdicts.setdefault(name, set()) - {verdict} else None
            if other is not None:
                out.append(Finding(file, _name_where(rule, k), "conflicting-actions",
                                   f"{name!r} is {verdict} here but {_verdict(other)} in "
                                   f"{other.where}: which one applies is up to libseccomp's rule merging"))
            firsts = groups.setdefault((rule.includes, rule.excludes), [])
            if len(firsts) < 2 and all(v != verdict for _, v, _ in firsts):
                firsts.append((pos, verdict, rule))
            verdicts[name].add(verdict)
    return out


def _first_conflict(groups: dict[tuple[When, When], _Firsts], rule: WrittenRule, verdict: str) -> WrittenRule | None:
    """The earliest rule of `groups` with a verdict other than `verdict` that can apply together with `rule`."""
    found: tuple[int, WrittenRule] | None = None
    for firsts in groups.values():
        if not _disjoint(firsts[0][2], rule):
            first = next(((p, r) for p, v, r in firsts if v != verdict), None)
            if first is not None and (found is None or first[0] < found[0]):
                found = first
    return None if found is None else found[1]


def _effectively_allowed(d: Document, name: str) -> str | None:
    """Where `name` is allowed (a rule's location or the default), or None."""
    for r in d.rules:
        if name in r.names and r.action in ALLOWING_ACTIONS:
            return r.where
    if d.default_action in ALLOWING_ACTIONS and not any(name in r.names for r in d.rules):
        return f"{d.prefix}defaultAction"
    return None


def _check_multiplexers(d: Document, file: str) -> list[Finding]:
    if "SCMP_ARCH_X86" not in _scmp_scope(d):
        return []
    out = []
    via_mux = {mux: _effectively_allowed(d, mux) for mux in ("socketcall", "ipc")}
    for rule in d.rules:
        if not rule.args or (rule.includes.arches and not set(rule.includes.arches) & _X86_NATIVE):
            continue
        if rule.excludes.arches and set(rule.excludes.arches) >= _X86_NATIVE:
            continue
        for k, name in enumerate(rule.names):
            mux = "socketcall" if name in SOCKETCALL else "ipc" if name in IPC else None
            via = mux and via_mux[mux]
            if via:
                out.append(Finding(file, _name_where(rule, k), "multiplexer-bypass",
                                   f"the argument rule on {name!r} can be bypassed on SCMP_ARCH_X86: {mux}(2) "
                                   f"is allowed ({via}) and reaches {name} with arguments seccomp cannot read"))
    return out


def _listed_abis(d: Document) -> list[str]:
    """The listed architectures we have tables for, as ABIs, in profile order."""
    listed = {ABI_OF_SCMP.get(a) for a in _scmp_scope(d)}
    return [abi for abi in ABI_ORDER if abi in listed]


def _applies(rule: WrittenRule, host: str) -> bool:
    """Whether Docker keeps the rule on this host (includes/excludes.arches name moby natives)."""
    native = _HOST_NATIVE.get(host, host)
    return (not rule.includes.arches or native in rule.includes.arches) and native not in rule.excludes.arches


def _allowed_on(d: Document, host: str) -> dict[str, str]:
    """Name -> where the first allowing rule that applies on the host names it (any argument conditions)."""
    out: dict[str, str] = {}
    for rule in d.rules:
        if rule.action in ALLOWING_ACTIONS and _applies(rule, host):
            for k, name in enumerate(rule.names):
                if name not in out:
                    out[name] = _name_where(rule, k)
    return out


def _check_counterparts(d: Document, file: str) -> list[Finding]:
    """In a profile for two hosts, each call one host lacks needs what the other's libc calls instead."""
    hosts = [h for h in MAPPED_ABIS if h in _listed_abis(d)]
    if len(hosts) < 2 or d.default_action in _NOT_DENY:
        return []
    out = []
    allowed_on = {host: _allowed_on(d, host) for host in hosts}
    for host in hosts:
        allowed = allowed_on[host]
        for other in (h for h in hosts if h != host):
            there = allowed_on[other]
            for name, where in allowed.items():
                if is_known(other, name) or not is_known(host, name):
                    continue
                instead = [t.name for t in targets(host, other, name)]
                if instead and not any(n in there for n in instead):
                    out.append(Finding(file, where, "missing-counterpart",
                                       f"{name!r} is allowed for {host}, but {other} has no {name}: its libc "
                                       f"calls {' or '.join(instead)} instead, which the profile does not allow "
                                       f"({SCMP_ARCH[other]} is listed)"))
    return out


def _check_usable(d: Document, file: str) -> list[Finding]:
    """A listed ABI on which an essential call the profile allows elsewhere has no name that exists there."""
    if d.default_action in _NOT_DENY:
        return []
    abis = _listed_abis(d)
    allowed_on = {host: _allowed_on(d, host) for host in {HOST_ABI[abi] for abi in abis}}
    served = {abi: {call for call, names in _ESSENTIALS.items()
                    if any(n in allowed_on[HOST_ABI[abi]] and is_known(abi, n) for n in names)}
              for abi in abis}
    essentials = set().union(*served.values()) if served else set()
    out = []
    for abi, calls in served.items():
        allowed = allowed_on[HOST_ABI[abi]]
        lacking = [f"{call} ({', '.join(n for n in _ESSENTIALS[call] if n in allowed) or 'nothing allowed'})"
                   for call in _ESSENTIALS if call in essentials - calls]
        if lacking:
            out.append(Finding(file, f"{d.prefix}{'architectures' if d.architectures else 'archMap'}",
                               "arch-unusable", f"{SCMP_ARCH[abi]} is listed, but for {'; '.join(lacking)} the "
                               f"profile allows no name that exists on {abi}: programs cannot run there"))
    return out


def _check_clone3(d: Document, file: str) -> list[Finding]:
    """clone3 allowed without conditions: its clone_args sit in memory, so no rule can check its flags (what
    Docker does instead: ENOSYS, and libc falls back to clone, whose flags argument a rule can check). A rule
    only for CAP_SYS_ADMIN, as Docker's own, is no finding: that capability creates namespaces anyway."""
    out = []
    for rule in d.rules:
        if (rule.action in ALLOWING_ACTIONS and not rule.args and "clone3" in rule.names
                and "CAP_SYS_ADMIN" not in rule.includes.caps):
            out.append(Finding(file, _name_where(rule, rule.names.index("clone3")), "unconditional-clone3",
                               "clone3 is allowed with any arguments: its flags are behind a pointer no filter "
                               "can read, so it may create namespaces (CLONE_NEWUSER, ...) that a clone rule "
                               "would refuse; answer it with ENOSYS (SCMP_ACT_ERRNO, errnoRet 38) as Docker "
                               "does, and libc falls back to clone"))
    return out


def lint_doc(doc: Any, file: str = "<profile>") -> list[Finding]:
    """Findings for one parsed profile document. Malformed structure is a UserError naming `file`."""
    try:
        d = parse_document(doc, strict=False)
    except Invalid as e:
        raise UserError(str(e), file) from None
    except RecursionError:
        raise UserError("profile nested too deeply", file) from None
    findings = (_check_defaults(d, file) + _check_unknown(d, file) + _check_rules(d, file)
                + _check_multiplexers(d, file) + _check_counterparts(d, file) + _check_usable(d, file)
                + _check_clone3(d, file))
    return sorted(set(findings), key=lambda f: (_order(f.where), f.code, f.message))


def _order(where: str) -> tuple[Any, ...]:
    """Sort JSON locations in document order (syscalls[10] after syscalls[9])."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[\[\].]+", where) if p)


def lint_file(path: str | os.PathLike[str]) -> list[Finding]:
    """Findings for one profile file, of any format tracer.baseline.profile_file reads."""
    shown = _path_text(path)
    try:
        doc = read_document(path)
    except UserError as e:
        raise UserError(str(e).removeprefix(f"{e.source}: "), shown) from None
    return lint_doc(doc, shown)


def lint_paths(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[tuple[str, list[Finding]]], list[str]]:
    """Every readable file as shown in findings, with its findings, in the order given; and one error line for
    each file that could not be read."""
    linted: list[tuple[str, list[Finding]]] = []
    errors: list[str] = []
    for path in paths:
        try:
            linted.append((_path_text(path), lint_file(path)))
        except UserError as e:
            errors.append(_clip(str(e)))
    return linted, errors
