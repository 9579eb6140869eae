"""`--backend notify-only`: seccomp user notification, no ptrace (`trace_notify_only`), and its guardian. Not faithful.

Without ptrace there is no signal-delivery-stop, so a notification that a signal withdraws before
this supervisor has received it cannot be repaired: the call fails with EINTR under a handler
without SA_RESTART (capture/signal_repair.py, tests/test_faithful.py). `trace()` warns on every run.
The listener is set up as for the default backend (capture/listener.py).

Every syscall of the workload waits until this loop has read it (SECCOMP_IOCTL_NOTIF_RECV) and
answered SECCOMP_USER_NOTIF_FLAG_CONTINUE. How the listener, each task's executable, the command's
exec and the end are found, what the guardian does, and the limits: docs/architecture.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import select
import signal
import struct
import sys
import time
from collections.abc import Callable, Iterator, Sequence

from tracer.capture.launch import resolve, spawn
from tracer.capture.listener import child_install_listener, fetch_listener
from tracer.capture.per_call import count_call, exe_id
from tracer.capture.session import kill, make_result, note_setid, run_session
from tracer.capture.state import PRE_EXEC, State, TraceOptions, TraceResult
from tracer.errors import UserError
from tracer.kernel import procfs
from tracer.kernel import ptrace_abi as pt
from tracer.syscalls.abi import AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT
from tracer.syscalls.names import number_of

_EXEC, _EXIT, _EXIT_GROUP = 1, 2, 3
_U64 = 1 << 64
_PRUNE_AT = 4096  # tasks remembered before those that are gone are forgotten
_ROOT = struct.Struct("<ii")  # the guardian's first report: the command's pid, a pidfd for it (the guardian's fd)
_STATUS = struct.Struct("<i")  # its second: the command's wait status
# What a terminal, a process-group kill or a hang-up may send: the guardian outlives them (only SIGKILL ends it).
_GUARDIAN_IGNORES = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGPIPE, signal.SIGALRM,
                     signal.SIGUSR1, signal.SIGUSR2, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)


def _special() -> dict[tuple[int, int], int]:
    """(AUDIT_ARCH, nr) of the calls that change what a tid runs or end it."""
    kinds = {"execve": _EXEC, "execveat": _EXEC, "exit": _EXIT, "exit_group": _EXIT_GROUP}
    out = {}
    for abi, arch, bit in (("x86_64", AUDIT_ARCH_X86_64, 0), ("x32", AUDIT_ARCH_X86_64, X32_SYSCALL_BIT),
                           ("i386", AUDIT_ARCH_I386, 0)):
        for name, kind in kinds.items():
            nr = number_of(abi, name)
            if nr is not None:
                out[(arch, nr | bit)] = kind
    return out


def workload_processes() -> list[int]:
    """Descendants of this process that run under more seccomp filters than it: the workload's processes.

    As a child subreaper the guardian inherits every orphan of the workload, so a process the
    workload started is always below the tracer. The guardian and the --during driver have no extra filter.
    """
    own = procfs.seccomp_filters("self") or 0
    return sorted(pid for pid in procfs.descendants(os.getpid()) if (procfs.seccomp_filters(pid) or 0) > own)


def _tasks_in(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
    return total


def _reaped() -> Iterator[tuple[int, int]]:
    """(pid, wait status) of every child that has ended, without blocking."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG | pt.WALL)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, status


def _kill_descendants() -> None:
    """SIGKILL every descendant, again while they fork, until no child is left (orphans come back to us)."""
    while True:
        kill(procfs.descendants(os.getpid()), signal.SIGKILL)
        try:
            while os.waitpid(-1, os.WNOHANG | pt.WALL)[0]:
                pass
        except ChildProcessError:
            return
        time.sleep(0.005)


def _guard(start: Callable[[], int], inherited: Sequence[int], lifeline: int, reports: int) -> None:
    """The guardian's life (see the module docstring); it starts with every signal blocked."""
    pt.prctl(pt.PR_SET_CHILD_SUBREAPER, 1)
    try:
        root = start()  # before the dispositions change: the command gets the tracer's
        for fd in inherited:
            os.close(fd)
        os.write(reports, _ROOT.pack(root, os.pidfd_open(root)))
        for sig in _GUARDIAN_IGNORES:
            signal.signal(sig, signal.SIG_IGN)
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.signal(signal.SIGCHLD, lambda _s, _f: None)  # so that SIGCHLD writes to wake_w
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        poller = select.poll()
        for fd in (lifeline, wake_r):
            poller.register(fd, select.POLLIN)
        while all(fd != lifeline for fd, _ in poller.poll()):  # the tracer never writes: EOF, it is gone
            with contextlib.suppress(BlockingIOError):
                os.read(wake_r, 512)
            for pid, status in _reaped():
                if pid == root:
                    os.write(reports, _STATUS.pack(status))
    finally:
        _kill_descendants()


