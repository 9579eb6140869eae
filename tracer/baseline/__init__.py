"""Docker's default seccomp profile as a baseline: resolve it, load other profiles, ask what they do.

seccomp-learn diffs learned profiles against what Docker would have enforced, so this resolves Docker's
rules exactly as moby's daemon does (`seccomp_linux.go` `setupSeccomp`) for one native arch, capability
bounding set and kernel, and says per syscall name what a profile does with it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracer.baseline import docker_rules as dr
from tracer.baseline import jsonread as jr
from tracer.baseline.docker_rules import Rule
from tracer.errors import UserError
from tracer.profile.model import ERRNO_ACTIONS, Arg, Profile, Syscall

__all__ = [
    "DOCKER_DEFAULT_CAPS",
    "REASONS",
    "Decision",
    "decide",
    "docker_default",
    "load_profile_file",
    "native_arch",
    "required_capability",
    "resolve",
]

# moby daemon/pkg/oci/caps/defaults.go: the bounding set a default `docker run` gets.
DOCKER_DEFAULT_CAPS: frozenset[str] = frozenset({
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
})

_KEYRING = "The kernel keyring is not namespaced, so containers must not use it."
_MODULES = "Loading or removing kernel modules changes the host kernel itself (also needs CAP_SYS_MODULE)."
_OLD_MODULES = "Obsolete kernel-module call, removed from modern kernels; nothing in a container needs it."
_TIME = "The system clock is not namespaced: setting it changes the host's time (also needs CAP_SYS_TIME)."
_NUMA = "Changes NUMA memory placement, which is host-wide tuning (also needs CAP_SYS_NICE)."
_INSPECT = "Reads or changes another process's memory; needs CAP_SYS_PTRACE, and kernel 4.8+ without it."
_UMOUNT = "Unmounting is a privileged operation (also needs CAP_SYS_ADMIN)."
_SWAP = "Starting or stopping swap affects the whole host (also needs CAP_SYS_ADMIN)."
_VM86 = "Enters the in-kernel x86 real-mode virtual machine, old and risky code (also needs CAP_SYS_ADMIN)."
_RAWIO = "Changes the I/O privilege level or port permissions (also needs CAP_SYS_RAWIO)."
_KEXEC = "Loads a new kernel to boot into later (also needs CAP_SYS_BOOT)."
_IO_URING = "io_uring has been a large source of kernel bugs and runs requests outside seccomp's view."
_OBSOLETE = "Obsolete call that no current program needs."

# Why Docker blocks or gates a call, after Docker's "Significant syscalls blocked by the default profile".
# That table also lists clock_adjtime and name_to_handle_at, but the current profile allows both outright,
# so they have no entry here (the test checks every entry is denied or conditional somewhere).
REASONS: dict[str, str] = {
    "acct": "Process accounting could let a container turn off its own accounting (needs CAP_SYS_PACCT).",
    "add_key": _KEYRING,
    "bpf": "Loads BPF programs that can persist in the kernel (needs CAP_SYS_ADMIN or CAP_BPF).",
    "clock_settime": _TIME,
    "clock_settime64": _TIME,
    "clone": "Only allowed without CLONE_NEW* flags: creating namespaces needs CAP_SYS_ADMIN.",
    "clone3": "Its flags sit behind a pointer seccomp cannot check, so it fails with ENOSYS and libc "
    "falls back to clone(2) (allowed with CAP_SYS_ADMIN).",
    "create_module": _OLD_MODULES,
    "delete_module": _MODULES,
    "finit_module": _MODULES,
    "get_kernel_syms": "Obsolete call that lists kernel and module symbols.",
    "get_mempolicy": _NUMA,
    "init_module": _MODULES,
    "io_uring_enter": _IO_URING,
    "io_uring_register": _IO_URING,
    "io_uring_setup": _IO_URING,
    "ioperm": _RAWIO,
    "iopl": _RAWIO,
    "kcmp": "Compares kernel resources of other processes, an inspection tool (needs CAP_SYS_PTRACE).",
    "kexec_file_load": _KEXEC,
    "kexec_load": _KEXEC,
    "keyctl": "Prevent containers from using the kernel keyring, which is not namespaced.",
    "lookup_dcookie": "A profiling call that can leak information about the host (also needs CAP_SYS_ADMIN).",
    "mbind": _NUMA,
    "mount": "Mounting is a privileged operation (also needs CAP_SYS_ADMIN).",
    "move_pages": "Moves memory pages between NUMA nodes, host-wide memory tuning.",
    "nfsservctl": "Talked to the kernel NFS server; removed in Linux 3.1.",
    "open_by_handle_at": "The shocker breakout used it to open host files (needs CAP_DAC_READ_SEARCH).",
    "perf_event_open": "Profiling can leak a lot about the host (needs CAP_SYS_ADMIN or CAP_PERFMON).",
    "personality": "Only a few personas are allowed: the others are little-tested kernel paths.",
    "pivot_root": "Changing the root mount is a privileged operation.",
    "process_vm_readv": _INSPECT,
    "process_vm_writev": _INSPECT,
    "ptrace": "Before kernel 4.8 it could bypass seccomp; tracing other processes also needs CAP_SYS_PTRACE.",
    "query_module": _OLD_MODULES,
    "quotactl": "Quota control could let a container lift its own limits (also needs CAP_SYS_ADMIN).",
    "reboot": "A container must not reboot the host (also needs CAP_SYS_BOOT).",
    "request_key": _KEYRING,
    "set_mempolicy": _NUMA,
    "setns": "Joining another namespace needs CAP_SYS_ADMIN.",
    "settimeofday": _TIME,
    "stime": _TIME,
    "swapoff": _SWAP,
    "swapon": _SWAP,
    "sysfs": _OBSOLETE,
    "_sysctl": "Obsolete; /proc/sys replaced it.",
    "umount": _UMOUNT,
    "umount2": _UMOUNT,
    "unshare": "Creating namespaces needs CAP_SYS_ADMIN (Docker has no user-namespace-only exception).",
    "uselib": "Old shared-library loader call, unused for decades.",
    "userfaultfd": "User-space page-fault handling, mostly for live migration and a favourite exploit aid.",
    "ustat": _OBSOLETE,
    "vm86": _VM86,
    "vm86old": _VM86,
}

_ALLOWING = ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG")
# The project's ABI names, so callers may pass either vocabulary.
_ABI_TO_NATIVE = {"x86_64": "amd64", "i386": "x86", "aarch64": "arm64"}


@dataclass(frozen=True)
class Decision:
    """What a profile does with one syscall name.

    status: "allowed" (unconditional allow), "allowed_with_args" (allowed only when one of `args` holds;
    each alternative is ANDed), "errno" (an explicit rule returns `errno_ret`), or "blocked" (another
    deny rule, or the default action). `action` is the action that applies.
    """

    status: str
    action: str
    errno_ret: int | None = None
    args: tuple[tuple[Arg, ...], ...] = ()


def native_arch(arch: str) -> str:
    """moby's native arch name (amd64, arm64, x86...) for a native, GOARCH or project ABI name."""
    if arch in dr.GO_TO_NATIVE.values():
        return arch
    if arch in dr.GO_TO_NATIVE:
        return dr.GO_TO_NATIVE[arch]
    if arch in _ABI_TO_NATIVE:
        return _ABI_TO_NATIVE[arch]
    raise UserError(f"unknown architecture {arch!r}: Docker runs natively only on "
                    f"{', '.join(sorted(set(dr.GO_TO_NATIVE.values())))}")


