"""`seccomp-learn emit`: the profile for one or more recordings (several are merged first)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracer.commands.outcome import Outcome
from tracer.commands.profile_delivery import Made, ProfileOutput
from tracer.commands.typed_options import (
    FORMAT_HELP,
    EmitFlags,
    NameFlags,
    QuietOptions,
    RegistryFlags,
    group,
    option,
    output,
    positional,
    profile_formats,
    quiet,
)
from tracer.errors import UserError
from tracer.profile import formats
from tracer.profile.extras import RUNTIMES
from tracer.profile.policy import EmitOptions
from tracer.recording import schema as rec_io
from tracer.recording.coverage import advice
from tracer.recording.union import merge_files

if TYPE_CHECKING:  # the registry's modules are imported only for oci:// inputs
    from tracer.distribution.client import Access


class EmitCommandOptions(QuietOptions, frozen=True):
    """`seccomp-learn emit RECORDING...`."""

    recordings: tuple[str, ...] = positional("RECORDING|oci://REF", nargs="+")
    output: str = output("Profile")
    quiet: bool = quiet("No summary on stderr.")
    fmt: str = option("--format", choices=lambda: (*profile_formats(), "kubernetes-oci"), default="docker",
                      help=f"{FORMAT_HELP}; kubernetes-oci REF: the pod's seccompProfile {{type: OCI}} naming a "
                           "pushed profile, and the CRI-O annotation form.")
    emit: EmitFlags = group(EmitFlags)
    names: NameFlags = group(NameFlags)
    container: str | None = option("--container", metavar="NAME", help="--format kubernetes-oci: the container's "
                                   "securityContext and annotation, not the pod's.")
    registry: RegistryFlags = group(RegistryFlags)


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


def emit_options_from(flags: EmitFlags, fmt: str) -> EmitOptions:
    """The EmitOptions the command line asks for, for a profile in `fmt` (its default runtime), checked."""
    from tracer.profile.limits import family_number
    from tracer.profile.policy import parse_arches

    runtime_list = None
    if flags.runtime_profile:
        from tracer.commands.runtime_profile import read_runtime_profile
        runtime_list = read_runtime_profile(flags.runtime_profile)
    try:
        families = tuple(sorted({family_number(f) for f in flags.allow_families}))
    except ValueError as exc:
        raise UserError(str(exc), "--allow-family") from None
    return EmitOptions(default_action=flags.default_action, errno=flags.errno_ret, arches=parse_arches(flags.arches),
                       args=not flags.no_args, runtime=flags.runtime or formats.default_runtime(fmt),
                       runtime_list=runtime_list, fallback=not flags.no_fallback, portable=flags.portable,
                       complain=flags.complain, companions=not flags.no_companions,
                       allow_threads=flags.allow_threads, allow_spawn=flags.allow_spawn, allow_families=families)


def emit_command(o: EmitCommandOptions) -> Outcome:
    """`seccomp-learn emit`: the profile of the recordings, or with --format kubernetes-oci the pod's reference."""
    if o.fmt == "kubernetes-oci":
        from tracer.commands.distribute import run_pod_reference
        return run_pod_reference(list(o.recordings), o.output, o.container, o.registry.access())
    return run_emit(list(o.recordings), emit_options_from(o.emit, o.fmt), o.fmt, o.output, o.names.name,
                    o.names.namespace, o.registry.access())
