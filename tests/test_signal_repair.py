"""The decision at a signal-delivery-stop, row by row from the kernel's rules (signal_repair.decide).

Each row is (signal, orig_rax, rax, is the call one the listener takes, masks, the call a group-stop
interrupted) and what the tracer must do. The rules the rows follow:
- kernel/seccomp.c, seccomp_do_user_notification(): a signal that arrives before the supervisor received
  the notification removes it and the call returns -ERESTARTSYS without having run.
- arch/x86/kernel/signal.c, handle_signal(): with a handler, -ERESTARTNOHAND and -ERESTART_RESTARTBLOCK
  become -EINTR, -ERESTARTSYS too unless SA_RESTART, -ERESTARTNOINTR restarts; arch_do_signal_or_restart()
  with no handler to run restarts -ERESTARTSYS/-ERESTARTNOHAND/-ERESTARTNOINTR, and -ERESTART_RESTARTBLOCK
  through restart_syscall.
- kernel/signal.c, sig_task_ignored()/sig_ignored(): a signal at SIG_IGN, or at SIG_DFL when its default is
  to ignore (SIGCONT, SIGCHLD, SIGWINCH, SIGURG: sig_kernel_ignore), does nothing when delivered, but a
  ptraced task has it queued anyway ("tracers may want to know about even ignored signals"), and it wakes
  an interruptible sleep: epoll_wait returns -EINTR by itself.
- The end-to-end behaviour these rows produce is measured on real fixtures in tests/test_faithful.py.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from typing import Any

import pytest

from tracer.capture.signal_repair import (
    EINTR,
    ERESTART_RESTARTBLOCK,
    ERESTARTNOHAND,
    ERESTARTNOINTR,
    ERESTARTSYS,
    Repair,
    decide,
)

READ, EPOLL_WAIT, NANOSLEEP = 0, 232, 35  # x86_64 numbers (arch/x86/entry/syscalls/syscall_64.tbl)
ALRM, CHLD, USR1, USR2 = signal.SIGALRM, signal.SIGCHLD, signal.SIGUSR1, signal.SIGUSR2


def masks(ign: Iterable[int] = (), cgt: Iterable[int] = (), pnd: Iterable[int] = (),
          blk: Iterable[int] = ()) -> dict[bytes, int]:
    """/proc/TID/status's masks: bit N-1 for signal N."""
    def bits(sigs: Iterable[int]) -> int:
        return sum(1 << (s - 1) for s in sigs)
    return {b"SigPnd": bits(pnd), b"ShdPnd": 0, b"SigBlk": bits(blk), b"SigIgn": bits(ign), b"SigCgt": bits(cgt)}


ROWS = [
    # (id, sig, nr, ret, listener takes it, masks, interrupted by the last group-stop, expected)
    ("not in a call", ALRM, -1, 0, False, masks(cgt=[ALRM]), None, Repair(ALRM)),
    ("call finished", ALRM, READ, 5, False, masks(cgt=[ALRM]), None, Repair(ALRM)),
    ("handled signal interrupts a read: EINTR is the workload's", ALRM, READ, -EINTR, False,
     masks(cgt=[ALRM]), None, Repair(ALRM)),
    ("notification withdrawn: restart without EINTR", ALRM, READ, -ERESTARTSYS, True,
     masks(cgt=[ALRM]), None, Repair(ALRM, -ERESTARTNOINTR)),
    ("ptrace-stopped call's own -ERESTARTSYS: the handler decides", ALRM, READ, -ERESTARTSYS, False,
     masks(cgt=[ALRM]), None, Repair(ALRM)),
    ("SIGCHLD at SIG_DFL wakes epoll_wait: suppressed, restarted", CHLD, EPOLL_WAIT, -EINTR, False,
     masks(), None, Repair(0, -ERESTARTNOINTR, True)),
    ("SIGCHLD with a handler: delivered, EINTR kept", CHLD, EPOLL_WAIT, -EINTR, False,
     masks(cgt=[CHLD]), None, Repair(CHLD)),
    ("SIG_IGN'd signal: suppressed, EINTR restarted", USR1, EPOLL_WAIT, -EINTR, False,
     masks(ign=[USR1]), None, Repair(0, -ERESTARTNOINTR, True)),
    ("SIGUSR1 at SIG_DFL kills: delivered", USR1, READ, -EINTR, False, masks(), None, Repair(USR1)),
    ("SIG_IGN'd, -ERESTARTSYS restarts by itself", USR1, READ, -ERESTARTSYS, False,
     masks(ign=[USR1]), None, Repair(0, None, True)),
    ("SIG_IGN'd, -ERESTARTNOHAND restarts by itself", USR1, READ, -ERESTARTNOHAND, False,
     masks(ign=[USR1]), None, Repair(0, None, True)),
    ("SIG_IGN'd, nanosleep's -ERESTART_RESTARTBLOCK: restart_syscall", USR1, NANOSLEEP, -ERESTART_RESTARTBLOCK,
     False, masks(ign=[USR1]), None, Repair(0, None, True)),
    ("SIG_IGN'd, another deliverable signal pending: its EINTR stays", USR1, READ, -EINTR, False,
     masks(ign=[USR1], cgt=[USR2], pnd=[USR2]), None, Repair(0)),
    ("SIG_IGN'd, the other pending signal is blocked: repaired", USR1, READ, -EINTR, False,
     masks(ign=[USR1], cgt=[USR2], pnd=[USR2], blk=[USR2]), None, Repair(0, -ERESTARTNOINTR, True)),
    ("SIG_IGN'd after a group-stop interrupted this call: EINTR kept", USR1, EPOLL_WAIT, -EINTR, False,
     masks(ign=[USR1]), (EPOLL_WAIT, -EINTR), Repair(0)),
    ("a group-stop interrupted another call: repaired", USR1, EPOLL_WAIT, -EINTR, False,
     masks(ign=[USR1]), (READ, -EINTR), Repair(0, -ERESTARTNOINTR, True)),
    ("task gone before its masks were read", USR1, READ, -EINTR, False, None, None, Repair(USR1)),
]


@pytest.mark.parametrize(("sig", "nr", "ret", "takes", "task_masks", "stopped_in", "expected"),
                         [pytest.param(*row[1:], id=row[0]) for row in ROWS])
def test_decision(sig: int, nr: int, ret: int, takes: bool, task_masks: dict[bytes, int] | None,
                  stopped_in: tuple[int, int] | None, expected: Repair) -> None:
    assert decide(sig, nr, ret, lambda: takes, lambda: task_masks, stopped_in) == expected


@pytest.mark.parametrize("sig", [signal.SIGCONT, signal.SIGCHLD, signal.SIGWINCH, signal.SIGURG])
def test_every_default_ignored_signal_is_repaired_at_sig_dfl(sig: int) -> None:
    assert decide(sig, EPOLL_WAIT, -EINTR, lambda: False, masks, None) == Repair(0, -ERESTARTNOINTR, True)


def test_the_costly_questions_are_asked_only_when_they_matter() -> None:
    """The listener lookup (a PTRACE_GET_SYSCALL_INFO) only for -ERESTARTSYS; the masks (a /proc read) only
    for an interrupted call the listener did not take."""
    def never() -> Any:
        raise AssertionError("asked")

    assert decide(ALRM, READ, 5, never, never, None) == Repair(ALRM)
    assert decide(ALRM, READ, -EINTR, never, lambda: masks(cgt=[ALRM]), None) == Repair(ALRM)
    assert decide(ALRM, READ, -ERESTARTSYS, lambda: True, never, None) == Repair(ALRM, -ERESTARTNOINTR)
