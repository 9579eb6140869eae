"""The ptrace backend (`--backend ptrace`): one seccomp stop per syscall, and `--pid`, which seizes a running
process. What the seizing backends share is capture/ptrace_stops.py; docs/tracing.md has the design."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from tracer.capture.launch import spawn
from tracer.capture.per_call import exe_id
from tracer.capture.ptrace_stops import ptrace_stop_handler, wait_loop
from tracer.capture.session import run_session
from tracer.capture.signal_repair import SignalRepair
from tracer.capture.state import State, TraceOptions, TraceResult
from tracer.errors import UserError
from tracer.kernel import ptrace_abi as pt


def trace_ptrace(argv: list[str], opts: TraceOptions) -> TraceResult:
    env = dict(os.environ if opts.env is None else opts.env)
    st = State()
    started = time.gmtime()
    filters = [*opts.filters, opts.base.filter()] if opts.base is not None else opts.filters
    st.begin(spawn(argv, env, opts.cwd, filters), repair=SignalRepair())
    return run_session(st, argv, opts, env, started, _loop)


def attach(pid: int, options: TraceOptions | None = None) -> TraceResult:
    """Seize every thread of a running process (and what it starts from now on) until it exits or we stop.

    A running process cannot be given a filter, so this uses two stops per syscall. Stopping
    (a signal to seccomp-learn, --duration) detaches and leaves the process running.
    """
    opts = options or TraceOptions()
    st = State()
    st.begin(pid, attached=True, repair=SignalRepair())
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
                st.new_task(tid, exe_id(st, tid))
    except OSError as exc:
        for tid in st.live:
            pt.detach(tid)
        raise UserError(f"cannot attach: {exc.strerror}", f"--pid {pid}") from None
    return run_session(st, argv, opts, dict(os.environ), started, _loop)


def _loop(st: State, opts: TraceOptions, driver_ended: Callable[[int], None]) -> None:
    """Run until the traced tasks are gone."""
    wait_loop(ptrace_stop_handler(st, opts, driver_ended), st.live)
