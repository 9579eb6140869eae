"""The second backend: seccomp user notification, no ptrace (`trace_notify`).

The child installs a one-instruction filter, `ret SECCOMP_RET_USER_NOTIF`, with
SECCOMP_FILTER_FLAG_NEW_LISTENER and execs. Every syscall of the workload and of every task it
starts (the filter is inherited by fork, clone and exec; the kernel does the following) waits
until the supervisor, this loop, has read it with SECCOMP_IOCTL_NOTIF_RECV (id, tid, arch, nr,
six arguments) and answered SECCOMP_USER_NOTIF_FLAG_CONTINUE. Per syscall the loop does poll,
RECV and SEND: three syscalls of the tracer, no ptrace stop, no signal or group-stop handling
(the workload's signals and job control are untouched, and it may use ptrace itself).
SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (kernel >= 6.6) keeps both sides on one CPU.

What the kernel does not say, and how it is found:

- The listener. The child reports the fd number it will get (it opens and closes a placeholder
  just before seccomp(), so the listener takes the lowest free number) before installing the
  filter: after it, every syscall of the child, a write to a pipe included, would wait for a
  supervisor that does not have the listener yet. The parent waits until /proc/PID/fd/N is the
  listener and takes it with pidfd_getfd. The child is then blocked in its execve.
- The executable. A notification names the task (its tid in our pid namespace). /proc/TID/exe is
  read once per task and cached; an execve/execveat drops the caller's and its leader's entries
  (the exec'ing thread becomes the leader), and exit/exit_group drop the caller's.
- Whether the command's own exec worked: at the root's first syscall after its execve, the
  listener's fd slot is gone (close-on-exec) if the exec succeeded.
- The end. The root is reaped (a pidfd in the poll set) and the listener reports POLLHUP: no task
  uses the filter any more, daemons included. The tracer is a child subreaper, so orphans are
  re-parented to it and reaped (SIGCHLD wakes the poll through the signal wake-up fd).
- The workload's processes (to forward a signal, for --follow main, timeouts): descendants of
  the tracer, through /proc ppid links, with more seccomp filters than the tracer.

Limits: if seccomp-learn dies, a task under a USER_NOTIF filter without a listener gets ENOSYS
for every syscall. The child has PR_SET_PDEATHSIG(SIGKILL), but the tasks it starts do not;
they usually die quickly (glibc's _exit falls through to hlt), not cleanly. This is why ptrace,
with PTRACE_O_EXITKILL, stays the default. The kernel allows one listener per filter tree: a
workload that installs its own USER_NOTIF listener (some container runtimes and sandboxes) gets
EBUSY. There is no attach (--pid), no verify (denials are applied at a ptrace stop) and no --base
(USER_NOTIF outranks the base filter's ALLOW and TRACE, so nothing would be skipped).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import gc
import os
import select
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from . import ptrace_ext as pt
from .abi import AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT
from .errors import UserError
from .launch import spawn
from .syscalls import number_of
from .trace import PRE_EXEC, TraceOptions, TraceResult, _exe_id, _kill, _note_setid, _record, _result, _run, _State

_EXEC, _EXIT, _EXIT_GROUP = 1, 2, 3
_U64 = 1 << 64
_PRUNE_AT = 4096  # tasks remembered before those that are gone are forgotten


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


def _child_install(prog: pt.BpfFilter, report_w: int) -> None:
    """In the child, last before execve: say which fd the listener will be, then install the filter."""
    gc.disable()  # nothing may close a lower fd between the placeholder and seccomp()
    slot = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    os.write(report_w, slot.to_bytes(4, "little"))
    os.close(slot)
    pt.install_listener(prog.prog)
    # No syscall from here to execve: each waits for the parent, which the execve's does.


def _fd_link(pid: int | str, fd: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return ""


def _fetch_listener(pid: int, pidfd: int, report_r: int, wait: float = 5.0) -> tuple[int, int] | None:
    """Take the child's listener: (our fd, its fd number in the child), or None if the child exited first."""
    data = os.read(report_r, 4)
    if len(data) != 4:
        return None  # the child failed before its installer (it said why on stderr)
    slot = int.from_bytes(data, "little")
    done = select.poll()
    done.register(report_r, select.POLLIN)  # only EOF from now on: the child exited instead of exec
    deadline = time.monotonic() + wait
    while True:
        candidates = [slot] if _fd_link(pid, slot) == pt.NOTIFY_FD_LINK else []
        if not candidates and time.monotonic() > deadline:
            with contextlib.suppress(OSError):
                candidates = [int(fd) for fd in os.listdir(f"/proc/{pid}/fd")
                              if _fd_link(pid, int(fd)) == pt.NOTIFY_FD_LINK]
            if len(candidates) != 1:
                _kill([pid], signal.SIGKILL)
                os.waitpid(pid, 0)
                raise UserError("seccomp user notification: cannot find the workload's listener", "--backend notify")
        if candidates:
            fd = pt.pidfd_getfd(pidfd, candidates[0])
            if _fd_link("self", fd) == pt.NOTIFY_FD_LINK:
                return fd, candidates[0]
            os.close(fd)
        if done.poll(1):
            return None


