"""A recording seen from the other 64-bit host: what an aarch64 host needs for calls observed on x86_64,
and the reverse, by `tracer.abi_map`.

`map_recording` returns a copy of the recording in which every listed mapped ABI also holds the
counterparts of the other host's observed calls, with the arguments that carry over; the emitter then
treats them like observed calls. What was mapped (and from which names), what has no counterpart, and
what could not be mapped are returned as plain data for the summary, diff and report.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from tracer.recording.schema import ArgValues, Recording, SyscallStats
from tracer.structs import Struct, field
from tracer.syscalls.abi import MAPPED_ABIS
from tracer.syscalls.info import filterable_args
from tracer.syscalls.names import number_of

if TYPE_CHECKING:
    from tracer.syscalls.abi_map import Carry
# 32-bit and x32 code has no counterpart on arm64's 64-bit ABI: it would run as 32-bit arm code.
_UNMAPPED_NOTE = {
    "i386": "i386 calls are not mapped: their arm64 counterpart is the 32-bit arm ABI, which has no table here",
    "x32": "x32 calls are not mapped: arm64 has no x32-like ABI",
}


class Mapping(Struct):
    """What one host (`abi`) gets from calls observed on another (`source`)."""

    abi: str
    source: str
    names: dict[str, list[str]] = field(default_factory=dict)  # name not observed on abi -> source names
    dropped: dict[str, str] = field(default_factory=dict)  # source name -> why it has no counterpart
    uncarried: list[str] = field(default_factory=list)  # "openat flags (from creat)": no value carried over
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One summary line: how many names were mapped, and what was dropped."""
        pairs = ", ".join(f"{n}<-{'/'.join(s)}" for n, s in sorted(self.names.items()) if s != [n])
        same = sum(1 for n, s in self.names.items() if s == [n])
        text = f"{self.abi}: {len(self.names)} name(s) mapped from {self.source} calls ({same} same name"
        text += f"; {pairs})" if pairs else ")"
        if self.dropped:
            text += f"; no {self.abi} counterpart: {', '.join(sorted(self.dropped))}"
        return text


def _carried(carry: Carry, source: SyscallStats, abi: str, name: str) -> dict[int, ArgValues]:
    if carry.same:
        return copy.deepcopy(source.args)
    out = {dst: copy.deepcopy(source.args[src]) for src, dst in carry.moved if src in source.args}
    kinds = {s.index: s.kind for s in filterable_args(abi, name)}
    for index, value in carry.fixed:
        out.setdefault(index, ArgValues(bits=0 if kinds.get(index) == "flags" else None)).add(value)
    return out


def _merge(into: SyscallStats, stats: SyscallStats, counts: bool) -> None:
    if counts:
        for run, n in stats.counts.items():
            into.counts[run] = into.counts.get(run, 0) + n
    into.executables |= stats.executables
    for index, values in stats.args.items():
        into.args.setdefault(index, ArgValues(bits=None if values.bits is None else 0)).update(values)


def map_recording(rec: Recording, abis: list[str]) -> tuple[Recording, list[Mapping]]:
    """rec, with each listed mapped ABI also holding the counterparts of the other host's observed calls.

    Names the target host was itself observed making keep their counts; the counterpart adds only its
    argument values (that call happens there too). Mapping starts from observed calls only, never from
    mapped ones.
    """
    wanted = [abi for abi in abis if abi in MAPPED_ABIS]
    sources = [abi for abi in MAPPED_ABIS if rec.names(abi)]
    if not any(src != abi for abi in wanted for src in sources):
        return rec, []
    out = copy.deepcopy(rec)
    mappings = []
    for abi in wanted:
        for source in (s for s in sources if s != abi):
            mappings.append(_map_one(rec, out, source, abi))
        if abi == "aarch64":
            mappings[-1].notes += [note for a, note in _UNMAPPED_NOTE.items() if rec.names(a)]
    return out, mappings


def _map_one(rec: Recording, out: Recording, source: str, abi: str) -> Mapping:
    from tracer.syscalls import abi_map  # its tables are built only for a profile that spans both hosts

    mapping = Mapping(abi=abi, source=source)
    table = out.abis.setdefault(abi, {})
    observed = rec.names(abi)
    for name in sorted(rec.names(source)):
        stats = rec.abis[source][name]
        found = abi_map.targets(source, abi, name)
        if not found:
            mapping.dropped[name] = abi_map.dropped_reason(source, name) or "no counterpart"
            continue
        for target in found:
            nr = number_of(abi, target.name)
            assert nr is not None, f"abi_map names {target.name!r}, which {abi} lacks"  # tests/test_abi_map.py
            carried = SyscallStats(nr=nr, counts=dict(stats.counts), executables=set(stats.executables),
                                   args=_carried(target.carry, stats, abi, target.name))
            if not target.carry.same:
                mapping.uncarried += [f"{target.name} {spec.name} (from {name})"
                                      for spec in filterable_args(abi, target.name) if spec.index not in carried.args]
            if target.name in observed:
                _merge(table[target.name], carried, counts=False)
                continue
            sources = mapping.names.setdefault(target.name, [])
            if target.name in table and sources:
                _merge(table[target.name], carried, counts=True)
            else:
                table[target.name] = carried
            sources.append(name)
    return mapping
