"""The library behind `seccomp-learn -- CMD`, `record` and `emit`: plain data in, files out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import recording as rec_io
from .atomic import write_atomic
from .emit import EmitOptions, Emitted, emit
from .errors import UserError
from .formats import FORMATS, renderer
from .output import Outcome
from .recording import Recording
from .session import TraceOptions, TraceResult
from .signals import parse_signal
from .trace import trace

if TYPE_CHECKING:
    from .incremental import Base


def render_profile(rec: Recording, opts: EmitOptions, fmt: str) -> tuple[str, Emitted]:
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})", "--format")
    emitted = emit(rec, opts)
    source = f"{rec.tool}; runs: {', '.join(r.id for r in rec.runs)}"
    return renderer(fmt)(emitted.profile, source), emitted


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
    if run.extra.get("backend") != "notify-only" and any("ptrace" in rec.names(abi) for abi in rec.abis):
        notes.append("note: the workload called ptrace, which fails under seccomp-learn (a process has only one "
                     "tracer): debuggers or strace inside the workload cannot attach")
    for path in run.extra.get("setuid_without_privileges", []):
        notes.append(f"note: {path} is set-id but ran without its privileges (seccomp-learn is unprivileged: "
                     "traced processes never gain set-id privileges); run seccomp-learn as root to learn it")
    return notes


def emit_summary(emitted: Emitted, path: str) -> list[str]:
    p = emitted.profile
    lines = [f"wrote {path}: {len(p.names())} syscalls ({', '.join(p.architectures)}), "
             f"default {p.default_action}"]
    lines += [f"  + {e.kind}: {' '.join(e.names)}" for e in emitted.extras]
    if not p.syscalls:
        lines.append("  warning: the profile allows nothing")
    lines += [f"  warning: {abi} syscall {nr} has no name in the tables and is not in the profile"
              for abi, nr in emitted.unnamed]
    return lines


def run_workload(argv: list[str], topts: TraceOptions) -> TraceResult:
    if topts.attach is not None and argv:
        raise UserError("give either --pid or a command, not both")
    if topts.attach is None and not argv:
        raise UserError("no command given (usage: seccomp-learn [OPTIONS] -- COMMAND [ARGS...], or --pid PID)")
    result = trace(argv, topts)
    if not result.exec_ok:
        raise UserError("the command could not be executed; nothing written", f"seccomp-learn: {argv[0]}",
                        exit_code=result.exit_code or 127)
    return result


def learn(argv: list[str], topts: TraceOptions, eopts: EmitOptions | None, fmt: str,
          output: str | None, record_path: str | None) -> Outcome:
    """Trace, then write the recording (if asked) and the profile (if eopts and output are given).

    Snapshots (SIGUSR1, --snapshot-every) write both so far, atomically, marked partial.
    """

    def snapshot(rec: Recording) -> None:
        if record_path:
            rec_io.save(rec, record_path)
        if eopts and output:
            write_atomic(output, render_profile(rec, eopts, fmt)[0])

    topts.snapshot = snapshot
    result = run_workload(argv, topts)
    summary = [trace_summary(result), *trace_notes(result)]
    if record_path:
        rec_io.save(result.recording, record_path)
        summary.append(f"wrote {record_path}")
    if eopts and output:
        text, emitted = render_profile(result.recording, eopts, fmt)
        write_atomic(output, text)
        summary += emit_summary(emitted, output)
    return Outcome(result.exit_code, summary)


def emit_file(recording_paths: list[str], eopts: EmitOptions, fmt: str, output: str) -> Outcome:
    if len(recording_paths) != 1:
        from .merge import merge_files

        rec = merge_files(recording_paths)
    else:
        rec = rec_io.load(recording_paths[0])
    try:
        text, emitted = render_profile(rec, eopts, fmt)
    except UserError as exc:  # name the input(s) when the problem is in the recording
        raise exc if exc.source else UserError(str(exc), ", ".join(recording_paths)) from None
    if output == "-":
        return Outcome(0, [], stdout=text)
    write_atomic(output, text)
    return Outcome(0, emit_summary(emitted, output))


def _load_base(path: str) -> Base:
    from .incremental import Base  # libseccomp: imported only for --base

    return Base.load(path)


def trace_options_from(follow: str = "all", run_id: str | None = None, duration: float | None = None,
                       stop_signal: str = "SIGTERM", during: str | list[str] | None = None,
                       snapshot_every: float | None = None, pid: int | None = None,
                       base: str | None = None, backend: str = "auto") -> TraceOptions:
    import shlex

    if duration is not None and duration <= 0:
        raise UserError("must be a positive number of seconds", "--duration")
    driver = shlex.split(during) if isinstance(during, str) else during
    opts = TraceOptions(follow=follow, run_id=run_id, duration=duration, stop_signal=parse_signal(stop_signal),
                        during=driver or None, snapshot_every=snapshot_every, attach=pid,
                        base=None if base is None else _load_base(base), backend=backend)
    return opts


def verify_file(profile_path: str, argv: list[str], complain: bool, add_missing: str | None,
                quiet: bool) -> Outcome:
    from .baseline import load_profile_file
    from .formats import docker
    from .verify import describe, verify, with_missing

    profile = load_profile_file(profile_path)
    result = verify(profile, argv, complain)
    if not result.trace.exec_ok:
        raise UserError("the command could not be executed", f"seccomp-learn: {argv[0]}", exit_code=127)
    verb = "would deny" if complain else "denied"
    lines = [f"{verb}: {describe(d)}" for d in result.denied]
    if not quiet:
        lines += [f"expected (the profile's own errno rule): {describe(d)}" for d in result.expected]
        lines += [f"note: this libseccomp cannot compile {name!r}; it was skipped as runc would" for name in
                  result.skipped]
        lines.append(f"workload exit status: {result.trace.exit_code}; "
                     f"{len(result.denied)} syscall(s) {verb} by {profile_path}")
    if add_missing:
        write_atomic(add_missing, docker.render(with_missing(profile, result.denied), ""))
        lines.append(f"wrote {add_missing}")
    return Outcome(1 if result.denied else 0, lines)
