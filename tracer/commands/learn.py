"""`seccomp-learn [run] -- CMD` and `record`: trace a workload, write its recording and (run) its profile.

Outputs are checked before the workload runs; a failed --during driver fails the run; a workload that
seccomp-learn itself stopped as planned exits 0.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from tracer.capture import sandbox
from tracer.capture.choice import trace
from tracer.capture.session import default_run_id
from tracer.capture.shell import shell_argv
from tracer.capture.state import TraceOptions, TraceResult
from tracer.commands.live import LiveLine
from tracer.commands.outcome import Outcome
from tracer.commands.typed_options import (
    DriverFlags,
    EmitFlags,
    NameFlags,
    QuietOptions,
    TraceFlags,
    command_words,
    group,
    option,
    output,
    profile_format,
    profile_output,
    quiet,
)
from tracer.errors import UserError
from tracer.fileio import STDOUT, check_output, stdout_on_stderr, write_atomic, wrote
from tracer.kernel.signals import parse_signal
from tracer.recording import schema as rec_io
from tracer.recording.coverage import advice, low_coverage_lines
from tracer.recording.schema import Recording
from tracer.recording.union import merge
from tracer.structs import Struct, replace

if TYPE_CHECKING:
    from tracer.capture.incremental import BaseProfile
    from tracer.commands.profile_delivery import ProfileOutput
    from tracer.profile.policy import EmitOptions


class RunOptions(QuietOptions, frozen=True):
    """`seccomp-learn [run] [OPTIONS] [--] COMMAND`."""

    output: str | None = profile_output()
    record_path: str | None = option("--record", metavar="FILE", help="Also write the recording here.")
    quiet: bool = quiet()
    trace: TraceFlags = group(TraceFlags)
    fmt: str = profile_format()
    emit: EmitFlags = group(EmitFlags)
    names: NameFlags = group(NameFlags)
    command: tuple[str, ...] = command_words()


class RecordOptions(QuietOptions, frozen=True):
    """`seccomp-learn record [OPTIONS] [--] COMMAND`."""

    output: str = output("Recording", "seccomp.trace.json")
    quiet: bool = quiet()
    trace: TraceFlags = group(TraceFlags)
    command: tuple[str, ...] = command_words()


DRIVER_FAILED = 1  # exit code when the --during driver failed or never ran (docs: README, Servers)


class Outputs(Struct, frozen=True):
    """Where a learning run writes, and how the profile is labelled."""

    profile: str | None  # None: no profile (`record`); "-": standard output
    recording: str | None
    fmt: str = "docker"
    name: str | None = None  # --format kubernetes: metadata.name / metadata.namespace
    namespace: str | None = None

    @property
    def profile_destination(self) -> ProfileOutput | None:
        if self.profile is None:
            return None
        from tracer.commands.profile_delivery import ProfileOutput  # the profile's writers: not for `record`

        return ProfileOutput(self.profile, self.fmt, self.name, self.namespace)

    def check(self) -> None:
        """Refuse, before the workload runs, outputs that cannot be written."""
        if self.profile_destination is not None:
            self.profile_destination.check()
        if self.recording is not None:
            check_output(self.recording)
        if self.profile is not None and self.recording is not None and _same_file(self.profile, self.recording):
            raise UserError("the profile and the recording would be the same file; give --record another name",
                            f"-o {self.profile} --record {self.recording}")


def _same_file(a: str, b: str) -> bool:
    return a == b or (a != STDOUT and b != STDOUT and os.path.realpath(a) == os.path.realpath(b))


def trace_summary(result: TraceResult) -> str:
    """What was traced; a partial run says PARTIAL here, and why in `run_failures`."""
    run, rec = result.recording.runs[-1], result.recording
    per_abi = ", ".join(f"{abi} {len(rec.names(abi))}" for abi in sorted(rec.abis))
    backend = f" (backend {run.backend})" if run.backend else ""
    line = f"traced {run.tasks} task(s), {run.syscalls} syscalls in {run.duration_s:.2f}s{backend}; "
    if run.incremental_base is None:
        line += f"{len(rec.all_names())} distinct syscalls observed ({per_abi or 'none'})"
    else:  # the base's names ran in the kernel, uncounted: the syscall count is only the rest's
        traced = {key for table in rec.abis.values() for key, stats in table.items() if stats.counts.get(run.id)}
        line += (f"{len(traced)} distinct syscalls traced, {len(rec.all_names() - traced)} more from --base "
                 f"{run.incremental_base.profile} (allowed by the kernel untraced, so not counted)")
    return line + "; PARTIAL" if run.partial else line


def run_failures(result: TraceResult, topts: TraceOptions, profile: str | None) -> list[str]:
    """One line per reason the run is partial, and one when the workload itself failed (exited non-zero, or was
    killed by a signal seccomp-learn did not send as planned): `-q` keeps these. A failed driver has its own line
    (run_learn). `profile` names what covers the failed run ("the profile", "the recording"), or None when
    nothing was written."""
    run = result.recording.runs[-1]
    lines = [f"the recording is partial: {r}" for r in result.partial_reasons if r != result.driver_failure]
    code = exit_code_of_run(result, topts)
    if code and not result.driver_failure and not run.exit.get("detached"):
        killed = "signal" in run.exit
        how = f"was killed by {run.exit['name']}" if killed else f"exited with code {result.exit_code}"
        covers = "what it did until then" if killed else "that failed run"
        lines.append(f"the workload {how}" + (f"; {profile} covers {covers}" if profile else ""))
    return lines


def trace_notes(result: TraceResult) -> list[str]:
    """What the user should know about how tracing changed the run."""
    run, rec = result.recording.runs[-1], result.recording
    notes = []
    if run.backend not in ("notify-only", "ebpf") and "ptrace" in rec.all_names():
        notes.append("note: the workload called ptrace, which fails under seccomp-learn (a process has only one "
                     "tracer): debuggers or strace inside the workload cannot attach")
    for path in run.setuid_without_privileges:
        notes.append(f"note: {path} is set-id but ran without its privileges (seccomp-learn is unprivileged: "
                     "traced processes never gain set-id privileges); run seccomp-learn as root to learn it")
    if result.driver_exit is not None and result.stopped_by is None and not result.driver_failure:
        notes.append("note: the workload exited before the during driver ended; the driver was stopped")
    if run.exit.get("detached"):
        notes.append(f"detached from PID {run.attached_pid}, which is still running")
    return notes


def exit_code_of_run(result: TraceResult, topts: TraceOptions) -> int:
    """The workload's exit code, except: a failed driver is DRIVER_FAILED, and a workload that seccomp-learn
    itself stopped (--duration, --during) with --stop-signal, and that died of it, ended as planned: 0."""
    if result.driver_failure:
        return DRIVER_FAILED
    if result.stopped_by and result.exit_code == 128 + topts.stop_signal:
        return 0
    return result.exit_code


def _trace_command(argv: list[str], topts: TraceOptions, live: bool, stdout_taken: bool = False) -> TraceResult:
    """trace(), with the progress line on a terminal when `live`; when our stdout is taken (`-o -`), the
    workload's stdout goes to stderr, so stdout holds only what we write there."""
    if topts.attach is not None and argv:
        raise UserError("give either --pid or a command, not both")
    if topts.attach is None and not argv:
        raise UserError("no command given (usage: seccomp-learn [OPTIONS] -- COMMAND [ARGS...], or --pid PID)")
    line = LiveLine.on_terminal() if live else None
    try:
        shown = topts if line is None else replace(topts, progress=line.show, notice=line.note)
        with stdout_on_stderr(stdout_taken), sandbox.inside(argv, shown) as (traced, opts):
            result = trace(traced, opts)
    finally:
        if line is not None:
            line.clear()
    if not result.exec_ok:
        raise UserError("the command could not be executed; nothing written", f"seccomp-learn: {argv[0]}",
                        exit_code=result.exit_code or 127)
    return result


