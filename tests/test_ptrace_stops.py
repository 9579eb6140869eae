"""What each waitpid report of a seized task is (ptrace_stops.stop_kind, detach_signal), from ptrace(2).

The statuses are built as ptrace(2) documents them ("Stopped states", and wait(2)'s encoding): an exit is
code << 8, a death by a signal is the signal, a stop is 0x7f | sig << 8 | event << 16; a PTRACE_EVENT stop
has SIGTRAP with the event; a group-stop of a PTRACE_SEIZEd task is PTRACE_EVENT_STOP with the stop signal,
and PTRACE_EVENT_STOP with SIGTRAP is the stop after PTRACE_INTERRUPT or LISTEN's wake-up; a syscall stop
with PTRACE_O_TRACESYSGOOD has SIGTRAP | 0x80; every other stop is a signal-delivery-stop. The numbers are
the kernel's uapi (include/uapi/linux/ptrace.h). The end-to-end runs are tests/test_faithful.py and
tests/test_trace_parity.py.
"""

from __future__ import annotations

import signal

import pytest

from tracer.capture.ptrace_stops import detach_signal, stop_kind

FORK, VFORK, CLONE, EXEC, VFORK_DONE, EXIT, STOP = 1, 2, 3, 4, 5, 6, 128
TRAP = signal.SIGTRAP


def stopped(sig: int, event: int = 0) -> int:
    return 0x7F | sig << 8 | event << 16


ROWS = [
    ("exited 0", 0, False, "gone", 0),
    ("exited 3", 3 << 8, False, "gone", 0),
    ("killed by SIGKILL", signal.SIGKILL, False, "gone", 0),
    ("exited while detaching", 0, True, "gone", 0),
    ("fork event", stopped(TRAP, FORK), False, "new-task", 0),
    ("vfork event", stopped(TRAP, VFORK), False, "new-task", 0),
    ("clone event", stopped(TRAP, CLONE), False, "new-task", 0),
    ("exec event", stopped(TRAP, EXEC), False, "exec", 0),
    ("vfork-done event", stopped(TRAP, VFORK_DONE), False, "resume", 0),
    ("exit event", stopped(TRAP, EXIT), False, "resume", 0),
    ("group-stop by SIGSTOP", stopped(signal.SIGSTOP, STOP), False, "group-stop", 0),
    ("group-stop by SIGTSTP", stopped(signal.SIGTSTP, STOP), False, "group-stop", 0),
    ("group-stop by SIGTTIN", stopped(signal.SIGTTIN, STOP), False, "group-stop", 0),
    ("group-stop by SIGTTOU", stopped(signal.SIGTTOU, STOP), False, "group-stop", 0),
    ("interrupt / listen wake-up", stopped(TRAP, STOP), False, "resume", 0),
    ("syscall-exit stop (TRACESYSGOOD)", stopped(TRAP | 0x80), False, "resume", 0),
    ("SIGALRM to deliver", stopped(signal.SIGALRM), False, "signal", signal.SIGALRM),
    ("SIGSTOP to deliver (before its group-stop)", stopped(signal.SIGSTOP), False, "signal", signal.SIGSTOP),
    ("SIGCHLD to deliver", stopped(signal.SIGCHLD), False, "signal", signal.SIGCHLD),
    ("SIGALRM pending while detaching: passed on", stopped(signal.SIGALRM), True, "detach", signal.SIGALRM),
    ("an event while detaching: nothing passed on", stopped(TRAP, FORK), True, "detach", 0),
    ("group-stop while detaching: nothing passed on", stopped(signal.SIGSTOP, STOP), True, "detach", 0),
    ("syscall stop while detaching: nothing passed on", stopped(TRAP | 0x80), True, "detach", 0),
]


@pytest.mark.parametrize(("status", "detaching", "kind", "passed_on"), [pytest.param(*r[1:], id=r[0]) for r in ROWS])
def test_stop_kind(status: int, detaching: bool, kind: str, passed_on: int) -> None:
    assert stop_kind(status, detaching) == kind
    if kind == "detach":
        assert detach_signal(status) == passed_on
