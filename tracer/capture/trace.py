"""The ptrace backend, and `trace()`, which picks the backend: one seccomp stop per syscall.

What both backends share is capture/session.py. The design (one stop, the order of seize, filter and
exec, group-stop, --pid, verify): docs/architecture.md.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from tracer.capture import backends
from tracer.capture.hybrid import trace_hybrid
from tracer.capture.launch import spawn
from tracer.capture.ptrace_stops import ptrace_stop_handler, wait_loop
from tracer.capture.session import PRE_EXEC, exe_id, run_session
from tracer.capture.state import State, TraceOptions, TraceResult
from tracer.errors import UserError
from tracer.kernel import ptrace as pt
from tracer.recording.model import Backend


def backend_for(opts: TraceOptions, ebpf: bool | None = None) -> Backend:
    """The backend a run uses: `auto` picks ebpf where this process may load it (`ebpf`: whether it may,
    found out if not given), else the hybrid user-notification backend where the kernel has it."""
    if opts.backend != backends.AUTO:
        return opts.backend
    if opts.filters or opts.base is not None or opts.verdict is not None:
        return backends.PTRACE  # --base (its calls run uncounted in the kernel) and verify need ptrace
    if _ebpf_unavailable() is None if ebpf is None else ebpf:
        return backends.EBPF
    if opts.attach is not None:
        return backends.PTRACE  # --pid needs ptrace, or ebpf
    return backends.NOTIFY if pt.user_notification_available() else backends.PTRACE


def _ebpf_unavailable() -> str | None:
    from tracer.capture.ebpf import unavailable

    return unavailable()


def trace(argv: list[str], options: TraceOptions | None = None) -> TraceResult:
    """Start argv as a traced child and trace it and everything it starts until they are gone."""
    opts = options or TraceOptions()
    backend = backend_for(opts)
    recorder = None
    if backend == backends.EBPF:  # loaded before the workload starts: a refusal is said first
        from tracer.capture.ebpf import Recorder

        try:
            recorder = Recorder()
        except UserError as exc:
            if opts.backend != backends.AUTO:
                raise
            backend = backend_for(opts, ebpf=False)
            sys.stderr.write(f"seccomp-learn: note: {exc}; using --backend {backend}\n")
    warning = backends.UNFAITHFUL.get(backend)
    if warning:
        sys.stderr.write(f"seccomp-learn: warning: {warning}\n")
    if recorder is not None:
        from tracer.capture.ebpf import trace_ebpf

        result = trace_ebpf(argv, opts, recorder)
    elif opts.attach is not None:
        if backend != backends.PTRACE:
            raise UserError("--pid needs the ptrace backend", f"--backend {backend}")
        result = attach(opts.attach, opts)
    elif backend == backends.NOTIFY:
        result = trace_hybrid(argv, opts)
    elif backend == backends.NOTIFY_ONLY:
        from tracer.capture.notify import trace_notify

        result = trace_notify(argv, opts)
    elif backend == backends.PTRACE:
        result = _trace_ptrace(argv, opts)
    else:
        raise UserError(f"unknown backend {backend!r} (known: {', '.join(backends.CHOICES)})", "--backend")
    run = result.recording.runs[-1]
    run.backend, run.unfaithful = backend, warning
    if opts.base is not None:
        opts.base.add_to(result.recording)
    return result


def _trace_ptrace(argv: list[str], opts: TraceOptions) -> TraceResult:
    env = dict(os.environ if opts.env is None else opts.env)
    st = State()
    started = time.gmtime()
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
    started = time.gmtime()
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
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
    wait_loop(ptrace_stop_handler(st, opts, stop_workload), st.live)
