"""Calls counted per (executable, ABI, number) in preallocated lists: the per-call work of a trace is an
index computation and one list increment, with no tuple or dict entry made per call.

A slot numbers one (AUDIT_ARCH, nr): x86_64 numbers below 1024 are their own slot (the fast path),
x32 and i386 numbers below 1024 have fixed slots after them, and anything else (a number beyond the
tables, another arch) gets the next free slot the first time it is seen. Each executable has a row
of counters, one per slot; rows grow only when a new slot is handed out.
"""

from __future__ import annotations

from collections.abc import Iterator

from tracer.syscalls.abi import AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT

NATIVE = 1024  # x86_64 numbers below this are slots 0..1023
_X32, _I386, _FIXED = NATIVE, 2 * NATIVE, 3 * NATIVE  # the first slot of each other range, and of the rest
ArgSpec = tuple[tuple[int, bool], ...]  # (argument index, is a flag word) to keep for one slot


class CallCounts:
    def __init__(self) -> None:
        self.extra: dict[tuple[int, int], int] = {}  # slots handed out beyond the fixed ones
        self.extra_keys: list[tuple[int, int]] = []  # their (arch, nr), in slot order from _FIXED
        self.rows: dict[int, list[int]] = {}  # executable id -> calls per slot
        self.specs: list[ArgSpec | None] = [None] * _FIXED  # per slot, once its first call is seen

    def slots(self) -> int:
        """How many slots are handed out: a row this long counts every call seen so far."""
        return _FIXED + len(self.extra_keys)

    def slot(self, arch: int, nr: int) -> int:
        """The slot of (arch, nr); callers take the fast path themselves: x86_64 nr < NATIVE is nr."""
        if arch == AUDIT_ARCH_X86_64:
            if nr < NATIVE:
                return nr
            if X32_SYSCALL_BIT <= nr < X32_SYSCALL_BIT + NATIVE:
                return _X32 + nr - X32_SYSCALL_BIT
        elif arch == AUDIT_ARCH_I386 and nr < NATIVE:
            return _I386 + nr
        slot = self.extra.get((arch, nr))
        if slot is None:
            slot = self.extra[(arch, nr)] = self.slots()
            self.extra_keys.append((arch, nr))
            self.specs.append(None)
        return slot

    def key(self, slot: int) -> tuple[int, int]:
        """The (arch, nr) a slot counts: `slot`'s inverse."""
        if slot < _X32:
            return AUDIT_ARCH_X86_64, slot
        if slot < _I386:
            return AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | (slot - _X32)
        if slot < _FIXED:
            return AUDIT_ARCH_I386, slot - _I386
        return self.extra_keys[slot - _FIXED]

    def row(self, exe: int) -> list[int]:
        """The counters of one executable, as long as the slots handed out so far."""
        row = self.rows.get(exe)
        slots = self.slots()
        if row is None:
            row = self.rows[exe] = [0] * slots
        elif len(row) < slots:
            row.extend([0] * (slots - len(row)))
        return row

    def items(self) -> Iterator[tuple[int, int, int, int]]:
        """(executable, arch, nr, calls) for every count above zero."""
        for exe, row in list(self.rows.items()):
            for slot, count in enumerate(list(row)):
                if count:
                    arch, nr = self.key(slot)
                    yield exe, arch, nr, count

    def total(self, skip_exe: int | None = None) -> int:
        """All calls so far (safe from another thread: list() copies in one step under the GIL)."""
        return sum(sum(list(row)) for exe, row in list(self.rows.items()) if exe != skip_exe)
