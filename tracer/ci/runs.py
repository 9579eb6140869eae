"""`seccomp-learn ci`, the runs: every run of every selected profile traced, judged, merged, emitted once.

Nothing is written here, so a failed run leaves the previous profiles in place. Profiles are
deterministic: same syscalls, same bytes (run ids are `<profile>/<run name>` from the config, the
only run-specific text a profile holds). See docs/config.md.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tracer.analysis.inputs import from_emitted, load_baseline
from tracer.capture.choice import trace
from tracer.capture.incremental import BaseProfile
from tracer.capture.state import TraceOptions, TraceResult
from tracer.ci.config import Config, ProfileSpec, RunSpec, shown_path
from tracer.ci.progress import Progress
from tracer.enforce import export
from tracer.errors import UserError
from tracer.fileio import stdout_on_stderr
from tracer.kernel.wait_status import describe_exit
from tracer.profile.policy import EmitOptions, Emitted, emit, parse_arches
from tracer.recording.coverage import advice
from tracer.recording.schema import Recording
from tracer.recording.union import low_coverage, merge
from tracer.report import formats as report_formats
from tracer.report.build import build_report
from tracer.structs import Struct

GRACE_S = 10.0  # how long a workload may take to exit after its stop signal (duration)


class Built(Struct):
    """One profile's merged recording and what it gives: the profile text and the markdown report."""

    spec: ProfileSpec
    recording: Recording
    text: str
    emitted: Emitted
    report: str


def _emit_options_for(spec: ProfileSpec) -> EmitOptions:
    return EmitOptions(arches=parse_arches(",".join(spec.arch)), args=spec.args, runtime=spec.runtime,
                       portable=spec.portable, allow=spec.allow)


def _timeout(run: RunSpec) -> float | None:
    """The run's timeout, or GRACE_S after the duration's stop signal if that comes first."""
    after_stop = None if run.duration is None else run.duration + GRACE_S
    limits = [t for t in (run.timeout, after_stop) if t is not None]
    return min(limits, default=None)


def _judge(run: RunSpec, result: TraceResult) -> str | None:
    """Why the run failed, or None when it did what the config expects."""
    if result.timed_out:
        if run.timeout == _timeout(run):
            return f"timed out after {run.timeout:g}s"
        return f"did not exit within {GRACE_S:g}s of {signal.Signals(run.stop_signal).name}"
    stopped = result.stopped_by
    if result.driver_failure:
        return result.driver_failure
    if not result.exec_ok:
        return "the command could not be executed"
    if run.during and not stopped:
        return f"the workload exited ({describe_exit(result.exit_code)}) before the during command ended"
    if result.exit_code not in run.expect_exit:
        expected = ", ".join(str(c) for c in run.expect_exit)
        return f"exited with {describe_exit(result.exit_code)}, expected {expected}"
    return None


def _trace_off_stdout(run: RunSpec, opts: TraceOptions) -> TraceResult:
    """trace() with the workload's stdout on our stderr: stdout is for the --check report alone."""
    if not os.path.isdir(str(opts.cwd)):
        raise UserError(f"cwd {opts.cwd} is not a directory")
    with stdout_on_stderr():
        return trace(run.command, opts)


def _base_profile(spec: ProfileSpec) -> BaseProfile | None:
    """The committed profile (any format), as the base of an incremental run."""
    return BaseProfile.load(shown_path(spec.output)) if spec.output.exists() else None


def _run_one(run_id: str, run: RunSpec, base: Path, progress: Progress, label: str,
             base_profile: BaseProfile | None) -> TraceResult:
    opts = TraceOptions(follow=run.follow, env={**os.environ, **run.env}, cwd=str(run.cwd or base), run_id=run_id,
                        duration=run.duration, stop_signal=run.stop_signal, during=run.during, ready=run.ready,
                        timeout=_timeout(run), progress=progress.tick,
                        base=base_profile)
    progress.start(label, run.command)
    t0 = time.monotonic()
    try:
        result = _trace_off_stdout(run, opts)
        failure = _judge(run, result)
    except UserError as exc:
        failure = str(exc).removeprefix("seccomp-learn: ")
    if failure is not None:
        progress.done(f"{label}: FAILED after {time.monotonic() - t0:.1f}s")
        raise UserError(f"run {run_id} failed: {failure} (nothing written)", exit_code=1)
    return result


def build(cfg: Config, profiles: list[ProfileSpec], progress: Progress, incremental: bool = False) -> list[Built]:
    """Run every run of every profile; with incremental, the committed profile is each run's --base."""
    base = cfg.path.resolve().parent
    total = sum(run.repeat for p in profiles for run in p.runs)
    done = 0
    built = []
    docker = load_baseline("docker")
    for profile in profiles:
        eopts = _emit_options_for(profile)
        base_profile = _base_profile(profile) if incremental else None
        recs: list[Recording] = []
        seen: set[str] = set()
        run_ids = []
        for run in profile.runs:
            for run_id in run.run_ids(profile.name):
                done += 1
                label = f"[{done}/{total}] {run_id}"
                result = _run_one(run_id, run, base, progress, label, base_profile)
                rec = result.recording
                recs.append(rec)
                run_ids.append(run_id)
                seen |= rec.all_names()
                r = rec.runs[0]
                note = f"; PARTIAL: {r.partial_reason}" if r.partial else ""
                progress.done(f"{label}: exit {describe_exit(result.exit_code)} in {r.duration_s:.1f}s, "
                              f"{r.syscalls} syscalls; profile {profile.name}: {len(seen)} distinct so far{note}")
        merged = merge(recs, run_ids)
        emitted = emit(merged, eopts)
        text = export.render(profile.format, emitted.profile, merged)
        assert isinstance(text, str)  # config.py takes the text formats only
        report = report_formats.render(build_report(from_emitted(merged, emitted, "recording"), docker))
        built.append(Built(profile, merged, text, emitted, report))
        for run_id, names in low_coverage(merged).items():
            progress.line(f"profile {profile.name}: low coverage: only run {run_id} saw {' '.join(names)}")
        for line in advice(merged):
            progress.line(f"profile {profile.name}: note: {line}")
    return built
