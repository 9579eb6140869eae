"""Name <-> number lookups over the generated per-ABI syscall tables."""

from __future__ import annotations

from functools import cache

from tracer.syscalls.table import TABLES


def name_of(abi: str, nr: int) -> str | None:
    """The kernel's name for nr on abi, or None: an unknown number is kept as a number, never guessed."""
    return TABLES.get(abi, {}).get(nr)


@cache
def numbers(abi: str) -> dict[str, int]:
    return {name: nr for nr, name in TABLES.get(abi, {}).items()}


def number_of(abi: str, name: str) -> int | None:
    return numbers(abi).get(name)


def is_known(abi: str, name: str) -> bool:
    return name in numbers(abi)