def run_learn(argv: list[str], topts: TraceOptions, eopts: EmitOptions | None, outputs: Outputs,
              keep_going: bool, live: bool, repeat: int) -> Outcome:
    """Trace (`repeat` times, one run after another, merged), then write the recording (if asked) and the
    profile (if eopts and outputs.profile are given).

    Outputs are checked before the workload runs. Snapshots (SIGUSR1, --snapshot-every) write both so far,
    atomically, marked partial. A failed --during driver fails the run: the recording is still written
    (marked partial), the profile only with keep_going. A run that fails or is interrupted ends the repeats.
    """
    profile = outputs.profile_destination if eopts is not None else None
    profile_path = None if profile is None else profile.path
    outputs.check()
    if repeat < 1:
        raise UserError("must be a number of runs, 1 or more", f"--repeat {repeat}")
    if repeat > 1 and topts.attach is not None:
        raise UserError("--repeat runs a command several times: it cannot attach (--pid)")
    runs: list[Recording] = []

    def so_far(rec: Recording) -> Recording:
        return merge([*runs, rec]) if runs else rec

    unwritten: dict[str, int] = {}  # why a snapshot could not be written, and how often

    def snapshot(rec: Recording) -> None:
        """A failed snapshot is said at the end; it never stops the workload (the final write may still work)."""
        rec = so_far(rec)
        try:
            if outputs.recording and outputs.recording != STDOUT:
                rec_io.save(rec, outputs.recording)
            if eopts and profile and profile.path != STDOUT:
                write_atomic(profile.path, profile.make(rec, eopts).text)
        except UserError as exc:
            unwritten[str(exc)] = unwritten.get(str(exc), 0) + 1

    stdout_taken = STDOUT in (profile_path, outputs.recording)
    summary: list[str] = []
    base_id = topts.run_id or (default_run_id(argv, time.gmtime()) if repeat > 1 else None)
    for n in range(1, repeat + 1):
        run_id = topts.run_id if repeat == 1 else f"{base_id}#{n}"
        result = _trace_command(argv, replace(topts, snapshot=snapshot, run_id=run_id), live, stdout_taken)
        runs.append(result.recording)
        code = exit_code_of_run(result, topts)
        summary += [f"run {n} of {repeat}: " * (repeat > 1) + trace_summary(result), *trace_notes(result)]
        if n < repeat and (code or result.recording.runs[-1].partial):
            summary.append(f"run {n} of {repeat} {'failed' if code else 'was interrupted'}: no more runs")
            break
    rec = merge(runs) if len(runs) > 1 else runs[0]
    summary += low_coverage_lines(rec) + [f"note: {line}" for line in advice(rec)]
    failures = [f"a snapshot was not written ({n} time(s)): {why}" for why, n in unwritten.items()]
    stdout: str | bytes = ""
    if outputs.recording == STDOUT:
        stdout = rec_io.dumps(rec)
    elif outputs.recording:
        summary.append(wrote(outputs.recording, rec_io.save(rec, outputs.recording)))
    covered = "the recording" if outputs.recording else None
    if result.driver_failure and not keep_going:
        unwritten_profile = "; no profile written (--keep-going writes it anyway)" if profile_path else ""
        failures.append(f"the run failed: {result.driver_failure}{unwritten_profile}")
    elif eopts and profile:
        written = profile.deliver(rec, eopts)
        summary += written.summary
        stdout = written.stdout or stdout  # the recording is then not on stdout: Outputs.check refuses two there
        covered = "the profile"
        if result.driver_failure:
            failures.append(f"the run failed: {result.driver_failure} (the profile was written: --keep-going)")
    failures += run_failures(result, topts, covered)
    return Outcome(code, summary, stdout=stdout, failures=failures)


