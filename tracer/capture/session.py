"""A tracing session, whichever backend runs it: the run loop around the backend's, and the result.

The backends (capture/backends/: ptrace, notify, notify_only, ebpf) start a workload (State.begin), then
hand their loop to `run_session`, which adds what every run has: signal forwarding, --duration, the
--during driver, timeouts, snapshots, progress, and the Recording at the end. What a backend does for each
syscall is capture/per_call.py.
"""


from __future__ import annotations

import contextlib
import os
import signal
import stat
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tracer import __version__
from tracer.capture.backend_names import AUTO, UNFAITHFUL
from tracer.capture.launch import fork_exec
from tracer.capture.shell import as_written
from tracer.capture.signal_repair import signal_masks
from tracer.capture.state import PRE_EXEC, Denial, State, Tally, TraceOptions, TraceResult
from tracer.kernel import procfs
from tracer.kernel import ptrace_abi as pt
from tracer.kernel.wait_status import describe_exit, exit_code_of
from tracer.recording.schema import PRE_EXEC_NAME, Recording, Run, SyscallStats, unnamed_key
from tracer.syscalls.abi import abi_of
from tracer.syscalls.names import name_of

if TYPE_CHECKING:
    from tracer.capture.ready import Ready
    pass

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # to the workload (ebpf holds them until its loop)


