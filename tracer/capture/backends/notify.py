"""The default backend (`--backend notify`): seccomp user notification where it is faithful, ptrace for the rest.

One filter (`notify_safe.hybrid_filter()`) sends the calls that can never return -ERESTARTSYS to a
listener and every other call to a ptrace stop, which no signal can withdraw; a withdrawn notification
then shows at the next signal-delivery-stop, where signal_repair.py makes the call restart. The main
thread is the tracer (ptrace requests must come from the thread that seized) and blocks in waitpid;
a second thread answers the listener. Both record under one lock. docs/tracing.md has the whole design.
"""

from __future__ import annotations

import fcntl
import functools
import os
import select
import signal
import threading
import time
from collections.abc import Callable

from tracer.capture.launch import resolve, spawn
from tracer.capture.listener import child_install_listener, fetch_listener
from tracer.capture.notify_safe import hybrid_filter, listener_takes
from tracer.capture.per_call import count_notified
from tracer.capture.ptrace_stops import ptrace_stop_handler, wait_loop
from tracer.capture.session import kill, run_session
from tracer.capture.signal_repair import SignalRepair
from tracer.capture.state import State, TraceOptions, TraceResult
from tracer.errors import UserError
from tracer.kernel import ptrace_abi as pt

_U64 = 1 << 64


def trace_notify(argv: list[str], options: TraceOptions | None = None) -> TraceResult:
    """Start argv under the hybrid filter and record it and everything it starts."""
    opts = options or TraceOptions()
    if opts.attach is not None or opts.filters or opts.base is not None or opts.verdict is not None:
        raise UserError("--pid, --base and verify need the ptrace backend", "--backend notify")
    env = dict(os.environ if opts.env is None else opts.env)
    resolve(argv, env, opts.cwd)
    st = State()
    started = time.gmtime()
    report_r, report_w = os.pipe()
    fds = [report_r]
    try:
        try:
            install = functools.partial(child_install_listener, hybrid_filter(), report_w)
            st.begin(spawn(argv, env, opts.cwd, [install]), repair=SignalRepair(listener_takes))
        finally:
            os.close(report_w)
        pidfd = os.pidfd_open(st.root)
        fds.append(pidfd)
        got = fetch_listener(st.root, pidfd, report_r)  # None: the child failed before exec (it said why)
        listener = -1 if got is None else got[0]
        if listener >= 0:
            fds.append(listener)
            pt.notif_set_sync_wake_up(listener)
        return run_session(st, argv, opts, env, started, functools.partial(_loop, listener))
    finally:
        for fd in fds:
            os.close(fd)


def _loop(listener: int, st: State, opts: TraceOptions, driver_ended: Callable[[int], None]) -> None:
    """The ptrace half in this thread (the tracer: ptrace requests must come from the thread that seized),
    the listener in another; both record under one lock."""
    lock = threading.Lock()
    stop_r, stop_w = os.pipe2(os.O_CLOEXEC)
    failure: list[BaseException] = []

    def notify_thread() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())  # signals are the main thread's
        try:
            if listener >= 0:
                _answer(listener, stop_r, st, lock)
        except BaseException as exc:
            failure.append(exc)
            kill(list(st.live), signal.SIGKILL)  # unanswered calls would hang the workload

    thread = threading.Thread(target=notify_thread, name="seccomp-listener", daemon=True)
    thread.start()
    try:
        wait_loop(ptrace_stop_handler(st, opts, driver_ended, lock), st.live)
    finally:
        os.write(stop_w, b"x")
        thread.join()
        os.close(stop_r)
        os.close(stop_w)
    if failure:
        raise failure[0]


def _answer(listener: int, stop: int, st: State, lock: threading.Lock) -> None:
    """Receive, record and continue every notification until `stop` is readable."""
    ioctl, recv, send = fcntl.ioctl, pt.SECCOMP_IOCTL_NOTIF_RECV, pt.SECCOMP_IOCTL_NOTIF_SEND
    head, answer = pt.SECCOMP_NOTIF_HEAD.unpack_from, pt.SECCOMP_NOTIF_RESP.pack
    cont = pt.SECCOMP_USER_NOTIF_FLAG_CONTINUE
    zero, pollin = bytes(pt.SECCOMP_NOTIF_SIZE), select.POLLIN  # RECV insists on a zeroed buffer
    poller = select.poll()
    poller.register(stop, pollin)
    poller.register(listener, pollin)
    while True:
        for fd, ev in poller.poll():
            if fd == stop:
                return
            if not ev & pollin:
                poller.unregister(listener)  # POLLHUP: no task uses the filter any more
                continue
            try:
                buf = ioctl(listener, recv, zero)
            except OSError:
                continue  # the task died before we read it
            nid, tid, nr, arch = head(buf)
            with lock:
                count_notified(st, tid, arch, nr + _U64 if nr < 0 else nr, buf)
            try:  # noqa: SIM105 (contextlib.suppress would make an object per call)
                ioctl(listener, send, answer(nid, 0, 0, cont))
            except OSError:
                pass  # ENOENT: the task died meanwhile
