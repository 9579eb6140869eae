"""The ptrace backend, and `trace()`, which picks the backend: one seccomp stop per syscall.

What both backends share is capture/session.py. The design (one stop, the order of seize, filter and
exec, group-stop, --pid, verify): docs/architecture.md.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tracer.capture.launch import spawn
from tracer.capture.session import (
    PRE_EXEC,
    State,
    TraceOptions,
    TraceResult,
    exe_id,
    kill,
    note_setid,
    record_call,
    run_session,
)
from tracer.errors import UserError
from tracer.kernel import ptrace as pt
from tracer.recording.model import Backend

_STOP_SIGNALS = (signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)
_FORK_EVENTS = (pt.PTRACE_EVENT_FORK, pt.PTRACE_EVENT_VFORK, pt.PTRACE_EVENT_CLONE)


def backend_for(opts: TraceOptions) -> Backend:
    """The backend a run uses: `auto` picks user notification where it is known to work."""
    if opts.backend != "auto":
        return opts.backend
    if opts.filters or opts.base is not None or opts.verdict is not None or opts.attach is not None:
        return "ptrace"  # --base, verify and --pid need ptrace
    from tracer.capture.notify import notify_supported

    return "notify" if notify_supported() else "ptrace"


def trace(argv: list[str], options: TraceOptions | None = None) -> TraceResult:
    """Start argv as a traced child and trace it and everything it starts until they are gone."""
    opts = options or TraceOptions()
    backend = backend_for(opts)
    if opts.attach is not None:
        if backend != "ptrace":
            raise UserError("--pid needs the ptrace backend", f"--backend {backend}")
        result = attach(opts.attach, opts)
    elif backend == "notify":
        from tracer.capture.notify import trace_notify

        result = trace_notify(argv, opts)
    elif backend == "ptrace":
        result = _trace_ptrace(argv, opts)
    else:
        raise UserError(f"unknown backend {backend!r} (known: ptrace, notify, auto)", "--backend")
    result.recording.runs[-1].backend = backend
    if opts.base is not None:
        opts.base.add_to(result.recording)
    return result


def _trace_ptrace(argv: list[str], opts: TraceOptions) -> TraceResult:
    env = dict(os.environ if opts.env is None else opts.env)
    st = State()
    started = datetime.now(UTC)
    filters = [*opts.filters, opts.base.filter()] if opts.base is not None else opts.filters
    st.root = spawn(argv, env, opts.cwd, filters)
    st.live.add(st.root)
    st.seen.add(st.root)
    st.exe_of[st.root] = PRE_EXEC
    st.tasks_seen = 1
    return run_session(st, argv, opts, env, started, _loop)


def attach(pid: int, options: TraceOptions | None = None) -> TraceResult:
    """Seize every thread of a running process (and what it starts from now on) until it exits or we stop.

    A running process cannot be given a filter, so this uses two stops per syscall. Stopping
    (a signal to seccomp-learn, --duration) detaches and leaves the process running.
    """
    opts = options or TraceOptions()
    st = State(resume=pt.PTRACE_SYSCALL, stop_status=pt.SYSCALL_STOP_STATUS, attached=pid, root=pid,
                exec_ok=True)
    started = datetime.now(UTC)
    try:
        argv = [a.decode(errors="replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
        while True:  # threads may start while we seize: repeat until every one is ours
            tids = {int(t) for t in os.listdir(f"/proc/{pid}/task")} - st.live
            if not tids:
                break
            for tid in sorted(tids):
                pt.seize(tid, pt.ATTACH_OPTIONS)
                pt.interrupt(tid)
                st.live.add(tid)
                st.seen.add(tid)
                st.exe_of[tid] = exe_id(st, tid)
    except OSError as exc:
        for tid in st.live:
            pt.detach(tid)
        raise UserError(f"cannot attach: {exc.strerror}", f"--pid {pid}") from None
    st.tasks_seen = len(st.live)
    return run_session(st, argv, opts, dict(os.environ), started, _loop)


def _loop(st: State, opts: TraceOptions, stop_workload: Callable[[str], None]) -> None:
    """Run until the traced tasks are gone."""
    live, buf, verdict = st.live, pt.syscall_info_buffer(), opts.verdict
    raw_ptrace, get_info, cont_req = pt.raw_ptrace, pt.PTRACE_GET_SYSCALL_INFO, st.resume
    head, size, exit_op = pt.SYSCALL_INFO_HEAD.unpack_from, pt.SYSCALL_INFO_SIZE, pt.PTRACE_SYSCALL_INFO_EXIT
    per_syscall_stop, waitpid, wall = st.stop_status, os.waitpid, pt.WALL
    while live:
        try:
            pid, status = waitpid(-1, wall)
        except ChildProcessError:
            break
        if status == per_syscall_stop and not st.detaching:
            if raw_ptrace(get_info, pid, size, buf) > 0:
                op, arch, nr = head(buf)
                if op != exit_op:
                    record_call(st, pid, arch, nr, buf, verdict)
            raw_ptrace(cont_req, pid, None, None)
            continue
        if pid == st.driver:
            st.driver_status = status
            stop_workload("driver")
            continue
        _other_event(st, pid, status, opts.follow)
        if opts.on_exit is not None and not os.WIFSTOPPED(status):
            opts.on_exit(pid, status)


def _other_event(st: State, pid: int, status: int, follow: str) -> None:
    """Everything but the seccomp stop: new tasks, exec, group-stop, signals, exits."""
    if pid not in st.live:  # a new task can report before its parent's fork event
        st.live.add(pid)
        if pid not in st.seen:
            st.seen.add(pid)
            st.tasks_seen += 1
    if st.detaching and os.WIFSTOPPED(status):
        sig = os.WSTOPSIG(status)
        pt.detach(pid, sig if status >> 16 == 0 and sig not in (signal.SIGTRAP, signal.SIGTRAP | 0x80) else 0)
        st.live.discard(pid)
        return
    if not os.WIFSTOPPED(status):
        st.live.discard(pid)
        st.exe_of.pop(pid, None)
        if pid == st.root:
            st.root_status = status
            if follow == "main" and st.live:
                st.killed_rest = len(st.live)
                kill(list(st.live), signal.SIGKILL)
        return
    sig = os.WSTOPSIG(status)
    event = status >> 16
    if event in _FORK_EVENTS:
        child = pt.ptrace_geteventmsg(pid)
        if child not in st.seen:  # else it reported first, and may even be gone already
            st.seen.add(child)
            st.live.add(child)
            st.tasks_seen += 1
            parent_exe = st.exe_of.get(pid, PRE_EXEC)
            st.exe_of[child] = parent_exe if parent_exe != PRE_EXEC else exe_id(st, child)
        pt.cont(pid, 0, st.resume)
    elif event == pt.PTRACE_EVENT_EXEC:
        former = pt.ptrace_geteventmsg(pid)
        if former != pid:  # a non-leader thread exec'd: it now has the leader's pid, its tid is gone
            st.live.discard(former)
            st.exe_of.pop(former, None)
        st.exe_of[pid] = exe_id(st, pid)
        note_setid(st, st.exes[st.exe_of[pid]])
        if pid == st.root:
            st.exec_ok = True
        pt.cont(pid, 0, st.resume)
    elif event == pt.PTRACE_EVENT_STOP:
        if sig in _STOP_SIGNALS:
            pt.listen(pid)  # group-stop: stay stopped, as untraced job control would
        else:
            pt.cont(pid, 0, st.resume)
    elif event or status >> 8 == signal.SIGTRAP | 0x80:
        pt.cont(pid, 0, st.resume)  # another event, or a syscall-exit stop when attached
    else:
        pt.cont(pid, sig, st.resume)  # signal-delivery stop: deliver it
