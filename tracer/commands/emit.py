"""`seccomp-learn emit`: the profile for one or more recordings (several are merged first)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracer.commands.outcome import Outcome
from tracer.commands.profile_output import Made, ProfileOutput
from tracer.errors import UserError
from tracer.profile.extras import RUNTIMES
from tracer.profile.policy import EmitOptions
from tracer.recording import schema as rec_io
from tracer.recording.coverage import advice
from tracer.recording.union import merge_files

if TYPE_CHECKING:  # the registry's modules are imported only for oci:// inputs
    from tracer.distribution.client import Access
def runtime_version_notes(eopts: EmitOptions) -> list[str]:
    """A note when the installed OCI runtime is another version than the one the runtime list was measured
    on (it may call something the list lacks: `seccomp-learn runtime-profile` measures it). Only the OCI
    runtime's own `--version` is asked, so no engine daemon is needed; a runtime not installed here is
    not compared."""
    from tracer.runtime_needs.version import installed_versions
    runtime = eopts.runtime_list.name if eopts.runtime_list else eopts.runtime
    listed = eopts.runtime_list or RUNTIMES[runtime]
    oci = [c for c, _ in listed.versions if c in ("runc", "crun")]
    try:
        installed = {c: v for name in oci for c, v in installed_versions(name).items()}
    except (UserError, KeyError):
        return []
    return [f"  note: installed {d}: run `seccomp-learn runtime-profile --runtime {runtime}` to measure it"
            for d in listed.differs_from(installed)]


def render_recordings(recording_paths: list[str], eopts: EmitOptions, out: ProfileOutput,
                      access: Access | None = None) -> Made:
    """The profile of one or more recordings (merged; oci://REF: pushed by another machine) made for `out`."""
    from tracer.distribution.client import Access, is_reference

    if any(is_reference(p) for p in recording_paths):
        from tracer.distribution.share import load_recordings
        from tracer.recording.union import merge
        recs = load_recordings(recording_paths, access or Access())
        rec = recs[0] if len(recs) == 1 else merge(recs, recording_paths)
    else:
        rec = rec_io.load(recording_paths[0]) if len(recording_paths) == 1 else merge_files(recording_paths)
    try:
        return out.make(rec, eopts)
    except UserError as exc:  # name the input(s) when the problem is in the recording
        raise exc if exc.source else UserError(str(exc), ", ".join(recording_paths)) from None


def run_emit(recording_paths: list[str], eopts: EmitOptions, fmt: str, output: str, name: str | None = None,
             namespace: str | None = None, access: Access | None = None) -> Outcome:
    out = ProfileOutput(output, fmt, name, namespace)
    out.check()
    made = render_recordings(recording_paths, eopts, out, access)
    return out.write(made, notes=[f"note: {line}" for line in advice(made.rec)],
                     more=lambda: runtime_version_notes(eopts))
