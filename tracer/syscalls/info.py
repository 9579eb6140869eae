"""What the tracer knows about syscalls, kept as data: a class per name and the filterable arguments.

Like strace's syscallent.h tables, this is knowledge, not logic: the tracer and the emitter only look
things up here, so adding a syscall, an argument or a constant is a one-line data change that a test
can check against the generated per-ABI tables (`syscalls/table.py`), never a code change.

- `CLASSES` puts every name of every ABI table in one of eight classes, for grouping reports.
- `FILTERABLE` lists, per syscall name, the scalar arguments a seccomp rule can usefully compare:
  flag words ("flags": the emitter uses SCMP_CMP_MASKED_EQ) and enums, request codes, families
  ("value": the emitter uses SCMP_CMP_EQ value sets). Never pointers, fds, lengths, pids or
  addresses: seccomp sees only the register, so comparing those is meaningless or racy.
  `filterable_args(abi, name)` applies the few ABI exceptions (i386 old_mmap takes a struct pointer;
  i386 splits 64-bit offsets over two registers, which moves later arguments).
- Each argument names its decoder in `syscalls/decode.py`, which the tracer never imports: decoding
  is for reports, and its tables (partly python-ptrace's) cost start-up time a trace does not need.
"""

from __future__ import annotations

from typing import Literal

from tracer.structs import Struct
from tracer.syscalls.table import TABLES

# --------------------------------------------------------------------------------------------------
# Classes
# --------------------------------------------------------------------------------------------------

def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# class -> names. Every name of every ABI table appears exactly once (tests/test_syscall_info.py).
CLASS_GROUPS: dict[str, tuple[str, ...]] = {
    # files, directories, paths, and generic fd I/O and readiness (pipes, epoll, eventfd, inotify, aio).
    "file": _words("""
        _llseek _newselect access cachestat chdir chmod chown chown32 chroot close close_range
        copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
        epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 faccessat faccessat2
        fadvise64 fadvise64_64 fallocate fanotify_init fanotify_mark fchdir fchmod fchmodat fchmodat2
        fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr file_getattr file_setattr flistxattr
        flock fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate
        ftruncate64 futimesat getcwd getdents getdents64 getxattr getxattrat inotify_add_watch
        inotify_init inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents io_pgetevents
        io_pgetevents_time64 io_setup io_submit io_uring_enter io_uring_register io_uring_setup ioctl
        lchown lchown32 lgetxattr link linkat listxattr listxattrat llistxattr lremovexattr lseek
        lsetxattr lstat lstat64 mkdir mkdirat mknod mknodat name_to_handle_at newfstatat oldfstat
        oldlstat oldstat open open_by_handle_at openat openat2 pipe pipe2 poll ppoll ppoll_time64
        pread64 preadv preadv2 pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead
        readdir readlink readlinkat readv removexattr removexattrat rename renameat renameat2 rmdir
        select sendfile sendfile64 setxattr setxattrat splice stat stat64 statfs statfs64 statx symlink
        symlinkat sync sync_file_range syncfs tee truncate truncate64 umask unlink unlinkat ustat utime
        utimensat utimensat_time64 utimes vmsplice write writev
    """),
    "network": _words("""
        accept accept4 bind connect getpeername getsockname getsockopt listen recvfrom recvmmsg
        recvmmsg_time64 recvmsg sendmmsg sendmsg sendto setsockopt shutdown socket socketcall socketpair
    """),
    # lifecycle, credentials, scheduling, limits, namespaces, self-sandboxing, tracing.
    "process": _words("""
        arch_prctl capget capset clone clone3 execve execveat exit exit_group fork get_robust_list
        get_thread_area getcpu getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32
        getpgid getpgrp getpid getppid getpriority getresgid getresgid32 getresuid getresuid32 getrlimit
        getrusage getsid gettid getuid getuid32 ioprio_get ioprio_set kcmp landlock_add_rule
        landlock_create_ruleset landlock_restrict_self lsm_get_self_attr lsm_set_self_attr modify_ldt
        nice personality pidfd_getfd pidfd_open prctl prlimit64 ptrace rseq rseq_slice_yield
        sched_get_priority_max sched_get_priority_min sched_getaffinity sched_getattr sched_getparam
        sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity
        sched_setattr sched_setparam sched_setscheduler sched_yield seccomp set_robust_list
        set_thread_area set_tid_address setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32
        setgroups setgroups32 setns setpgid setpriority setregid setregid32 setresgid setresgid32
        setresuid setresuid32 setreuid setreuid32 setrlimit setsid setuid setuid32 ugetrlimit ulimit
        unshare vfork vm86 vm86old wait4 waitid waitpid
    """),
    "memory": _words("""
        brk get_mempolicy madvise map_shadow_stack mbind membarrier memfd_create memfd_secret
        migrate_pages mincore mlock mlock2 mlockall mmap mmap2 move_pages mprotect mremap mseal msync
        munlock munlockall munmap pkey_alloc pkey_free pkey_mprotect process_madvise process_mrelease
        process_vm_readv process_vm_writev remap_file_pages set_mempolicy set_mempolicy_home_node
        userfaultfd
    """),
    "signal": _words("""
        kill pause pidfd_send_signal restart_syscall rt_sigaction rt_sigpending rt_sigprocmask
        rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64
        rt_tgsigqueueinfo sgetmask sigaction sigaltstack signal signalfd signalfd4 sigpending
        sigprocmask sigreturn sigsuspend ssetmask tgkill tkill
    """),
    # System V IPC, POSIX message queues, futexes.
    "ipc": _words("""
        futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake ipc mq_getsetattr mq_notify
        mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink msgctl
        msgget msgrcv msgsnd semctl semget semop semtimedop semtimedop_time64 shmat shmctl shmdt shmget
    """),
    "time": _words("""
        adjtimex alarm clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
        clock_gettime64 clock_nanosleep clock_nanosleep_time64 clock_settime clock_settime64 ftime
        getitimer gettimeofday nanosleep setitimer settimeofday stime time timer_create timer_delete
        timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create
        timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times
    """),
    # administration: mounts, modules, kexec, keys, bpf/perf, host identity, and unimplemented stubs.
    "system": _words("""
        _sysctl acct add_key afs_syscall bdflush bpf break create_module delete_module finit_module
        fsconfig fsmount fsopen fspick get_kernel_syms getpmsg getrandom gtty idle init_module ioperm
        iopl kexec_file_load kexec_load keyctl listmount listns lock lookup_dcookie lsm_list_modules
        mount mount_setattr move_mount mpx nfsservctl oldolduname olduname open_tree open_tree_attr
        perf_event_open pivot_root prof profil putpmsg query_module quotactl quotactl_fd reboot
        request_key security setdomainname sethostname statmount stty swapoff swapon sysfs sysinfo
        syslog tuxcall umount umount2 uname uprobe uretprobe uselib vhangup vserver
    """),
}

