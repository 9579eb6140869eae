"""Why Docker's default profile blocks or gates a call, one sentence per name (after Docker's docs)."""

from __future__ import annotations

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
