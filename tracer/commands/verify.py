"""`seccomp-learn verify`: run a command under a profile, enforced, and name every call it denies."""

from __future__ import annotations

from tracer.baseline.read import load_profile_file
from tracer.capture.state import TraceOptions
from tracer.commands.learn import exit_code_of_run
from tracer.commands.outcome import Outcome, deliver
from tracer.enforce.verify import VERIFY_DENIED, describe, verify, with_missing
from tracer.errors import UserError
from tracer.fileio import check_output
from tracer.profile.formats import docker
from tracer.profile.formats.metadata import Metadata


def run_verify(profile_path: str, argv: list[str], topts: TraceOptions, complain: bool, add_missing: str | None,
               quiet: bool) -> Outcome:
    """Exit 1 when anything was denied (VERIFY_DENIED, even if the workload coped), else the workload's own
    exit code, as for learning."""
    if add_missing is not None:
        check_output(add_missing)
    profile = load_profile_file(profile_path)
    result = verify(profile, argv, complain, topts)
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
    if result.trace.driver_failure:
        lines.append(f"the run failed: {result.trace.driver_failure}")
    code = VERIFY_DENIED if result.denied else exit_code_of_run(result.trace, topts)
    if not add_missing:
        return Outcome(code, lines)
    written = deliver(docker.render(with_missing(profile, result.denied), Metadata("")), add_missing, lines)
    return Outcome(code, written.summary, written.stdout)
