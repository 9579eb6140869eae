"""Which backend runs: the names a user can choose, what each guarantees, the warning of the one that is not
faithful, and `trace()`, which picks one and runs it.

The backends are imported only when one runs, so the command line lists them without importing a tracer.
docs/tracing.md ("The backends side by side") explains each design.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Final

from tracer.errors import UserError

if TYPE_CHECKING:
    from tracer.capture.state import TraceOptions, TraceResult
    from tracer.recording.schema import Backend

# The values of recording.model.Backend, and "auto" (typed Final so that each is its Literal).
AUTO: Final = "auto"
NOTIFY: Final = "notify"
PTRACE: Final = "ptrace"
NOTIFY_ONLY: Final = "notify-only"
EBPF: Final = "ebpf"
CHOICES = (AUTO, EBPF, NOTIFY, PTRACE, NOTIFY_ONLY)

HELP = ("ebpf: the calls are counted in the kernel by BPF programs (root or CAP_BPF+CAP_PERFMON; no stop, "
        "so nothing the workload sees changes, and it may use ptrace itself; not for verify); "
        "notify: seccomp user notification for calls no signal can turn into a spurious EINTR, a ptrace stop "
        "for the rest, and a repair at every signal stop (fast, faithful); ptrace: one ptrace stop per call "
        "(faithful; the only one for --pid, --base and verify); notify-only: user notification without ptrace, "
        "so the workload may use ptrace itself, but a signal can make its calls fail (unfaithful, warns); "
        "auto: ebpf where it loads and --base or verify is not used, else notify where the kernel supports it "
        "and --pid, --base or verify is not used, else ptrace.")

# Said on stderr whenever this backend runs, and kept in the recording.
UNFAITHFUL = {
    NOTIFY_ONLY: ("--backend notify-only can change what the workload does: a signal that arrives while a call "
                  "waits for the tracer makes that call fail with EINTR (pipe2, clone, close without closing, "
                  "rt_sigreturn); use it only for a workload that needs to ptrace itself"),
}


def backend_for(opts: TraceOptions, ebpf: bool | None = None) -> Backend:
    """The backend a run uses: `auto` picks ebpf where this process may load it (`ebpf`: whether it may,
    found out if not given), else the hybrid user-notification backend where the kernel has it."""
    if opts.backend != AUTO:
        return opts.backend
    if opts.filters or opts.base is not None or opts.verdict is not None:
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
    run = result.recording.runs[-1]
    run.backend, run.unfaithful = backend, warning
    if opts.base is not None:
        opts.base.add_to(result.recording)
    return result
