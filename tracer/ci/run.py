"""`seccomp-learn ci`: run every configured workload, merge per profile, write or check the outputs.

Nothing is written until every run of every selected profile has succeeded, so a failed job
leaves the previous profiles in place. Profiles are deterministic: same syscalls, same bytes
(run ids are `<profile>/<run name>` from the config, the only run-specific text a profile holds).
Merged recordings carry timestamps; `--check` compares profiles only.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tracer.baseline import load_profile_file
from tracer.capture.incremental import Base
from tracer.capture.launch import describe_exit
from tracer.capture.session import Tally, TraceOptions, TraceResult
from tracer.capture.trace import trace
from tracer.ci import config as ci_config
from tracer.ci.config import Config, ProfileSpec, RunSpec
from tracer.commands.learn import render_profile
from tracer.commands.outcome import Outcome
from tracer.errors import UserError
from tracer.fileio import write_atomic
from tracer.profile.emit import EmitOptions, Emitted, parse_arches
from tracer.recording import model as rec_io
from tracer.recording.merge import low_coverage, merge
from tracer.recording.model import Recording
from tracer.report.build import render_report

GRACE_S = 10.0  # how long a workload may take to exit after its stop signal (duration)


@dataclass
class Built:
    spec: ProfileSpec
    recording: Recording
    text: str
    emitted: Emitted
    report: str


@dataclass
class Change:
    """How a profile on disk differs from the one the runs produce."""

    added: dict[str, list[str]] = field(default_factory=dict)  # name -> runs that saw it (or why added)
    removed: dict[str, list[str]] = field(default_factory=dict)  # name -> runs that saw it last time
    missing: bool = False  # no profile on disk yet
    unreadable: str | None = None


# ---- progress ------------------------------------------------------------------------------


class Progress:
    """Which run, elapsed time and syscalls so far, on stderr: rich on a tty, lines otherwise."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.rich = None
        self.status: Any = None
        self.label = ""
        self.last_plain = 0.0
        if not quiet and sys.stderr.isatty():
            from rich.console import Console

            self.rich = Console(stderr=True, highlight=False)

    def line(self, text: str) -> None:
        if self.quiet:
            return
        if self.rich is not None:
            from rich.markup import escape

            self.rich.print(f"[bold]seccomp-learn:[/bold] {escape(text)}", markup=True, soft_wrap=True)
        else:
            print(f"seccomp-learn: {text}", file=sys.stderr, flush=True)

    def start(self, label: str, command: list[str]) -> None:
        self.label = label
        self.last_plain = 0.0
        self.line(f"{label}: running {' '.join(command)}")
        if self.rich is not None:
            from rich.markup import escape

            self.label = escape(label)
            self.status = self.rich.status(f"{self.label}: 0s")
            self.status.start()

    def tick(self, tally: Tally) -> None:
        """trace()'s progress callback, from its timer thread."""
        if self.quiet:
            return
        if self.status is not None:
            self.status.update(f"{self.label}: {tally.elapsed:.0f}s, {tally.syscalls} syscalls")
        elif tally.elapsed - self.last_plain >= 30:
            self.last_plain = tally.elapsed
            self.line(f"{self.label}: still running, {tally.elapsed:.0f}s, {tally.syscalls} syscalls")

    def done(self, text: str) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None
        self.line(text)


# ---- building ------------------------------------------------------------------------------


def emit_options(spec: ProfileSpec) -> EmitOptions:
    return EmitOptions(arches=parse_arches(",".join(spec.arch)), args=spec.args, runtime=spec.runtime,
                       portable=spec.portable)


def _names(rec: Recording) -> set[str]:
    return set().union(*(rec.names(abi) for abi in rec.abis)) if rec.abis else set()


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


def _traced(run: RunSpec, opts: TraceOptions) -> TraceResult:
    """trace() with the workload's stdout on our stderr: stdout is for the --check report alone."""
    if not os.path.isdir(str(opts.cwd)):
        raise UserError(f"cwd {opts.cwd} is not a directory")
    sys.stdout.flush()
    saved_stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        return trace(run.command, opts)
    finally:
        os.dup2(saved_stdout, 1)
        os.close(saved_stdout)


def _base_profile(spec: ProfileSpec) -> Base | None:
    """The committed profile, as the base of an incremental run (a SeccompProfile YAML cannot be one)."""
    if spec.format == "kubernetes" or not spec.output.exists():
        return None
    return Base(_rel(spec.output), load_profile_file(spec.output))


def _run_one(profile: ProfileSpec, run: RunSpec, base: Path, progress: Progress, label: str,
             base_profile: Base | None) -> TraceResult:
    run_id = f"{profile.name}/{run.name}"
    opts = TraceOptions(follow=run.follow, env={**os.environ, **run.env}, cwd=str(run.cwd or base), run_id=run_id,
                        duration=run.duration, stop_signal=run.stop_signal, during=run.during,
                        timeout=_timeout(run), progress=progress.tick,
                        base=base_profile)
    progress.start(label, run.command)
    t0 = time.monotonic()
    try:
        result = _traced(run, opts)
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
    total = sum(len(p.runs) for p in profiles)
    done = 0
    built = []
    for profile in profiles:
        eopts = emit_options(profile)
        base_profile = _base_profile(profile) if incremental else None
        recs: list[Recording] = []
        seen: set[str] = set()
        for run in profile.runs:
            done += 1
            label = f"[{done}/{total}] {profile.name}/{run.name}"
            result = _run_one(profile, run, base, progress, label, base_profile)
            rec = result.recording
            recs.append(rec)
            seen |= _names(rec)
            r = rec.runs[0]
            note = f"; PARTIAL: {r.partial_reason}" if r.partial else ""
            progress.done(f"{label}: exit {describe_exit(result.exit_code)} in {r.duration_s:.1f}s, "
                          f"{r.syscalls} syscalls; profile {profile.name}: {len(seen)} distinct so far{note}")
        merged = merge(recs, [f"{profile.name}/{r.name}" for r in profile.runs])
        text, emitted = render_profile(merged, eopts, profile.format)
        report = render_report(merged, "markdown", "docker", eopts)
        built.append(Built(profile, merged, text, emitted, report))
        for run_id, names in low_coverage(merged).items():
            progress.line(f"profile {profile.name}: low coverage: only run {run_id} saw {' '.join(names)}")
    return built


