"""Symbolic decoding of recorded argument values, for reports and verify (never on the tracer's path).

`decode(decoder, value)` renders a value as text: CLONE_VM|CLONE_FS, AF_INET, O_RDONLY|O_CLOEXEC.
Constants are the generic Linux / x86 values (x86_64, i386, x32); aarch64 shares nearly all of them
except a few open(2) flag bits (O_DIRECTORY, O_NOFOLLOW, O_DIRECT, O_LARGEFILE), which decode as on
x86. Tables that python-ptrace ships and that are right for x86 are reused; the rest are literals here.
Decoder names are the ones `tracer.syscall_info.ArgSpec.decoder` uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ptrace.syscall.linux_constants import SIGPROCMASK_HOW
from ptrace.syscall.posix_arg import ACCESS_MODE_BITMASK, MMAP_PROT_BITMASK
from ptrace.syscall.posix_constants import SYSCALL_ARG_DICT
from ptrace.syscall.socketcall_constants import SETSOCKOPT_LEVEL, SOCKETCALL

# --------------------------------------------------------------------------------------------------
# Constants (generic Linux, x86 values)
# --------------------------------------------------------------------------------------------------

Bits = tuple[tuple[int, str], ...]  # (mask, name); a composite mask must precede its parts

SIGNALS: dict[int, str] = {
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
    8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM",
    15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP",
    21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM",
    27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS",
    32: "SIGRTMIN", **{n: f"SIGRTMIN+{n - 32}" for n in range(33, 65)},
}

_CLONE_BITS: Bits = (
    (0x100, "CLONE_VM"), (0x200, "CLONE_FS"), (0x400, "CLONE_FILES"), (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"), (0x2000, "CLONE_PTRACE"), (0x4000, "CLONE_VFORK"), (0x8000, "CLONE_PARENT"),
    (0x10000, "CLONE_THREAD"), (0x20000, "CLONE_NEWNS"), (0x40000, "CLONE_SYSVSEM"),
    (0x80000, "CLONE_SETTLS"), (0x100000, "CLONE_PARENT_SETTID"), (0x200000, "CLONE_CHILD_CLEARTID"),
    (0x400000, "CLONE_DETACHED"), (0x800000, "CLONE_UNTRACED"), (0x1000000, "CLONE_CHILD_SETTID"),
    (0x2000000, "CLONE_NEWCGROUP"), (0x4000000, "CLONE_NEWUTS"), (0x8000000, "CLONE_NEWIPC"),
    (0x10000000, "CLONE_NEWUSER"), (0x20000000, "CLONE_NEWPID"), (0x40000000, "CLONE_NEWNET"),
    (0x80000000, "CLONE_IO"),
)
# unshare(2)/setns(2): no exit signal in the low byte, and CLONE_NEWTIME (0x80) lives there instead.
_NS_BITS: Bits = ((0x80, "CLONE_NEWTIME"), *_CLONE_BITS)

ADDRESS_FAMILIES: dict[int, str] = dict(enumerate((
    "AF_UNSPEC", "AF_UNIX", "AF_INET", "AF_AX25", "AF_IPX", "AF_APPLETALK", "AF_NETROM", "AF_BRIDGE",
    "AF_ATMPVC", "AF_X25", "AF_INET6", "AF_ROSE", "AF_DECnet", "AF_NETBEUI", "AF_SECURITY", "AF_KEY",
    "AF_NETLINK", "AF_PACKET", "AF_ASH", "AF_ECONET", "AF_ATMSVC", "AF_RDS", "AF_SNA", "AF_IRDA",
    "AF_PPPOX", "AF_WANPIPE", "AF_LLC", "AF_IB", "AF_MPLS", "AF_CAN", "AF_TIPC", "AF_BLUETOOTH",
    "AF_IUCV", "AF_RXRPC", "AF_ISDN", "AF_PHONET", "AF_IEEE802154", "AF_CAIF", "AF_ALG", "AF_NFC",
    "AF_VSOCK", "AF_KCM", "AF_QIPCRTR", "AF_SMC", "AF_XDP", "AF_MCTP",
)))
_SOCK_TYPES = {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM", 5: "SOCK_SEQPACKET",
               6: "SOCK_DCCP", 10: "SOCK_PACKET"}
_SOCK_FLAGS: Bits = ((0o4000, "SOCK_NONBLOCK"), (0o2000000, "SOCK_CLOEXEC"))
_IPPROTO = {0: "IPPROTO_IP", 1: "IPPROTO_ICMP", 2: "IPPROTO_IGMP", 4: "IPPROTO_IPIP", 6: "IPPROTO_TCP",
            17: "IPPROTO_UDP", 41: "IPPROTO_IPV6", 47: "IPPROTO_GRE", 50: "IPPROTO_ESP", 51: "IPPROTO_AH",
            58: "IPPROTO_ICMPV6", 132: "IPPROTO_SCTP", 136: "IPPROTO_UDPLITE", 255: "IPPROTO_RAW",
            262: "IPPROTO_MPTCP"}
_NETLINK = {0: "NETLINK_ROUTE", 2: "NETLINK_USERSOCK", 4: "NETLINK_SOCK_DIAG", 5: "NETLINK_NFLOG",
            6: "NETLINK_XFRM", 7: "NETLINK_SELINUX", 9: "NETLINK_AUDIT", 10: "NETLINK_FIB_LOOKUP",
            11: "NETLINK_CONNECTOR", 12: "NETLINK_NETFILTER", 15: "NETLINK_KOBJECT_UEVENT",
            16: "NETLINK_GENERIC", 18: "NETLINK_SCSITRANSPORT", 19: "NETLINK_ECRYPTFS", 20: "NETLINK_RDMA",
            21: "NETLINK_CRYPTO", 22: "NETLINK_SMC"}
_PROTOCOLS_BY_FAMILY: dict[int, dict[int, str]] = {2: _IPPROTO, 10: _IPPROTO, 16: _NETLINK}

SOCKOPT_LEVELS: dict[int, str] = {
    **SETSOCKOPT_LEVEL,  # python-ptrace: 0 SOL_IP, 1 SOL_SOCKET
    6: "SOL_TCP", 17: "SOL_UDP", 41: "SOL_IPV6", 58: "SOL_ICMPV6", 132: "SOL_SCTP", 136: "SOL_UDPLITE",
    255: "SOL_RAW", 263: "SOL_PACKET", 270: "SOL_NETLINK", 279: "SOL_ALG", 282: "SOL_TLS", 283: "SOL_XDP",
    284: "SOL_MPTCP",
}
_SO = dict(enumerate((
    "SO_DEBUG", "SO_REUSEADDR", "SO_TYPE", "SO_ERROR", "SO_DONTROUTE", "SO_BROADCAST", "SO_SNDBUF",
    "SO_RCVBUF", "SO_KEEPALIVE", "SO_OOBINLINE", "SO_NO_CHECK", "SO_PRIORITY", "SO_LINGER",
    "SO_BSDCOMPAT", "SO_REUSEPORT", "SO_PASSCRED", "SO_PEERCRED", "SO_RCVLOWAT", "SO_SNDLOWAT",
    "SO_RCVTIMEO_OLD", "SO_SNDTIMEO_OLD", "SO_SECURITY_AUTHENTICATION", "SO_SECURITY_ENCRYPTION_TRANSPORT",
    "SO_SECURITY_ENCRYPTION_NETWORK", "SO_BINDTODEVICE", "SO_ATTACH_FILTER", "SO_DETACH_FILTER",
    "SO_PEERNAME", "SO_TIMESTAMP_OLD", "SO_ACCEPTCONN", "SO_PEERSEC", "SO_SNDBUFFORCE", "SO_RCVBUFFORCE",
    "SO_PASSSEC", "SO_TIMESTAMPNS_OLD", "SO_MARK", "SO_TIMESTAMPING_OLD", "SO_PROTOCOL", "SO_DOMAIN",
    "SO_RXQ_OVFL", "SO_WIFI_STATUS", "SO_PEEK_OFF", "SO_NOFCS", "SO_LOCK_FILTER", "SO_SELECT_ERR_QUEUE",
    "SO_BUSY_POLL", "SO_MAX_PACING_RATE", "SO_BPF_EXTENSIONS", "SO_INCOMING_CPU", "SO_ATTACH_BPF",
    "SO_ATTACH_REUSEPORT_CBPF", "SO_ATTACH_REUSEPORT_EBPF", "SO_CNX_ADVICE", None, "SO_MEMINFO",
    "SO_INCOMING_NAPI_ID", "SO_COOKIE", None, "SO_PEERGROUPS", "SO_ZEROCOPY", "SO_TXTIME",
    "SO_BINDTOIFINDEX", "SO_TIMESTAMP_NEW", "SO_TIMESTAMPNS_NEW", "SO_TIMESTAMPING_NEW",
    "SO_RCVTIMEO_NEW", "SO_SNDTIMEO_NEW", "SO_DETACH_REUSEPORT_BPF", "SO_PREFER_BUSY_POLL",
    "SO_BUSY_POLL_BUDGET", "SO_NETNS_COOKIE", "SO_BUF_LOCK", "SO_RESERVE_MEM", "SO_TXREHASH",
    "SO_RCVMARK", "SO_PASSPIDFD", "SO_PEERPIDFD",
), start=1))
_IP = {**dict(enumerate((
    "IP_TOS", "IP_TTL", "IP_HDRINCL", "IP_OPTIONS", "IP_ROUTER_ALERT", "IP_RECVOPTS", "IP_RETOPTS",
    "IP_PKTINFO", "IP_PKTOPTIONS", "IP_MTU_DISCOVER", "IP_RECVERR", "IP_RECVTTL", "IP_RECVTOS", "IP_MTU",
    "IP_FREEBIND", "IP_IPSEC_POLICY", "IP_XFRM_POLICY", "IP_PASSSEC", "IP_TRANSPARENT", "IP_ORIGDSTADDR",
    "IP_MINTTL", "IP_NODEFRAG", "IP_CHECKSUM", "IP_BIND_ADDRESS_NO_PORT", "IP_RECVFRAGSIZE",
    "IP_RECVERR_RFC4884",
), start=1)), 32: "IP_MULTICAST_IF", 33: "IP_MULTICAST_TTL", 34: "IP_MULTICAST_LOOP",
    35: "IP_ADD_MEMBERSHIP", 36: "IP_DROP_MEMBERSHIP"}
_TCP = dict(enumerate((
    "TCP_NODELAY", "TCP_MAXSEG", "TCP_CORK", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT", "TCP_SYNCNT",
    "TCP_LINGER2", "TCP_DEFER_ACCEPT", "TCP_WINDOW_CLAMP", "TCP_INFO", "TCP_QUICKACK", "TCP_CONGESTION",
    "TCP_MD5SIG", None, "TCP_THIN_LINEAR_TIMEOUTS", "TCP_THIN_DUPACK", "TCP_USER_TIMEOUT", "TCP_REPAIR",
    "TCP_REPAIR_QUEUE", "TCP_QUEUE_SEQ", "TCP_REPAIR_OPTIONS", "TCP_FASTOPEN", "TCP_TIMESTAMP",
    "TCP_NOTSENT_LOWAT", "TCP_CC_INFO", "TCP_SAVE_SYN", "TCP_SAVED_SYN", "TCP_REPAIR_WINDOW",
    "TCP_FASTOPEN_CONNECT", "TCP_ULP", "TCP_MD5SIG_EXT", "TCP_FASTOPEN_KEY", "TCP_FASTOPEN_NO_COOKIE",
    "TCP_ZEROCOPY_RECEIVE", "TCP_INQ", "TCP_TX_DELAY",
), start=1))
_UDP = {1: "UDP_CORK", 100: "UDP_ENCAP", 101: "UDP_NO_CHECK6_TX", 102: "UDP_NO_CHECK6_RX",
        103: "UDP_SEGMENT", 104: "UDP_GRO"}
_IPV6 = {1: "IPV6_ADDRFORM", 16: "IPV6_UNICAST_HOPS", 17: "IPV6_MULTICAST_IF", 18: "IPV6_MULTICAST_HOPS",
         19: "IPV6_MULTICAST_LOOP", 20: "IPV6_ADD_MEMBERSHIP", 21: "IPV6_DROP_MEMBERSHIP",
         22: "IPV6_ROUTER_ALERT", 23: "IPV6_MTU_DISCOVER", 24: "IPV6_MTU", 25: "IPV6_RECVERR",
         26: "IPV6_V6ONLY", 49: "IPV6_RECVPKTINFO", 50: "IPV6_PKTINFO", 66: "IPV6_RECVTCLASS",
         67: "IPV6_TCLASS", 75: "IPV6_TRANSPARENT", 78: "IPV6_FREEBIND"}
# level -> option names. An option number alone is ambiguous (2 is SO_REUSEADDR, IP_TTL, TCP_MAXSEG).
_SOCKOPTS_BY_LEVEL: dict[int, dict[int, str]] = {
    1: {k: v for k, v in _SO.items() if v}, 0: _IP, 6: {k: v for k, v in _TCP.items() if v},
    17: _UDP, 41: _IPV6,
}
_MSG_BITS: Bits = (
    (0x1, "MSG_OOB"), (0x2, "MSG_PEEK"), (0x4, "MSG_DONTROUTE"), (0x8, "MSG_CTRUNC"), (0x10, "MSG_PROXY"),
    (0x20, "MSG_TRUNC"), (0x40, "MSG_DONTWAIT"), (0x80, "MSG_EOR"), (0x100, "MSG_WAITALL"),
    (0x200, "MSG_FIN"), (0x400, "MSG_SYN"), (0x800, "MSG_CONFIRM"), (0x1000, "MSG_RST"),
    (0x2000, "MSG_ERRQUEUE"), (0x4000, "MSG_NOSIGNAL"), (0x8000, "MSG_MORE"), (0x10000, "MSG_WAITFORONE"),
    (0x40000, "MSG_BATCH"), (0x2000000, "MSG_SOCK_DEVMEM"), (0x4000000, "MSG_ZEROCOPY"),
    (0x20000000, "MSG_FASTOPEN"), (0x40000000, "MSG_CMSG_CLOEXEC"),
)
_SOCKETCALLS = {**{n: f"SYS_{name.upper()}" for n, name in SOCKETCALL.items()},  # python-ptrace: 1..17
                18: "SYS_ACCEPT4", 19: "SYS_RECVMMSG", 20: "SYS_SENDMMSG"}

_ACCMODE = {0: "O_RDONLY", 1: "O_WRONLY", 2: "O_RDWR", 3: "O_ACCMODE"}
_O_BITS: Bits = (
    (0o20200000, "O_TMPFILE"), (0o4010000, "O_SYNC"),  # composites: __O_TMPFILE|O_DIRECTORY, __O_SYNC|O_DSYNC
    (0o100, "O_CREAT"), (0o200, "O_EXCL"), (0o400, "O_NOCTTY"), (0o1000, "O_TRUNC"), (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"), (0o10000, "O_DSYNC"), (0o20000, "O_ASYNC"), (0o40000, "O_DIRECT"),
    (0o100000, "O_LARGEFILE"), (0o200000, "O_DIRECTORY"), (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"), (0o2000000, "O_CLOEXEC"), (0o4000000, "__O_SYNC"), (0o10000000, "O_PATH"),
    (0o20000000, "__O_TMPFILE"),
)
_FCNTL = {
    0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL", 5: "F_GETLK", 6: "F_SETLK",
    7: "F_SETLKW", 8: "F_SETOWN", 9: "F_GETOWN", 10: "F_SETSIG", 11: "F_GETSIG", 12: "F_GETLK64",
    13: "F_SETLK64", 14: "F_SETLKW64", 15: "F_SETOWN_EX", 16: "F_GETOWN_EX", 17: "F_GETOWNER_UIDS",
    36: "F_OFD_GETLK", 37: "F_OFD_SETLK", 38: "F_OFD_SETLKW",
    1024: "F_SETLEASE", 1025: "F_GETLEASE", 1026: "F_NOTIFY", 1027: "F_DUPFD_QUERY",
    1028: "F_CREATED_QUERY", 1029: "F_CANCELLK", 1030: "F_DUPFD_CLOEXEC", 1031: "F_SETPIPE_SZ",
    1032: "F_GETPIPE_SZ", 1033: "F_ADD_SEALS", 1034: "F_GET_SEALS", 1035: "F_GET_RW_HINT",
    1036: "F_SET_RW_HINT", 1037: "F_GET_FILE_RW_HINT", 1038: "F_SET_FILE_RW_HINT",
}  # not python-ptrace's: its 5..9 (F_GETOWN, F_SETOWN, F_GETLK, ...) are not Linux's order
_WHENCE = {**SYSCALL_ARG_DICT["lseek"]["origin"], 3: "SEEK_DATA", 4: "SEEK_HOLE"}
_FLOCK_BITS: Bits = ((1, "LOCK_SH"), (2, "LOCK_EX"), (4, "LOCK_NB"), (8, "LOCK_UN"), (32, "LOCK_MAND"),
                     (64, "LOCK_READ"), (128, "LOCK_WRITE"))
_FADVISE = dict(enumerate(("POSIX_FADV_NORMAL", "POSIX_FADV_RANDOM", "POSIX_FADV_SEQUENTIAL",
                           "POSIX_FADV_WILLNEED", "POSIX_FADV_DONTNEED", "POSIX_FADV_NOREUSE")))
_AT_BITS: Bits = ((0x100, "AT_SYMLINK_NOFOLLOW"), (0x400, "AT_SYMLINK_FOLLOW"), (0x800, "AT_NO_AUTOMOUNT"),
                  (0x1000, "AT_EMPTY_PATH"), (0x2000, "AT_STATX_FORCE_SYNC"), (0x4000, "AT_STATX_DONT_SYNC"),
                  (0x8000, "AT_RECURSIVE"), (0x10000, "AT_EXECVE_CHECK"))  # 0x200 depends on the call
_FALLOC_BITS: Bits = ((0x1, "FALLOC_FL_KEEP_SIZE"), (0x2, "FALLOC_FL_PUNCH_HOLE"),
                      (0x4, "FALLOC_FL_NO_HIDE_STALE"), (0x8, "FALLOC_FL_COLLAPSE_RANGE"),
                      (0x10, "FALLOC_FL_ZERO_RANGE"), (0x20, "FALLOC_FL_INSERT_RANGE"),
                      (0x40, "FALLOC_FL_UNSHARE_RANGE"), (0x80, "FALLOC_FL_WRITE_ZEROES"))
_NONBLOCK_CLOEXEC = ((0o4000, "NONBLOCK"), (0o2000000, "CLOEXEC"))


def _prefixed(prefix: str, bits: Bits) -> Bits:
    return tuple((mask, prefix + name) for mask, name in bits)


_IOCTLS: dict[int, str] = {
    # terminals (asm-generic/ioctls.h)
    0x5401: "TCGETS", 0x5402: "TCSETS", 0x5403: "TCSETSW", 0x5404: "TCSETSF", 0x5405: "TCGETA",
    0x5406: "TCSETA", 0x5407: "TCSETAW", 0x5408: "TCSETAF", 0x5409: "TCSBRK", 0x540A: "TCXONC",
    0x540B: "TCFLSH", 0x540C: "TIOCEXCL", 0x540D: "TIOCNXCL", 0x540E: "TIOCSCTTY", 0x540F: "TIOCGPGRP",
    0x5410: "TIOCSPGRP", 0x5411: "TIOCOUTQ", 0x5412: "TIOCSTI", 0x5413: "TIOCGWINSZ", 0x5414: "TIOCSWINSZ",
    0x5415: "TIOCMGET", 0x5416: "TIOCMBIS", 0x5417: "TIOCMBIC", 0x5418: "TIOCMSET", 0x5419: "TIOCGSOFTCAR",
    0x541A: "TIOCSSOFTCAR", 0x541B: "FIONREAD", 0x541C: "TIOCLINUX", 0x541D: "TIOCCONS",
    0x541E: "TIOCGSERIAL", 0x541F: "TIOCSSERIAL", 0x5420: "TIOCPKT", 0x5421: "FIONBIO", 0x5422: "TIOCNOTTY",
    0x5423: "TIOCSETD", 0x5424: "TIOCGETD", 0x5425: "TCSBRKP", 0x5427: "TIOCSBRK", 0x5428: "TIOCCBRK",
    0x5429: "TIOCGSID", 0x802C542A: "TCGETS2", 0x402C542B: "TCSETS2", 0x80045430: "TIOCGPTN",
    0x40045431: "TIOCSPTLCK", 0x80045432: "TIOCGDEV", 0x40045436: "TIOCSIG", 0x5437: "TIOCVHANGUP",
    0x80045438: "TIOCGPKT", 0x80045439: "TIOCGPTLCK", 0x80045440: "TIOCGEXCL", 0x5441: "TIOCGPTPEER",
    0x5450: "FIONCLEX", 0x5451: "FIOCLEX", 0x5452: "FIOASYNC", 0x545D: "TIOCGICOUNT", 0x5460: "FIOQSIZE",
    # files and block devices (x86_64 sizes)
    0x1: "FIBMAP", 0x2: "FIGETBSZ", 0x40049409: "FICLONE", 0x4020940D: "FICLONERANGE",
    0xC0189436: "FIDEDUPERANGE", 0x80086601: "FS_IOC_GETFLAGS", 0x40086602: "FS_IOC_SETFLAGS",
    0x80087601: "FS_IOC_GETVERSION", 0xC020660B: "FS_IOC_FIEMAP", 0x125F: "BLKRRPART",
    0x1260: "BLKGETSIZE", 0x1261: "BLKFLSBUF", 0x1268: "BLKSSZGET", 0x80081272: "BLKGETSIZE64",
    0x4C00: "LOOP_SET_FD", 0x4C01: "LOOP_CLR_FD", 0x4C05: "LOOP_GET_STATUS64", 0x4C82: "LOOP_CTL_GET_FREE",
    # sockets and network devices
    0x8906: "SIOCGSTAMP_OLD", 0x8910: "SIOCGIFNAME", 0x8912: "SIOCGIFCONF", 0x8913: "SIOCGIFFLAGS",
    0x8914: "SIOCSIFFLAGS", 0x8915: "SIOCGIFADDR", 0x891B: "SIOCGIFNETMASK", 0x8921: "SIOCGIFMTU",
    0x8927: "SIOCGIFHWADDR", 0x8933: "SIOCGIFINDEX", 0x8946: "SIOCETHTOOL", 0x400454CA: "TUNSETIFF",
    0x800454D2: "TUNGETIFF",
    # namespaces, seccomp notify, perf, kvm, input
    0xB701: "NS_GET_USERNS", 0xB702: "NS_GET_PARENT", 0xB703: "NS_GET_NSTYPE", 0xB704: "NS_GET_OWNER_UID",
    0xC0502100: "SECCOMP_IOCTL_NOTIF_RECV", 0xC0182101: "SECCOMP_IOCTL_NOTIF_SEND",
    0x40082102: "SECCOMP_IOCTL_NOTIF_ID_VALID", 0x40182103: "SECCOMP_IOCTL_NOTIF_ADDFD",
    0x40082104: "SECCOMP_IOCTL_NOTIF_SET_FLAGS", 0x2400: "PERF_EVENT_IOC_ENABLE",
    0x2401: "PERF_EVENT_IOC_DISABLE", 0x2403: "PERF_EVENT_IOC_RESET", 0xAE00: "KVM_GET_API_VERSION",
    0xAE01: "KVM_CREATE_VM", 0x80044501: "EVIOCGVERSION",
}

_PROT_BITS: Bits = tuple(sorted((*MMAP_PROT_BITMASK, (0x8, "PROT_SEM"))))  # python-ptrace + x86's PROT_SEM
_MAP_TYPES = {1: "MAP_SHARED", 2: "MAP_PRIVATE", 3: "MAP_SHARED_VALIDATE", 8: "MAP_DROPPABLE"}
_MAP_BITS: Bits = (
    (0x10, "MAP_FIXED"), (0x20, "MAP_ANONYMOUS"), (0x40, "MAP_32BIT"), (0x100, "MAP_GROWSDOWN"),
    (0x800, "MAP_DENYWRITE"), (0x1000, "MAP_EXECUTABLE"), (0x2000, "MAP_LOCKED"), (0x4000, "MAP_NORESERVE"),
    (0x8000, "MAP_POPULATE"), (0x10000, "MAP_NONBLOCK"), (0x20000, "MAP_STACK"), (0x40000, "MAP_HUGETLB"),
    (0x80000, "MAP_SYNC"), (0x100000, "MAP_FIXED_NOREPLACE"), (0x4000000, "MAP_UNINITIALIZED"),
)
_HUGE_SHIFT, _HUGE_MASK = 26, 0x3F  # MAP_HUGE_*/MFD_HUGE_*: log2(page size) in bits 26..31
_HUGE_SIZES = {16: "64KB", 19: "512KB", 20: "1MB", 21: "2MB", 23: "8MB", 24: "16MB", 25: "32MB",
               28: "256MB", 29: "512MB", 30: "1GB", 31: "2GB", 34: "16GB"}
_MADVISE = {
    0: "MADV_NORMAL", 1: "MADV_RANDOM", 2: "MADV_SEQUENTIAL", 3: "MADV_WILLNEED", 4: "MADV_DONTNEED",
    8: "MADV_FREE", 9: "MADV_REMOVE", 10: "MADV_DONTFORK", 11: "MADV_DOFORK", 12: "MADV_MERGEABLE",
    13: "MADV_UNMERGEABLE", 14: "MADV_HUGEPAGE", 15: "MADV_NOHUGEPAGE", 16: "MADV_DONTDUMP",
    17: "MADV_DODUMP", 18: "MADV_WIPEONFORK", 19: "MADV_KEEPONFORK", 20: "MADV_COLD", 21: "MADV_PAGEOUT",
    22: "MADV_POPULATE_READ", 23: "MADV_POPULATE_WRITE", 24: "MADV_DONTNEED_LOCKED", 25: "MADV_COLLAPSE",
    100: "MADV_HWPOISON", 101: "MADV_SOFT_OFFLINE", 102: "MADV_GUARD_INSTALL", 103: "MADV_GUARD_REMOVE",
}
_MEMBARRIER = {0: "MEMBARRIER_CMD_QUERY", **{
    1 << i: "MEMBARRIER_CMD_" + name for i, name in enumerate((
        "GLOBAL", "GLOBAL_EXPEDITED", "REGISTER_GLOBAL_EXPEDITED", "PRIVATE_EXPEDITED",
        "REGISTER_PRIVATE_EXPEDITED", "PRIVATE_EXPEDITED_SYNC_CORE", "REGISTER_PRIVATE_EXPEDITED_SYNC_CORE",
        "PRIVATE_EXPEDITED_RSEQ", "REGISTER_PRIVATE_EXPEDITED_RSEQ", "GET_REGISTRATIONS"))}}

_PRCTL = {
    **dict(enumerate((
        "PR_SET_PDEATHSIG", "PR_GET_PDEATHSIG", "PR_GET_DUMPABLE", "PR_SET_DUMPABLE", "PR_GET_UNALIGN",
        "PR_SET_UNALIGN", "PR_GET_KEEPCAPS", "PR_SET_KEEPCAPS", "PR_GET_FPEMU", "PR_SET_FPEMU",
        "PR_GET_FPEXC", "PR_SET_FPEXC", "PR_GET_TIMING", "PR_SET_TIMING", "PR_SET_NAME", "PR_GET_NAME",
        None, None, "PR_GET_ENDIAN", "PR_SET_ENDIAN", "PR_GET_SECCOMP", "PR_SET_SECCOMP", "PR_CAPBSET_READ",
        "PR_CAPBSET_DROP", "PR_GET_TSC", "PR_SET_TSC", "PR_GET_SECUREBITS", "PR_SET_SECUREBITS",
        "PR_SET_TIMERSLACK", "PR_GET_TIMERSLACK", "PR_TASK_PERF_EVENTS_DISABLE",
        "PR_TASK_PERF_EVENTS_ENABLE", "PR_MCE_KILL", "PR_MCE_KILL_GET", "PR_SET_MM",
        "PR_SET_CHILD_SUBREAPER", "PR_GET_CHILD_SUBREAPER", "PR_SET_NO_NEW_PRIVS", "PR_GET_NO_NEW_PRIVS",
        "PR_GET_TID_ADDRESS", "PR_SET_THP_DISABLE", "PR_GET_THP_DISABLE", "PR_MPX_ENABLE_MANAGEMENT",
        "PR_MPX_DISABLE_MANAGEMENT", "PR_SET_FP_MODE", "PR_GET_FP_MODE", "PR_CAP_AMBIENT", None, None,
        "PR_SVE_SET_VL", "PR_SVE_GET_VL", "PR_GET_SPECULATION_CTRL", "PR_SET_SPECULATION_CTRL",
        "PR_PAC_RESET_KEYS", "PR_SET_TAGGED_ADDR_CTRL", "PR_GET_TAGGED_ADDR_CTRL", "PR_SET_IO_FLUSHER",
        "PR_GET_IO_FLUSHER", "PR_SET_SYSCALL_USER_DISPATCH", "PR_PAC_SET_ENABLED_KEYS",
        "PR_PAC_GET_ENABLED_KEYS", "PR_SCHED_CORE", "PR_SME_SET_VL", "PR_SME_GET_VL", "PR_SET_MDWE",
        "PR_GET_MDWE", "PR_SET_MEMORY_MERGE", "PR_GET_MEMORY_MERGE", "PR_RISCV_V_SET_CONTROL",
        "PR_RISCV_V_GET_CONTROL", "PR_RISCV_SET_ICACHE_FLUSH_CTX", "PR_PPC_GET_DEXCR", "PR_PPC_SET_DEXCR",
        "PR_GET_SHADOW_STACK_STATUS", "PR_SET_SHADOW_STACK_STATUS", "PR_LOCK_SHADOW_STACK_STATUS",
        "PR_TIMER_CREATE_RESTORE_IDS", "PR_FUTEX_HASH",
    ), start=1)),
    0x53564D41: "PR_SET_VMA", 0x59616D61: "PR_SET_PTRACER",
}
_ARCH_PRCTL = {
    0x1001: "ARCH_SET_GS", 0x1002: "ARCH_SET_FS", 0x1003: "ARCH_GET_FS", 0x1004: "ARCH_GET_GS",
    0x1011: "ARCH_GET_CPUID", 0x1012: "ARCH_SET_CPUID", 0x1021: "ARCH_GET_XCOMP_SUPP",
    0x1022: "ARCH_GET_XCOMP_PERM", 0x1023: "ARCH_REQ_XCOMP_PERM", 0x1024: "ARCH_GET_XCOMP_GUEST_PERM",
    0x1025: "ARCH_REQ_XCOMP_GUEST_PERM", 0x2001: "ARCH_MAP_VDSO_X32", 0x2002: "ARCH_MAP_VDSO_32",
    0x2003: "ARCH_MAP_VDSO_64", 0x4001: "ARCH_GET_UNTAG_MASK", 0x4002: "ARCH_ENABLE_TAGGED_ADDR",
    0x4003: "ARCH_GET_MAX_TAG_BITS", 0x4004: "ARCH_FORCE_TAGGED_SVA", 0x5001: "ARCH_SHSTK_ENABLE",
    0x5002: "ARCH_SHSTK_DISABLE", 0x5003: "ARCH_SHSTK_LOCK", 0x5004: "ARCH_SHSTK_UNLOCK",
    0x5005: "ARCH_SHSTK_STATUS",
}
_PER_DOMAINS = dict(enumerate((
    "PER_LINUX", "PER_SVR4", "PER_SVR3", "PER_SCOSVR3", "PER_WYSEV386", "PER_ISCR4", "PER_BSD", "PER_XENIX",
    "PER_LINUX32", "PER_IRIX32", "PER_IRIXN32", "PER_IRIX64", "PER_RISCOS", "PER_SOLARIS", "PER_UW7",
    "PER_OSF4", "PER_HPUX",
)))
_PER_BITS: Bits = (
    (0x20000, "UNAME26"), (0x40000, "ADDR_NO_RANDOMIZE"), (0x80000, "FDPIC_FUNCPTRS"),
    (0x100000, "MMAP_PAGE_ZERO"), (0x200000, "ADDR_COMPAT_LAYOUT"), (0x400000, "READ_IMPLIES_EXEC"),
    (0x800000, "ADDR_LIMIT_32BIT"), (0x1000000, "SHORT_INODE"), (0x2000000, "WHOLE_SECONDS"),
    (0x4000000, "STICKY_TIMEOUTS"), (0x8000000, "ADDR_LIMIT_3GB"),
)
_PTRACE = {
    **dict(enumerate(("PTRACE_TRACEME", "PTRACE_PEEKTEXT", "PTRACE_PEEKDATA", "PTRACE_PEEKUSER",
                      "PTRACE_POKETEXT", "PTRACE_POKEDATA", "PTRACE_POKEUSER", "PTRACE_CONT", "PTRACE_KILL",
                      "PTRACE_SINGLESTEP"))),
    12: "PTRACE_GETREGS", 13: "PTRACE_SETREGS", 14: "PTRACE_GETFPREGS", 15: "PTRACE_SETFPREGS",
    16: "PTRACE_ATTACH", 17: "PTRACE_DETACH", 18: "PTRACE_GETFPXREGS", 19: "PTRACE_SETFPXREGS",
    24: "PTRACE_SYSCALL", 25: "PTRACE_GET_THREAD_AREA", 26: "PTRACE_SET_THREAD_AREA",
    30: "PTRACE_ARCH_PRCTL", 31: "PTRACE_SYSEMU", 32: "PTRACE_SYSEMU_SINGLESTEP", 33: "PTRACE_SINGLEBLOCK",
    **dict(enumerate((
        "PTRACE_SETOPTIONS", "PTRACE_GETEVENTMSG", "PTRACE_GETSIGINFO", "PTRACE_SETSIGINFO",
        "PTRACE_GETREGSET", "PTRACE_SETREGSET", "PTRACE_SEIZE", "PTRACE_INTERRUPT", "PTRACE_LISTEN",
        "PTRACE_PEEKSIGINFO", "PTRACE_GETSIGMASK", "PTRACE_SETSIGMASK", "PTRACE_SECCOMP_GET_FILTER",
        "PTRACE_SECCOMP_GET_METADATA", "PTRACE_GET_SYSCALL_INFO", "PTRACE_GET_RSEQ_CONFIGURATION",
        "PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG", "PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG",
        "PTRACE_SET_SYSCALL_INFO",
    ), start=0x4200)),
}
_SECCOMP_OPS = dict(enumerate(("SECCOMP_SET_MODE_STRICT", "SECCOMP_SET_MODE_FILTER",
                               "SECCOMP_GET_ACTION_AVAIL", "SECCOMP_GET_NOTIF_SIZES")))
_SECCOMP_BITS: Bits = _prefixed("SECCOMP_FILTER_FLAG_", (
    (1, "TSYNC"), (2, "LOG"), (4, "SPEC_ALLOW"), (8, "NEW_LISTENER"), (16, "TSYNC_ESRCH"),
    (32, "WAIT_KILLABLE_RECV")))
_BPF = dict(enumerate("BPF_" + name for name in (
    "MAP_CREATE", "MAP_LOOKUP_ELEM", "MAP_UPDATE_ELEM", "MAP_DELETE_ELEM", "MAP_GET_NEXT_KEY", "PROG_LOAD",
    "OBJ_PIN", "OBJ_GET", "PROG_ATTACH", "PROG_DETACH", "PROG_TEST_RUN", "PROG_GET_NEXT_ID",
    "MAP_GET_NEXT_ID", "PROG_GET_FD_BY_ID", "MAP_GET_FD_BY_ID", "OBJ_GET_INFO_BY_FD", "PROG_QUERY",
    "RAW_TRACEPOINT_OPEN", "BTF_LOAD", "BTF_GET_FD_BY_ID", "TASK_FD_QUERY", "MAP_LOOKUP_AND_DELETE_ELEM",
    "MAP_FREEZE", "BTF_GET_NEXT_ID", "MAP_LOOKUP_BATCH", "MAP_LOOKUP_AND_DELETE_BATCH", "MAP_UPDATE_BATCH",
    "MAP_DELETE_BATCH", "LINK_CREATE", "LINK_UPDATE", "LINK_GET_FD_BY_ID", "LINK_GET_NEXT_ID",
    "ENABLE_STATS", "ITER_CREATE", "LINK_DETACH", "PROG_BIND_MAP", "TOKEN_CREATE",
)))
_KEYCTL = dict(enumerate("KEYCTL_" + name for name in (
    "GET_KEYRING_ID", "JOIN_SESSION_KEYRING", "UPDATE", "REVOKE", "CHOWN", "SETPERM", "DESCRIBE", "CLEAR",
    "LINK", "UNLINK", "SEARCH", "READ", "INSTANTIATE", "NEGATE", "SET_REQKEY_KEYRING", "SET_TIMEOUT",
    "ASSUME_AUTHORITY", "GET_SECURITY", "SESSION_TO_PARENT", "REJECT", "INSTANTIATE_IOV", "INVALIDATE",
    "GET_PERSISTENT", "DH_COMPUTE", "PKEY_QUERY", "PKEY_ENCRYPT", "PKEY_DECRYPT", "PKEY_SIGN",
    "PKEY_VERIFY", "RESTRICT_KEYRING", "MOVE", "CAPABILITIES", "WATCH_KEY",
)))
_QUOTA_CMDS = {
    **{0x800001 + i: name for i, name in enumerate((
        "Q_SYNC", "Q_QUOTAON", "Q_QUOTAOFF", "Q_GETFMT", "Q_GETINFO", "Q_SETINFO", "Q_GETQUOTA",
        "Q_SETQUOTA", "Q_GETNEXTQUOTA"))},
    **{0x5801 + i: name for i, name in enumerate((
        "Q_XQUOTAON", "Q_XQUOTAOFF", "Q_XGETQUOTA", "Q_XSETQLIM", "Q_XGETQSTAT", "Q_XQUOTARM",
        "Q_XQUOTASYNC", "Q_XGETQSTATV", "Q_XGETNEXTQUOTA"))},
}
_QUOTA_TYPES = {0: "USRQUOTA", 1: "GRPQUOTA", 2: "PRJQUOTA"}
_REBOOT = {0x01234567: "LINUX_REBOOT_CMD_RESTART", 0xCDEF0123: "LINUX_REBOOT_CMD_HALT",
           0x89ABCDEF: "LINUX_REBOOT_CMD_CAD_ON", 0: "LINUX_REBOOT_CMD_CAD_OFF",
           0x4321FEDC: "LINUX_REBOOT_CMD_POWER_OFF", 0xA1B2C3D4: "LINUX_REBOOT_CMD_RESTART2",
           0xD000FCE2: "LINUX_REBOOT_CMD_SW_SUSPEND", 0x45584543: "LINUX_REBOOT_CMD_KEXEC"}
_SYSLOG = dict(enumerate("SYSLOG_ACTION_" + name for name in (
    "CLOSE", "OPEN", "READ", "READ_ALL", "READ_CLEAR", "CLEAR", "CONSOLE_OFF", "CONSOLE_ON",
    "CONSOLE_LEVEL", "SIZE_UNREAD", "SIZE_BUFFER")))
_MS_BITS: Bits = tuple((1 << i, name) for i, name in enumerate((
    "MS_RDONLY", "MS_NOSUID", "MS_NODEV", "MS_NOEXEC", "MS_SYNCHRONOUS", "MS_REMOUNT", "MS_MANDLOCK",
    "MS_DIRSYNC", "MS_NOSYMFOLLOW", None, "MS_NOATIME", "MS_NODIRATIME", "MS_BIND", "MS_MOVE", "MS_REC",
    "MS_SILENT", "MS_POSIXACL", "MS_UNBINDABLE", "MS_PRIVATE", "MS_SLAVE", "MS_SHARED", "MS_RELATIME",
    "MS_KERNMOUNT", "MS_I_VERSION", "MS_STRICTATIME", "MS_LAZYTIME", None, None, None, None, "MS_ACTIVE",
    "MS_NOUSER",
)) if name)
_MS_MGC_VAL, _MS_MGC_MSK = 0xC0ED0000, 0xFFFF0000  # the pre-2.4 magic some callers still put on top

_RLIMITS = dict(enumerate(("RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE",
                           "RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS",
                           "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
                           "RLIMIT_RTPRIO", "RLIMIT_RTTIME")))  # python-ptrace calls 15 RLIMIT_NLIMITS
_SCHED_POLICIES = dict(enumerate(("SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO",
                                  "SCHED_IDLE", "SCHED_DEADLINE", "SCHED_EXT")))
_SCHED_RESET_ON_FORK = 0x40000000
_WAIT_HIGH_BITS: Bits = ((0x1000000, "WNOWAIT"), (0x20000000, "__WNOTHREAD"), (0x40000000, "__WALL"),
                         (0x80000000, "__WCLONE"))
_WAIT4_BITS: Bits = ((1, "WNOHANG"), (2, "WUNTRACED"), (8, "WCONTINUED"), *_WAIT_HIGH_BITS)
_WAITID_BITS: Bits = ((1, "WNOHANG"), (2, "WSTOPPED"), (4, "WEXITED"), (8, "WCONTINUED"), *_WAIT_HIGH_BITS)

_FUTEX_PRIVATE_FLAG, _FUTEX_CLOCK_REALTIME = 128, 256
_FUTEX_CMDS = {**SYSCALL_ARG_DICT["futex"]["op"],  # python-ptrace: FUTEX_WAIT .. FUTEX_TRYLOCK_PI
               9: "FUTEX_WAIT_BITSET", 10: "FUTEX_WAKE_BITSET", 11: "FUTEX_WAIT_REQUEUE_PI",
               12: "FUTEX_CMP_REQUEUE_PI", 13: "FUTEX_LOCK_PI2"}
_FUTEX2_SIZES = {0: "FUTEX2_SIZE_U8", 1: "FUTEX2_SIZE_U16", 2: "FUTEX2_SIZE_U32", 3: "FUTEX2_SIZE_U64"}
_FUTEX2_BITS: Bits = ((4, "FUTEX2_NUMA"), (8, "FUTEX2_MPOL"), (128, "FUTEX2_PRIVATE"))
_IPC_CALLS: dict[int, str] = dict(SYSCALL_ARG_DICT["ipc"]["call"])  # python-ptrace: SEMOP .. SHMCTL
_IPC_64 = 0x100  # or-ed into *ctl commands by 32-bit libcs asking for the 64-bit structures
_IPC_CTL = {0: "IPC_RMID", 1: "IPC_SET", 2: "IPC_STAT", 3: "IPC_INFO"}
_SHMCTL = {**_IPC_CTL, 11: "SHM_LOCK", 12: "SHM_UNLOCK", 13: "SHM_STAT", 14: "SHM_INFO", 15: "SHM_STAT_ANY"}
_MSGCTL = {**_IPC_CTL, 11: "MSG_STAT", 12: "MSG_INFO", 13: "MSG_STAT_ANY"}
_SEMCTL = {**_IPC_CTL, 11: "GETPID", 12: "GETVAL", 13: "GETALL", 14: "GETNCNT", 15: "GETZCNT", 16: "SETVAL",
           17: "SETALL", 18: "SEM_STAT", 19: "SEM_INFO", 20: "SEM_STAT_ANY"}

_CLOCKS = dict(enumerate((
    "CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_PROCESS_CPUTIME_ID", "CLOCK_THREAD_CPUTIME_ID",
    "CLOCK_MONOTONIC_RAW", "CLOCK_REALTIME_COARSE", "CLOCK_MONOTONIC_COARSE", "CLOCK_BOOTTIME",
    "CLOCK_REALTIME_ALARM", "CLOCK_BOOTTIME_ALARM", "CLOCK_SGI_CYCLE", "CLOCK_TAI",
)))

# --------------------------------------------------------------------------------------------------
# Decoders
# --------------------------------------------------------------------------------------------------

_U64 = (1 << 64) - 1


def _hex(value: int) -> str:
    return f"{value:#x}"


def _enum(table: Mapping[int, str | None], value: int) -> str:
    return table.get(value) or _hex(value)


def _bits(value: int, bits: Bits, zero: str = "0", head: Sequence[str] = (), tail: Sequence[str] = ()) -> str:
    """head, the names of the set masks in table order, tail, then any unknown rest in hex; else `zero`."""
    names, rest = list(head), value
    for mask, name in bits:
        if mask and rest & mask == mask:
            names.append(name)
            rest &= ~mask
    names.extend(tail)
    if rest:
        names.append(_hex(rest))
    return "|".join(names) or zero


def _clone_flags(value: int) -> str:
    text = _bits(value & ~0xFF, _CLONE_BITS, zero="")
    signal = value & 0xFF
    if signal:
        text += ("|" if text else "") + SIGNALS.get(signal, _hex(signal))
    return text or "0"


def _open_flags(value: int) -> str:
    return _bits(value & ~3, _O_BITS, head=(_ACCMODE[value & 3],))


def _socket_type(value: int) -> str:
    base = value & 0xF
    head = (_SOCK_TYPES[base],) if base in _SOCK_TYPES else ()
    rest = value if not head else value & ~0xF
    return _bits(rest, _SOCK_FLAGS, head=head)


def _socket_protocol(value: int, args: Sequence[int] | None) -> str:
    if value == 0:
        return "0"
    tables = [_PROTOCOLS_BY_FAMILY.get(args[0], {})] if args else [_IPPROTO, _NETLINK]  # args[0]: domain
    return _candidates(value, tables)


def _candidates(value: int, tables: Sequence[Mapping[int, str]]) -> str:
    """The one name when the context fixes the table; else every table's name for value, joined by '/'."""
    names = [t[value] for t in tables if value in t]
    return "/".join(names) or _hex(value)


