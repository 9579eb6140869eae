"""Union of recordings with provenance: commutative, associative and idempotent.

Runs are identified by id. The same id with the same content (the run's metadata and its count of
every syscall) is one run, so merging a recording with itself changes nothing; the same id with
different content is an error, because keeping either would make the result depend on the order of
the inputs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from tracer.errors import UserError
from tracer.recording import schema as rec_io
from tracer.recording.schema import Recording, Run, SyscallStats


def _calls_of(rec: Recording, run_id: str) -> dict[tuple[str, str], int]:
    """What one run of a recording counted, per (ABI, syscall): the content a run id stands for."""
    return {(abi, key): stats.counts[run_id] for abi, table in rec.abis.items() for key, stats in table.items()
            if run_id in stats.counts}


def merge(recordings: Iterable[Recording], sources: list[str] | None = None) -> Recording:
    recs = list(recordings)
    names = sources or [f"input {i + 1}" for i in range(len(recs))]
    runs: dict[str, tuple[Run, str, dict[tuple[str, str], int]]] = {}
    for rec, src in zip(recs, names, strict=True):
        for run in rec.runs:
            seen = runs.get(run.id)
            calls = _calls_of(rec, run.id)
            if seen is None:
                runs[run.id] = (run, src, calls)
            elif seen[0] != run or seen[2] != calls:
                what = "metadata" if seen[0] != run else "syscall counts"
                raise UserError(f"run {run.id!r} is also in {seen[1]} with different {what} "
                                "(record with distinct --run-id)", src)
    tools = sorted({part for rec in recs for part in rec.tool.split(" + ")})  # flat: keeps merge associative
    out = Recording(tool=" + ".join(tools), runs=[runs[i][0] for i in sorted(runs)])
    for rec in recs:
        for abi, table in rec.abis.items():
            into = out.abis.setdefault(abi, {})
            for key, stats in table.items():
                _add(into, key, stats)
    return out


def _add(into: dict[str, SyscallStats], key: str, stats: SyscallStats) -> None:
    have = into.get(key)
    if have is None:
        into[key] = copy.deepcopy(stats)
        return
    have.counts.update(stats.counts)  # a run id is one run: its count is the same wherever it appears
    have.executables |= stats.executables
    for index, values in stats.args.items():
        if index in have.args:
            have.args[index].update(values)
        else:
            have.args[index] = copy.deepcopy(values)


def merge_files(paths: list[str]) -> Recording:
    return merge([rec_io.load(p) for p in paths], paths)


def runs_covering(rec: Recording, key: str, stats: SyscallStats) -> set[str]:
    """The runs that saw a syscall: those that counted it, and the --base runs whose base let it run
    untraced (the kernel allowed it without a stop, so the run says nothing against it); none when no run
    counted it (only a base's rules gave it, capture/incremental.py)."""
    if not any(stats.counts.values()):
        return set()
    return set(stats.counts) | {r.id for r in rec.runs if r.incremental_base and key in r.incremental_base.untraced}


def low_coverage(rec: Recording) -> dict[str, list[str]]:
    """Syscalls seen in only one run (when there are several), grouped by that run: "abi name"."""
    if len(rec.runs) < 2:
        return {}
    only: dict[str, list[str]] = {}
    for abi in sorted(rec.abis):
        for key, stats in sorted(rec.abis[abi].items()):
            covering = runs_covering(rec, key, stats)
            if len(covering) == 1:
                name = key if abi == "x86_64" else f"{abi}:{key}"
                only.setdefault(next(iter(covering)), []).append(name)
    return dict(sorted(only.items()))