def _filters_of(pid: int | str) -> int | None:
    """Seccomp_filters from /proc/PID/status (kernel >= 5.9), None if unreadable."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        return int(status.split("\nSeccomp_filters:", 1)[1].split()[0])
    except (OSError, IndexError, ValueError):
        return None


def _tgid_of(tid: int) -> int:
    try:
        return int(Path(f"/proc/{tid}/status").read_text().split("\nTgid:", 1)[1].split()[0])
    except (OSError, IndexError, ValueError):
        return tid


def workload_processes() -> list[int]:
    """Descendants of this process that run under more seccomp filters than it: the workload's processes.

    As a child subreaper the tracer inherits every orphan of the workload, so a process the
    workload started is always below it. The --during driver has no extra filter.
    """
    me, own = os.getpid(), _filters_of("self") or 0
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, frontier = [], [me]
    while frontier:
        for pid in children.get(frontier.pop(), ()):
            frontier.append(pid)
            filters = _filters_of(pid)
            if filters is not None and filters > own:
                found.append(pid)
    return sorted(found)


def _tasks_in(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
    return total


class _Supervisor:
    """The notification loop and what it knows beyond trace._State: tgids, the listener, the end."""

    def __init__(self, st: _State, listener: int, pidfd: int, slot: int) -> None:
        self.st, self.listener, self.pidfd, self.slot = st, listener, pidfd, slot
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
        _kill(pids, sig)

    def _new_task(self, tid: int) -> None:
        st = self.st
        st.tasks_seen += 1
        tgid = self.tgid[tid] = _tgid_of(tid)
        if len(self.tgid) >= self.prune_at:
            self._prune()
        if self.killing and tgid not in self.killed:
            self.killed.add(tgid)
            _kill([tgid], signal.SIGKILL)

    def _prune(self) -> None:
        """Forget tasks that are gone without an exit call (killed, or ended by another thread's exit_group)."""
        for tid in [t for t in self.tgid if not os.path.exists(f"/proc/{t}")]:
            self.tgid.pop(tid, None)
            self.st.exe_of.pop(tid, None)
        self.prune_at = max(_PRUNE_AT, 2 * len(self.tgid))

    def _special(self, tid: int, kind: int) -> None:
        st = self.st
        if kind == _EXEC:
            if tid == st.root and st.exe_of.get(tid) == PRE_EXEC:
                self.root_exec_pending = True
                return
            leader = self.tgid.get(tid, tid)
            for t in (tid, leader):  # after the exec the caller runs as the leader
                st.exe_of.pop(t, None)
                self.reread.add(t)
        else:
            st.exe_of.pop(tid, None)
            self.reread.discard(tid)
            if kind == _EXIT:
                self.tgid.pop(tid, None)  # a later task with this tid is a new one

    def _root_after_exec(self) -> None:
        """The root's first syscall after its execve: the listener's slot survives only a failed exec."""
        st = self.st
        self.root_exec_pending = False
        if _fd_link(st.root, self.slot) != pt.NOTIFY_FD_LINK:
            st.exec_ok = True
            st.exe_of.pop(st.root, None)
            self.reread.add(st.root)

    def _reap(self, opts: TraceOptions, stop_workload: Callable[[str], None]) -> None:
        st = self.st
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG | pt.WALL)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == st.root:
                st.root_status, self.root_reaped = status, True
                if self.root_exec_pending:  # no syscall after it: a failed exec would have written why
                    self.root_exec_pending, st.exec_ok = False, True
                if opts.follow == "main":
                    rest = workload_processes()
                    if rest:
                        st.killed_rest = _tasks_in(rest)
                        self.signal_all(signal.SIGKILL)
            elif pid == st.driver:
                st.driver_status = status
                stop_workload("driver")
            # anything else: an orphan of the workload, re-parented to us (child subreaper)

    def loop(self, st: _State, opts: TraceOptions, stop_workload: Callable[[str], None]) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        old_chld = signal.signal(signal.SIGCHLD, lambda _s, _f: None)  # so that SIGCHLD writes to wake_w
        old_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        try:
            self._loop(st, opts, stop_workload, wake_r)
        finally:
            signal.set_wakeup_fd(old_wakeup)
            signal.signal(signal.SIGCHLD, old_chld)
            os.close(wake_r)
            os.close(wake_w)

    def _loop(self, st: _State, opts: TraceOptions, stop_workload: Callable[[str], None], wake_r: int) -> None:
        listener, pidfd = self.listener, self.pidfd
        buf, resp = ctypes.create_string_buffer(pt.SECCOMP_NOTIF_SIZE), ctypes.create_string_buffer(24)
        memset, ioctl = ctypes.memset, pt.raw_ioctl
        recv, send, cont = pt.SECCOMP_IOCTL_NOTIF_RECV, pt.SECCOMP_IOCTL_NOTIF_SEND, pt.SECCOMP_USER_NOTIF_FLAG_CONTINUE
        head, answer = pt.SECCOMP_NOTIF_HEAD.unpack_from, pt.SECCOMP_NOTIF_RESP.pack_into
        size, special, tgid, reread, root = pt.SECCOMP_NOTIF_SIZE, _special(), self.tgid, self.reread, st.root
        exe_of, pollin = st.exe_of, select.POLLIN
        poller = select.poll()
        for fd in (listener, pidfd, wake_r):
            poller.register(fd, pollin)
        hup = False
        while not (hup and self.root_reaped):
            events = poller.poll(1000)
            reap = not events  # a periodic check, should a wake-up ever be missed
            for fd, ev in events:
                if fd != listener:
                    reap = True
                    if fd == wake_r:
                        with contextlib.suppress(BlockingIOError):
                            os.read(wake_r, 512)
                    else:
                        poller.unregister(pidfd)  # the root exited; a pidfd stays readable
                    continue
                if not ev & pollin:
                    hup = True  # POLLHUP: no task uses the filter any more
                    poller.unregister(listener)
                    reap = True
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
                    exe_of[tid] = _exe_id(st, tid)
                    _note_setid(st, st.exes[exe_of[tid]])
                kind = special.get((arch, nr))
                _record(st, tid, arch, nr, buf, None)
                if kind:
                    self._special(tid, kind)
                answer(resp, 0, nid, 0, 0, cont)
                ioctl(listener, send, resp)  # ENOENT: the task died meanwhile
            if reap:
                self._reap(opts, stop_workload)


