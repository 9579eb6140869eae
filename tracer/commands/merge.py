"""`seccomp-learn merge`: the union of recordings, with the syscalls only one run saw."""

from __future__ import annotations

from tracer.commands.outcome import Outcome, deliver
from tracer.distribution.client import Access, is_reference
from tracer.fileio import check_output
from tracer.recording import model as rec_io
from tracer.recording.merge import low_coverage, merge, merge_files


def run_merge(paths: list[str], output: str, access: Access | None = None) -> Outcome:
    check_output(output)
    if any(is_reference(p) for p in paths):
        from tracer.distribution.share import load_recordings

        merged = merge(load_recordings(paths, access or Access()), paths)
    else:
        merged = merge_files(paths)
    n = len(merged.runs)
    abis = ", ".join(f"{abi} {len(merged.abis[abi])}" for abi in sorted(merged.abis)) or "none"
    lines = [f"merged {len(paths)} recording(s), {n} run(s); distinct syscalls: {abis}"]
    lines += [f"  low coverage: seen only in run {run} (1 of {n}): {' '.join(names)}"
              for run, names in low_coverage(merged).items()]
    return deliver(rec_io.dumps(merged), output, notes=lines)
