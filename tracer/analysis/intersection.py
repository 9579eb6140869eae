"""`diff --against-baseline`: what a node running KEP-6061 makes of a profile.

A pod's `seccompProfile: {type: OCI}` is never loaded as written: the CRI runtime intersects it with its
configured baseline (RuntimeDefault: Docker's default profile for containerd and CRI-O), and a call runs
only if both allow it. Nothing tells the pod's author: the calls the baseline refuses just fail. This
view of a baseline diff lists each of them, and what the intersection keeps of argument-ruled calls.
"""

from __future__ import annotations

from collections.abc import Sequence

from tracer.analysis.diff import DiffResult


def _columns(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def dropped(result: DiffResult) -> int:
    """How many allowed names (or their argument values) the intersection takes away."""
    return len(result.blocked) + sum(1 for c in result.conditional if c.fits == "no")


def render(result: DiffResult) -> str:
    s = result.summary
    lines = [f"{result.new.path} as KEP-6061 applies it on a node whose RuntimeDefault is {result.old.description}:",
             f"the node runs the intersection of the two; {s.needed_allowed} of the {s.needed} x86_64 names the "
             "profile allows stay allowed."]
    if result.blocked:
        lines += ["", f"Silently dropped by the node ({len(result.blocked)}): the profile allows them, the baseline "
                      "does not, and the workload gets the baseline's answer instead:"]
        rows = [("syscall", "gets", "why the baseline refuses it", "what would allow it")]
        for b in result.blocked:
            rows.append((b.name, b.refusal(), b.reason or "-", b.hint.text))
        lines += _columns(rows)
    else:
        lines += ["", "The node drops nothing the profile allows."]
    narrowed = [c for c in result.conditional if c.fits != "yes"]
    if narrowed:
        lines += ["", f"Narrowed to the baseline's argument values ({len(narrowed)}):"]
        rows = [("syscall", "the baseline allows", "the profile allows", "the workload's values fit")]
        for c in narrowed:
            rows.append((c.name, c.baseline_text, c.needed_text, c.fits))
        lines += _columns(rows)
    return "".join(f"{line}\n" for line in lines)