def _sockopt_name(value: int, args: Sequence[int] | None) -> str:
    if args and len(args) > 1:
        return _candidates(value, [_SOCKOPTS_BY_LEVEL.get(args[1], {})])  # args[1]: level
    return _candidates(value, list(_SOCKOPTS_BY_LEVEL.values()))


def _huge(value: int, hugetlb: int, prefix: str, bits: Bits, head: Sequence[str] = ()) -> str:
    """Flags whose bits 26..31 hold log2(huge page size) when `hugetlb` is set (mmap, memfd_create)."""
    shift = (value >> _HUGE_SHIFT) & _HUGE_MASK
    if not (value & hugetlb and shift):
        return _bits(value, bits, head=head)
    size = f"{prefix}{_HUGE_SIZES[shift]}" if shift in _HUGE_SIZES else f"{shift}<<{prefix}SHIFT"
    return _bits(value & ~(_HUGE_MASK << _HUGE_SHIFT), bits, head=head, tail=(size,))


def _mmap_flags(value: int) -> str:
    kind = value & 0xF
    head = (_MAP_TYPES[kind],) if kind in _MAP_TYPES else ()
    return _huge(value & ~0xF if head else value, 0x40000, "MAP_HUGE_", _MAP_BITS, head)


def _futex_op(value: int) -> str:
    cmd = value & ~(_FUTEX_PRIVATE_FLAG | _FUTEX_CLOCK_REALTIME)
    if cmd not in _FUTEX_CMDS:
        return _hex(value)
    name = _FUTEX_CMDS[cmd] + ("_PRIVATE" if value & _FUTEX_PRIVATE_FLAG else "")
    return name + ("|FUTEX_CLOCK_REALTIME" if value & _FUTEX_CLOCK_REALTIME else "")


