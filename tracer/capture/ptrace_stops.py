"""What a seizing backend does with one waitpid report: the ptrace half of the ptrace and hybrid backends.

A seccomp stop is recorded and resumed; everything else (new tasks, exec, group-stop, signal-delivery
with its repairs, exits) updates the session's state the same way whichever backend seized the task.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Literal

from tracer.capture.per_call import count_call, exe_id
from tracer.capture.session import kill, note_setid
from tracer.capture.signal_repair import SignalRepair
from tracer.capture.state import PRE_EXEC, State, TraceOptions
from tracer.kernel import ptrace_abi as pt

_STOP_SIGNALS = (signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)
_FORK_EVENTS = (pt.PTRACE_EVENT_FORK, pt.PTRACE_EVENT_VFORK, pt.PTRACE_EVENT_CLONE)


def ptrace_stop_handler(st: State, opts: TraceOptions, driver_ended: Callable[[int], None],
                        lock: threading.Lock | None = None) -> Callable[[int, int], None]:
    """What a loop does with one waitpid report (backends/ptrace.py's loop, and backends/notify.py's ptrace half).

    Per seccomp stop: one PTRACE_GET_SYSCALL_INFO, `count_call`, and PTRACE_CONT (names bound once). A
    seized running process (--pid) has no filter: it stops at every syscall entry and exit instead.
    """
    repair = st.repair
    assert repair is not None, "a seizing backend begins with a SignalRepair"
    follow, verdict, on_exit, buf = opts.follow, opts.verdict, opts.on_exit, pt.syscall_info_buffer()
    cont_req, per_syscall_stop = ((pt.PTRACE_CONT, pt.SECCOMP_STOP_STATUS) if st.attached is None
                                  else (pt.PTRACE_SYSCALL, pt.SYSCALL_STOP_STATUS))
    raw_ptrace, get_info, size = pt.raw_ptrace, pt.PTRACE_GET_SYSCALL_INFO, pt.SYSCALL_INFO_SIZE
    head, exit_op = pt.SYSCALL_INFO_HEAD.unpack_from, pt.PTRACE_SYSCALL_INFO_EXIT

    def handle(pid: int, status: int) -> None:
        if status == per_syscall_stop and not st.detaching:
            if raw_ptrace(get_info, pid, size, buf) > 0:
                op, arch, nr = head(buf)
                if op != exit_op:
                    if lock is None:
                        count_call(st, pid, arch, nr, buf, verdict)
                    else:
                        with lock:  # another thread records too (backends/notify.py)
                            count_call(st, pid, arch, nr, buf, verdict)
            raw_ptrace(cont_req, pid, None, None)
        elif pid == st.driver:
            driver_ended(status)
        else:
            _other_event(st, repair, pid, status, follow, cont_req)
            if on_exit is not None and not os.WIFSTOPPED(status):
                on_exit(pid, status)

    return handle


StopKind = Literal["gone", "detach", "new-task", "exec", "group-stop", "resume", "signal"]


def stop_kind(status: int, detaching: bool) -> StopKind:
    """What one waitpid report of a seized task other than a seccomp stop is, by ptrace(2)'s "Stopped states"
    (tests/test_ptrace_stops.py): gone (exited or killed), a stop while detaching, a fork/vfork/clone or exec
    event, a group-stop (PTRACE_EVENT_STOP with a stop signal: a seized task), a stop to resume as it is (the
    other events, PTRACE_EVENT_STOP without a stop signal, a syscall-exit stop), or a signal-delivery-stop."""
    if not os.WIFSTOPPED(status):
        return "gone"
    if detaching:
        return "detach"
    event = status >> 16
    if event in _FORK_EVENTS:
        return "new-task"
    if event == pt.PTRACE_EVENT_EXEC:
        return "exec"
    if event == pt.PTRACE_EVENT_STOP:
        return "group-stop" if os.WSTOPSIG(status) in _STOP_SIGNALS else "resume"
    if event or status >> 8 == signal.SIGTRAP | 0x80:
        return "resume"
    return "signal"


def detach_signal(status: int) -> int:
    """The signal to pass on when detaching from a stopped task: a signal-delivery-stop's own signal (it
    would be lost otherwise), none for an event, a group-stop or a syscall stop."""
    sig = os.WSTOPSIG(status)
    return sig if status >> 16 == 0 and sig not in (signal.SIGTRAP, signal.SIGTRAP | 0x80) else 0


def _other_event(st: State, repair: SignalRepair, pid: int, status: int, follow: str, resume: int) -> None:
    """Everything but the seccomp stop: new tasks, exec, group-stop, signals, exits."""
    st.reported(pid)
    kind = stop_kind(status, st.detaching)
    if kind == "detach":
        pt.detach(pid, detach_signal(status))
        st.gone(pid)
    elif kind == "gone":
        st.gone(pid)
        repair.forget(pid)
        if pid == st.root:
            rest = list(st.live) if follow == "main" else []
            st.root_ended(status, len(rest))
            kill(rest, signal.SIGKILL)
    elif kind == "new-task":
        child = pt.geteventmsg(pid)
        if st.new_task(child):  # else it reported first, and may even be gone already
            parent_exe = st.exe_of.get(pid, PRE_EXEC)
            st.runs(child, parent_exe if parent_exe != PRE_EXEC else exe_id(st, child))
        pt.cont(pid, 0, resume)
    elif kind == "exec":
        former = pt.geteventmsg(pid)
        if former != pid:  # a non-leader thread exec'd: it now has the leader's pid, its tid is gone
            st.gone(former)
        exe = exe_id(st, pid)
        st.runs(pid, exe)
        note_setid(st, st.exes[exe])
        if pid == st.root:
            st.root_execd()
        pt.cont(pid, 0, resume)
    elif kind == "group-stop":
        repair.group_stop(pid)
        pt.listen(pid)  # group-stop: stay stopped, as untraced job control would
    elif kind == "resume":
        pt.cont(pid, 0, resume)
    else:  # signal-delivery stop: deliver it, after the repairs that keep the workload's view untraced
        pt.cont(pid, repair.signal_to_deliver(pid, os.WSTOPSIG(status)), resume)


def wait_loop(handle: Callable[[int, int], None], live: set[int]) -> None:
    """Hand every waitpid report to `handle` until the traced tasks are gone."""
    waitpid, wall = os.waitpid, pt.WALL
    while live:
        try:
            pid, status = waitpid(-1, wall)
        except ChildProcessError:
            break
        handle(pid, status)
