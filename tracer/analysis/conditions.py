"""Argument conditions: their text ("domain in {AF_UNIX, AF_INET}") and whether one set fits inside another.

A condition is an `Arg` (profile/seccomp_json.py); alternatives are ORed, the conditions of one alternative
ANDed, as in a seccomp profile. Names of arguments and their decoders are x86_64's (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from tracer.profile.seccomp_json import OPERATORS, Arg
from tracer.syscalls.decode import decode, shown
from tracer.syscalls.info import filterable_args

ABI = "x86_64"  # the ABI whose argument names and decoders conditions are written with
Fit = Literal["yes", "no", "unknown"]
_U64 = (1 << 64) - 1


def arg_json(a: Arg) -> dict[str, int | str]:
    """A condition as the profile JSON writes it."""
    return {"index": a.index, "op": a.op, "value": a.value, "valueTwo": a.value_two}


def _spec(name: str, index: int) -> tuple[str, str | None]:
    for s in filterable_args(ABI, name):
        if s.index == index:
            return s.name, s.decoder
    return f"arg{index}", None


def _value_text(name: str, index: int, value: int) -> str:
    return shown(_spec(name, index)[1], value)


def _bits_text(name: str, index: int, mask: int) -> str:
    _, decoder = _spec(name, index)
    if decoder is not None:
        try:
            return _compact(decode(decoder, mask).split("|"))
        except (ValueError, KeyError):
            pass
    return f"{mask:#x}"


def _compact(names: list[str]) -> str:
    """CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWPID -> CLONE_NEW{NS,UTS,PID}: same names, one screen line."""
    prefix = names[0]
    for n in names[1:]:
        while not n.startswith(prefix):
            prefix = prefix[:-1]
    if len(names) < 3 or len(prefix) < 4 or any(n == prefix for n in names):
        return "|".join(names)
    return f"{prefix}{{{', '.join(n[len(prefix):] for n in names)}}}"


def cond_text(name: str, a: Arg) -> str:
    """One condition in words: "domain == AF_UNIX", "flags without CLONE_NEWUSER"."""
    label, _ = _spec(name, a.index)
    if a.op != "SCMP_CMP_MASKED_EQ":
        return f"{label} {OPERATORS[a.op]} {_value_text(name, a.index, a.value)}"
    mask, datum = a.value & _U64, a.value_two & _U64
    if datum == 0:
        if bin(mask & 0xFFFFFFFF).count("1") > 16:  # "every bit but these": say which bits may be set
            allowed = ~mask & 0xFFFFFFFF
            return f"{label} only from {_bits_text(name, a.index, allowed)}" if allowed else f"{label} == 0"
        return f"{label} without {_bits_text(name, a.index, mask)}"
    return f"{label} & {mask:#x} == {datum:#x}"


def alternatives_text(name: str, alts: Sequence[Sequence[Arg]] | None) -> str:
    """Alternatives in words: a value set as "domain in {...}", else "... or ..." of "... and ..."."""
    if alts is None:
        return "any value"
    if alts and all(len(alt) == 1 and alt[0].op == "SCMP_CMP_EQ" for alt in alts) and \
            len({alt[0].index for alt in alts}) == 1:
        index = alts[0][0].index
        label, _ = _spec(name, index)
        values = [_value_text(name, index, alt[0].value) for alt in sorted(alts, key=tuple)]
        return f"{label} == {values[0]}" if len(values) == 1 else f"{label} in {{{', '.join(values)}}}"
    return " or ".join(" and ".join(cond_text(name, a) for a in alt) for alt in alts)


def _holds(cond: Arg, x: int) -> bool:
    v = cond.value & _U64
    return {
        "SCMP_CMP_EQ": x == v, "SCMP_CMP_NE": x != v, "SCMP_CMP_LT": x < v, "SCMP_CMP_LE": x <= v,
        "SCMP_CMP_GT": x > v, "SCMP_CMP_GE": x >= v,
        "SCMP_CMP_MASKED_EQ": x & v == cond.value_two & _U64,
    }[cond.op]


def _implied(conds: Sequence[Arg], b: Arg) -> bool | None:
    """Given that every condition in `conds` (one argument) holds: does `b` hold always (True), never
    (False), or sometimes / cannot tell (None)?"""
    eqs = [c.value & _U64 for c in conds if c.op == "SCMP_CMP_EQ"]
    if eqs:
        return _holds(b, eqs[0])
    lo, hi = 0, _U64
    fixed_mask = fixed_val = 0
    for c in conds:
        v = c.value & _U64
        if c.op == "SCMP_CMP_LT":
            hi = min(hi, v - 1)
        elif c.op == "SCMP_CMP_LE":
            hi = min(hi, v)
        elif c.op == "SCMP_CMP_GT":
            lo = max(lo, v + 1)
        elif c.op == "SCMP_CMP_GE":
            lo = max(lo, v)
        elif c.op == "SCMP_CMP_MASKED_EQ":
            fixed_mask |= v
            fixed_val |= c.value_two & v
    if lo > hi:
        return None  # no value satisfies conds: nothing to say
    if lo == hi:
        return _holds(b, lo)
    if b.op in ("SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_GT", "SCMP_CMP_GE"):
        at_lo, at_hi = _holds(b, lo), _holds(b, hi)  # monotone in x: the ends decide
        return at_lo if at_lo == at_hi else None
    if b.op in ("SCMP_CMP_EQ", "SCMP_CMP_NE"):
        inside = lo <= (b.value & _U64) <= hi
        return None if inside else b.op == "SCMP_CMP_NE"
    mask, datum = b.value & _U64, b.value_two & _U64  # MASKED_EQ
    common = mask & fixed_mask
    if fixed_val & common != datum & common:
        return False
    return True if mask & ~fixed_mask == 0 else None


def _alt_implies(a: Sequence[Arg], b: Sequence[Arg]) -> bool | None:
    results = [_implied([c for c in a if c.index == cond.index], cond) for cond in b]
    if any(r is False for r in results):
        return False
    return True if all(results) else None


def fits(needed: Sequence[Sequence[Arg]] | None, allowed: Sequence[Sequence[Arg]]) -> tuple[Fit, list[int]]:
    """"yes" if every needed alternative lies inside an allowed one, "no" if one lies outside all of them,
    else "unknown"; and the indexes of the needed alternatives that do not fit."""
    if needed is None:
        return "unknown", []
    verdicts = []
    for alt in needed:
        results = [_alt_implies(alt, b) for b in allowed]
        verdicts.append("yes" if any(r is True for r in results) else
                        "no" if all(r is False for r in results) else "unknown")
    misfit = [i for i, v in enumerate(verdicts) if v != "yes"]
    if not misfit:
        return "yes", []
    return ("no" if "no" in verdicts else "unknown"), misfit