def _futex2_flags(value: int) -> str:
    return _bits(value & ~3, _FUTEX2_BITS, head=(_FUTEX2_SIZES[value & 3],))


def _personality(value: int) -> str:
    domain = value & 0xFF
    if value == 0xFFFFFFFF or domain not in _PER_DOMAINS:  # 0xffffffff queries the current persona
        return _hex(value)
    return _bits(value & ~0xFF, _PER_BITS, head=(_PER_DOMAINS[domain],))


def _sched_policy(value: int) -> str:
    tail = ["SCHED_RESET_ON_FORK"] if value & _SCHED_RESET_ON_FORK else []
    return "|".join([_enum(_SCHED_POLICIES, value & ~_SCHED_RESET_ON_FORK), *tail])


def _ipc_ctl(table: Mapping[int, str]) -> Callable[[int], str]:
    def decode_cmd(value: int) -> str:
        name = _enum(table, value & ~_IPC_64)
        return name + "|IPC_64" if value & _IPC_64 else name

    return decode_cmd


def _ipc_call(value: int) -> str:
    call, version = value & 0xFFFF, value >> 16
    if call not in _IPC_CALLS:
        return _hex(value)
    return f"IPCCALL({version}, {_IPC_CALLS[call]})" if version else _IPC_CALLS[call]


