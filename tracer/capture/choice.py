"""Which backend runs: `backend_for` picks one for the options given, `trace()` runs it.

The backends are imported only when one runs. Their names and guarantees are capture/backend_names.py.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from tracer.capture.backend_names import AUTO, CHOICES, EBPF, NOTIFY, NOTIFY_ONLY, PTRACE, UNFAITHFUL
from tracer.errors import UserError
from tracer.structs import replace

if TYPE_CHECKING:
    from tracer.capture.state import TraceOptions, TraceResult
    from tracer.recording.schema import Backend
def backend_for(opts: TraceOptions, ebpf: bool | None = None) -> Backend:
    """The backend a run uses: `auto` picks ebpf where this process may load it (`ebpf`: whether it may,
    found out if not given), else the hybrid user-notification backend where the kernel has it."""
    if opts.backend != AUTO:
        return opts.backend
    if opts.filters is not None or opts.base is not None or opts.verdict is not None:
        return PTRACE  # --base (its calls run uncounted in the kernel) and verify need ptrace
    if _ebpf_unavailable() is None if ebpf is None else ebpf:
        return EBPF
    if opts.attach is not None:
        return PTRACE  # --pid needs ptrace, or ebpf
    from tracer.kernel.ptrace_abi import user_notification_available
    return NOTIFY if user_notification_available() else PTRACE


def _ebpf_unavailable() -> str | None:
    from tracer.capture.backends.ebpf import unavailable
    return unavailable()


def trace(argv: list[str], options: TraceOptions | None = None) -> TraceResult:
    """Start argv as a traced child and trace it and everything it starts until they are gone."""
    from tracer.capture.state import TraceOptions
    opts = options or TraceOptions()
    backend = backend_for(opts)
    recorder = None
    if backend == EBPF:  # loaded before the workload starts: a refusal is said first
        from tracer.capture.backends.ebpf import Recorder
        try:
            recorder = Recorder()
        except UserError as exc:
            if opts.backend != AUTO:
                raise
            backend = backend_for(opts, ebpf=False)
            sys.stderr.write(f"seccomp-learn: note: {exc}; using --backend {backend}\n")
    warning = UNFAITHFUL.get(backend)
    if warning:
        sys.stderr.write(f"seccomp-learn: warning: {warning}\n")
    opts = replace(opts, backend=backend)  # the one that runs: every run and snapshot of the session names it
    if recorder is not None:
        from tracer.capture.backends.ebpf import trace_ebpf
        result = trace_ebpf(argv, opts, recorder)
    elif opts.attach is not None:
        if backend != PTRACE:
            raise UserError("--pid needs the ptrace backend", f"--backend {backend}")
        from tracer.capture.backends.ptrace import attach
        result = attach(opts.attach, opts)
    elif backend == NOTIFY:
        from tracer.capture.backends.notify import trace_notify
        result = trace_notify(argv, opts)
    elif backend == NOTIFY_ONLY:
        from tracer.capture.backends.notify_only import trace_notify_only
        result = trace_notify_only(argv, opts)
    elif backend == PTRACE:
        from tracer.capture.backends.ptrace import trace_ptrace
        result = trace_ptrace(argv, opts)
    else:
        raise UserError(f"unknown backend {backend!r} (known: {', '.join(CHOICES)})", "--backend")
    return result
