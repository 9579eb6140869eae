"""What a tracer must do at a signal-delivery-stop so that the workload sees what it would see untraced.

Two repairs (docs/kernel-facts.md, "Signals and tracing"): a notification a signal withdrew before the
listener received it (-ERESTARTSYS on a call the listener takes) is made to restart with
-ERESTARTNOINTR; a signal the task ignores, which ptrace queues anyway, is suppressed and the -EINTR it
caused restarted, unless another deliverable signal or a group-stop explains it. A handled signal
keeps its EINTR. `decide` is the rule, with no I/O (tests/test_signal_repair.py); `SignalRepair` reads
the registers and /proc for it. Known gaps: an ignored process-directed signal that wakes one thread
while another dequeues it; a restarted epoll_wait or poll runs its timeout again.
"""

from __future__ import annotations

import functools
import os
import signal
from collections.abc import Callable, Sequence

from tracer.kernel import ptrace_abi as pt
from tracer.structs import Struct
from tracer.syscalls.abi import AUDIT_ARCH_I386
from tracer.syscalls.names import number_of

EINTR, ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK = 4, 512, 513, 514, 516
_INTERRUPTED = frozenset((-EINTR, -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK))
_DEFAULT_IGNORED = sum(1 << (s - 1) for s in (signal.SIGCHLD, signal.SIGURG, signal.SIGWINCH, signal.SIGCONT))
_U64 = (1 << 64) - 1
_MASK_FIELDS = (b"SigPnd", b"ShdPnd", b"SigBlk", b"SigIgn", b"SigCgt")

# Takes (AUDIT_ARCH, nr, arguments): whether the call went to the seccomp listener (notify_safe.py).
ListenerTakes = Callable[[int, int, Sequence[int]], bool]


def signal_masks(tid: int) -> dict[bytes, int] | None:
    """SigPnd, ShdPnd, SigBlk, SigIgn and SigCgt of a task, from /proc/TID/status (None if it is gone)."""
    try:
        fd = os.open(f"/proc/{tid}/status", os.O_RDONLY)
    except OSError:
        return None
    try:
        text = os.read(fd, 8192)
    except OSError:
        return None
    finally:
        os.close(fd)
    masks = {}
    for field in _MASK_FIELDS:
        start = text.find(b"\n" + field + b":")
        if start < 0:
            return None
        masks[field] = int(text[start + len(field) + 2:text.index(b"\n", start + 1)], 16)
    return masks


def _ignored_set(masks: dict[bytes, int]) -> int:
    """The signals whose delivery does nothing: SIG_IGN, and default-ignore signals without a handler."""
    return masks[b"SigIgn"] | (_DEFAULT_IGNORED & ~masks[b"SigCgt"])


class Repair(Struct, frozen=True):
    """What to do at one signal-delivery-stop: the signal to resume with (0: suppressed), the return value to
    write first (None: leave it), and whether the call will run again, so the recorder counts it once."""

    deliver: int
    rax: int | None = None
    restarts: bool = False


def decide(sig: int, nr: int, ret: int, listener_took: Callable[[], bool],
           read_masks: Callable[[], dict[bytes, int] | None], stopped_in: tuple[int, int] | None) -> Repair:
    """The repair at a signal-delivery-stop for `sig`, from the registers (`nr` = orig_rax, `ret` = rax),
    whether the call was one the listener takes, the task's signal masks (None: gone) and the (nr, rax) of
    a call its last group-stop interrupted. The two callables are asked only when the answer matters
    (each costs the tracer a syscall); tests/test_signal_repair.py gives them as data."""
    if nr < 0 or ret not in _INTERRUPTED:
        return Repair(sig)  # not in a call, or the call was not interrupted
    if ret == -ERESTARTSYS and listener_took():
        return Repair(sig, -ERESTARTNOINTR)  # withdrawn before it was received: it never ran, so never counted
    masks = read_masks()
    if masks is None:
        return Repair(sig)
    ignored = _ignored_set(masks)
    if not ignored >> (sig - 1) & 1:
        return Repair(sig)  # a handled (or fatal) signal: its EINTR is the workload's
    pending = (masks[b"SigPnd"] | masks[b"ShdPnd"]) & ~masks[b"SigBlk"] & ~ignored
    if pending or (ret == -EINTR and stopped_in == (nr, ret)):
        return Repair(0)  # another signal, or the group-stop, is why the call was interrupted
    return Repair(0, -ERESTARTNOINTR if ret == -EINTR else None, restarts=True)


