"""The default backend (`--backend notify`): seccomp user notification where it is faithful, ptrace for the rest.

The child is seized (PTRACE_SEIZE with the ptrace backend's options, EXITKILL included), then installs
one filter, `tracer.notify_safe.hybrid_filter()`: calls that can never return -ERESTARTSYS by
themselves (getppid, fstat, mmap of anonymous memory, a futex wake, ...) return
SECCOMP_RET_USER_NOTIF and wait for this supervisor on a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER,
taken with pidfd_getfd, as in tracer.notify); every other call returns SECCOMP_RET_TRACE and stops
once in ptrace, which no signal can withdraw. So:

- a notification withdrawn by a signal shows up as -ERESTARTSYS on a call that cannot return it at
  the signal-delivery-stop that follows, where tracer.signal_repair makes it restart;
- a blocking call (read, wait4, openat of a FIFO, ...) is a ptrace stop, so a signal that interrupts
  it after it started gives the EINTR the workload would see untraced;
- ignored signals, which ptrace queues, are repaired as in the ptrace backend.

Everything the ptrace backend follows (fork, clone, exec, group-stop, exits) is followed here by
the same code (`ptrace_stops.ptrace_stop_handler`); EXITKILL ends the workload if seccomp-learn dies.

One thread serves both halves: it polls the listener and a signalfd for SIGCHLD (every ptrace stop
sends one), answering a notification with NOTIF_RECV and NOTIF_SEND(FLAG_CONTINUE) and a ptrace
stop like the ptrace loop. SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP keeps a notified call and the
supervisor on one CPU.
"""

from __future__ import annotations

import ctypes
import functools
import os
import select
import signal
from collections.abc import Callable
from datetime import UTC, datetime

from . import ptrace_ext as pt
from .errors import UserError
from .launch import resolve, spawn
from .notify import child_install_listener, fetch_listener
from .notify_safe import hybrid_filter, listener_takes
from .ptrace_stops import ptrace_stop_handler
from .session import PRE_EXEC, State, TraceOptions, TraceResult, record_call, run_session
from .signal_repair import SignalRepair

_U64 = 1 << 64


def trace_hybrid(argv: list[str], options: TraceOptions | None = None) -> TraceResult:
    """Start argv under the hybrid filter and record it and everything it starts."""
    opts = options or TraceOptions()
    if opts.attach is not None or opts.filters or opts.base is not None or opts.verdict is not None:
        raise UserError("--pid, --base and verify need the ptrace backend", "--backend notify")
    env = dict(os.environ if opts.env is None else opts.env)
    resolve(argv, env, opts.cwd)
    st = State()
    started = datetime.now(UTC)
    report_r, report_w = os.pipe()
    fds = [report_r]
    try:
        try:
            install = functools.partial(child_install_listener, hybrid_filter(), report_w)
            st.root = spawn(argv, env, opts.cwd, [install])
        finally:
            os.close(report_w)
        st.live.add(st.root)
        st.seen.add(st.root)
        st.exe_of[st.root] = PRE_EXEC
        st.tasks_seen = 1
        pidfd = os.pidfd_open(st.root)
        fds.append(pidfd)
        got = fetch_listener(st.root, pidfd, report_r)  # None: the child failed before exec (it said why)
        listener = -1 if got is None else got[0]
        if listener >= 0:
            fds.append(listener)
            pt.notif_set_sync_wake_up(listener)
        st.repair = SignalRepair(st.restarted, listener_takes)
        # SIGCHLD blocked before run_session starts its timer threads, which inherit the mask: a thread
        # with SIGCHLD unblocked would take it (and, as it is ignored, drop it) before the signalfd sees it.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])
        try:
            return run_session(st, argv, opts, env, started, functools.partial(_loop, listener))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    finally:
        for fd in fds:
            os.close(fd)


def _loop(listener: int, st: State, opts: TraceOptions, stop_workload: Callable[[str], None]) -> None:
    """Poll the listener and SIGCHLD (blocked by the caller) until every traced task is gone."""
    sigchld = pt.signalfd_for(signal.SIGCHLD)
    try:
        _serve(listener, sigchld, st, ptrace_stop_handler(st, opts, stop_workload))
    finally:
        os.close(sigchld)


def _serve(listener: int, sigchld: int, st: State, handle: Callable[[int, int], None]) -> None:
    buf, resp = ctypes.create_string_buffer(pt.SECCOMP_NOTIF_SIZE), ctypes.create_string_buffer(24)
    memset, ioctl, read, waitpid = ctypes.memset, pt.raw_ioctl, os.read, os.waitpid
    recv, send, cont = pt.SECCOMP_IOCTL_NOTIF_RECV, pt.SECCOMP_IOCTL_NOTIF_SEND, pt.SECCOMP_USER_NOTIF_FLAG_CONTINUE
    head, answer, size = pt.SECCOMP_NOTIF_HEAD.unpack_from, pt.SECCOMP_NOTIF_RESP.pack_into, pt.SECCOMP_NOTIF_SIZE
    nohang, pollin, live = os.WNOHANG | pt.WALL, select.POLLIN, st.live
    poller = select.poll()
    poller.register(sigchld, pollin)
    if listener >= 0:
        poller.register(listener, pollin)
    reap = True  # a stop may have come before the signalfd existed
    while live:
        if reap:
            reap = False
            while True:
                try:
                    pid, status = waitpid(-1, nohang)
                except ChildProcessError:
                    return
                if not pid:
                    break
                handle(pid, status)
            continue
        for fd, ev in poller.poll():
            if fd == sigchld:
                read(sigchld, 4096)  # first: a stop after this read sends a new SIGCHLD
                reap = True
            elif not ev & pollin:
                poller.unregister(listener)  # POLLHUP: no task uses the filter any more
            else:
                memset(buf, 0, size)  # RECV insists on a zeroed buffer
                if ioctl(listener, recv, buf) != 0:
                    continue  # the task died before we read it
                nid, tid, nr, arch = head(buf)
                st.notified += 1
                record_call(st, tid, arch, nr + _U64 if nr < 0 else nr, buf, None)
                answer(resp, 0, nid, 0, 0, cont)
                ioctl(listener, send, resp)  # ENOENT: the task died meanwhile