def kill(pids: Sequence[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _signal_all(st: State, sig: int) -> None:
    """Send sig to every process of the workload; SIGKILL goes to every task, so none is missed."""
    if st.signal_all is not None:
        st.signal_all(sig)
    elif sig == signal.SIGKILL:
        kill(list(st.live), sig)
    else:
        kill(_processes(st.live), sig)


def _processes(tids: set[int]) -> list[int]:
    """The distinct processes (thread-group ids) among traced tasks: one signal per process."""
    return sorted({procfs.tgid(tid) for tid in tids})


def _terminal_sent_it() -> bool:
    """Ctrl-C on a terminal already reached the workload (same foreground process group): don't double it."""
    try:
        return os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


def _say_if_ignored(st: State, signum: int, notice: Callable[[str], None] | None) -> None:
    """A workload that ignores the signal goes on as if nothing happened: say so, and what stops it."""
    masks = signal_masks(st.root)
    if masks is None or not masks[b"SigIgn"] & (1 << (signum - 1)):
        return
    again = "Ctrl-C again" if signum == signal.SIGINT else "a second signal"
    text = f"seccomp-learn: the workload ignores {signal.Signals(signum).name}; {again} kills it"
    if notice is not None:
        notice(text)
    else:
        os.write(2, f"{text}\n".encode())


def _start_detach(st: State) -> None:
    st.detaching = True
    for tid in list(st.live):
        pt.interrupt(tid)


# A backend's loop: it is given the state, the options, and what to call when the --during driver ends (its status).
Loop = Callable[[State, TraceOptions, Callable[[int], None]], None]


def run_session(st: State, argv: list[str], opts: TraceOptions, env: dict[str, str], started: time.struct_time,
         loop: Loop) -> TraceResult:
    """Signals, timers, the --during driver and the result around a backend's loop."""
    t0 = time.monotonic()

    def forward(signum: int, _frame: object) -> None:
        st.signals.append(signum)
        if st.attached is not None:
            _start_detach(st)  # never signal a process we only attached to
        elif len(st.signals) > 1:
            _signal_all(st, signal.SIGKILL)  # a second signal: stop for good
        else:
            if not (signum == signal.SIGINT and _terminal_sent_it()):
                _signal_all(st, signum)
            _say_if_ignored(st, signum, opts.notice)

    session_over = threading.Event()

    def stop_workload(why: str) -> None:
        if st.stopped is None and not st.signals:
            st.stopped = why  # "duration" or "driver"
            if st.attached is not None:
                _start_detach(st)
            elif st.exec_ok:
                kill([st.root], opts.stop_signal)
            else:  # the driver ended before the command's exec: the stop waits for it
                threading.Thread(target=_stop_after_exec, args=(st, opts.stop_signal, session_over),
                                 daemon=True).start()

    def driver_ended(status: int) -> None:
        st.driver_status = status
        stop_workload("driver")

    def snapshot(_signum: int = 0, _frame: object = None) -> None:
        if opts.snapshot is not None:
            partial = make_result(st, argv, opts, started, time.monotonic() - t0, snapshot=True)
            opts.snapshot(partial.recording)

    def duration_over(_signum: int, _frame: object) -> None:
        stop_workload("duration")

    # --duration fires in a timer thread but stops the workload from this one: ptrace requests (the detach
    # of --pid) are answered only for the tracing thread. A thread-directed SIGALRM interrupts its wait.
    handlers = {sig: forward for sig in FORWARDED} | {signal.SIGUSR1: snapshot, signal.SIGALRM: duration_over}
    old_handlers = {sig: signal.signal(sig, h) for sig, h in handlers.items()}
    timers: list[threading.Timer] = []
    if opts.duration is not None:
        timers.append(threading.Timer(opts.duration, signal.pthread_kill, (threading.get_ident(), signal.SIGALRM)))
    if opts.snapshot_every:
        timers.append(_Ticker(opts.snapshot_every, lambda: os.kill(os.getpid(), signal.SIGUSR1)))
    if opts.timeout is not None:
        timers.append(threading.Timer(opts.timeout, _time_out, (st,)))
    if opts.progress is not None:
        report = opts.progress
        timers.append(_Ticker(opts.progress_every, lambda: report(_tally(st, time.monotonic() - t0))))
    for timer in timers:
        timer.daemon = True
        timer.start()
    try:
        if opts.during:
            st.driver, st.ready_fd = _spawn_driver(opts.during, opts.ready, env, opts.cwd)
        loop(st, opts, driver_ended)
    except BaseException:
        if st.attached is None:
            _signal_all(st, signal.SIGKILL)  # never leave a traced task stopped behind
        raise
    finally:
        session_over.set()
        for timer in timers:
            timer.cancel()
        for timer in timers:
            timer.join(1.0)  # none may signal us once the default handlers (which terminate) are back
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)
        _end_driver(st, opts.ready)
    return make_result(st, argv, opts, started, time.monotonic() - t0)


class _Ticker(threading.Timer):
    """A timer that fires every `interval` seconds until cancelled."""

    def run(self) -> None:
        while not self.finished.wait(self.interval):
            self.function()


def _stop_after_exec(st: State, sig: int, over: threading.Event) -> None:
    """Send the stop signal once the root task has exec'd the command. Sent before, it ends seccomp-learn's
    launcher: learning recorded nothing of the workload, and verify said the command could not be executed
    (`--during true -- sleep 30`: 5 to 7 runs in 8). A failed exec ends the root, and no signal is sent."""
    while not st.exec_ok:
        if over.wait(0.005) or not procfs.running(st.root):
            return
    if not over.is_set():
        kill([st.root], sig)


def _time_out(st: State) -> None:
    st.timed_out = True
    if st.attached is not None:
        _start_detach(st)
    else:
        _signal_all(st, signal.SIGKILL)


def _tally(st: State, elapsed: float) -> Tally:
    """Read from a timer thread while the loop counts (CallCounts copies each row in one step)."""
    if st.sync is not None:
        st.sync()
    counts = list(st.calls.items())
    return Tally(st.tasks_seen, sum(n for *_, n in counts), len({(a, nr) for _, a, nr, _ in counts}), elapsed)


def _spawn_driver(argv: list[str], ready: Ready | None, env: dict[str, str], cwd: str | None) -> tuple[int, int | None]:
    """Start the --during driver untraced, in its own process group (so all of it can be stopped).

    With --ready, the process first runs the readiness wait (tracer.capture.ready), then execs the
    driver; the read end of its status pipe is returned with the pid.
    """
    status_r = status_w = None
    command = argv
    if ready is not None:
        status_r, status_w = os.pipe()
        command = ready.command(argv, status_w)

    def child() -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, [])  # a backend may block signals (SIGCHLD) while it traces
        os.setpgid(0, 0)
        if status_w is not None:
            os.set_inheritable(status_w, True)
        if cwd is not None:
            os.chdir(cwd)
        os.execvpe(command[0], command, env)

    pid = fork_exec(child, f"--during {as_written(argv)}", 127)
    if status_w is not None:
        os.close(status_w)
    return pid, status_r