CLASSES: dict[str, str] = {name: cls for cls, names in CLASS_GROUPS.items() for name in names}


def class_of(name: str) -> str:
    """The class of a syscall name; "system" for a name no table knows (e.g. a newer kernel's)."""
    return CLASSES.get(name, "system")


# --------------------------------------------------------------------------------------------------
# Filterable arguments
# --------------------------------------------------------------------------------------------------


ArgKind = Literal["flags", "value"]


class ArgSpec(Struct, frozen=True):
    """One scalar argument worth recording: its register index, its man-page name, how to compare it."""

    index: int
    name: str
    kind: ArgKind
    decoder: str | None


def _f(index: int, name: str, decoder: str | None) -> ArgSpec:
    return ArgSpec(index, name, "flags", decoder)


def _v(index: int, name: str, decoder: str | None) -> ArgSpec:
    return ArgSpec(index, name, "value", decoder)


def _same(names: str, *specs: ArgSpec) -> dict[str, tuple[ArgSpec, ...]]:
    """One spec for several names with the same argument layout (e.g. a call and its *64/_time64 twin)."""
    return dict.fromkeys(names.split(), specs)


_CLOCKID = _v(0, "clockid", "clockid")
_MMAP = (_f(2, "prot", "mmap_prot"), _f(3, "flags", "mmap_flags"))
_SOCKOPT = (_v(1, "level", "sockopt_level"), _v(2, "optname", "sockopt_name"))
# socket(2) type carries SOCK_NONBLOCK|SOCK_CLOEXEC or-ed into it; it stays "value" (an EQ set of the
# exact words seen), as Docker's profile and libseccomp users compare it, so a rule matches what ran.
_SOCKET = (_v(0, "domain", "address_family"), _v(1, "type", "socket_type"),
           _v(2, "protocol", "socket_protocol"))

