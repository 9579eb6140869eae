"""Docker's default seccomp rules (moby/profiles seccomp, cd3bed8, 2026-06-30),
written in this project's own form.

The rules are data, in the order of moby's `default_linux.go`, so the baseline works without Docker, Go
or network access, and a reviewer can read why each rule exists. `tracer.baseline.resolve` resolves them
(`includes`/`excludes`) for one native arch, capability set and kernel, the way moby's daemon does.
"""

from __future__ import annotations

from errno import ENOSYS, EPERM

from tracer.profile.seccomp_json import Arg
from tracer.structs import Struct, field

ALLOW = "SCMP_ACT_ALLOW"
ERRNO = "SCMP_ACT_ERRNO"
LT, EQ, GT, MASKED_EQ = "SCMP_CMP_LT", "SCMP_CMP_EQ", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"

AF_ALG, AF_NFC, AF_VSOCK = 38, 39, 40
# CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET
CLONE_NAMESPACE_FLAGS = 0x20000 | 0x2000000 | 0x4000000 | 0x8000000 | 0x10000000 | 0x20000000 | 0x40000000

DEFAULT_ACTION = ERRNO
DEFAULT_ERRNO_RET = EPERM

# moby daemon/pkg/oci/caps/defaults.go: the bounding set a default `docker run` gets.
DOCKER_DEFAULT_CAPS: frozenset[str] = frozenset({
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
})


class When(Struct, frozen=True):
    """A Docker `includes`/`excludes` filter. Arches are moby's native names (amd64, arm64, x86...)."""

    caps: tuple[str, ...] = ()
    arches: tuple[str, ...] = ()
    min_kernel: tuple[int, int] | None = None


class Rule(Struct, frozen=True):
    """One Docker rule: an OCI syscall entry plus the conditions under which moby keeps it."""

    names: tuple[str, ...]
    action: str = ALLOW
    args: tuple[Arg, ...] = ()
    errno_ret: int | None = None
    includes: When = field(default_factory=When)
    excludes: When = field(default_factory=When)
    comment: str = ""


# Docker's archMap: main architecture -> its sub-architectures. Only the native arch's entry is used.
ARCH_MAP: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("SCMP_ARCH_X86_64", ("SCMP_ARCH_X86", "SCMP_ARCH_X32")),
    ("SCMP_ARCH_AARCH64", ("SCMP_ARCH_ARM",)),
    ("SCMP_ARCH_MIPS64", ("SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32")),
    ("SCMP_ARCH_MIPS64N32", ("SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64")),
    ("SCMP_ARCH_MIPSEL64", ("SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32")),
    ("SCMP_ARCH_MIPSEL64N32", ("SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64")),
    ("SCMP_ARCH_S390X", ("SCMP_ARCH_S390",)),
    ("SCMP_ARCH_RISCV64", ()),
    ("SCMP_ARCH_LOONGARCH64", ()),
)

# moby seccomp_linux.go `goToNative`: Go's runtime.GOARCH -> the native name rules match `arches` against.
GO_TO_NATIVE: dict[str, str] = {
    "386": "x86", "amd64": "amd64", "arm": "arm", "arm64": "arm64", "loong64": "loongarch64",
    "mips64": "mips64", "mips64p32": "mips64n32", "mips64le": "mipsel64", "mips64p32le": "mips3l64n32",
    "mipsle": "mipsel", "ppc": "ppc", "ppc64": "ppc64", "ppc64le": "ppc64le", "riscv64": "riscv64",
    "s390": "s390", "s390x": "s390x",
}
# moby `nativeToSeccomp`: native name -> the SCMP arch whose archMap entry becomes `architectures`.
# Kept as moby has it: "loongarch64" (what GO_TO_NATIVE yields) is missing, so loong64 gets none.
NATIVE_TO_SCMP: dict[str, str] = {
    "x86": "SCMP_ARCH_X86", "amd64": "SCMP_ARCH_X86_64", "arm": "SCMP_ARCH_ARM", "arm64": "SCMP_ARCH_AARCH64",
    "loong64": "SCMP_ARCH_LOONGARCH64", "mips64": "SCMP_ARCH_MIPS64", "mips64n32": "SCMP_ARCH_MIPS64N32",
    "mipsel64": "SCMP_ARCH_MIPSEL64", "mips3l64n32": "SCMP_ARCH_MIPSEL64N32", "mipsle": "SCMP_ARCH_MIPSEL",
    "ppc": "SCMP_ARCH_PPC", "ppc64": "SCMP_ARCH_PPC64", "ppc64le": "SCMP_ARCH_PPC64LE",
    "riscv64": "SCMP_ARCH_RISCV64", "s390": "SCMP_ARCH_S390", "s390x": "SCMP_ARCH_S390X",
}

