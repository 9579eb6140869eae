"""`seccomp-learn ci`: run every configured workload, merge per profile, write or --check the outputs.

Nothing is written until every run of every selected profile has succeeded (ci/runs.py). Merged
recordings carry timestamps; `--check` compares profiles only. See docs/config.md.
"""

from __future__ import annotations

import time

from tracer.ci import config as ci_config
from tracer.ci.check import render_check
from tracer.ci.config import Config, ProfileSpec, shown_path
from tracer.ci.progress import Progress
from tracer.ci.runs import build
from tracer.commands.outcome import Outcome
from tracer.commands.typed_options import (
    QuietOptions,
    option,
    quiet,
    repeated,
    switch,
)
from tracer.errors import UserError
from tracer.fileio import write_atomic
from tracer.recording import schema as rec_io


class CiOptions(QuietOptions, frozen=True):
    """`seccomp-learn ci`."""

    config: str = option("--config", default="seccomp-learn.yaml", metavar="FILE",
                         help="The configuration (docs/config.md; default %(default)s).")
    only: tuple[str, ...] = repeated("--only", metavar="PROFILE", help="Only this profile (repeatable).")
    check: bool = switch("--check", help="Write nothing; exit 1 if any profile would change.")
    incremental: bool = switch("--incremental", help="Use each committed profile as --base: only what it does not "
                               "allow is traced (cannot show that a syscall is no longer needed).")
    quiet: bool = quiet()


def _select(cfg: Config, only: tuple[str, ...]) -> list[ProfileSpec]:
    if not only:
        return cfg.profiles
    names = {p.name for p in cfg.profiles}
    for name in only:
        if name not in names:
            raise UserError(f"no profile {name!r} in {cfg.path} (profiles: {', '.join(sorted(names))})", "--only")
    return [p for p in cfg.profiles if p.name in only]


def run_ci(o: CiOptions) -> Outcome:
    """Run the configured workloads; write every output, or with --check only say what would change."""
    cfg = ci_config.load(o.config)
    profiles = _select(cfg, o.only)
    progress = Progress(o.quiet)
    t0 = time.monotonic()
    built = build(cfg, profiles, progress, o.incremental)
    if o.check:
        code, text = render_check(built)
        if any(p.registry for p in profiles):  # and the published copies, for the same image digest
            from tracer.ci.pinning import render_pins
            pin_code, pin_text = render_pins(profiles)
            code, text = max(code, pin_code), text + pin_text
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
        summary.append(f"profile {b.spec.name}: wrote {', '.join(shown_path(p) for p in written)} "
                       f"({len(b.emitted.profile.names())} syscalls)")
    return Outcome(0, summary)
