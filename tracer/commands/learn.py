"""The library behind `seccomp-learn -- CMD`, `record`, `emit` and `verify`: plain data in, files out."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tracer.capture.incremental import Base
from tracer.capture.session import TraceOptions, TraceResult
from tracer.capture.trace import trace
from tracer.commands.live import LiveLine
from tracer.commands.outcome import Outcome
from tracer.errors import UserError
from tracer.fileio import STDOUT, check_output, write_atomic, wrote
from tracer.kernel.signals import parse_signal
from tracer.profile.emit import EmitOptions, Emitted, emit
from tracer.profile.formats import FORMATS, Metadata, renderer
from tracer.recording import model as rec_io
from tracer.recording.model import Recording

DRIVER_FAILED = 1  # exit code when the --during driver failed or never ran (docs: README, Servers)


@dataclass(frozen=True)
class Outputs:
    """Where a learning run writes, and how the profile is labelled."""

    profile: str | None  # None: no profile (`record`); "-": standard output
    recording: str | None
    fmt: str = "docker"
    name: str | None = None  # --format kubernetes: metadata.name / metadata.namespace
    namespace: str | None = None

    def check(self) -> None:
        """Refuse, before the workload runs, outputs that cannot be written."""
        check_metadata(self.fmt, self.name, self.namespace)
        paths = [p for p in (self.profile, self.recording) if p is not None]
        for path in paths:
            check_output(path)
        if len(paths) == 2 and _same_file(*paths):
            raise UserError("the profile and the recording would be the same file; give --record another name",
                            f"-o {self.profile} --record {self.recording}")


def _same_file(a: str, b: str) -> bool:
    return a == b or (a != STDOUT and b != STDOUT and os.path.realpath(a) == os.path.realpath(b))


def check_metadata(fmt: str, name: str | None, namespace: str | None) -> None:
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})", "--format")
    if name is None and namespace is None:
        return
    if fmt != "kubernetes":
        raise UserError("--name and --namespace set the metadata of a SeccompProfile: use --format kubernetes",
                        "--name/--namespace")
    from tracer.profile.formats.kubernetes import check_names

    check_names(name, namespace)


def default_output(fmt: str) -> str:
    """The profile's name when -o is not given: the extension follows the format."""
    return "seccomp.yaml" if fmt == "kubernetes" else "seccomp.json"


def render_profile(rec: Recording, opts: EmitOptions, fmt: str, name: str | None = None,
                   namespace: str | None = None) -> tuple[str, Emitted]:
    check_metadata(fmt, name, namespace)
    emitted = emit(rec, opts)
    source = f"{rec.tool}; runs: {', '.join(r.id for r in rec.runs)}"
    return renderer(fmt)(emitted.profile, Metadata(source, name, namespace)), emitted


def _distinct(rec: Recording) -> set[str]:
    return set().union(*(rec.names(abi) for abi in rec.abis))


def trace_summary(result: TraceResult) -> str:
    run, rec = result.recording.runs[-1], result.recording
    per_abi = ", ".join(f"{abi} {len(rec.names(abi))}" for abi in sorted(rec.abis))
    line = (f"traced {run.tasks} task(s), {run.syscalls} syscalls in {run.duration_s:.2f}s; "
            f"{len(_distinct(rec))} distinct syscalls observed ({per_abi or 'none'})")
    if run.partial:  # a failed driver is said on its own line
        line += "; PARTIAL" + ("" if run.partial_reason == result.driver_failure else f": {run.partial_reason}")
    return line


