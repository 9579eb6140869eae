"""tracer.syscalls.abi_map: complete in both directions over the project's tables, and its argument carries sane.

Completeness only: whether the mapping is right is checked against qemu-user running real arm64 builds
(tests/test_multiarch.py), not here.
"""

from __future__ import annotations

import pytest

from tracer.syscalls.abi_map import (
    ALSO_ON_AARCH64,
    ALSO_ON_X86_64,
    DROPPED_ON_AARCH64,
    TO_AARCH64,
    TO_X86_64,
    dropped_reason,
    targets,
)
from tracer.syscalls.info import FILTERABLE, filterable_args
from tracer.syscalls.table import TABLES

X86_64 = set(TABLES["x86_64"].values())
AARCH64 = set(TABLES["aarch64"].values())


@pytest.mark.parametrize("name", sorted(X86_64))
def test_every_x86_64_name_is_mapped_or_dropped(name):
    mapped = [t.name for t in targets("x86_64", "aarch64", name)]
    reason = dropped_reason("x86_64", name)
    assert bool(mapped) != bool(reason), f"{name}: mapped to {mapped} and dropped ({reason})"
    assert set(mapped) <= AARCH64, f"{name} -> {mapped}: not all aarch64 names"
    if name in AARCH64:
        assert mapped[0] == name, f"{name} exists on aarch64 but does not map to itself first"


@pytest.mark.parametrize("name", sorted(AARCH64))
def test_every_aarch64_name_maps_to_x86_64_names(name):
    mapped = [t.name for t in targets("aarch64", "x86_64", name)]
    assert mapped, f"{name}: no x86_64 counterpart"
    assert set(mapped) <= X86_64, f"{name} -> {mapped}: not all x86_64 names"
    assert dropped_reason("aarch64", name) is None


def test_tables_hold_only_what_needs_them():
    assert set(TO_AARCH64) <= X86_64 - AARCH64, "TO_AARCH64 lists names arm64 has (they map to themselves)"
    assert set(DROPPED_ON_AARCH64) <= X86_64 - AARCH64
    assert not set(TO_AARCH64) & set(DROPPED_ON_AARCH64)
    assert set(TO_X86_64) <= AARCH64
    assert set(ALSO_ON_AARCH64) <= X86_64 & AARCH64
    assert set(ALSO_ON_X86_64) <= AARCH64
    assert all(reason for reason in DROPPED_ON_AARCH64.values())


@pytest.mark.parametrize("source", sorted({**TO_AARCH64, **ALSO_ON_AARCH64}))
def test_carried_arguments_are_filterable_on_both_sides(source):
    for target in targets("x86_64", "aarch64", source):
        src = {s.index: s for s in filterable_args("x86_64", source)}
        dst = {s.index: s for s in filterable_args("aarch64", target.name)}
        for a, b in target.carry.moved:
            assert a in src and b in dst, f"{source}->{target.name}: moves {a}->{b}, not filterable"
            assert src[a].decoder == dst[b].decoder, f"{source}->{target.name}: {a}->{b} changes meaning"
        for index, _ in target.carry.fixed:
            assert index in dst, f"{source}->{target.name}: fixes argument {index}, not filterable"


def test_reverse_moves_arguments_back():
    (open_back,) = [t for t in TO_X86_64["openat"] if t.name == "open"]
    assert open_back.carry.moved == ((2, 1),)
    assert {t.name for t in TO_X86_64["unlinkat"]} == {"unlink", "rmdir"}
    assert "dup2" not in {t.name for t in TO_X86_64.get("fcntl", ())}  # one way: fcntl is more than dup2


def test_clone_filters_only_the_argument_both_abis_agree_on():
    # x86_64 clone(flags, stack, parent_tid, child_tid, tls), aarch64 clone(flags, stack, parent_tid, tls,
    # child_tid): only flags may be filtered, or a carried rule would test another argument.
    assert [s.index for s in FILTERABLE["clone"]] == [0]
    assert filterable_args("x86_64", "clone") == filterable_args("aarch64", "clone")