def _end_driver(st: State, ready: Ready | None) -> None:
    if st.driver is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(st.driver, signal.SIGTERM)  # what the driver started too
    if st.driver_status is None:
        st.driver_status = os.waitpid(st.driver, 0)[1]
    if ready is not None and st.ready_fd is not None:
        st.not_ready, st.ready_fd = ready.failure(st.ready_fd), None


def note_setid(st: State, path: str) -> None:
    """Traced and (unprivileged) no_new_privs processes never gain set-id privileges: say so."""
    if os.geteuid() != 0:
        with contextlib.suppress(OSError):
            if os.stat(path).st_mode & (stat.S_ISUID | stat.S_ISGID):
                st.setid_dropped(path)


def _key(abi: str, bare: int) -> str:
    return name_of(abi, bare) or unnamed_key(bare)


def default_run_id(argv: list[str], started: time.struct_time) -> str:
    """A run's id when none is given: <program>-<UTC time>-<pid>."""
    return f"{os.path.basename(argv[0])}-{time.strftime('%Y%m%dT%H%M%S', started)}-{os.getpid()}"


def make_result(st: State, argv: list[str], opts: TraceOptions, started: time.struct_time, duration: float,
                snapshot: bool = False) -> TraceResult:
    """The run's result: how it ended, the Recording of what was counted, and verify's denials."""
    if st.sync is not None:
        st.sync()
    exit_code, exit_info = _exit_of(st, snapshot)
    driver_exit = None if st.driver_status is None else exit_code_of(st.driver_status)
    driver_failure = None if snapshot or st.signals or st.timed_out else _driver_failure(st, opts, driver_exit)
    reasons = _partial_reasons(st, opts, exit_code, snapshot, driver_failure)
    if st.attached is not None and (st.root in st.live or st.detaching):
        exit_code, exit_info = 0, {"detached": True}
    stopped = None
    if st.stopped:
        verb = "stopped" if st.attached is None else "detached"
        stopped = (f"{verb} after {opts.duration:g}s" if st.stopped == "duration"
                   else f"{verb} when the --during driver ended")
    run = Run(
        id=opts.run_id or default_run_id(argv, started),
        command=list(argv),
        started=time.strftime("%Y-%m-%dT%H:%M:%SZ", started),
        duration_s=duration,
        exit=exit_info,
        partial=bool(reasons),
        partial_reason="; ".join(reasons) or None,
        kernel=os.uname().release,
        machine=os.uname().machine,
        follow=opts.follow,
        tasks=st.tasks_seen,
        syscalls=st.calls.total(skip_exe=PRE_EXEC),
        stopped=stopped, setuid_without_privileges=sorted(st.setuid_unprivileged), attached_pid=st.attached,
        signal_repairs=st.repair.repairs if st.repair is not None and st.repair.repairs else None,
        calls_via_listener=st.notified or None,
        backend=None if opts.backend == AUTO else opts.backend, unfaithful=UNFAITHFUL.get(opts.backend),
    )
    rec = _recording_of(st, run)
    if opts.base is not None:  # the names the base let run in the kernel, uncounted
        opts.base.add_to(rec)
    return TraceResult(recording=rec, exit_code=exit_code, exec_ok=st.exec_ok,
                       denials=_denials(st), driver_exit=driver_exit, stopped_by=st.stopped,
                       timed_out=st.timed_out, driver_failure=driver_failure, partial_reasons=reasons)


