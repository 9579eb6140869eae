"""ABIs the tracer tells apart, and their names in the kernel, libseccomp and Docker profiles."""

from __future__ import annotations

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_I386 = 0x40000003
AUDIT_ARCH_AARCH64 = 0xC00000B7
X32_SYSCALL_BIT = 0x40000000

# ABI name -> the SCMP_ARCH_* name used in profiles.
SCMP_ARCH = {
    "x86_64": "SCMP_ARCH_X86_64",
    "i386": "SCMP_ARCH_X86",
    "x32": "SCMP_ARCH_X32",
    "aarch64": "SCMP_ARCH_AARCH64",
}
ABI_OF_SCMP = {v: k for k, v in SCMP_ARCH.items()}

# Short names accepted on the command line (`--arch x86_64,x86,x32`).
ABI_ALIASES = {"x86_64": "x86_64", "amd64": "x86_64", "x86": "i386", "i386": "i386", "x32": "x32",
               "aarch64": "aarch64", "arm64": "aarch64"}

# The order architectures are listed in a profile: native first, like Docker's archMap.
ABI_ORDER = ("x86_64", "i386", "x32", "aarch64")

# The 64-bit host ABI whose kernel runs each ABI (a compat ABI runs on its native's): Docker's archMap
# groups architectures this way, and a profile listing two hosts is meant for both.
HOST_ABI = {"x86_64": "x86_64", "i386": "x86_64", "x32": "x86_64", "aarch64": "aarch64"}
# The 64-bit host ABIs, between which tracer.syscalls.abi_map maps what the same libc call becomes.
MAPPED_ABIS = ("x86_64", "aarch64")


def abi_of(audit_arch: int, nr: int) -> tuple[str, int]:
    """Return (ABI name, syscall number without the x32 bit) for one seccomp/ptrace stop."""
    if audit_arch == AUDIT_ARCH_X86_64:
        if nr & X32_SYSCALL_BIT:
            return "x32", nr & ~X32_SYSCALL_BIT
        return "x86_64", nr
    if audit_arch == AUDIT_ARCH_I386:
        return "i386", nr
    if audit_arch == AUDIT_ARCH_AARCH64:
        return "aarch64", nr
    return f"audit_arch_{audit_arch:#x}", nr


def abi_sort_key(abi: str) -> tuple[int, str]:
    return (ABI_ORDER.index(abi) if abi in ABI_ORDER else len(ABI_ORDER), abi)


def host_groups(architectures: list[str]) -> list[tuple[str, list[str]]] | None:
    """The SCMP arches as Docker's archMap groups them (each host's native with its compat arches), when
    they list two or more hosts and each host's native itself; None otherwise (a flat list says it)."""
    abis = [ABI_OF_SCMP.get(a) for a in architectures]
    if not all(abis):
        return None
    hosts = sorted({HOST_ABI[a] for a in abis if a}, key=abi_sort_key)
    if len(hosts) < 2 or not all(h in abis for h in hosts):
        return None
    return [(SCMP_ARCH[h], [SCMP_ARCH[a] for a in abis if a and a != h and HOST_ABI[a] == h]) for h in hosts]