def _quotactl(value: int) -> str:
    cmd, kind = value >> 8, value & 0xFF
    if cmd not in _QUOTA_CMDS:
        return _hex(value)
    return f"QCMD({_QUOTA_CMDS[cmd]}, {_QUOTA_TYPES.get(kind, _hex(kind))})"


def _mount_flags(value: int) -> str:
    if value & _MS_MGC_MSK == _MS_MGC_VAL:
        return _bits(value & ~_MS_MGC_MSK, _MS_BITS, head=("MS_MGC_VAL",))
    return _bits(value, _MS_BITS)


def _table(table: Mapping[int, str | None]) -> Callable[[int], str]:
    return lambda value: _enum(table, value)


def _flagset(bits: Bits, zero: str = "0") -> Callable[[int], str]:
    return lambda value: _bits(value, bits, zero)


_DECODERS: dict[str, Callable[[int], str]] = {
    "signal": lambda value: "0" if value == 0 else _enum(SIGNALS, value),
    "clone_flags": _clone_flags,
    "ns_flags": _flagset(_NS_BITS),
    "personality": _personality,
    "prctl_option": _table(_PRCTL),
    "arch_prctl_code": _table(_ARCH_PRCTL),
    "ptrace_request": _table(_PTRACE),
    "seccomp_op": _table(_SECCOMP_OPS),
    "seccomp_flags": _flagset(_SECCOMP_BITS),
    "priority_which": _table({0: "PRIO_PROCESS", 1: "PRIO_PGRP", 2: "PRIO_USER"}),
    "ioprio_which": _table({1: "IOPRIO_WHO_PROCESS", 2: "IOPRIO_WHO_PGRP", 3: "IOPRIO_WHO_USER"}),
    "rlimit_resource": _table(_RLIMITS),
    "sched_policy": _sched_policy,
    "wait_options": _flagset(_WAIT4_BITS),
    "waitid_options": _flagset(_WAITID_BITS),
    "idtype": _table({0: "P_ALL", 1: "P_PID", 2: "P_PGID", 3: "P_PIDFD"}),
    "open_flags": _open_flags,
    "o_flags": _flagset(_O_BITS),
    "ioctl_request": _table(_IOCTLS),
    "fcntl_cmd": _table(_FCNTL),
    "flock_op": _flagset(_FLOCK_BITS),
    "fadvise_advice": _table(_FADVISE),
    "whence": _table(_WHENCE),
    "access_mode": _flagset(ACCESS_MODE_BITMASK, zero="F_OK"),  # python-ptrace: X_OK, W_OK, R_OK
    "at_flags": _flagset(_AT_BITS),
    "faccessat_flags": _flagset(((0x200, "AT_EACCESS"), *_AT_BITS)),
    "unlinkat_flags": _flagset(((0x200, "AT_REMOVEDIR"),)),
    "rename_flags": _flagset(((1, "RENAME_NOREPLACE"), (2, "RENAME_EXCHANGE"), (4, "RENAME_WHITEOUT"))),
    "falloc_mode": _flagset(_FALLOC_BITS),
    "close_range_flags": _flagset(((2, "CLOSE_RANGE_UNSHARE"), (4, "CLOSE_RANGE_CLOEXEC"))),
    "efd_flags": _flagset(((1, "EFD_SEMAPHORE"), *_prefixed("EFD_", _NONBLOCK_CLOEXEC))),
    "epoll_flags": _flagset(((0o2000000, "EPOLL_CLOEXEC"),)),
    "epoll_ctl_op": _table({1: "EPOLL_CTL_ADD", 2: "EPOLL_CTL_DEL", 3: "EPOLL_CTL_MOD"}),
    "inotify_flags": _flagset(_prefixed("IN_", _NONBLOCK_CLOEXEC)),
    "sfd_flags": _flagset(_prefixed("SFD_", _NONBLOCK_CLOEXEC)),
    "tfd_flags": _flagset(_prefixed("TFD_", _NONBLOCK_CLOEXEC)),
    "tfd_settime_flags": _flagset(((1, "TFD_TIMER_ABSTIME"), (2, "TFD_TIMER_CANCEL_ON_SET"))),
    "timer_flags": _flagset(((1, "TIMER_ABSTIME"),)),
    "mmap_prot": _flagset(_PROT_BITS, zero="PROT_NONE"),
    "mmap_flags": _mmap_flags,
    "madvise_advice": _table(_MADVISE),
    "mremap_flags": _flagset(((1, "MREMAP_MAYMOVE"), (2, "MREMAP_FIXED"), (4, "MREMAP_DONTUNMAP"))),
    "msync_flags": _flagset(((1, "MS_ASYNC"), (2, "MS_INVALIDATE"), (4, "MS_SYNC"))),
    "mlock_flags": _flagset(((1, "MLOCK_ONFAULT"),)),
    "mlockall_flags": _flagset(((1, "MCL_CURRENT"), (2, "MCL_FUTURE"), (4, "MCL_ONFAULT"))),
    "memfd_flags": lambda value: _huge(value, 4, "MFD_HUGE_", (
        (1, "MFD_CLOEXEC"), (2, "MFD_ALLOW_SEALING"), (4, "MFD_HUGETLB"), (8, "MFD_NOEXEC_SEAL"),
        (0x10, "MFD_EXEC"))),
    "membarrier_cmd": _table(_MEMBARRIER),
    "address_family": _table(ADDRESS_FAMILIES),
    "socket_type": _socket_type,
    "sockopt_level": _table(SOCKOPT_LEVELS),
    "sock_flags": _flagset(_SOCK_FLAGS),
    "shutdown_how": _table({0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"}),
    "msg_flags": _flagset(_MSG_BITS),
    "socketcall": _table(_SOCKETCALLS),
    "sigprocmask_how": _table(SIGPROCMASK_HOW),  # python-ptrace: SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK
    "futex_op": _futex_op,
    "futex2_flags": _futex2_flags,
    "ipc_call": _ipc_call,
    "shmctl_cmd": _ipc_ctl(_SHMCTL),
    "msgctl_cmd": _ipc_ctl(_MSGCTL),
    "semctl_cmd": _ipc_ctl(_SEMCTL),
    "clockid": _table(_CLOCKS),
    "itimer_which": _table({0: "ITIMER_REAL", 1: "ITIMER_VIRTUAL", 2: "ITIMER_PROF"}),
    "grnd_flags": _flagset(((1, "GRND_NONBLOCK"), (2, "GRND_RANDOM"), (4, "GRND_INSECURE"))),
    "bpf_cmd": _table(_BPF),
    "keyctl_cmd": _table(_KEYCTL),
    "quotactl_cmd": _quotactl,
    "reboot_cmd": _table(_REBOOT),
    "syslog_action": _table(_SYSLOG),
    "mount_flags": _mount_flags,
    "umount_flags": _flagset(((1, "MNT_FORCE"), (2, "MNT_DETACH"), (4, "MNT_EXPIRE"),
                              (8, "UMOUNT_NOFOLLOW"))),
}
# Decoders whose text depends on another argument of the same call (the socket domain, the sockopt level).
_CONTEXT_DECODERS: dict[str, Callable[[int, Sequence[int] | None], str]] = {
    "socket_protocol": _socket_protocol,
    "sockopt_name": _sockopt_name,
}

DECODERS: frozenset[str] = frozenset(_DECODERS) | frozenset(_CONTEXT_DECODERS)


def decode(decoder: str, value: int, args: Sequence[int] | None = None) -> str:
    """Symbolic text for one recorded argument value, e.g. decode("mmap_prot", 3) == "PROT_READ|PROT_WRITE".

    Unknown bits and unknown values are rendered in hex. `args`, the call's full argument list, lets
    context-dependent decoders be exact: without it a socket option number lists every level's name
    ("SO_REUSEADDR/IP_TTL/TCP_MAXSEG"). Values are taken as unsigned 64-bit (a negative int wraps).
    Raises ValueError for a decoder name not in DECODERS.
    """
    value &= _U64
    if decoder in _DECODERS:
        return _DECODERS[decoder](value)
    if decoder in _CONTEXT_DECODERS:
        return _CONTEXT_DECODERS[decoder](value, args or None)
    raise ValueError(f"unknown decoder {decoder!r}")


def shown(decoder: str | None, value: int, args: Sequence[int] | None = None) -> str:
    """A value as a person reads it: its symbolic text where `decoder` knows it, else the number
    (decimal below 0x100, hex above). The one rendering of argument values in diff, report and verify."""
    if decoder is not None:
        try:
            text = decode(decoder, value, args)
        except (ValueError, KeyError):
            text = ""
        if text and text != f"{value & _U64:#x}":
            return text
    return str(value) if value < 0x100 else f"{value:#x}"