def _cap(name: str) -> str:
    name = name.strip().upper()
    return name if name.startswith("CAP_") else f"CAP_{name}"


def host_kernel() -> tuple[int, int]:
    """The running kernel's (version, major revision), parsed like moby (`%d.%d`)."""
    m = re.match(r"(\d+)\.(\d+)", os.uname().release)
    if not m:
        raise UserError(f"cannot parse kernel release {os.uname().release!r}")
    return int(m[1]), int(m[2])


def _keeps(rule: Rule, arch: str, caps: frozenset[str], kernel: tuple[int, int]) -> bool:
    """moby's filter: excludes.caps skip on ANY cap held, includes.caps need ALL; arches are native only."""
    ex, inc = rule.excludes, rule.includes
    if arch in ex.arches or any(c in caps for c in ex.caps):
        return False
    if ex.min_kernel is not None and kernel >= ex.min_kernel:
        return False
    if inc.arches and arch not in inc.arches:
        return False
    if not all(c in caps for c in inc.caps):
        return False
    return inc.min_kernel is None or kernel >= inc.min_kernel


def resolve(rules: Iterable[Rule], arch_map: Sequence[tuple[str, Sequence[str]]], *, default_action: str,
            default_errno_ret: int | None, arch: str = "amd64",
            caps: Iterable[str] = DOCKER_DEFAULT_CAPS, kernel: tuple[int, int] | None = (6, 18)) -> Profile:
    """Flatten Docker-style rules to the OCI profile moby hands the runtime (kernel None = this host)."""
    native = native_arch(arch)
    cap_set = frozenset(_cap(c) for c in caps)
    kern = host_kernel() if kernel is None else kernel
    architectures: list[str] = []
    main = dr.NATIVE_TO_SCMP.get(native)
    for entry, subs in arch_map:
        if entry == main:  # moby takes the first match only; no entry for x86 or arm natives
            architectures = [entry, *subs]
            break
    syscalls = [
        Syscall(names=list(r.names), action=r.action, args=list(r.args), errno_ret=r.errno_ret,
                comment=r.comment)
        for r in rules if _keeps(r, native, cap_set, kern)
    ]
    return Profile(default_action=default_action, default_errno_ret=default_errno_ret,
                   architectures=architectures, syscalls=syscalls)


