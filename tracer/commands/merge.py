"""`seccomp-learn merge`: the union of recordings, with the syscalls only one run saw."""

from __future__ import annotations

from tracer.commands.outcome import Outcome, deliver
from tracer.commands.typed_options import (
    QuietOptions,
    RegistryFlags,
    group,
    output,
    positional,
    quiet,
)
from tracer.distribution.client import is_reference
from tracer.fileio import check_output
from tracer.recording import schema as rec_io
from tracer.recording.coverage import advice, low_coverage_lines
from tracer.recording.union import merge, merge_files


class MergeOptions(QuietOptions, frozen=True):
    """`seccomp-learn merge RECORDING...`."""

    recordings: tuple[str, ...] = positional("RECORDING|oci://REF", nargs="+")
    output: str = output("Merged recording", "merged.trace.json")
    quiet: bool = quiet("No summary on stderr.")
    registry: RegistryFlags = group(RegistryFlags)


def run_merge(o: MergeOptions) -> Outcome:
    paths, output = list(o.recordings), o.output
    check_output(output)
    if any(is_reference(p) for p in paths):
        from tracer.distribution.share import load_recordings
        merged = merge(load_recordings(paths, o.registry.access()), paths)
    else:
        merged = merge_files(paths)
    n = len(merged.runs)
    abis = ", ".join(f"{abi} {len(merged.abis[abi])}" for abi in sorted(merged.abis)) or "none"
    lines = [f"merged {len(paths)} recording(s), {n} run(s); distinct syscalls: {abis}"]
    lines += low_coverage_lines(merged) + [f"note: {line}" for line in advice(merged)]
    return deliver(rec_io.dumps(merged), output, notes=lines)
