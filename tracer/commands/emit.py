"""`seccomp-learn emit`: the profile for one or more recordings (several are merged first)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracer.commands.outcome import Outcome, deliver
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
from tracer.enforce import export
from tracer.errors import UserError
from tracer.fileio import check_output
from tracer.profile import formats
from tracer.profile.extras import RUNTIMES
from tracer.profile.limits import limits
from tracer.profile.policy import EmitOptions, Emitted, emit
from tracer.recording import schema as rec_io
from tracer.recording.coverage import advice
from tracer.recording.schema import Recording
from tracer.recording.union import merge_files

if TYPE_CHECKING:  # `run` imports this module for emit_summary: it pays nothing for the registry
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


def emit_summary(emitted: Emitted, rec: Recording, written: str | None, fmt: str = "docker") -> list[str]:
    """What a profile holds, counted as the report counts it (allowed = observed + extras), the extras added,
    and what could not go in (and what `fmt` could not hold). `written` ("wrote FILE", "replaced FILE") heads
    the counts; None (the profile went to stdout) leaves them out."""
    p = emitted.profile
    allowed = p.allowing_names()
    observed = allowed & rec.all_names()
    fallback = sum(len(e.names) for e in emitted.extras if e.kind == "fallback")
    lines = [] if written is None else [
        f"{written}: {len(allowed)} syscalls allowed ({len(observed)} observed + {len(allowed - observed)} extras)"
        + (f", {fallback} fallback names get ENOSYS" if fallback and fmt not in ("systemd", "firejail") else "")
        + f"; {', '.join(p.architectures)}, default {p.default_action}"]
    lines += [f"  + {e.kind}: {' '.join(e.text(n) for n in e.names)}" for e in emitted.extras]
    lines += [f"  + mapped {m.line()}" for m in emitted.mappings]
    lines += [f"  limit: {limit.text}" for limit in limits(p)]
    lines += [f"  note: {note}" for m in emitted.mappings for note in m.notes]
    lines += [f"  {note}" for note in formats.name_only_notes(fmt, p)]
    if p.default_action == "SCMP_ACT_LOG":
        lines.append("  complain mode: calls the rules do not allow run and are logged (audit type 1326); "
                     "`seccomp-learn audit --add-to PROFILE` reads the records")
    if not p.syscalls:
        lines.append("  warning: the profile allows nothing")
    lines += [f"  warning: {abi} syscall {nr} has no name in the tables and is not in the profile"
              for abi, nr in emitted.unnamed]
    return lines


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


def render_recordings(recording_paths: list[str], eopts: EmitOptions, fmt: str, name: str | None = None,
                      namespace: str | None = None, access: Access | None = None
                      ) -> tuple[formats.Rendered, Emitted, Recording]:
    """The profile of one or more recordings (merged; oci://REF: pushed by another machine) in `fmt`, what
    emit made, and the recording."""
    from tracer.distribution.client import Access, is_reference

    if any(is_reference(p) for p in recording_paths):
        from tracer.distribution.share import load_recordings
        from tracer.recording.union import merge
        recs = load_recordings(recording_paths, access or Access())
        rec = recs[0] if len(recs) == 1 else merge(recs, recording_paths)
    else:
        rec = rec_io.load(recording_paths[0]) if len(recording_paths) == 1 else merge_files(recording_paths)
    try:
        emitted = emit(rec, eopts)
        return export.render(fmt, emitted.profile, rec, name, namespace), emitted, rec
    except UserError as exc:  # name the input(s) when the problem is in the recording
        raise exc if exc.source else UserError(str(exc), ", ".join(recording_paths)) from None


def run_emit(recording_paths: list[str], eopts: EmitOptions, fmt: str, output: str, name: str | None = None,
             namespace: str | None = None, access: Access | None = None) -> Outcome:
    formats.check(fmt, name, namespace)
    check_output(output)
    text, emitted, rec = render_recordings(recording_paths, eopts, fmt, name, namespace, access)
    return deliver(text, output, notes=[f"note: {line}" for line in advice(rec)],
                   written=lambda line: [*emit_summary(emitted, rec, line, fmt), *runtime_version_notes(eopts)])


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
