"""Docker-style rules resolved as moby's daemon does (`seccomp_linux.go` `setupSeccomp`).

For one native arch, capability bounding set and kernel, `includes`/`excludes` decide which rules the
runtime gets; `docker_default` is Docker's own profile resolved that way (docs/architecture.md).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence

from tracer.baseline import docker_rules as dr
from tracer.baseline.decide import decide
from tracer.baseline.docker_rules import DOCKER_DEFAULT_CAPS, Rule
from tracer.errors import UserError
from tracer.profile.seccomp_json import Profile, Syscall

# The project's ABI names, so callers may pass either vocabulary.
_ABI_TO_NATIVE = {"x86_64": "amd64", "i386": "x86", "aarch64": "arm64"}


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