def docker_default(arch: str = "amd64", caps: frozenset[str] = DOCKER_DEFAULT_CAPS,
                   kernel: tuple[int, int] | None = (6, 18)) -> Profile:
    """The profile moby gives the runtime on native `arch`, with bounding set `caps`, on `kernel`."""
    return resolve(dr.RULES, dr.ARCH_MAP, default_action=dr.DEFAULT_ACTION,
                   default_errno_ret=dr.DEFAULT_ERRNO_RET, arch=arch, caps=caps, kernel=kernel)


def _effective_errno(action: str, errno_ret: int | None) -> int | None:
    if action not in ERRNO_ACTIONS:
        return None
    return dr.EPERM if errno_ret is None else errno_ret  # runtime-spec: errnoRet defaults to EPERM


def _status(action: str) -> str:
    if action in _ALLOWING:
        return "allowed"
    return "errno" if action == "SCMP_ACT_ERRNO" else "blocked"


def decide(profile: Profile, name: str) -> Decision:
    """What `profile` does with `name`. An unconditional rule wins (the first one, if several);
    otherwise conditional allow rules are alternatives (ORed); otherwise the default action applies."""
    rules = [r for r in profile.syscalls if name in r.names]
    for r in rules:
        if not r.args:
            return Decision(_status(r.action), r.action, _effective_errno(r.action, r.errno_ret))
    allows = [r for r in rules if r.action in _ALLOWING]
    if allows:
        return Decision("allowed_with_args", allows[0].action, None, tuple(tuple(r.args) for r in allows))
    if rules:  # only conditional deny rules: report the first rule's action and its conditions
        first = rules[0]
        alts = tuple(tuple(r.args) for r in rules if r.action == first.action)
        return Decision(_status(first.action), first.action, _effective_errno(first.action, first.errno_ret),
                        alts)
    act = profile.default_action
    status = "allowed" if act in _ALLOWING else "blocked"
    return Decision(status, act, _effective_errno(act, profile.default_errno_ret))


