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