def trace_notes(result: TraceResult) -> list[str]:
    """What the user should know about how tracing changed the run."""
    run, rec = result.recording.runs[-1], result.recording
    notes = []
    if run.extra.get("backend", "ptrace") == "ptrace" and any("ptrace" in rec.names(abi) for abi in rec.abis):
        notes.append("note: the workload called ptrace, which fails under seccomp-learn (a process has only one "
                     "tracer): debuggers or strace inside the workload cannot attach")
    for path in run.extra.get("setuid_without_privileges", []):
        notes.append(f"note: {path} is set-id but ran without its privileges (seccomp-learn is unprivileged: "
                     "traced processes never gain set-id privileges); run seccomp-learn as root to learn it")
    if result.driver_exit is not None and result.stopped_by is None and not result.driver_failure:
        notes.append("note: the workload exited before the during driver ended; the driver was stopped")
    if run.exit.get("detached"):
        notes.append(f"detached from PID {run.extra['attached_pid']}, which is still running")
    return notes


def emit_summary(emitted: Emitted, rec: Recording | None, path: str, replaced: bool) -> list[str]:
    """What the profile holds, counted as the report counts it: allowed = observed + extras."""
    p = emitted.profile
    allowed = p.names("SCMP_ACT_ALLOW") | p.names("SCMP_ACT_LOG")
    observed = allowed & _distinct(rec) if rec is not None else allowed
    fallback = sum(len(e.names) for e in emitted.extras if e.kind == "fallback")
    lines = [f"{wrote(path, replaced)}: {len(allowed)} syscalls allowed ({len(observed)} observed + "
             f"{len(allowed - observed)} extras)" + (f", {fallback} fallback names get ENOSYS" if fallback else "")
             + f"; {', '.join(p.architectures)}, default {p.default_action}"]
    lines += [f"  + {e.kind}: {' '.join(e.names)}" for e in emitted.extras]
    if not p.syscalls:
        lines.append("  warning: the profile allows nothing")
    lines += [f"  warning: {abi} syscall {nr} has no name in the tables and is not in the profile"
              for abi, nr in emitted.unnamed]
    return lines


def exit_code_of_run(result: TraceResult, topts: TraceOptions) -> int:
    """The workload's exit code, except: a failed driver is DRIVER_FAILED, and a workload that seccomp-learn
    itself stopped (--duration, --during) with --stop-signal, and that died of it, ended as planned: 0."""
    if result.driver_failure:
        return DRIVER_FAILED
    if result.stopped_by and result.exit_code == 128 + topts.stop_signal:
        return 0
    return result.exit_code


def run_workload(argv: list[str], topts: TraceOptions, live: bool = False) -> TraceResult:
    if topts.attach is not None and argv:
        raise UserError("give either --pid or a command, not both")
    if topts.attach is None and not argv:
        raise UserError("no command given (usage: seccomp-learn [OPTIONS] -- COMMAND [ARGS...], or --pid PID)")
    line = LiveLine.on_terminal() if live else None
    if line is not None:
        topts.progress = line.show
    try:
        result = trace(argv, topts)
    finally:
        if line is not None:
            line.clear()
    if not result.exec_ok:
        raise UserError("the command could not be executed; nothing written", f"seccomp-learn: {argv[0]}",
                        exit_code=result.exit_code or 127)
    return result


def learn(argv: list[str], topts: TraceOptions, eopts: EmitOptions | None, outputs: Outputs,
          keep_going: bool = False, live: bool = False) -> Outcome:
    """Trace, then write the recording (if asked) and the profile (if eopts and outputs.profile are given).

    Outputs are checked before the workload runs. Snapshots (SIGUSR1, --snapshot-every) write both so far,
    atomically, marked partial. A failed --during driver fails the run: the recording is still written
    (marked partial), the profile only with keep_going.
    """
    profile_path = outputs.profile if eopts is not None else None
    outputs.check()

    def snapshot(rec: Recording) -> None:
        if outputs.recording and outputs.recording != STDOUT:
            rec_io.save(rec, outputs.recording)
        if eopts and profile_path and profile_path != STDOUT:
            write_atomic(profile_path, render_profile(rec, eopts, outputs.fmt, outputs.name, outputs.namespace)[0])

    topts.snapshot = snapshot
    result = run_workload(argv, topts, live)
    rec = result.recording
    summary = [trace_summary(result), *trace_notes(result)]
    stdout = ""
    if outputs.recording == STDOUT:
        stdout += rec_io.dumps(rec)
    elif outputs.recording:
        summary.append(wrote(outputs.recording, rec_io.save(rec, outputs.recording)))
    if result.driver_failure and not keep_going:
        unwritten = "; no profile written (--keep-going writes it anyway)" if profile_path else ""
        summary.append(f"the run failed: {result.driver_failure}{unwritten}")
    elif eopts and profile_path:
        text, emitted = render_profile(rec, eopts, outputs.fmt, outputs.name, outputs.namespace)
        if profile_path == STDOUT:
            stdout += text
            summary += emit_summary(emitted, rec, "the profile to standard output", False)[1:]
        else:
            summary += emit_summary(emitted, rec, profile_path, write_atomic(profile_path, text))
        if result.driver_failure:
            summary.append(f"the run failed: {result.driver_failure} (the profile was written: --keep-going)")
    return Outcome(exit_code_of_run(result, topts), summary, stdout=stdout)