class _Guardian:
    """The tracer's side of the guardian: start it, read its reports, end it."""

    def __init__(self, start: Callable[[], int], inherited: Sequence[int]) -> None:
        lifeline, self.lifeline = os.pipe()
        self.reports, reports_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())  # none of our handlers runs there
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.close(self.lifeline)
                os.close(self.reports)
                _guard(start, inherited, lifeline, reports_w)
            except UserError as exc:
                os.write(2, f"seccomp-learn: {exc}\n".encode())
            finally:
                os._exit(0)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(lifeline)
        os.close(reports_w)

    def root(self) -> tuple[int, int] | None:
        """The command's pid and our pidfd for it; None if the guardian could not start it."""
        data = os.read(self.reports, _ROOT.size)
        if len(data) != _ROOT.size:
            return None
        pid, fd = _ROOT.unpack(data)
        guardian = os.pidfd_open(self.pid)
        try:
            return pid, pt.pidfd_getfd(guardian, fd)
        finally:
            os.close(guardian)

    def root_status(self) -> int:
        """The command's wait status, once it has ended; SIGKILL if the guardian died first (PR_SET_PDEATHSIG)."""
        data = os.read(self.reports, _STATUS.size)
        return _STATUS.unpack(data)[0] if len(data) == _STATUS.size else signal.SIGKILL

    def close(self) -> None:
        """Cut the lifeline and reap the guardian, once it has killed and reaped whatever is left."""
        os.close(self.lifeline)
        os.close(self.reports)
        with contextlib.suppress(ChildProcessError):  # reaped already, should it have died
            os.waitpid(self.pid, 0)


class _Supervisor:
    """The notification loop and what it knows beyond State: tgids, the listener, the end."""

    def __init__(self, st: State, listener: int, guardian: _Guardian, slot: int) -> None:
        self.st, self.listener, self.guardian, self.slot = st, listener, guardian, slot
        self.tgid: dict[int, int] = {st.root: st.root}  # tid -> thread-group id, for tasks seen
        self.reread: set[int] = set()  # tids whose executable changes (execve): read it again
        self.root_exec_pending = False  # the root's own execve was seen; did it work?
        self.root_reaped = False
        self.killing = False  # SIGKILL everything: also tasks seen from now on
        self.killed: set[int] = set()
        self.prune_at = _PRUNE_AT

    def signal_all(self, sig: int) -> None:
        if sig == signal.SIGKILL:
            self.killing = True
        pids = workload_processes()
        if sig == signal.SIGKILL:
            self.killed.update(pids)
        kill(pids, sig)

    def _new_task(self, tid: int) -> None:
        self.st.more_tasks(1)
        tgid = self.tgid[tid] = procfs.tgid(tid)
        if len(self.tgid) >= self.prune_at:
            self._prune()
        if self.killing and tgid not in self.killed:
            self.killed.add(tgid)
            kill([tgid], signal.SIGKILL)

    def _prune(self) -> None:
        """Forget tasks that are gone without an exit call (killed, or ended by another thread's exit_group)."""
        for tid in [t for t in self.tgid if not os.path.exists(f"/proc/{t}")]:
            self.tgid.pop(tid, None)
            self.st.gone(tid)
        self.prune_at = max(_PRUNE_AT, 2 * len(self.tgid))

    def _special(self, tid: int, kind: int) -> None:
        st = self.st
        if kind == _EXEC:
            if tid == st.root and st.exe_of.get(tid) == PRE_EXEC:
                self.root_exec_pending = True
                return
            leader = self.tgid.get(tid, tid)
            for t in (tid, leader):  # after the exec the caller runs as the leader
                st.exe_changes(t)
                self.reread.add(t)
        else:
            st.exe_changes(tid)
            self.reread.discard(tid)
            if kind == _EXIT:
                self.tgid.pop(tid, None)  # a later task with this tid is a new one

    def _root_after_exec(self) -> None:
        """The root's first syscall after its execve: the listener's slot survives only a failed exec."""
        st = self.st
        self.root_exec_pending = False
        if procfs.fd_target(st.root, self.slot) != pt.NOTIFY_FD_LINK:
            st.root_execd()
            st.exe_changes(st.root)
            self.reread.add(st.root)

    def _root_ended(self, opts: TraceOptions) -> None:
        st = self.st
        status, self.root_reaped = self.guardian.root_status(), True
        if self.root_exec_pending:  # no syscall after it: a failed exec would have written why
            self.root_exec_pending = False
            st.root_execd()
        rest = workload_processes() if opts.follow == "main" else []
        st.root_ended(status, _tasks_in(rest))
        if rest:
            self.signal_all(signal.SIGKILL)

    def _reap(self, driver_ended: Callable[[int], None]) -> None:
        for pid, status in _reaped():
            if pid == self.st.driver:
                driver_ended(status)
            # anything else: the guardian, or an orphan of the workload had the guardian died (child subreaper)

    def loop(self, st: State, opts: TraceOptions, driver_ended: Callable[[int], None]) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        old_chld = signal.signal(signal.SIGCHLD, lambda _s, _f: None)  # so that SIGCHLD writes to wake_w
        old_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        try:
            self._loop(st, opts, driver_ended, wake_r)
        finally:
            signal.set_wakeup_fd(old_wakeup)
            signal.signal(signal.SIGCHLD, old_chld)
            os.close(wake_r)
            os.close(wake_w)

    def _loop(self, st: State, opts: TraceOptions, driver_ended: Callable[[int], None], wake_r: int) -> None:
        listener, reports = self.listener, self.guardian.reports
        buf, resp = pt.notif_buffers()
        memset, ioctl = ctypes.memset, pt.raw_ioctl
        recv, send, cont = pt.SECCOMP_IOCTL_NOTIF_RECV, pt.SECCOMP_IOCTL_NOTIF_SEND, pt.SECCOMP_USER_NOTIF_FLAG_CONTINUE
        head, answer = pt.SECCOMP_NOTIF_HEAD.unpack_from, pt.SECCOMP_NOTIF_RESP.pack_into
        size, special, tgid, reread, root = pt.SECCOMP_NOTIF_SIZE, _special(), self.tgid, self.reread, st.root
        pollin = select.POLLIN
        poller = select.poll()
        for fd in (listener, reports, wake_r):
            poller.register(fd, pollin)
        hup = False
        while not (hup and self.root_reaped):
            events = poller.poll(1000)
            reap = not events  # a periodic check, should a wake-up ever be missed
            for fd, ev in events:
                if fd != listener:
                    if fd == wake_r:
                        reap = True
                        with contextlib.suppress(BlockingIOError):
                            os.read(wake_r, 512)
                    else:
                        poller.unregister(reports)  # the guardian reports the root's end once
                        self._root_ended(opts)
                    continue
                if not ev & pollin:
                    hup = True  # POLLHUP: no task uses the filter any more
                    poller.unregister(listener)
                    continue
                memset(buf, 0, size)  # RECV insists on a zeroed buffer
                if ioctl(listener, recv, buf) != 0:
                    continue  # EINTR, or ENOENT: the task died before we read it
                nid, tid, nr, arch = head(buf)
                if nr < 0:
                    nr += _U64  # as ptrace reports it
                if tid not in tgid:
                    self._new_task(tid)
                elif tid == root and self.root_exec_pending:
                    self._root_after_exec()
                if reread and tid in reread:
                    reread.discard(tid)
                    exe = exe_id(st, tid)
                    st.runs(tid, exe)
                    note_setid(st, st.exes[exe])
                kind = special.get((arch, nr))
                count_call(st, tid, arch, nr, buf, None)
                if kind:
                    self._special(tid, kind)
                answer(resp, 0, nid, 0, 0, cont)
                ioctl(listener, send, resp)  # ENOENT: the task died meanwhile
            if reap:
                self._reap(driver_ended)