class SignalRepair:
    """Decides, at each signal-delivery-stop, which signal to deliver and whether to rewrite rax.

    `restarted` maps a tid to the (AUDIT_ARCH, nr) of the call it will make again because of a
    repair; the recorder counts it once (`counted_before`). `listener_takes` is None for backends
    without a listener (plain ptrace, attach).
    """

    def __init__(self, listener_takes: ListenerTakes | None = None) -> None:
        self.restarted: dict[int, tuple[int, int]] = {}
        self.listener_takes = listener_takes
        self.regs = pt.regs_buffer()
        self.info = pt.syscall_info_buffer()
        self.stopped_in_call: dict[int, tuple[int, int]] = {}  # tid -> (orig_rax, rax) at its group-stop
        self.repairs = 0  # how many calls were made to restart (reported in the recording)

    def group_stop(self, tid: int) -> None:
        """A group-stop: if it interrupted a call, its EINTR is the workload's, whatever signal comes next."""
        regs = pt.getregs(tid, self.regs)
        if regs is not None and regs[pt.REG_ORIG_RAX] >= 0:
            self.stopped_in_call[tid] = (regs[pt.REG_ORIG_RAX], regs[pt.REG_RAX])

    def forget(self, tid: int) -> None:
        self.restarted.pop(tid, None)
        self.stopped_in_call.pop(tid, None)

    def counted_before(self, tid: int, arch: int, nr: int) -> bool:
        """Whether this call is made again only because a repair restarted it: it was counted already."""
        if self.restarted.get(tid) != (arch, nr):
            return False
        del self.restarted[tid]
        return True

    def signal_to_deliver(self, tid: int, sig: int) -> int:
        """The signal to resume tid with (0: suppressed), after rewriting its return value if needed."""
        regs = pt.getregs(tid, self.regs)
        after_group_stop = self.stopped_in_call.pop(tid, None) if self.stopped_in_call else None
        if regs is None:
            return sig
        nr, ret = regs[pt.REG_ORIG_RAX], regs[pt.REG_RAX]
        arch = functools.cache(lambda: self._arch(tid))
        takes = self.listener_takes

        def listener_took() -> bool:
            return takes is not None and takes(arch(), nr, [regs[i] & _U64 for i in pt.SYSCALL_ARG_REGS])

        repair = decide(sig, nr, ret, listener_took, lambda: signal_masks(tid), after_group_stop)
        if repair.rax is not None:
            pt.set_register(tid, pt.REG_RAX, repair.rax)
        if repair.restarts:
            self.restarted[tid] = (arch(), _restart_syscall(arch()) if ret == -ERESTART_RESTARTBLOCK else nr)
        if repair.rax is not None or repair.restarts:
            self.repairs += 1
        return repair.deliver

    def _arch(self, tid: int) -> int:
        """The AUDIT_ARCH of the stopped call (an int $0x80 call of a 64-bit task is i386)."""
        if pt.raw_ptrace(pt.PTRACE_GET_SYSCALL_INFO, tid, pt.SYSCALL_INFO_SIZE, self.info) > 0:
            return int(pt.SYSCALL_INFO_HEAD.unpack_from(self.info)[1])
        return 0


def _restart_syscall(arch: int) -> int:
    """The number of restart_syscall, which the kernel calls to resume a -ERESTART_RESTARTBLOCK call."""
    return number_of("i386" if arch == AUDIT_ARCH_I386 else "x86_64", "restart_syscall") or 0