def emit_file(recording_paths: list[str], eopts: EmitOptions, fmt: str, output: str, name: str | None = None,
              namespace: str | None = None) -> Outcome:
    check_metadata(fmt, name, namespace)
    check_output(output)
    if len(recording_paths) != 1:
        from tracer.recording.merge import merge_files

        rec = merge_files(recording_paths)
    else:
        rec = rec_io.load(recording_paths[0])
    try:
        text, emitted = render_profile(rec, eopts, fmt, name, namespace)
    except UserError as exc:  # name the input(s) when the problem is in the recording
        raise exc if exc.source else UserError(str(exc), ", ".join(recording_paths)) from None
    if output == STDOUT:
        return Outcome(0, [], stdout=text)
    return Outcome(0, emit_summary(emitted, rec, output, write_atomic(Path(output), text)))


def trace_options_from(follow: str = "all", run_id: str | None = None, duration: float | None = None,
                       stop_signal: str = "SIGTERM", during: str | list[str] | None = None,
                       snapshot_every: float | None = None, pid: int | None = None,
                       base: str | None = None, backend: str = "ptrace", ready: str | None = None,
                       ready_cmd: str | None = None, ready_timeout: float | None = None) -> TraceOptions:
    import shlex

    from tracer.capture import ready as readiness

    if duration is not None and duration <= 0:
        raise UserError("must be a positive number of seconds", "--duration")
    driver = shlex.split(during) if isinstance(during, str) else during
    try:
        wait = readiness.parse(ready, ready_cmd, ready_timeout)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if wait is not None and not driver:
        raise UserError("--ready and --ready-cmd hold back the --during driver: give --during CMD too")
    opts = TraceOptions(follow=follow, run_id=run_id, duration=duration, stop_signal=parse_signal(stop_signal),
                        during=driver or None, ready=wait, snapshot_every=snapshot_every, attach=pid,
                        base=None if base is None else Base.load(base), backend=backend)
    return opts


def verify_file(profile_path: str, argv: list[str], topts: TraceOptions, complain: bool, add_missing: str | None,
                quiet: bool) -> Outcome:
    """Exit 1 when the profile denied a call (VERIFY_DENIED), else the workload's exit code, as for learning."""
    from tracer.baseline import load_profile_file
    from tracer.enforce.verify import VERIFY_DENIED, describe, verify, with_missing
    from tracer.profile.formats import docker

    if add_missing is not None:
        check_output(add_missing)
    profile = load_profile_file(profile_path)
    result = verify(profile, argv, complain, topts)
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
    if result.trace.driver_failure:
        lines.append(f"the run failed: {result.trace.driver_failure}")
    stdout = ""
    if add_missing:
        text = docker.render(with_missing(profile, result.denied), Metadata(""))
        if add_missing == STDOUT:
            stdout = text
        else:
            lines.append(wrote(add_missing, write_atomic(add_missing, text)))
    code = VERIFY_DENIED if result.denied else exit_code_of_run(result.trace, topts)
    return Outcome(code, lines, stdout=stdout)
