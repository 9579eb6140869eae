"""tracer.syscalls.info: every table name classified once, filterable specs sane, decoders exact."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracer.syscalls.decode import DECODERS, decode
from tracer.syscalls.info import CLASS_GROUPS, CLASSES, FILTERABLE, ArgSpec, class_of, filterable_args
from tracer.syscalls.table import TABLES

ALL_NAMES = {name for table in TABLES.values() for name in table.values()}
KNOWN_CLASSES = {"file", "network", "process", "memory", "signal", "ipc", "time", "system"}
USED_DECODERS = sorted({spec.decoder for specs in FILTERABLE.values() for spec in specs if spec.decoder})


def test_classes_are_the_eight_known_ones():
    assert set(CLASS_GROUPS) == KNOWN_CLASSES
    assert set(CLASSES.values()) == KNOWN_CLASSES


def test_every_table_name_is_classified_exactly_once():
    counts = Counter(name for names in CLASS_GROUPS.values() for name in names)
    assert {name for name, n in counts.items() if n > 1} == set()
    for abi, table in TABLES.items():
        missing = sorted(set(table.values()) - set(CLASSES))
        assert missing == [], f"{abi}: unclassified {missing}"
    # and the data holds nothing the tables do not (a typo would otherwise go unnoticed)
    assert sorted(set(CLASSES) - ALL_NAMES) == []


def test_class_examples():
    assert (CLASSES["openat"], CLASSES["socket"], CLASSES["clone"], CLASSES["mmap"]) == (
        "file", "network", "process", "memory")
    assert (CLASSES["rt_sigaction"], CLASSES["futex"], CLASSES["clock_gettime"], CLASSES["mount"]) == (
        "signal", "ipc", "time", "system")
    assert class_of("not_a_syscall") == "system"


def test_every_filterable_name_exists_in_some_abi():
    assert sorted(set(FILTERABLE) - ALL_NAMES) == []


@pytest.mark.parametrize("name", sorted(FILTERABLE))
def test_arg_specs_are_well_formed(name):
    specs = FILTERABLE[name]
    assert specs, name
    assert len({spec.index for spec in specs}) == len(specs), f"{name}: duplicate index"
    for spec in specs:
        assert isinstance(spec, ArgSpec)
        assert 0 <= spec.index <= 5
        assert spec.kind in ("flags", "value")
        assert spec.name
        assert spec.decoder is None or spec.decoder in DECODERS


def test_every_decoder_is_used():
    assert set(USED_DECODERS) == set(DECODERS)


def _spec(name: str, index: int) -> ArgSpec:
    (spec,) = [s for s in FILTERABLE[name] if s.index == index]
    return spec


@pytest.mark.parametrize(
    ("name", "index", "kind"),
    [
        ("clone", 0, "flags"), ("unshare", 0, "flags"), ("setns", 1, "value"), ("socket", 0, "value"),
        ("socket", 1, "value"), ("socketpair", 0, "value"), ("socketpair", 1, "value"),
        ("personality", 0, "value"), ("prctl", 0, "value"), ("arch_prctl", 0, "value"),
        ("ioctl", 1, "value"), ("fcntl", 1, "value"), ("fcntl64", 1, "value"), ("mmap", 2, "flags"),
        ("mmap", 3, "flags"), ("mmap2", 2, "flags"), ("mmap2", 3, "flags"), ("mprotect", 2, "flags"),
        ("pkey_mprotect", 2, "flags"), ("madvise", 2, "value"), ("setsockopt", 1, "value"),
        ("setsockopt", 2, "value"), ("getsockopt", 1, "value"), ("getsockopt", 2, "value"),
        ("open", 1, "flags"), ("openat", 2, "flags"), ("kill", 1, "value"), ("tkill", 1, "value"),
        ("tgkill", 2, "value"), ("rt_sigaction", 0, "value"), ("rt_sigprocmask", 0, "value"),
        ("clock_gettime", 0, "value"), ("clock_nanosleep", 0, "value"), ("clock_getres", 0, "value"),
        ("futex", 1, "value"), ("flock", 1, "value"), ("fadvise64", 3, "value"), ("lseek", 2, "value"),
        ("socketcall", 0, "value"), ("ipc", 0, "value"), ("seccomp", 0, "value"), ("seccomp", 1, "flags"),
        ("bpf", 0, "value"), ("keyctl", 0, "value"), ("ptrace", 0, "value"), ("quotactl", 0, "value"),
        ("reboot", 2, "value"), ("syslog", 0, "value"), ("eventfd2", 1, "flags"),
        ("epoll_create1", 0, "flags"), ("pipe2", 1, "flags"), ("dup3", 2, "flags"),
        ("accept4", 3, "flags"), ("inotify_init1", 0, "flags"), ("signalfd4", 3, "flags"),
        ("timerfd_create", 0, "value"), ("timerfd_create", 1, "flags"), ("memfd_create", 1, "flags"),
        ("mount", 3, "flags"), ("umount2", 1, "flags"), ("setpriority", 0, "value"),
        ("getrandom", 2, "flags"), ("wait4", 2, "flags"), ("waitid", 0, "value"), ("waitid", 3, "flags"),
        ("prlimit64", 1, "value"), ("getrlimit", 0, "value"), ("setrlimit", 0, "value"),
        ("ugetrlimit", 0, "value"), ("sched_setscheduler", 1, "value"), ("faccessat", 2, "flags"),
        ("faccessat2", 2, "flags"),
    ],
)
def test_required_coverage(name, index, kind):
    assert _spec(name, index).kind == kind


def test_no_pointer_fd_or_length_arguments():
    banned = {"fd", "addr", "buf", "len", "length", "count", "pid", "tid", "path", "pathname", "size", "arg"}
    assert [(n, s.name) for n, specs in FILTERABLE.items() for s in specs if s.name in banned] == []


def test_filterable_args_abi_exceptions():
    assert filterable_args("i386", "mmap") == ()  # old_mmap takes a struct pointer
    assert filterable_args("i386", "mmap2") == FILTERABLE["mmap2"]
    assert filterable_args("x86_64", "mmap") == FILTERABLE["mmap"]
    assert filterable_args("x32", "mmap") == FILTERABLE["mmap"]
    assert filterable_args("aarch64", "mmap") == FILTERABLE["mmap"]
    assert [s.index for s in filterable_args("i386", "fadvise64")] == [4]  # split 64-bit offset
    assert [s.index for s in filterable_args("x86_64", "fadvise64")] == [3]
    assert filterable_args("i386", "clone") == FILTERABLE["clone"]
    assert filterable_args("aarch64", "open") == ()  # aarch64 has only openat
    assert filterable_args("audit_arch_0x1234", "clone") == ()
    assert filterable_args("x86_64", "getpid") == ()


@pytest.mark.parametrize(
    ("decoder", "value", "text"),
    [
        # pthread_create's clone flags
        ("clone_flags", 0x3D0F00,
         "CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS"
         "|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID"),
        ("clone_flags", 0x1200011, "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"),  # glibc fork()
        ("clone_flags", 0, "0"),
        ("ns_flags", 0x10020000, "CLONE_NEWNS|CLONE_NEWUSER"),
        ("ns_flags", 0x80, "CLONE_NEWTIME"),
        ("address_family", 2, "AF_INET"),
        ("address_family", 1, "AF_UNIX"),
        ("address_family", 40, "AF_VSOCK"),
        ("socket_type", 0x80001, "SOCK_STREAM|SOCK_CLOEXEC"),
        ("socket_type", 0x80802, "SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC"),
        ("mmap_prot", 3, "PROT_READ|PROT_WRITE"),
        ("mmap_prot", 0, "PROT_NONE"),
        ("mmap_prot", 5, "PROT_READ|PROT_EXEC"),
        ("mmap_flags", 0x22, "MAP_PRIVATE|MAP_ANONYMOUS"),
        ("mmap_flags", 0x812, "MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE"),
        ("mmap_flags", 0x40000 | (21 << 26) | 0x22, "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_HUGE_2MB"),
        ("open_flags", 0o2000000, "O_RDONLY|O_CLOEXEC"),
        ("open_flags", 0x8000000, "O_RDONLY|0x8000000"),  # unknown bit in hex
        ("open_flags", 0o2000101, "O_WRONLY|O_CREAT|O_CLOEXEC"),
        ("open_flags", 0o20200002, "O_RDWR|O_TMPFILE"),
        ("open_flags", 0o4010000, "O_RDONLY|O_SYNC"),
        ("o_flags", 0o2004000, "O_NONBLOCK|O_CLOEXEC"),
        ("fcntl_cmd", 2, "F_SETFD"),
        ("fcntl_cmd", 5, "F_GETLK"),  # python-ptrace's table has 5 = F_GETOWN: not Linux's
        ("fcntl_cmd", 1030, "F_DUPFD_CLOEXEC"),
        ("prctl_option", 15, "PR_SET_NAME"),
        ("prctl_option", 38, "PR_SET_NO_NEW_PRIVS"),
        ("arch_prctl_code", 0x1002, "ARCH_SET_FS"),
        ("ioctl_request", 0x5401, "TCGETS"),
        ("ioctl_request", 0x5421, "FIONBIO"),
        ("ioctl_request", 0x5413, "TIOCGWINSZ"),
        ("ioctl_request", 0xDEAD, "0xdead"),
        ("madvise_advice", 4, "MADV_DONTNEED"),
        ("sockopt_level", 1, "SOL_SOCKET"),
        ("sockopt_level", 6, "SOL_TCP"),
        ("futex_op", 128, "FUTEX_WAIT_PRIVATE"),
        ("futex_op", 129, "FUTEX_WAKE_PRIVATE"),
        ("futex_op", 0x189, "FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME"),
        ("futex_op", 0, "FUTEX_WAIT"),
        ("clockid", 1, "CLOCK_MONOTONIC"),
        ("sigprocmask_how", 0, "SIG_BLOCK"),
        ("sigprocmask_how", 2, "SIG_SETMASK"),
        ("signal", 2, "SIGINT"),
        ("signal", 0, "0"),
        ("signal", 34, "SIGRTMIN+2"),
        ("personality", 0, "PER_LINUX"),
        ("personality", 0x40000, "PER_LINUX|ADDR_NO_RANDOMIZE"),
        ("personality", 0xFFFFFFFF, "0xffffffff"),
        ("whence", 0, "SEEK_SET"),
        ("whence", 3, "SEEK_DATA"),
        ("access_mode", 0, "F_OK"),
        ("access_mode", 6, "W_OK|R_OK"),
        ("socketcall", 1, "SYS_SOCKET"),
        ("socketcall", 18, "SYS_ACCEPT4"),
        ("ipc_call", 21, "SHMAT"),
        ("ipc_call", 0x10015, "IPCCALL(1, SHMAT)"),
        ("shmctl_cmd", 0x102, "IPC_STAT|IPC_64"),
        ("rlimit_resource", 7, "RLIMIT_NOFILE"),
        ("rlimit_resource", 15, "RLIMIT_RTTIME"),
        ("sched_policy", 0x40000003, "SCHED_BATCH|SCHED_RESET_ON_FORK"),
        ("wait_options", 0x40000001, "WNOHANG|__WALL"),
        ("waitid_options", 4, "WEXITED"),
        ("seccomp_op", 1, "SECCOMP_SET_MODE_FILTER"),
        ("seccomp_flags", 9, "SECCOMP_FILTER_FLAG_TSYNC|SECCOMP_FILTER_FLAG_NEW_LISTENER"),
        ("mount_flags", 0xC0ED0000 | 0x1000, "MS_MGC_VAL|MS_BIND"),
        ("mount_flags", 0x4000 | 0x40000, "MS_REC|MS_PRIVATE"),
        ("quotactl_cmd", (0x800007 << 8) | 1, "QCMD(Q_GETQUOTA, GRPQUOTA)"),
        ("reboot_cmd", 0x4321FEDC, "LINUX_REBOOT_CMD_POWER_OFF"),
        ("memfd_flags", 3, "MFD_CLOEXEC|MFD_ALLOW_SEALING"),
        ("efd_flags", 0o2004000, "EFD_NONBLOCK|EFD_CLOEXEC"),
        ("grnd_flags", 1, "GRND_NONBLOCK"),
        ("at_flags", 0x1100, "AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH"),
        ("unlinkat_flags", 0x200, "AT_REMOVEDIR"),
        ("faccessat_flags", 0x200, "AT_EACCESS"),
    ],
)
def test_decode_examples(decoder, value, text):
    assert decode(decoder, value) == text


def test_sockopt_name_uses_the_level_when_given():
    assert decode("sockopt_name", 2, (3, 1, 2, 0, 4, 0)) == "SO_REUSEADDR"
    assert decode("sockopt_name", 1, (3, 6, 1, 0, 4, 0)) == "TCP_NODELAY"
    assert decode("sockopt_name", 2) == "SOL_IP:IP_TTL/SOL_SOCKET:SO_REUSEADDR/SOL_TCP:TCP_MAXSEG"  # with levels
    assert decode("sockopt_name", 2, (3, 999, 2, 0, 4, 0)) == "0x2"


def test_socket_protocol_uses_the_domain_when_given():
    assert decode("socket_protocol", 9, (16, 3, 9, 0, 0, 0)) == "NETLINK_AUDIT"
    assert decode("socket_protocol", 6, (2, 1, 6, 0, 0, 0)) == "IPPROTO_TCP"
    assert decode("socket_protocol", 0) == "0"


def test_decode_treats_negative_values_as_unsigned_64():
    assert decode("signal", -1) == "0xffffffffffffffff"


def test_unknown_decoder_raises():
    with pytest.raises(ValueError, match="no_such"):
        decode("no_such", 1)


@given(
    decoder=st.sampled_from(sorted(DECODERS)),
    value=st.integers(min_value=0, max_value=2**64 - 1),
    args=st.none() | st.lists(st.integers(min_value=0, max_value=2**64 - 1), min_size=6, max_size=6),
)
def test_decode_never_raises(decoder, value, args):
    text = decode(decoder, value, args)
    assert isinstance(text, str)
    assert text