def _load_base(path: str) -> BaseProfile:
    from tracer.capture.incremental import BaseProfile  # libseccomp: imported only for --base

    return BaseProfile.load(path)


def trace_options_from(driver: DriverFlags, flags: TraceFlags | None = None) -> TraceOptions:
    """The TraceOptions the command line asks for (a learning run's `flags`; verify gives only its driver),
    checked, with --base read once."""
    if driver.duration is not None and driver.duration <= 0:
        raise UserError("must be a positive number of seconds", "--duration")
    if driver.during is not None and not driver.during.strip():
        raise UserError("the command is empty", "--during")
    wait = None
    if driver.ready is not None or driver.ready_cmd is not None or driver.ready_timeout is not None:
        from tracer.capture import ready as readiness  # its helper's modules, only for runs that wait

        try:
            wait = readiness.parse(driver.ready, driver.ready_cmd, driver.ready_timeout)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    if wait is not None and not driver.during:
        raise UserError("--ready and --ready-cmd hold back the --during driver: give --during CMD too")
    topts = TraceOptions(duration=driver.duration, stop_signal=parse_signal(driver.stop_signal),
                         during=shell_argv(driver.during) if driver.during else None, ready=wait)
    if flags is None:
        return topts
    return replace(topts, follow=flags.follow, run_id=flags.run_id, snapshot_every=flags.snapshot_every,
                   attach=flags.pid, base=None if flags.base is None else _load_base(flags.base),
                   backend=flags.backend)


def run_command(o: RunOptions) -> Outcome:
    """`seccomp-learn [run]`: the profile (and, with --record, the recording) of the traced command."""
    from tracer.commands.emit import emit_options_from  # the profile's modules: `record` never loads them
    from tracer.profile import formats

    outputs = Outputs(o.output or formats.default_output(o.fmt), o.record_path, o.fmt, o.names.name,
                      o.names.namespace)
    return run_learn(list(o.command), trace_options_from(o.trace.driver, o.trace), emit_options_from(o.emit, o.fmt),
                     outputs, o.trace.keep_going, live=not o.quiet, repeat=o.trace.repeat)


def record_command(o: RecordOptions) -> Outcome:
    """`seccomp-learn record`: only the recording."""
    return run_learn(list(o.command), trace_options_from(o.trace.driver, o.trace), None, Outputs(None, o.output),
                     o.trace.keep_going, live=not o.quiet, repeat=o.trace.repeat)
