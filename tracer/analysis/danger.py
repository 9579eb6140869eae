"""What counts as dangerous, and the capabilities `docker run --cap-add` takes: the one place the list lives."""

from __future__ import annotations

from collections.abc import Iterable

from tracer.baseline import docker_rules as dr
from tracer.baseline.reasons import REASONS
from tracer.errors import UserError

# Beyond REASONS (what Docker blocks, and why) and the names Docker gates behind a capability, these are
# dangerous wherever they are allowed: they reach into other processes, the kernel's own state, or code
# paths with a record of exploits. Reasons are given here only for names REASONS does not explain.
DANGEROUS_EXTRA: tuple[str, ...] = (
    "add_key", "bpf", "clone3", "delete_module", "finit_module", "init_module", "io_uring_enter",
    "io_uring_register", "io_uring_setup", "kexec_file_load", "kexec_load", "keyctl", "modify_ldt", "mount",
    "name_to_handle_at", "open_by_handle_at", "perf_event_open", "personality", "pivot_root",
    "process_vm_readv", "process_vm_writev", "ptrace", "request_key", "setns", "umount2", "unshare",
    "userfaultfd",
)
_EXTRA_REASONS: dict[str, str] = {
    "name_to_handle_at": "With open_by_handle_at, the pair the 'shocker' breakout used to reach host files.",
    "modify_ldt": "Per-process x86 segment descriptors: old, little-used kernel code with past exploits.",
}


def _cap_gated() -> dict[str, tuple[str, ...]]:
    """Names Docker's default rules allow or restrict depending on a capability -> those capabilities."""
    gated: dict[str, set[str]] = {}
    for rule in dr.RULES:
        for cap in (*rule.includes.caps, *rule.excludes.caps):
            for name in rule.names:
                gated.setdefault(name, set()).add(cap)
    return {name: tuple(sorted(caps)) for name, caps in gated.items()}


CAP_GATED: dict[str, tuple[str, ...]] = _cap_gated()
DANGEROUS: frozenset[str] = frozenset(REASONS) | frozenset(CAP_GATED) | frozenset(DANGEROUS_EXTRA)


def danger_reason(name: str) -> str | None:
    """Why `name` is dangerous, or None when it is not."""
    if name not in DANGEROUS:
        return None
    if name in REASONS:
        return REASONS[name]
    if name in _EXTRA_REASONS:
        return _EXTRA_REASONS[name]
    if name in CAP_GATED:
        return f"Docker allows it only with {' or '.join(CAP_GATED[name])}."
    return "On seccomp-learn's list of dangerous calls."


# Linux capabilities (capability.h), for validating --cap-add like `docker run` does.
CAPABILITIES: frozenset[str] = frozenset(f"CAP_{c}" for c in (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
))


def parse_caps(caps: Iterable[str]) -> frozenset[str]:
    """--cap-add values (SYS_ADMIN, cap_sys_admin, ALL) as CAP_* names; unknown ones are a UserError."""
    out: set[str] = set()
    for raw in caps:
        name = raw.strip().upper()
        if name == "ALL":
            out |= CAPABILITIES
            continue
        name = name if name.startswith("CAP_") else f"CAP_{name}"
        if name not in CAPABILITIES:
            raise UserError(f"unknown capability {raw!r}", "--cap-add")
        out.add(name)
    return frozenset(out)


def cap_flag(cap: str) -> str:
    """`docker run`'s spelling: CAP_SYS_ADMIN -> --cap-add SYS_ADMIN."""
    return f"--cap-add {cap.removeprefix('CAP_')}"
