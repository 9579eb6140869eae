"""The tracing loop: one seccomp stop per syscall, for every task the workload starts.

The child runs under a filter that returns SECCOMP_RET_TRACE for everything, so each syscall
stops once (PTRACE_EVENT_SECCOMP) and PTRACE_GET_SYSCALL_INFO gives its arch, number and
arguments in one call. Per stop the loop does: waitpid, one GET_SYSCALL_INFO, a dict update,
and PTRACE_CONT. What it keeps is bounded by distinct (executable, arch, nr) keys and capped
argument sets, never by the number of syscalls.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from . import __version__
from . import ptrace_ext as pt
from .abi import abi_of
from .launch import spawn
from .recording import ArgValues, Recording, Run, SyscallStats, unnamed_key
from .syscall_info import filterable_args
from .syscalls import name_of

_STOP_SIGNALS = (signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_FORK_EVENTS = (pt.PTRACE_EVENT_FORK, pt.PTRACE_EVENT_VFORK, pt.PTRACE_EVENT_CLONE)


@dataclass
class TraceOptions:
    follow: str = "all"  # "all": until every task exited; "main": until the main process exited
    env: dict[str, str] | None = None
    cwd: str | None = None
    run_id: str | None = None


@dataclass
class TraceResult:
    recording: Recording
    exit_code: int  # the workload's, 128+N when killed by signal N
    exec_ok: bool  # the command's own exec succeeded


@dataclass
class _State:
    """Everything the loop accumulates; all of it is bounded by distinct keys, not by syscalls."""

    counts: defaultdict[tuple[int, int, int], int] = field(default_factory=lambda: defaultdict(int))
    args: dict[tuple[int, int, int], ArgValues] = field(default_factory=dict)
    argspec: dict[tuple[int, int], tuple[tuple[int, int], ...]] = field(default_factory=dict)
    exe_of: dict[int, int] = field(default_factory=dict)  # tid -> index in exes
    exes: list[str] = field(default_factory=list)
    exe_index: dict[str, int] = field(default_factory=dict)
    tasks_seen: int = 0
    signals: list[int] = field(default_factory=list)


def _exe_id(st: _State, pid: int) -> int:
    try:
        path = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        path = "?"
    idx = st.exe_index.get(path)
    if idx is None:
        idx = st.exe_index[path] = len(st.exes)
        st.exes.append(path)
    return idx


def _argspec(st: _State, arch: int, nr: int) -> tuple[tuple[int, int], ...]:
    """(arg index, is-flags) pairs to record for this (arch, nr); computed once per key."""
    abi, bare = abi_of(arch, nr)
    name = name_of(abi, bare)
    specs = filterable_args(abi, name) if name else ()
    spec = tuple((s.index, s.kind == "flags") for s in specs)
    st.argspec[(arch, nr)] = spec
    return spec


def trace(argv: list[str], options: TraceOptions | None = None) -> TraceResult:
    opts = options or TraceOptions()
    env = dict(os.environ if opts.env is None else opts.env)
    st = _State()
    started_wall = datetime.now(UTC)
    t0 = time.monotonic()
    root = spawn(argv, env, opts.cwd)
    live = {root}
    st.exe_of[root] = _exe_id(st, os.getpid())  # until its exec, the child runs our image
    st.tasks_seen = 1
    old_handlers = {sig: signal.getsignal(sig) for sig in _FORWARDED}

    def forward(signum: int, _frame: object) -> None:
        st.signals.append(signum)
        targets = [root] if len(st.signals) == 1 and root in live else list(live)
        sig = signum if len(st.signals) == 1 else signal.SIGKILL  # a second signal: stop for good
        _kill(targets, sig)

    for sig in _FORWARDED:
        signal.signal(sig, forward)
    try:
        root_status, exec_ok, killed_rest = _loop(st, root, live, opts.follow)
    finally:
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)
    duration = time.monotonic() - t0
    return _result(st, argv, opts, root_status, exec_ok, killed_rest, started_wall, duration)


def _loop(st: _State, root: int, live: set[int], follow: str) -> tuple[int, bool, int]:
    """Run until the traced tasks are gone; return (root wait status, exec seen, tasks killed)."""
    counts, args, argspec, exe_of = st.counts, st.args, st.argspec, st.exe_of
    buf = pt.syscall_info_buffer()
    raw_ptrace, get_info, cont_req = pt.raw_ptrace, pt.PTRACE_GET_SYSCALL_INFO, pt.PTRACE_CONT
    head, args_of, args_off = pt.SYSCALL_INFO_HEAD.unpack_from, pt.SYSCALL_INFO_ARGS.unpack_from, 32
    size, seccomp_stop, waitpid, wall = pt.SYSCALL_INFO_SIZE, pt.SECCOMP_STOP_STATUS, os.waitpid, pt.WALL
    root_status = 0
    exec_ok = False
    killed_rest = 0
    while live:
        try:
            pid, status = waitpid(-1, wall)
        except ChildProcessError:
            break
        if status == seccomp_stop:
            if raw_ptrace(get_info, pid, size, buf) > 0:
                _op, arch, nr = head(buf)
                exe = exe_of.get(pid)
                if exe is None:
                    exe = exe_of[pid] = _exe_id(st, pid)
                counts[(exe, arch, nr)] += 1
                spec = argspec.get((arch, nr))
                if spec is None:
                    spec = _argspec(st, arch, nr)
                if spec:
                    values = args_of(buf, args_off)
                    for index, is_flags in spec:
                        key = (arch, nr, index)
                        av = args.get(key)
                        if av is None:
                            av = args[key] = ArgValues(bits=0 if is_flags else None)
                        av.add(values[index])
            raw_ptrace(cont_req, pid, None, None)
            continue
        if pid not in live:
            live.add(pid)
            st.tasks_seen += 1
        if os.WIFSTOPPED(status):
            _other_stop(st, pid, status, live)
            if pid == root and status >> 16 == pt.PTRACE_EVENT_EXEC:
                exec_ok = True
            continue
        live.discard(pid)
        exe_of.pop(pid, None)
        if pid == root:
            root_status = status
            if follow == "main" and live:
                killed_rest = len(live)
                _kill(list(live), signal.SIGKILL)
    return root_status, exec_ok, killed_rest


def _kill(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _other_stop(st: _State, pid: int, status: int, live: set[int]) -> None:
    """Events, group-stops and signal-delivery stops: everything but the seccomp stop."""
    sig = os.WSTOPSIG(status)
    event = status >> 16
    if event in _FORK_EVENTS:
        child = pt.ptrace_geteventmsg(pid)
        if child not in live:
            live.add(child)
            st.tasks_seen += 1
        st.exe_of.setdefault(child, st.exe_of.get(pid, 0))
        pt.cont(pid)
    elif event == pt.PTRACE_EVENT_EXEC:
        former = pt.ptrace_geteventmsg(pid)
        if former != pid:  # a non-leader thread exec'd: it now has the leader's pid, its tid is gone
            live.discard(former)
            st.exe_of.pop(former, None)
        st.exe_of[pid] = _exe_id(st, pid)
        pt.cont(pid)
    elif event == pt.PTRACE_EVENT_STOP:
        if sig in _STOP_SIGNALS:
            pt.listen(pid)  # group-stop: stay stopped, as untraced job control would
        else:
            pt.cont(pid)
    elif event:
        pt.cont(pid)
    else:
        pt.cont(pid, sig)  # signal-delivery stop: deliver it


def _result(st: _State, argv: list[str], opts: TraceOptions, root_status: int, exec_ok: bool,
            killed_rest: int, started: datetime, duration: float) -> TraceResult:
    if os.WIFSIGNALED(root_status):
        signum = os.WTERMSIG(root_status)
        exit_info: dict[str, object] = {"signal": signum, "name": signal.Signals(signum).name}
        exit_code = 128 + signum
    else:
        exit_code = os.WEXITSTATUS(root_status)
        exit_info = {"code": exit_code}
    reasons = []
    if st.signals:
        names = ", ".join(signal.Signals(s).name for s in st.signals)
        reasons.append(f"seccomp-learn received {names} and stopped the workload")
    if killed_rest:
        reasons.append(f"--follow main: {killed_rest} task(s) still running when the main process exited were killed")
    run = Run(
        id=opts.run_id or f"{os.path.basename(argv[0])}-{started.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}",
        command=list(argv),
        started=started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        duration_s=duration,
        exit=exit_info,
        partial=bool(reasons),
        partial_reason="; ".join(reasons) or None,
        kernel=platform.release(),
        machine=platform.machine(),
        follow=opts.follow,
        tasks=st.tasks_seen,
        syscalls=sum(st.counts.values()),
    )
    rec = Recording(tool=f"seccomp-learn {__version__}", runs=[run])
    for (exe, arch, nr), count in st.counts.items():
        abi, bare = abi_of(arch, nr)
        key = name_of(abi, bare) or unnamed_key(bare)
        stats = rec.abis.setdefault(abi, {}).setdefault(key, SyscallStats(nr=bare, counts={run.id: 0}))
        stats.counts[run.id] += count
        stats.executables.add(st.exes[exe])
    for (arch, nr, index), values in st.args.items():
        abi, bare = abi_of(arch, nr)
        key = name_of(abi, bare) or unnamed_key(bare)
        rec.abis[abi][key].args[index] = values
    return TraceResult(recording=rec, exit_code=exit_code, exec_ok=exec_ok)