def trace_notify(argv: list[str], options: TraceOptions | None = None) -> TraceResult:
    """Start argv under a seccomp user-notification filter and record it and everything it starts.

    Same recording as `tracer.trace.trace`; see the module docstring for what differs.
    """
    opts = options or TraceOptions()
    if opts.attach is not None:
        raise UserError("--pid needs the ptrace backend", "--backend notify")
    if opts.filters:
        raise UserError("--base needs the ptrace backend", "--backend notify")
    if opts.verdict is not None:
        raise UserError("verify needs the ptrace backend", "--backend notify")
    env = dict(os.environ if opts.env is None else opts.env)
    st = _State()
    started = datetime.now(UTC)
    prog = pt.notify_everything_filter()
    subreaper = pt.get_child_subreaper()
    pt.prctl(pt.PR_SET_CHILD_SUBREAPER, 1)
    fds: list[int] = []
    try:
        report_r, report_w = os.pipe()
        fds += [report_r, report_w]
        st.root = spawn(argv, env, opts.cwd, [functools.partial(_child_install, prog, report_w)], seize=False)
        os.close(report_w)
        fds.remove(report_w)
        st.live.add(st.root)
        st.exe_of[st.root] = PRE_EXEC
        st.tasks_seen = 1
        pidfd = os.pidfd_open(st.root)
        fds.append(pidfd)
        got = _fetch_listener(st.root, pidfd, report_r)
        if got is None:  # the child could not install the filter or exec; it said why
            st.root_status = os.waitpid(st.root, 0)[1]
            return _result(st, argv, opts, started, 0.0)
        listener, slot = got
        fds.append(listener)
        pt.notif_set_sync_wake_up(listener)
        sup = _Supervisor(st, listener, pidfd, slot)
        st.signal_all = sup.signal_all
        return _run(st, argv, opts, env, started, loop=sup.loop)
    finally:
        for fd in fds:
            os.close(fd)
        pt.prctl(pt.PR_SET_CHILD_SUBREAPER, subreaper)