def _exit_of(st: State, snapshot: bool) -> tuple[int, dict[str, int | str | bool]]:
    """The workload's exit code and the recording's `exit` object."""
    if snapshot:
        return 0, {"running": True}
    exit_code = exit_code_of(st.root_status)
    if os.WIFSIGNALED(st.root_status):
        signum = os.WTERMSIG(st.root_status)
        return exit_code, {"signal": signum, "name": signal.Signals(signum).name}
    return exit_code, {"code": exit_code}


def _partial_reasons(st: State, opts: TraceOptions, exit_code: int, snapshot: bool,
                     driver_failure: str | None) -> list[str]:
    """Why the recording may lack what the workload would have done: each makes the run partial."""
    reasons = []
    if snapshot:
        reasons.append("snapshot taken while the workload was running")
    if st.signals:
        reasons.append(_signalled(st, exit_code, snapshot))
    if st.timed_out:
        reasons.append(f"the run exceeded its timeout of {opts.timeout:g}s and was killed")
    if st.killed_rest:
        reasons.append(f"--follow main: {st.killed_rest} task(s) still running when the main process exited "
                       "were killed")
    if driver_failure:
        reasons.append(driver_failure)
    reasons += st.incomplete
    if st.attached is not None:
        reasons.append(f"attached to running process {st.attached}: its start-up was not traced")
    return reasons


def _recording_of(st: State, run: Run) -> Recording:
    """The counters and argument sets, keyed by ABI and name; the launcher's own calls left out."""
    rec = Recording(tool=f"seccomp-learn {__version__}", runs=[run])
    exes = [*st.exes, PRE_EXEC_NAME]  # index -1 is PRE_EXEC
    for exe, arch, nr, count in st.calls.items():
        abi, bare = abi_of(arch, nr)
        key = _key(abi, bare)
        if exe == PRE_EXEC and key != "execve":
            continue  # the launcher's own calls between installing the filter and exec
        stats = rec.abis.setdefault(abi, {}).setdefault(key, SyscallStats(nr=bare, counts={run.id: 0}))
        stats.counts[run.id] += count
        stats.executables.add(exes[exe])
    for (arch, nr, index), values in st.args.items():
        abi, bare = abi_of(arch, nr)
        stats_for = rec.abis.get(abi, {}).get(_key(abi, bare))
        if stats_for is not None:
            stats_for.args[index] = values
    return rec


def _denials(st: State) -> list[Denial]:
    exes = [*st.exes, PRE_EXEC_NAME]
    out = []
    for (exe, arch, nr, data), count in sorted(st.denied_counts.items()):
        abi, bare = abi_of(arch, nr)
        out.append(Denial(abi, _key(abi, bare), bare, data, count, {exes[exe]}, st.denied[(exe, arch, nr, data)]))
    return out


def _signalled(st: State, exit_code: int, snapshot: bool) -> str:
    """What a signal to seccomp-learn did: it stopped the workload only if the workload really ended by it."""
    names = ", ".join(signal.Signals(s).name for s in st.signals)
    if st.attached is not None:
        return f"seccomp-learn received {names} and detached"
    if snapshot:
        return f"seccomp-learn received {names}; the workload is still running"
    if os.WIFSIGNALED(st.root_status):
        return f"seccomp-learn received {names} and stopped the workload"
    return f"seccomp-learn received {names}, which the workload got too; it went on and exited with code {exit_code}"


def _driver_failure(st: State, opts: TraceOptions, driver_exit: int | None) -> str | None:
    """Why the --during driver failed or never ran (the run then fails), or None."""
    if not opts.during:
        return None
    driver = f"the during driver `{as_written(opts.during)}`"
    if st.not_ready:  # the --ready helper gave up and said why
        return f"{st.not_ready}; {driver} did not run"
    if st.not_ready == "":  # the helper was stopped before the workload was ready
        probes = " and ".join(p.shown for p in opts.ready.probes) if opts.ready else "--ready"
        return f"the workload ended before {probes} was ready; {driver} did not run"
    if st.stopped == "driver" and driver_exit:
        return f"{driver} exited with {describe_exit(driver_exit)}"
    return None