RULES: tuple[Rule, ...] = (
    Rule(
        names=(
            "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
            "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
            "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
            "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat", "dup",
            "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
            "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat",
            "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
            "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
            "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
            "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
            "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv",
            "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid",
            "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
            "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
            "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
            "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area",
            "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "getxattrat", "inotify_add_watch",
            "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy",
            "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set",
            "io_setup", "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
            "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen",
            "listmount", "listxattr", "listxattrat", "llistxattr", "_llseek", "lremovexattr", "lseek",
            "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack", "membarrier", "memfd_create",
            "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2",
            "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open",
            "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
            "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
            "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open",
            "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc",
            "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv",
            "preadv2", "prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "pwrite64",
            "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recv",
            "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr",
            "removexattrat", "rename", "renameat", "renameat2", "restart_syscall", "riscv_hwprobe",
            "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
            "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64",
            "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr", "sched_getparam",
            "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
            "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
            "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget",
            "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg",
            "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
            "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
            "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
            "set_robust_list", "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid",
            "setuid32", "setxattr", "setxattrat", "shmat", "shmctl", "shmdt", "shmget", "shutdown",
            "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair",
            "splice", "stat", "stat64", "statfs", "statfs64", "statmount", "statx", "symlink", "symlinkat",
            "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
            "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
            "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
            "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask",
            "uname", "unlink", "unlinkat", "uretprobe", "utime", "utimensat", "utimensat_time64", "utimes",
            "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write", "writev",
        ),
        comment="Calls ordinary programs need, for every arch; libseccomp skips names an ABI lacks.",
    ),
    Rule(
        names=("process_vm_readv", "process_vm_writev", "ptrace"),
        includes=When(min_kernel=(4, 8)),
        comment="Before kernel 4.8 ptrace could be used to get around seccomp, so these need 4.8.",
    ),
    Rule(
        names=("socket",),
        args=(Arg(0, AF_ALG, LT),),
        comment="socket(2) for domains below AF_ALG (38); AF_ALG exposes the kernel crypto API.",
    ),
    Rule(
        names=("socket",),
        args=(Arg(0, AF_NFC, EQ),),
        comment="socket(2) for domain 39 (AF_NFC), which lies between the two blocked domains.",
    ),
    Rule(
        names=("socket",),
        args=(Arg(0, AF_VSOCK, GT),),
        comment=(
            "socket(2) for domains above AF_VSOCK (40), which reaches VMs across network namespaces. "
            "socketcall(2) hides the domain behind a pointer, so it escapes these three rules."
        ),
    ),
    Rule(
        names=("personality",),
        args=(Arg(0, 0x0, EQ),),
        comment="personality(2) with PER_LINUX only; other personas are poorly tested kernel paths.",
    ),
    Rule(
        names=("personality",),
        args=(Arg(0, 0x0008, EQ),),
        comment="personality(2) with PER_LINUX32.",
    ),
    Rule(
        names=("personality",),
        args=(Arg(0, 0x20000, EQ),),
        comment="personality(2) with UNAME26.",
    ),
    Rule(
        names=("personality",),
        args=(Arg(0, 0x20008, EQ),),
        comment="personality(2) with PER_LINUX32 | UNAME26.",
    ),
    Rule(
        names=("personality",),
        args=(Arg(0, 0xFFFFFFFF, EQ),),
        comment="personality(2) with 0xffffffff, which only queries the current persona.",
    ),
    Rule(
        names=("sync_file_range2", "swapcontext"),
        includes=When(arches=("ppc64le",)),
        comment="ppc64le-only calls.",
    ),
    Rule(
        names=(
            "arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush",
            "set_tls",
        ),
        includes=When(arches=("arm", "arm64")),
        comment="ARM-only calls.",
    ),
    Rule(
        names=("arch_prctl",),
        includes=When(arches=("amd64", "x32")),
        comment="x86-64 only (moby never runs with native arch x32, so that entry never matches).",
    ),
    Rule(
        names=("modify_ldt",),
        includes=When(arches=("amd64", "x32", "x86")),
        comment="x86 family only: per-process LDT entries.",
    ),
    Rule(
        names=("s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"),
        includes=When(arches=("s390", "s390x")),
        comment="s390-only calls.",
    ),
    Rule(
        names=("riscv_flush_icache",),
        includes=When(arches=("riscv64",)),
        comment="RISC-V only: instruction cache flush.",
    ),
    Rule(
        names=("open_by_handle_at",),
        includes=When(caps=("CAP_DAC_READ_SEARCH",)),
        comment="The 'shocker' container breakout used it; CAP_DAC_READ_SEARCH already gates it.",
    ),
    Rule(
        names=(
            "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
            "lookup_dcookie", "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr", "mount",
            "mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
            "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2", "unshare",
        ),
        includes=When(caps=("CAP_SYS_ADMIN",)),
        comment="Mounts, namespaces, host names, tracing and BPF: only with CAP_SYS_ADMIN.",
    ),
    Rule(
        names=("clone",),
        args=(Arg(0, CLONE_NAMESPACE_FLAGS, MASKED_EQ),),
        excludes=When(caps=("CAP_SYS_ADMIN",), arches=("s390", "s390x")),
        comment="clone(2) only when no CLONE_NEW* namespace flag is set; CAP_SYS_ADMIN lifts this.",
    ),
    Rule(
        names=("clone",),
        args=(Arg(1, CLONE_NAMESPACE_FLAGS, MASKED_EQ),),
        includes=When(arches=("s390", "s390x")),
        excludes=When(caps=("CAP_SYS_ADMIN",)),
        comment="s390 parameter ordering for clone is different",
    ),
    Rule(
        names=("clone3",),
        action=ERRNO,
        errno_ret=ENOSYS,
        excludes=When(caps=("CAP_SYS_ADMIN",)),
        comment="clone3(2) flags sit behind a pointer; ENOSYS makes libc fall back to clone(2).",
    ),
    Rule(
        names=("reboot",),
        includes=When(caps=("CAP_SYS_BOOT",)),
        comment="Rebooting the host: only with CAP_SYS_BOOT.",
    ),
    Rule(
        names=("chroot",),
        includes=When(caps=("CAP_SYS_CHROOT",)),
        comment="chroot(2): only with CAP_SYS_CHROOT (in Docker's default set).",
    ),
    Rule(
        names=("delete_module", "init_module", "finit_module"),
        includes=When(caps=("CAP_SYS_MODULE",)),
        comment="Kernel modules: only with CAP_SYS_MODULE.",
    ),
    Rule(
        names=("acct",),
        includes=When(caps=("CAP_SYS_PACCT",)),
        comment="Process accounting: only with CAP_SYS_PACCT.",
    ),
    Rule(
        names=("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"),
        includes=When(caps=("CAP_SYS_PTRACE",)),
        comment="Inspecting other processes: with CAP_SYS_PTRACE on any kernel.",
    ),
    Rule(
        names=("iopl", "ioperm"),
        includes=When(caps=("CAP_SYS_RAWIO",)),
        comment="Raw I/O port access: only with CAP_SYS_RAWIO.",
    ),
    Rule(
        names=("settimeofday", "stime", "clock_settime", "clock_settime64"),
        includes=When(caps=("CAP_SYS_TIME",)),
        comment="The clock is not namespaced: setting it needs CAP_SYS_TIME.",
    ),
    Rule(
        names=("vhangup",),
        includes=When(caps=("CAP_SYS_TTY_CONFIG",)),
        comment="Hanging up the terminal: only with CAP_SYS_TTY_CONFIG.",
    ),
    Rule(
        names=("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"),
        includes=When(caps=("CAP_SYS_NICE",)),
        comment="NUMA memory policy: only with CAP_SYS_NICE.",
    ),
    Rule(
        names=("syslog",),
        includes=When(caps=("CAP_SYSLOG",)),
        comment="Kernel log: with CAP_SYSLOG.",
    ),
    Rule(
        names=("bpf",),
        includes=When(caps=("CAP_BPF",)),
        comment="BPF programs: with CAP_BPF.",
    ),
    Rule(
        names=("perf_event_open",),
        includes=When(caps=("CAP_PERFMON",)),
        comment="Performance events: with CAP_PERFMON.",
    ),
)
