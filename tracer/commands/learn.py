"""`seccomp-learn [run] -- CMD` and `record`: trace a workload, write its recording and (run) its profile."""

from __future__ import annotations

import shlex
from dataclasses import replace
from typing import Literal

from tracer.capture.incremental import BaseProfile
from tracer.capture.session import TraceOptions, TraceResult
from tracer.capture.trace import trace
from tracer.commands.emit import emit_summary
from tracer.commands.outcome import Outcome
from tracer.errors import UserError
from tracer.fileio import write_atomic
from tracer.kernel.signals import parse_signal
from tracer.profile import formats
from tracer.profile.emit import EmitOptions, emit
from tracer.recording import model as rec_io
from tracer.recording.model import Backend, Follow, Recording


def trace_summary(result: TraceResult) -> str:
    run = result.recording.runs[-1]
    abis = ", ".join(f"{abi} {len(result.recording.names(abi))}" for abi in sorted(result.recording.abis))
    line = (f"traced {run.tasks} task(s), {run.syscalls} syscalls in {run.duration_s:.2f}s; "
            f"distinct syscalls: {abis or 'none'}")
    if run.partial:
        line += f"; PARTIAL: {run.partial_reason}"
    return line


def trace_notes(result: TraceResult) -> list[str]:
    """What the user should know about how tracing changed the run."""
    run, rec = result.recording.runs[-1], result.recording
    notes = []
    if run.backend in (None, "ptrace") and "ptrace" in rec.all_names():
        notes.append("note: the workload called ptrace, which fails under seccomp-learn (a process has only one "
                     "tracer): debuggers or strace inside the workload cannot attach")
    for path in run.setuid_without_privileges:
        notes.append(f"note: {path} is set-id but ran without its privileges (seccomp-learn is unprivileged: "
                     "traced processes never gain set-id privileges); run seccomp-learn as root to learn it")
    return notes


def _trace_command(argv: list[str], topts: TraceOptions) -> TraceResult:
    if topts.attach is not None and argv:
        raise UserError("give either --pid or a command, not both")
    if topts.attach is None and not argv:
        raise UserError("no command given (usage: seccomp-learn [OPTIONS] -- COMMAND [ARGS...], or --pid PID)")
    result = trace(argv, topts)
    if not result.exec_ok:
        raise UserError("the command could not be executed; nothing written", f"seccomp-learn: {argv[0]}",
                        exit_code=result.exit_code or 127)
    return result


def run_learn(argv: list[str], topts: TraceOptions, eopts: EmitOptions | None, fmt: str,
              output: str | None, record_path: str | None) -> Outcome:
    """Trace, then write the recording (if asked) and the profile (if eopts and output are given).

    Snapshots (SIGUSR1, --snapshot-every) write both so far, atomically, marked partial.
    """

    def snapshot(rec: Recording) -> None:
        if record_path:
            rec_io.save(rec, record_path)
        if eopts and output:
            write_atomic(output, formats.render(fmt, emit(rec, eopts).profile, rec))

    result = _trace_command(argv, replace(topts, snapshot=snapshot))
    summary = [trace_summary(result), *trace_notes(result)]
    if record_path:
        rec_io.save(result.recording, record_path)
        summary.append(f"wrote {record_path}")
    if eopts and output:
        emitted = emit(result.recording, eopts)
        write_atomic(output, formats.render(fmt, emitted.profile, result.recording))
        summary += emit_summary(emitted, output)
    return Outcome(result.exit_code, summary)


def trace_options_from(follow: Follow = "all", run_id: str | None = None, duration: float | None = None,
                       stop_signal: str = "SIGTERM", during: str | list[str] | None = None,
                       snapshot_every: float | None = None, pid: int | None = None,
                       base: str | None = None, backend: Backend | Literal["auto"] = "ptrace") -> TraceOptions:
    """The TraceOptions the command line asks for, checked, with --base read once."""
    if duration is not None and duration <= 0:
        raise UserError("must be a positive number of seconds", "--duration")
    driver = shlex.split(during) if isinstance(during, str) else during
    return TraceOptions(follow=follow, run_id=run_id, duration=duration, stop_signal=parse_signal(stop_signal),
                        during=driver or None, snapshot_every=snapshot_every, attach=pid,
                        base=None if base is None else BaseProfile.load(base),
                        backend=backend)