# name -> the filterable arguments, for the layout shared by x86_64, x32, aarch64 and (unless
# _ABI_OVERRIDES says otherwise) i386. Names that exist only on i386 use i386's layout.
FILTERABLE: dict[str, tuple[ArgSpec, ...]] = {
    # process
    "clone": (_f(0, "flags", "clone_flags"),),  # arg0 on x86, x86_64, aarch64 (not s390)
    "unshare": (_f(0, "flags", "ns_flags"),),
    "setns": (_v(1, "nstype", "ns_flags"),),
    "personality": (_v(0, "persona", "personality"),),
    "prctl": (_v(0, "option", "prctl_option"),),
    "arch_prctl": (_v(0, "code", "arch_prctl_code"),),
    "ptrace": (_v(0, "request", "ptrace_request"),),
    "seccomp": (_v(0, "operation", "seccomp_op"), _f(1, "flags", "seccomp_flags")),
    **_same("getpriority setpriority", _v(0, "which", "priority_which")),
    **_same("ioprio_get ioprio_set", _v(0, "which", "ioprio_which")),
    **_same("getrlimit setrlimit ugetrlimit", _v(0, "resource", "rlimit_resource")),
    "prlimit64": (_v(1, "resource", "rlimit_resource"),),
    "sched_setscheduler": (_v(1, "policy", "sched_policy"),),
    **_same("wait4 waitpid", _f(2, "options", "wait_options")),
    "waitid": (_v(0, "idtype", "idtype"), _f(3, "options", "waitid_options")),
    "execveat": (_f(4, "flags", "at_flags"),),
    # file
    "open": (_f(1, "flags", "open_flags"),),
    "openat": (_f(2, "flags", "open_flags"),),
    "open_by_handle_at": (_f(2, "flags", "open_flags"),),
    "mq_open": (_f(1, "oflag", "open_flags"),),
    "ioctl": (_v(1, "request", "ioctl_request"),),
    **_same("fcntl fcntl64", _v(1, "cmd", "fcntl_cmd")),
    "flock": (_v(1, "operation", "flock_op"),),
    "fadvise64": (_v(3, "advice", "fadvise_advice"),),
    "fadvise64_64": (_v(5, "advice", "fadvise_advice"),),  # i386 only: two split 64-bit arguments first
    "lseek": (_v(2, "whence", "whence"),),
    "_llseek": (_v(4, "whence", "whence"),),  # i386 only: (fd, offset_high, offset_low, result, whence)
    "access": (_f(1, "mode", "access_mode"),),
    "faccessat": (_f(2, "mode", "access_mode"),),
    "faccessat2": (_f(2, "mode", "access_mode"), _f(3, "flags", "faccessat_flags")),
    "unlinkat": (_f(2, "flags", "unlinkat_flags"),),
    "renameat2": (_f(4, "flags", "rename_flags"),),
    **_same("newfstatat fstatat64 utimensat utimensat_time64 fchmodat2", _f(3, "flags", "at_flags")),
    **_same("linkat fchownat", _f(4, "flags", "at_flags")),
    "statx": (_f(2, "flags", "at_flags"),),
    "fallocate": (_f(1, "mode", "falloc_mode"),),
    "dup3": (_f(2, "flags", "o_flags"),),
    "pipe2": (_f(1, "flags", "o_flags"),),
    "close_range": (_f(2, "flags", "close_range_flags"),),
    "eventfd2": (_f(1, "flags", "efd_flags"),),
    "epoll_create1": (_f(0, "flags", "epoll_flags"),),
    "epoll_ctl": (_v(1, "op", "epoll_ctl_op"),),
    "inotify_init1": (_f(0, "flags", "inotify_flags"),),
    # memory
    "mmap": _MMAP,  # not on i386: see _ABI_OVERRIDES
    "mmap2": _MMAP,
    **_same("mprotect pkey_mprotect", _f(2, "prot", "mmap_prot")),
    "madvise": (_v(2, "advice", "madvise_advice"),),
    "process_madvise": (_v(3, "advice", "madvise_advice"),),
    "mremap": (_f(3, "flags", "mremap_flags"),),
    "msync": (_f(2, "flags", "msync_flags"),),
    "mlock2": (_f(2, "flags", "mlock_flags"),),
    "mlockall": (_f(0, "flags", "mlockall_flags"),),
    "memfd_create": (_f(1, "flags", "memfd_flags"),),
    "membarrier": (_v(0, "cmd", "membarrier_cmd"),),
    # network
    "socket": _SOCKET,
    "socketpair": _SOCKET,
    **_same("setsockopt getsockopt", *_SOCKOPT),
    "accept4": (_f(3, "flags", "sock_flags"),),
    "shutdown": (_v(1, "how", "shutdown_how"),),
    **_same("sendto recvfrom sendmmsg recvmmsg recvmmsg_time64", _f(3, "flags", "msg_flags")),
    **_same("sendmsg recvmsg", _f(2, "flags", "msg_flags")),
    "socketcall": (_v(0, "call", "socketcall"),),  # i386 only
    # signal
    **_same("kill tkill pidfd_send_signal rt_sigqueueinfo", _v(1, "sig", "signal")),
    **_same("tgkill rt_tgsigqueueinfo", _v(2, "sig", "signal")),
    **_same("rt_sigaction sigaction signal", _v(0, "signum", "signal")),
    **_same("rt_sigprocmask sigprocmask", _v(0, "how", "sigprocmask_how")),
    "signalfd4": (_f(3, "flags", "sfd_flags"),),
    # ipc
    **_same("futex futex_time64", _v(1, "futex_op", "futex_op")),
    **_same("futex_wait futex_wake", _f(3, "flags", "futex2_flags")),
    "ipc": (_v(0, "call", "ipc_call"),),  # i386 only
    "shmctl": (_v(1, "cmd", "shmctl_cmd"),),
    "msgctl": (_v(1, "cmd", "msgctl_cmd"),),
    "semctl": (_v(2, "cmd", "semctl_cmd"),),
    # time
    **_same("clock_gettime clock_gettime64 clock_getres clock_getres_time64 clock_settime clock_settime64"
            " clock_adjtime clock_adjtime64 timer_create", _CLOCKID),
    **_same("clock_nanosleep clock_nanosleep_time64", _CLOCKID, _f(1, "flags", "timer_flags")),
    "timerfd_create": (_CLOCKID, _f(1, "flags", "tfd_flags")),
    **_same("timerfd_settime timerfd_settime64", _f(1, "flags", "tfd_settime_flags")),
    **_same("timer_settime timer_settime64", _f(1, "flags", "timer_flags")),
    **_same("getitimer setitimer", _v(0, "which", "itimer_which")),
    # system
    "getrandom": (_f(2, "flags", "grnd_flags"),),
    "bpf": (_v(0, "cmd", "bpf_cmd"),),
    "keyctl": (_v(0, "operation", "keyctl_cmd"),),
    "quotactl": (_v(0, "cmd", "quotactl_cmd"),),
    "quotactl_fd": (_v(1, "cmd", "quotactl_cmd"),),
    "reboot": (_v(2, "cmd", "reboot_cmd"),),
    "syslog": (_v(0, "type", "syslog_action"),),
    "mount": (_f(3, "mountflags", "mount_flags"),),
    "umount2": (_f(1, "flags", "umount_flags"),),
}

# (abi, name) -> spec, where an ABI lays a call out differently from FILTERABLE's entry.
_ABI_OVERRIDES: dict[tuple[str, str], tuple[ArgSpec, ...]] = {
    ("i386", "mmap"): (),  # old_mmap(struct mmap_arg_struct *): every argument is behind a pointer
    ("i386", "fadvise64"): (_v(4, "advice", "fadvise_advice"),),  # (fd, offset_lo, offset_hi, len, advice)
}

_NAMES_BY_ABI: dict[str, frozenset[str]] = {abi: frozenset(t.values()) for abi, t in TABLES.items()}


def filterable_args(abi: str, name: str) -> tuple[ArgSpec, ...]:
    """The arguments of `name` worth recording on `abi`; () for unknown ABIs or names not on that ABI."""
    if name not in _NAMES_BY_ABI.get(abi, ()):
        return ()
    return _ABI_OVERRIDES.get((abi, name), FILTERABLE.get(name, ()))