# ---- check ---------------------------------------------------------------------------------


def _profile_names(text: str) -> set[str]:
    """Names in a profile file of any of the three formats (docker/oci JSON, kubernetes YAML)."""
    data = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    if isinstance(data, dict) and isinstance(data.get("spec"), dict):
        data = data["spec"]
    if not isinstance(data, dict) or not isinstance(data.get("syscalls"), list):
        raise ValueError("no 'syscalls' list")
    names: set[str] = set()
    for rule in data["syscalls"]:
        names.update(str(n) for n in rule.get("names", []))
    return names


def _runs_seeing(rec: Recording, name: str) -> list[str]:
    return sorted({run for table in rec.abis.values() if name in table for run in table[name].counts})


def compare(b: Built) -> Change | None:
    """None when the profile on disk is byte-identical to the new one."""
    try:
        old_text = b.spec.output.read_text(encoding="utf-8")
    except FileNotFoundError:
        old_text = None
    except (OSError, UnicodeDecodeError) as exc:
        return Change(unreadable=str(exc))
    if old_text == b.text:
        return None
    new_names = b.emitted.profile.names()
    change = Change()
    if old_text is None:
        change.missing = True
        old_names: set[str] = set()
    else:
        try:
            old_names = _profile_names(old_text)
        except (ValueError, yaml.YAMLError, AttributeError, TypeError) as exc:
            change.unreadable = f"not a profile ({exc})"
            old_names = set()
    why_extra = {n: f"{e.kind} extra" for e in b.emitted.extras for n in e.names}
    for name in sorted(new_names - old_names):
        change.added[name] = _runs_seeing(b.recording, name) or [why_extra.get(name, "added by the emitter")]
    old_rec = None
    if b.spec.recording.exists():
        try:
            old_rec = rec_io.load(b.spec.recording)
        except UserError:
            old_rec = None
    for name in sorted(old_names - new_names):
        change.removed[name] = _runs_seeing(old_rec, name) if old_rec else []
    return change


def _rel(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def render_check(built: list[Built]) -> tuple[int, str]:
    lines = []
    changed = 0
    for b in built:
        change = compare(b)
        where = f"profile {b.spec.name} ({_rel(b.spec.output)})"
        if change is None:
            lines.append(f"{where}: up to date")
            continue
        changed += 1
        if change.missing:
            lines.append(f"{where}: would be created ({len(b.emitted.profile.names())} syscalls)")
            continue
        if change.unreadable:
            lines.append(f"{where}: would be replaced: {change.unreadable}")
            continue
        lines.append(f"{where}: would change")
        width = max((len(n) for n in [*change.added, *change.removed]), default=0)
        for name, runs in change.added.items():
            lines.append(f"  + {name:<{width}}  seen by {', '.join(runs)}")
        for name, runs in change.removed.items():
            was = f"no run sees it now (last seen by {', '.join(runs)})" if runs else "no run sees it now"
            lines.append(f"  - {name:<{width}}  {was}")
        if not change.added and not change.removed:
            lines.append("  same syscalls; argument rules, architectures or comments differ")
    if changed:
        lines.append(f"{changed} of {len(built)} profile(s) out of date: run `seccomp-learn ci` and commit the result")
    return (1 if changed else 0), "\n".join(lines) + "\n"


# ---- entry point ---------------------------------------------------------------------------


def select(cfg: Config, only: tuple[str, ...]) -> list[ProfileSpec]:
    if not only:
        return cfg.profiles
    names = {p.name for p in cfg.profiles}
    for name in only:
        if name not in names:
            raise UserError(f"no profile {name!r} in {cfg.path} (profiles: {', '.join(sorted(names))})", "--only")
    return [p for p in cfg.profiles if p.name in only]


def run_ci(config: str, only: tuple[str, ...] = (), check: bool = False, quiet: bool = False,
           incremental: bool = False) -> Outcome:
    cfg = ci_config.load(config)
    profiles = select(cfg, only)
    progress = Progress(quiet)
    t0 = time.monotonic()
    built = build(cfg, profiles, progress, incremental)
    if check:
        code, text = render_check(built)
        return Outcome(code, [f"checked {len(built)} profile(s) in {time.monotonic() - t0:.1f}s"], stdout=text)
    summary = []
    for b in built:
        written = [b.spec.output, b.spec.recording, b.spec.report]
        for path in written:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"cannot create directory: {exc.strerror}", str(path.parent)) from None
        write_atomic(b.spec.output, b.text)
        rec_io.save(b.recording, b.spec.recording)
        write_atomic(b.spec.report, b.report)
        summary.append(f"profile {b.spec.name}: wrote {', '.join(_rel(p) for p in written)} "
                       f"({len(b.emitted.profile.names())} syscalls)")
    return Outcome(0, summary)
