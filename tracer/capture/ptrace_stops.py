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

from tracer.capture.session import PRE_EXEC, exe_id, kill, note_setid, record_call
from tracer.capture.signal_repair import SignalRepair
from tracer.capture.state import State, TraceOptions
from tracer.kernel import ptrace as pt

_STOP_SIGNALS = (signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)
_FORK_EVENTS = (pt.PTRACE_EVENT_FORK, pt.PTRACE_EVENT_VFORK, pt.PTRACE_EVENT_CLONE)


def ptrace_stop_handler(st: State, opts: TraceOptions, stop_workload: Callable[[str], None],
                        lock: threading.Lock | None = None) -> Callable[[int, int], None]:
    """What a loop does with one waitpid report (trace.py's loop, and hybrid.py's ptrace half).

    Per seccomp stop: one PTRACE_GET_SYSCALL_INFO, `record_call`, and PTRACE_CONT (names bound once).
    """
    if st.repair is None:
        st.repair = SignalRepair(st.restarted)
    repair, follow, verdict, on_exit, buf = st.repair, opts.follow, opts.verdict, opts.on_exit, pt.syscall_info_buffer()
    raw_ptrace, get_info, size, cont_req = pt.raw_ptrace, pt.PTRACE_GET_SYSCALL_INFO, pt.SYSCALL_INFO_SIZE, st.resume
    head, exit_op, per_syscall_stop = pt.SYSCALL_INFO_HEAD.unpack_from, pt.PTRACE_SYSCALL_INFO_EXIT, st.stop_status

    def handle(pid: int, status: int) -> None:
        if status == per_syscall_stop and not st.detaching:
            if raw_ptrace(get_info, pid, size, buf) > 0:
                op, arch, nr = head(buf)
                if op != exit_op:
                    if lock is None:
                        record_call(st, pid, arch, nr, buf, verdict)
                    else:
                        with lock:  # another thread records too (hybrid.py)
                            record_call(st, pid, arch, nr, buf, verdict)
            raw_ptrace(cont_req, pid, None, None)
        elif pid == st.driver:
            st.driver_status = status
            stop_workload("driver")
        else:
            _other_event(st, repair, pid, status, follow)
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


def _other_event(st: State, repair: SignalRepair, pid: int, status: int, follow: str) -> None:
    """Everything but the seccomp stop: new tasks, exec, group-stop, signals, exits."""
    if pid not in st.live:  # a new task can report before its parent's fork event
        st.live.add(pid)
        if pid not in st.seen:
            st.seen.add(pid)
            st.tasks_seen += 1
    kind = stop_kind(status, st.detaching)
    if kind == "detach":
        pt.detach(pid, detach_signal(status))
        st.live.discard(pid)
    elif kind == "gone":
        st.live.discard(pid)
        st.exe_of.pop(pid, None)
        repair.forget(pid)
        if pid == st.root:
            st.root_status = status
            if follow == "main" and st.live:
                st.killed_rest = len(st.live)
                kill(list(st.live), signal.SIGKILL)
    elif kind == "new-task":
        child = pt.geteventmsg(pid)
        if child not in st.seen:  # else it reported first, and may even be gone already
            st.seen.add(child)
            st.live.add(child)
            st.tasks_seen += 1
            parent_exe = st.exe_of.get(pid, PRE_EXEC)
            st.exe_of[child] = parent_exe if parent_exe != PRE_EXEC else exe_id(st, child)
        pt.cont(pid, 0, st.resume)
    elif kind == "exec":
        former = pt.geteventmsg(pid)
        if former != pid:  # a non-leader thread exec'd: it now has the leader's pid, its tid is gone
            st.live.discard(former)
            st.exe_of.pop(former, None)
        st.exe_of[pid] = exe_id(st, pid)
        note_setid(st, st.exes[st.exe_of[pid]])
        if pid == st.root:
            st.exec_ok = True
        pt.cont(pid, 0, st.resume)
    elif kind == "group-stop":
        repair.group_stop(pid)
        pt.listen(pid)  # group-stop: stay stopped, as untraced job control would
    elif kind == "resume":
        pt.cont(pid, 0, st.resume)
    else:  # signal-delivery stop: deliver it, after the repairs that keep the workload's view untraced
        pt.cont(pid, repair.signal_to_deliver(pid, os.WSTOPSIG(status)), st.resume)


def wait_loop(handle: Callable[[int, int], None], live: set[int]) -> None:
    """Hand every waitpid report to `handle` until the traced tasks are gone."""
    waitpid, wall = os.waitpid, pt.WALL
    while live:
        try:
            pid, status = waitpid(-1, wall)
        except ChildProcessError:
            break
        handle(pid, status)
