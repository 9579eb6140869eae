"""`seccomp-learn diff`: a profile or recording against a baseline, or OLD against NEW.

OLD NEW exits like diff(1): 0 when they decide every call alike (and says "identical"), 1 when not.
Names that no syscall table knows are warned about, as lint does.
"""

from __future__ import annotations

from tracer.analysis.compare import diff_files, same_policy, unknown_names
from tracer.analysis.compare_render import render
from tracer.commands.outcome import Outcome
from tracer.commands.typed_options import (
    baseline,
    positional,
    repeated,
    switch,
)
from tracer.errors import UserError
from tracer.printable import printable
from tracer.structs import Struct


class DiffOptions(Struct, frozen=True):
    """`seccomp-learn diff PROFILE|RECORDING [NEW]`."""

    inputs: tuple[str, ...] = positional("PROFILE|RECORDING [NEW]", nargs="+")
    baseline: str | None = baseline()
    cap_add: tuple[str, ...] = repeated("--cap-add", metavar="CAP",
                                        help="A capability added to Docker's default set, as `docker run --cap-add` "
                                             "(repeatable).")
    as_json: bool = switch("--json", help="JSON output (docs/diff-format.md).")
    against_baseline: bool = switch("--against-baseline",
                                    help="What a node applying KEP-6061 (seccompProfile type OCI) runs: the profile "
                                         "intersected with the baseline (its RuntimeDefault), listing every allowed "
                                         "name it silently drops; exit 1 when it drops any.")


def run_diff(o: DiffOptions) -> Outcome:
    paths, baseline, cap_add, as_json, against_baseline = o.inputs, o.baseline, o.cap_add, o.as_json, o.against_baseline
    if against_baseline and len(paths) != 1:
        raise UserError("--against-baseline takes one profile or recording", "diff")
    result, sides = diff_files(paths, baseline=baseline, cap_add=cap_add)
    warnings = [w for side in sides for w in unknown_names(side.source.path, side.profile)]
    if against_baseline and not as_json:
        from tracer.analysis import intersection
        return Outcome(int(intersection.dropped(result) > 0), warnings, stdout=intersection.render(result))
    identical = len(sides) == 2 and same_policy(sides[0].profile, sides[1].profile)
    code = 1 if len(sides) == 2 and not identical else 0
    if identical and not as_json:
        return Outcome(0, warnings, stdout=f"{printable(paths[0])} and {printable(paths[1])} are identical: they "
                                           "allow the same syscalls under the same conditions\n")
    return Outcome(code, warnings, stdout=render(result, as_json))