def trace_notify_only(argv: list[str], options: TraceOptions | None = None) -> TraceResult:
    """Start argv under a seccomp user-notification filter and record it and everything it starts.

    Same recording as `tracer.capture.choice.trace`; see the module docstring for what differs.
    """
    opts = options or TraceOptions()
    if opts.attach is not None:
        raise UserError("--pid needs the ptrace backend", "--backend notify")
    if opts.filters or opts.base is not None:
        raise UserError("--base needs the ptrace backend", "--backend notify")
    if opts.verdict is not None:
        raise UserError("verify needs the ptrace backend", "--backend notify")
    env = dict(os.environ if opts.env is None else opts.env)
    resolve(argv, env, opts.cwd)  # no such command (127, 126): said here, before the guardian starts
    st = State()
    started = time.gmtime()
    prog = pt.notify_everything_filter()
    subreaper = pt.get_child_subreaper()
    pt.prctl(pt.PR_SET_CHILD_SUBREAPER, 1)
    fds: list[int] = []
    guardian = None
    try:
        report_r, report_w = os.pipe()
        fds += [report_r, report_w]
        install = functools.partial(child_install_listener, prog, report_w)
        guardian = _Guardian(functools.partial(spawn, argv, env, opts.cwd, [install], seize=False), fds[:])
        os.close(report_w)
        fds.remove(report_w)
        root = guardian.root()
        if root is None:
            raise UserError("seccomp user notification: the guardian could not start the workload", "--backend notify")
        root_pid, pidfd = root
        fds.append(pidfd)
        st.begin(root_pid)
        got = fetch_listener(st.root, pidfd, report_r)
        if got is None:  # the child could not install the filter or exec; it said why
            st.root_ended(guardian.root_status())
            return make_result(st, argv, opts, started, 0.0)
        listener, slot = got
        fds.append(listener)
        pt.notif_set_sync_wake_up(listener)
        sup = _Supervisor(st, listener, guardian, slot)
        st.use_hooks(signal_all=sup.signal_all)
        return run_session(st, argv, opts, env, started, loop=sup.loop)
    finally:
        for fd in fds:
            os.close(fd)
        if guardian is not None:
            guardian.close()
        pt.prctl(pt.PR_SET_CHILD_SUBREAPER, subreaper)


def notify_supported() -> bool:
    """Whether this kernel lets us run trace_notify_only: user notification (see
    kernel/ptrace_abi.py's user_notification_available) and Seccomp_filters in /proc/PID/status (5.9)."""
    return pt.user_notification_available() and procfs.seccomp_filters("self") is not None
