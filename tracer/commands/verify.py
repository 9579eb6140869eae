"""`seccomp-learn verify`: run a command under a profile, enforced, and name every call it denies."""

from __future__ import annotations

from tracer.baseline.profile_file import load_profile_file
from tracer.commands.learn import exit_code_of_run, trace_options_from
from tracer.commands.outcome import Outcome, deliver
from tracer.commands.typed_options import (
    DriverFlags,
    command_words,
    group,
    option,
    positional,
    quiet,
    switch,
)
from tracer.enforce.run_enforced import VERIFY_DENIED, across_runs, describe, verify, with_missing
from tracer.errors import UserError
from tracer.fileio import STDOUT, check_output, stdout_on_stderr
from tracer.profile.formats import docker
from tracer.profile.formats.metadata import Metadata
from tracer.structs import Struct


class VerifyOptions(Struct, frozen=True):
    """`seccomp-learn verify [OPTIONS] PROFILE [--] COMMAND`: -q keeps the denials, which are its summary."""

    profile: str = positional("PROFILE")
    complain: bool = switch("--complain", help="Do not enforce: let every call pass and report what the profile "
                                               "would have denied.")
    add_missing: str | None = option("--add-missing", metavar="OUT",
                                     help="Write the profile plus what was denied to OUT ('-' = stdout).")
    repeat: int = option("--repeat", convert=int, default=1, metavar="N",
                         help="Run the command N times and say, per denied name, in how many runs it appeared "
                              "(flakiness shows before production does).")
    quiet: bool = quiet("Only the denials, and why the run failed, on stderr.")
    driver: DriverFlags = group(DriverFlags, how_long="run under PROFILE this long", unless="")
    command: tuple[str, ...] = command_words(required=True)


def run_verify(o: VerifyOptions) -> Outcome:
    """Exit 1 when anything was denied (VERIFY_DENIED, even if the workload coped), else the workload's own
    exit code, as for learning. `repeat` runs the workload that many times, one after the other; each denied
    name says in how many runs it appeared."""
    profile_path, argv, complain, add_missing, quiet, repeat = (o.profile, list(o.command), o.complain,
                                                                o.add_missing, o.quiet, o.repeat)
    topts = trace_options_from(o.driver)
    if repeat < 1:
        raise UserError("must be at least 1", f"--repeat {repeat}")
    if add_missing is not None:
        check_output(add_missing)
    profile = load_profile_file(profile_path)
    results = []
    with stdout_on_stderr(add_missing == STDOUT):  # stdout then holds the profile alone
        for _ in range(repeat):
            results.append(verify(profile, argv, complain, topts))
            if not results[-1].trace.exec_ok and not results[-1].denied:
                raise UserError("the command could not be executed", f"seccomp-learn: {argv[0]}", exit_code=127)
    result = next((r for r in results if r.denied or r.trace.driver_failure), results[-1])
    verb = "would deny" if complain else "denied"
    denied = across_runs([r.denied for r in results])
    if repeat == 1:
        lines = [f"{verb}: {describe(d)}" for d, _ in denied]
    else:
        lines = [f"{verb} in {runs} of {repeat} runs: {describe(d)}" for d, runs in denied]
    if not quiet:
        lines += [f"expected (the profile's own errno rule): {describe(d)}" for d in result.expected]
        lines += [f"note: this libseccomp cannot compile {name!r}; it was skipped as runc would" for name in
                  result.skipped]
        statuses = " ".join(str(r.trace.exit_code) if r.trace.exec_ok else "(did not start)" for r in results)
        started = (f"workload exit status: {statuses}" if any(r.trace.exec_ok for r in results)  # else the profile
                   else f"{argv[0]} did not start")  # denied its execve (or a call before it): named, exit 1
        lines.append(f"{started}; {len(denied)} syscall(s) {'would be denied' if complain else 'denied'} "
                     f"by {profile_path}"
                     + (f" in {sum(bool(r.denied) for r in results)} of {repeat} runs" if repeat > 1 else ""))
    if result.trace.driver_failure:
        lines.append(f"the run failed: {result.trace.driver_failure}")
    code = VERIFY_DENIED if denied else next((c for c in (exit_code_of_run(r.trace, topts) for r in results) if c),
                                             0)
    if not add_missing:
        return Outcome(code, lines)
    written = deliver(docker.render(with_missing(profile, [d for d, _ in denied]), Metadata("")), add_missing, lines)
    return Outcome(code, written.summary, written.stdout)
