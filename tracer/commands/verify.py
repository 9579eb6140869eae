"""`seccomp-learn verify`: run a command under a profile, enforced, and name every call it denies."""

from __future__ import annotations

from tracer.baseline.read import load_profile_file
from tracer.commands.outcome import Outcome
from tracer.enforce.verify import describe, verify, with_missing
from tracer.errors import UserError
from tracer.fileio import write_atomic
from tracer.profile.formats import docker


def run_verify(profile_path: str, argv: list[str], complain: bool, add_missing: str | None,
               quiet: bool) -> Outcome:
    """Exit 1 when anything was denied (even if the workload coped), 0 otherwise."""
    profile = load_profile_file(profile_path)
    result = verify(profile, argv, complain)
    if not result.trace.exec_ok:
        raise UserError("the command could not be executed", f"seccomp-learn: {argv[0]}", exit_code=127)
    verb = "would deny" if complain else "denied"
    lines = [f"{verb}: {describe(d)}" for d in result.denied]
    if not quiet:
        lines += [f"expected (the profile's own errno rule): {describe(d)}" for d in result.expected]
        lines += [f"note: this libseccomp cannot compile {name!r}; it was skipped as runc would" for name in
                  result.skipped]
        lines.append(f"workload exit status: {result.trace.exit_code}; "
                     f"{len(result.denied)} syscall(s) {verb} by {profile_path}")
    if add_missing:
        write_atomic(add_missing, docker.render(with_missing(profile, result.denied), ""))
        lines.append(f"wrote {add_missing}")
    return Outcome(1 if result.denied else 0, lines)