@functools.cache
def notify_supported() -> bool:
    """Whether this kernel lets us run trace_notify: tried once, in a throwaway child, and cached.

    Needs seccomp NEW_LISTENER (5.0), pidfd_open (5.3), USER_NOTIF_FLAG_CONTINUE (5.5),
    pidfd_getfd (5.6) and Seccomp_filters in /proc/PID/status (5.9).
    """
    if _filters_of("self") is None or not hasattr(os, "pidfd_open"):
        return False
    prog = pt.notify_everything_filter()
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(report_r)
            pt.prctl(pt.PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.geteuid() != 0:
                pt.prctl(pt.PR_SET_NO_NEW_PRIVS, 1)
            _child_install(prog, report_w)
            os._exit(0 if os.getppid() > 0 else 1)  # getppid and exit_group are answered by the parent
        except BaseException:
            os._exit(1)
    os.close(report_w)
    ok, listener, pidfd = False, -1, -1
    try:
        pidfd = os.pidfd_open(pid)
        got = _fetch_listener(pid, pidfd, report_r, wait=2.0)
        if got is not None:
            listener = got[0]
            buf, resp = ctypes.create_string_buffer(pt.SECCOMP_NOTIF_SIZE), ctypes.create_string_buffer(24)
            poller = select.poll()
            poller.register(listener, select.POLLIN)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                events = poller.poll(100)
                if events and not events[0][1] & select.POLLIN:
                    break  # POLLHUP: the child is gone
                if not events:
                    continue
                if pt.raw_ioctl(listener, pt.SECCOMP_IOCTL_NOTIF_RECV, buf) != 0:
                    continue
                pt.SECCOMP_NOTIF_RESP.pack_into(resp, 0, pt.SECCOMP_NOTIF_HEAD.unpack_from(buf)[0], 0, 0,
                                                pt.SECCOMP_USER_NOTIF_FLAG_CONTINUE)
                sent = pt.raw_ioctl(listener, pt.SECCOMP_IOCTL_NOTIF_SEND, resp)
                if sent != 0 and ctypes.get_errno() != errno.ENOENT:
                    break  # no FLAG_CONTINUE (kernel < 5.5)
                ctypes.memset(buf, 0, pt.SECCOMP_NOTIF_SIZE)
    except (OSError, UserError):
        pass
    finally:
        for fd in (listener, pidfd, report_r):
            if fd >= 0:
                os.close(fd)
        _kill([pid], signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            status = os.waitpid(pid, 0)[1]
            ok = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    return ok