def required_capability(name: str, arch: str = "amd64",
                        kernel: tuple[int, int] | None = (6, 18)) -> str | None:
    """The capability that, added to Docker's defaults, makes the default profile allow `name` outright.

    None when no capability is needed (allowed even with no capabilities) or none helps. When several do
    (bpf: CAP_SYS_ADMIN or CAP_BPF), the one from the narrowest rule wins, as the least privilege.
    """
    if decide(docker_default(arch, frozenset(), kernel), name).status == "allowed":
        return None
    candidates = sorted(
        ((len(r.names), i, c) for i, r in enumerate(dr.RULES) if name in r.names for c in r.includes.caps),
    )
    for _, _, cap in candidates:
        if decide(docker_default(arch, DOCKER_DEFAULT_CAPS | {cap}, kernel), name).status == "allowed":
            return cap
    return None


# --- loading Docker/OCI seccomp JSON -------------------------------------------------------------------


def _rule(value: Any, where: str) -> Rule:
    r = jr.obj(value, where)
    if r.get("name") and r.get("names"):
        raise jr.Invalid(f"{where}: both 'name' and 'names' are given; use 'names'")
    names = ((jr.string(r["name"], f"{where}.name"),) if r.get("name")
             else jr.strings(r.get("names"), f"{where}.names"))
    if not names or not all(names):
        raise jr.Invalid(f"{where}.names: expected at least one non-empty syscall name")
    action = jr.action(r.get("action"), f"{where}.action")
    errno_ret = None if r.get("errnoRet") is None else jr.integer(r["errnoRet"], f"{where}.errnoRet")
    if errno_ret is not None and action not in ERRNO_ACTIONS:
        raise jr.Invalid(f"{where}.errnoRet: action {action} cannot return an errno")
    args = r.get("args") or []
    if not isinstance(args, list):
        raise jr.Invalid(f"{where}.args: expected a list, got {json.dumps(args)}")
    comment = r.get("comment") or ""
    return Rule(names=names, action=action, errno_ret=errno_ret,
                args=tuple(jr.arg(a, f"{where}.args[{i}]") for i, a in enumerate(args)),
                includes=jr.when(r.get("includes"), f"{where}.includes"),
                excludes=jr.when(r.get("excludes"), f"{where}.excludes"),
                comment=jr.string(comment, f"{where}.comment"))


def _parse(doc: Any, arch: str, caps: Iterable[str], kernel: tuple[int, int] | None) -> Profile:
    d = jr.parse_document(doc, _rule, strict=True)
    profile = resolve(d.rules, d.arch_map, default_action=d.default_action, default_errno_ret=d.default_errno,
                      arch=arch, caps=caps, kernel=kernel)
    if d.architectures:
        profile.architectures = d.architectures
    return profile


def load_profile_file(path: str | os.PathLike[str], *, arch: str = "amd64",
                      caps: Iterable[str] = DOCKER_DEFAULT_CAPS,
                      kernel: tuple[int, int] | None = None) -> Profile:
    """Read a Docker/OCI seccomp profile (or an OCI config.json with linux.seccomp) and resolve it.

    Docker's includes/excludes are resolved like moby would: for native `arch`, bounding set `caps` and
    `kernel` (None = this host). Any problem is a UserError naming the file.
    """
    doc = read_profile_json(path)
    try:
        return _parse(doc, arch, caps, kernel)
    except jr.Invalid as e:
        raise UserError(str(e), str(path)) from e


def read_profile_json(path: str | os.PathLike[str]) -> Any:
    """The parsed JSON of a profile file; unreadable, non-UTF-8 or invalid JSON is a UserError naming it."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise UserError(f"cannot read profile: {e.strerror or e}", str(path)) from e
    except UnicodeDecodeError as e:
        raise UserError(f"not UTF-8 text: {e.reason}", str(path)) from e
    except json.JSONDecodeError as e:
        raise UserError(f"not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})", str(path)) from e
    except RecursionError as e:
        raise UserError("not valid JSON: nested too deeply", str(path)) from e
    except ValueError as e:  # e.g. an integer past Python's int/str conversion digit limit
        raise UserError(f"not valid JSON: {str(e).split(':')[0]}", str(path)) from e
