"""Command line: click commands that parse options and call library functions. No logic here.

Imports of the heavy modules happen inside each command, so `--version` and the time to the
workload's exec pay only for what the command uses.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from tracer import __version__
from tracer.capture import backends
from tracer.errors import UserError
from tracer.profile.extras import RUNTIMES
from tracer.profile.formats import FORMATS
from tracer.report.formats import FORMATS as REPORT_FORMATS

if TYPE_CHECKING:  # commands are imported on use
    from tracer.commands.outcome import Outcome

COMMAND = click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
TRACED = click.argument("command", nargs=-1, type=click.UNPROCESSED)  # or --pid


class DefaultToRun(click.Group):
    """`seccomp-learn [OPTIONS] [--] CMD` means `seccomp-learn run [OPTIONS] [--] CMD`, like strace.

    `run` and `record` stop parsing options at the first word that is not one, so `seccomp-learn curl
    --version` traces `curl --version`. A program named like a subcommand (diff, merge) needs `--`.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


# Options end at the command's first word, as for strace, time and env: what follows is the command's own.
COMMAND_FIRST = {"allow_interspersed_args": False}


def driver_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Servers: how long to learn, the driver that exercises the workload, and when the driver may start."""
    for decorator in reversed([
        click.option("--duration", type=float, metavar="SECONDS",
                     help="For servers: learn this long, then stop the workload with --stop-signal."),
        click.option("--stop-signal", default="SIGTERM", show_default=True, metavar="SIG",
                     help="Signal that ends the workload after --duration or --during. A workload that dies of it "
                          "ended as planned: seccomp-learn then exits 0."),
        click.option("--during", metavar="CMD", help="Run this driver (untraced) while the workload is traced, e.g. "
                     "a load test; stop the workload when it ends. If the driver fails, so does the run (exit 1, "
                     "no profile unless --keep-going)."),
        click.option("--ready", metavar="tcp:HOST:PORT|unix:PATH",
                     help="Start the --during driver only once this socket accepts a connection."),
        click.option("--ready-cmd", metavar="CMD", help="Start the --during driver only once CMD exits 0 (retried)."),
        click.option("--ready-timeout", type=float, metavar="SECONDS",
                     help="Give up waiting for --ready/--ready-cmd after this long (default 30): the run fails."),
    ]):
        f = decorator(f)
    return f


def trace_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = driver_options(f)
    f = click.option("--follow", type=click.Choice(["all", "main"]), default="all", show_default=True,
                     help="all: trace until every started process exited; main: stop when the main process "
                          "exits (the rest are killed, and the recording says so).")(f)
    f = click.option("--run-id", metavar="ID",
                     help="Name of this run in the recording (default: <program>-<UTC time>-<pid>).")(f)
    f = click.option("--base", metavar="PROFILE", help="Incremental: let the kernel allow what PROFILE allows "
                     "unconditionally and trace only the rest (fast re-learning; the result is PROFILE's needs plus "
                     "anything new).")(f)
    f = click.option("--backend", type=click.Choice(backends.CHOICES), default=backends.AUTO, show_default=True,
                     help=backends.HELP)(f)
    f = click.option("-p", "--pid", type=int, metavar="PID", help="Attach to this running process (and what it "
                                                                  "starts from now on) instead of starting COMMAND; "
                                                                  "Ctrl-C detaches and leaves it running.")(f)
    f = click.option("-f", "follow_forks", is_flag=True, hidden=True,
                     help="Accepted for strace users: children are always followed.")(f)
    f = click.option("--keep-going", is_flag=True, help="Write the profile even when the --during driver failed "
                                                        "(the run still exits 1).")(f)
    f = click.option("--snapshot-every", type=float, metavar="SECONDS",
                     help="Also write the recording so far every SECONDS (SIGUSR1 does it once).")(f)
    return f


def _trace_opts(kw: dict[str, Any]) -> Any:
    from tracer.commands.learn import trace_options_from

    return trace_options_from(follow=kw.get("follow", "all"), run_id=kw.get("run_id"), duration=kw["duration"],
                              stop_signal=kw["stop_signal"], during=kw["during"],
                              snapshot_every=kw.get("snapshot_every"), pid=kw.get("pid"), base=kw.get("base"),
                              backend=kw.get("backend", "ptrace"), ready=kw["ready"], ready_cmd=kw["ready_cmd"],
                              ready_timeout=kw["ready_timeout"])


def metadata_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--namespace", metavar="NS", help="--format kubernetes: metadata.namespace.")(f)
    return click.option("--name", metavar="NAME",
                        help="--format kubernetes: metadata.name (default: seccomp-learn).")(f)


def emit_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for decorator in reversed([
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="docker",
                     show_default=True, help="docker (also podman), oci (runtime-spec linux.seccomp), "
                                             "kubernetes (security-profiles-operator SeccompProfile)."),
        click.option("--default-action", type=click.Choice(["errno", "kill", "kill_process", "trap", "log"]),
                     default="errno", show_default=True, help="What the profile does with anything not allowed."),
        click.option("--errno", "errno_ret", type=int, default=1, show_default=True,
                     help="errno returned by the default action errno (1 = EPERM)."),
        click.option("--arch", "arches", metavar="LIST", default="",
                     help="Also list these ABIs (x86_64,x86,x32,aarch64), as Docker does; default: only those "
                          "observed. x86_64,aarch64: a profile for amd64 and arm64 hosts, each with the calls its libc "
                          "makes for what was observed on the other."),
        click.option("--no-args", is_flag=True, help="Names only: no argument rules."),
        click.option("--runtime", type=click.Choice(list(RUNTIMES)),
                     default="docker", show_default=True,
                     help="Add what this container runtime runs after loading the filter (docker = runc)."),
        click.option("--runtime-profile", "runtime_profile", metavar="FILE",
                     help="Use the runtime list `seccomp-learn runtime-profile -o FILE` measured on this machine's "
                          "runtime instead of the built-in one for --runtime."),
        click.option("--portable", is_flag=True, help="Add the vDSO syscalls (clock_gettime, ...) for hosts "
                                                       "without a vDSO."),
        click.option("--no-fallback", is_flag=True, help="Do not add ENOSYS rules for newer variants "
                                                          "(clone3, statx, ...) of observed syscalls."),
    ]):
        f = decorator(f)
    return f


def _emit_opts(kw: dict[str, Any]) -> Any:
    from tracer.profile.emit import EmitOptions, parse_arches

    runtime_list = None
    if kw["runtime_profile"]:
        from tracer.commands.runtime_profile import read_runtime_profile

        runtime_list = read_runtime_profile(kw["runtime_profile"])
    return EmitOptions(default_action=kw["default_action"], errno=kw["errno_ret"], arches=parse_arches(kw["arches"]),
                       args=not kw["no_args"], runtime=kw["runtime"], runtime_list=runtime_list,
                       fallback=not kw["no_fallback"], portable=kw["portable"])


def _finish(outcome: Outcome, quiet: bool) -> None:
    if outcome.stdout:
        click.echo(outcome.stdout, nl=False)
    for error in outcome.errors:
        click.echo(f"seccomp-learn: {error}", err=True)
    if not quiet:
        for line in outcome.summary:
            click.echo(f"seccomp-learn: {line}", err=True)
    sys.exit(outcome.exit_code)


@click.group(cls=DefaultToRun, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="seccomp-learn")
def cli() -> None:
    """Learn the smallest seccomp profile a program needs, by tracing it.

    \b
      seccomp-learn -- python3 -c 'import json'      # writes ./seccomp.json
      seccomp-learn -o app.json --record app.trace.json -- ./app --flag
      docker run --security-opt seccomp=app.json IMAGE ./app --flag
    """


@cli.command(context_settings=COMMAND_FIRST)
@click.option("-o", "--output", metavar="FILE", help="Profile to write ('-' = stdout; default seccomp.json, "
                                                     "seccomp.yaml for --format kubernetes).")
@click.option("--record", "record_path", metavar="FILE", help="Also write the recording here.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary on stderr.")
@trace_options
@emit_options
@metadata_options
@TRACED
def run(command: tuple[str, ...], output: str | None, record_path: str | None, quiet: bool, **kw: Any) -> None:
    """Trace COMMAND and write the profile it needs (the default command).

    The command follows the options (or `--`), untouched. stdin/stdout/stderr pass through, and
    seccomp-learn exits with the command's exit code (128+N if killed by signal N).

    \b
      seccomp-learn -o p.json -- python3 -c 'import json, sqlite3'
      seccomp-learn curl --version
    """
    from tracer.commands.learn import Outputs, run_learn
    from tracer.profile.formats import default_output

    outputs = Outputs(output or default_output(kw["fmt"]), record_path, kw["fmt"], kw["name"], kw["namespace"])
    _finish(run_learn(list(command), _trace_opts(kw), _emit_opts(kw), outputs, kw["keep_going"], live=not quiet),
            quiet)


@cli.command(context_settings=COMMAND_FIRST)
@click.option("-o", "--output", default="seccomp.trace.json", show_default=True,
              help="Recording to write ('-' = stdout).")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary on stderr.")
@trace_options
@TRACED
def record(command: tuple[str, ...], output: str, quiet: bool, **kw: Any) -> None:
    """Trace COMMAND and write only the recording.

    \b
      seccomp-learn record -o run1.trace.json -- ./app
      seccomp-learn emit run1.trace.json -o profile.json
    """
    from tracer.commands.learn import Outputs, run_learn

    _finish(run_learn(list(command), _trace_opts(kw), None, Outputs(None, output), kw["keep_going"], live=not quiet),
            quiet)


@cli.command(name="emit")
@click.argument("recordings", nargs=-1, required=True, metavar="RECORDING...")
@click.option("-o", "--output", default="-", show_default=True, help="Profile to write ('-' = stdout).")
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr.")
@emit_options
@metadata_options
def emit_cmd(recordings: tuple[str, ...], output: str, quiet: bool, **kw: Any) -> None:
    """Write the profile for one or more recordings (several are merged first).

    \b
      seccomp-learn emit run1.trace.json -o profile.json
      seccomp-learn emit --format kubernetes --runtime crun a.trace.json b.trace.json -o sp.yaml
    """
    from tracer.commands.emit import run_emit

    _finish(run_emit(list(recordings), _emit_opts(kw), kw["fmt"], output, kw["name"], kw["namespace"]), quiet)


@cli.command(name="diff")
@click.argument("inputs", nargs=-1, required=True, metavar="PROFILE|RECORDING [NEW]")
@click.option("--baseline", metavar="docker|FILE",
              help="Compare with Docker's default profile (docker, the default) or a profile file.")
@click.option("--cap-add", "cap_add", multiple=True, metavar="CAP",
              help="A capability added to Docker's default set, as `docker run --cap-add` (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="JSON output (docs/diff-format.md).")
def diff_cmd(inputs: tuple[str, ...], baseline: str | None, cap_add: tuple[str, ...], as_json: bool) -> None:
    """Compare a profile or recording with Docker's default profile, or OLD with NEW.

    OLD NEW exits as diff(1) does: 0 when both decide every call alike ("identical"), 1 when
    they differ, 2 on trouble. Names no syscall table knows are warned about on stderr.

    Shows what the workload needs that the baseline refuses (and what would allow it), argument
    conditions it must meet, and the attack surface it removes, by class.

    \b
      seccomp-learn diff app.trace.json
      seccomp-learn diff --cap-add SYS_ADMIN profile.json
      seccomp-learn diff old.json new.json
    """
    from tracer.commands.diff import run_diff

    _finish(run_diff(list(inputs), baseline, list(cap_add), as_json), False)


@cli.command(name="lint")
@click.argument("profiles", nargs=-1, required=True, metavar="PROFILE...")
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr.")
def lint_cmd(profiles: tuple[str, ...], quiet: bool) -> None:
    """Check seccomp profiles (Docker, OCI, SeccompProfile; ours or not) for mistakes.

    Prints `FILE: where: message [code]` per finding. Exit 0: clean, 1: findings, 2: a file could not
    be read or is not a valid profile.

    \b
      seccomp-learn lint profile.json /etc/docker/seccomp.json
    """
    from tracer.commands.lint import run_lint

    _finish(run_lint(list(profiles)), quiet)


@cli.command(name="report")
@click.argument("source", metavar="RECORDING|PROFILE")
@click.option("--format", "fmt", type=click.Choice(list(REPORT_FORMATS)),
              help="markdown (a pull-request comment; the default), json (docs/report-format.md), text. "
                   "Without it, on a terminal, the Markdown is shown rendered.")
@click.option("--baseline", default="docker", show_default=True, metavar="docker|FILE",
              help="Compare with Docker's default profile or a profile file.")
@click.option("-o", "--output", default="-", show_default=True, help="Report to write ('-' = stdout).")
def report_cmd(source: str, fmt: str | None, baseline: str, output: str) -> None:
    """Audit report of a recording (or a profile): what the baseline blocks and what would fix it,
    every needed syscall with its provenance and risk, the extras and argument rules, hints.

    On a terminal, text fits its width and Markdown is rendered; files and pipes get them whole.

    \b
      seccomp-learn report app.trace.json > report.md
      seccomp-learn report --format json -o report.json app.trace.json
    """
    from tracer.commands.report import run_report

    _finish(run_report(source, fmt, baseline, output), False)


@cli.command(name="merge")
@click.argument("recordings", nargs=-1, required=True, metavar="RECORDING...")
@click.option("-o", "--output", default="merged.trace.json", show_default=True,
              help="Merged recording to write ('-' = stdout).")
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr.")
def merge_cmd(recordings: tuple[str, ...], output: str, quiet: bool) -> None:
    """Merge recordings into one: the union per ABI and syscall, with provenance.

    Counts are kept per run, argument values are unioned, and every syscall keeps the runs and
    executables that used it. Syscalls seen by only one of several runs are listed on stderr.

    \b
      seccomp-learn merge a.trace.json b.trace.json -o merged.trace.json
    """
    from tracer.commands.merge import run_merge

    _finish(run_merge(list(recordings), output), quiet)


@cli.command(name="ci")
@click.option("--config", "config", default="seccomp-learn.yaml", show_default=True, metavar="FILE",
              help="The configuration (docs/config.md).")
@click.option("--only", multiple=True, metavar="PROFILE", help="Only this profile (repeatable).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any profile would change.")
@click.option("--incremental", is_flag=True, help="Use each committed profile as --base: only what it does not "
                                                 "allow is traced (cannot show that a syscall is no longer needed).")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary on stderr.")
def ci_cmd(config: str, only: tuple[str, ...], check: bool, quiet: bool, incremental: bool) -> None:
    """Run the workloads in the config, merge per profile, and write (or --check) the profiles.

    \b
      seccomp-learn ci                 # regenerate profiles, recordings and reports
      seccomp-learn ci --check         # in CI: fail when a profile is out of date
      seccomp-learn ci --check --incremental   # fast: does the app need anything new?
    """
    from tracer.commands.ci import run_ci

    _finish(run_ci(config, only, check, quiet, incremental), quiet)


@cli.command(name="verify")
@click.argument("profile", metavar="PROFILE")
@click.option("--complain", is_flag=True, help="Do not enforce: let every call pass and report what the profile "
                                                "would have denied.")
@click.option("--add-missing", metavar="OUT", help="Write the profile plus what was denied to OUT ('-' = stdout).")
@click.option("-q", "--quiet", is_flag=True, help="Only the denials on stderr.")
@driver_options
@COMMAND
def verify_cmd(profile: str, command: tuple[str, ...], complain: bool, add_missing: str | None, quiet: bool,
               **kw: Any) -> None:
    """Run COMMAND under PROFILE, enforced by the kernel, and name every call it denies.

    Exits 1 when anything was denied (even if the workload coped), otherwise with the workload's
    own exit code (0 when seccomp-learn stopped it as planned, as for learning). A call the
    profile kills ends its task with SIGSYS ("Bad system call"), as under the profile alone.

    \b
      seccomp-learn verify p.json -- python3 -c 'import json'
      seccomp-learn verify --complain --add-missing p2.json p.json -- ./app
    """
    from tracer.commands.verify import run_verify

    _finish(run_verify(profile, list(command), _trace_opts(kw), complain, add_missing, quiet), False)


@cli.command(name="container", context_settings=COMMAND_FIRST)
@click.option("-o", "--output", metavar="FILE", help="Profile to write ('-' = stdout; default seccomp.json, "
                                                     "seccomp.yaml for --format kubernetes).")
@click.option("--learn-dir", metavar="DIR", help="Where the wrapper writes recordings (default: Docker's runtimeArgs "
                                                  "--learn-dir, else /var/lib/seccomp-learn).")
@click.option("--runtime-name", default="seccomp-learn", show_default=True,
              help="Docker: the name the wrapper is registered under in daemon.json.")
@click.option("--wrapper", metavar="PATH", help="podman: the seccomp-learn-runtime program (default: found on PATH).")
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr.")
@emit_options
@metadata_options
@COMMAND
def container_cmd(command: tuple[str, ...], output: str | None, learn_dir: str | None, runtime_name: str,
                  wrapper: str | None, quiet: bool, **kw: Any) -> None:
    """Run `docker run ...` or `podman run ...` under seccomp-learn-runtime and write the container's profile.

    The container runs from its own image, with the engine's settings; the profile holds what it
    called plus what the runtime runs after loading the filter. Exits with the container's exit code.

    \b
      seccomp-learn container -o web.json -- docker run --rm IMAGE CMD
      seccomp-learn container --wrapper /usr/local/bin/seccomp-learn-runtime -- podman run --rm IMAGE
    """
    from tracer.oci_runtime.engines import learn_container
    from tracer.profile.formats import default_output

    _finish(learn_container(list(command), output or default_output(kw["fmt"]), _emit_opts(kw), kw["fmt"], learn_dir,
                            runtime_name, wrapper, kw["name"], kw["namespace"]), quiet)


@cli.command(name="runtime-profile")
@click.option("--runtime", type=click.Choice(["crun", "runc", "podman", "docker"]), required=True,
              help="The runtime to measure.")
@click.option("--runs", type=int, default=10, show_default=True,
              help="Containers to start: calls made in every one are told from calls that depend on timing.")
@click.option("--command", "engine_command", metavar="CMD",
              help="How to invoke the runtime here (default: its name), e.g. 'docker -H unix:///run/docker.sock'.")
@click.option("--run-flag", "run_flags", multiple=True, metavar="FLAG",
              help="podman/docker: an extra `run` flag this machine needs (repeatable).")
@click.option("--attach", type=int, metavar="PID",
              help="docker: the pid of the daemon's containerd, for strace to follow to the container.")
@click.option("-o", "--output", default="-", show_default=True, help="JSON to write ('-' = stdout).")
def runtime_profile_cmd(runtime: str, runs: int, engine_command: str | None, run_flags: tuple[str, ...],
                        attach: int | None, output: str) -> None:
    """Measure what the installed RUNTIME calls after loading a container's seccomp filter.

    Writes JSON with the versions, the names it needs on every start, those it sometimes makes,
    and the values it passes to argument-ruled names: what tracer/extras.py holds per runtime.
    Needs root (the kernel's audit records) and strace (argument values).

    \b
      seccomp-learn runtime-profile --runtime runc
    """
    from tracer.commands.runtime_profile import run_runtime_profile

    _finish(run_runtime_profile(runtime, runs, engine_command, run_flags, attach, output), False)


def main() -> None:
    """Run the command, then end the process without Python's teardown.

    Freeing every module and object at exit costs about 10 ms on a small VM, as much as tracing a
    short command; everything is written, closed and flushed by then, and no thread is left but
    daemon timers.
    """
    try:
        code = _main()
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _main() -> int:
    try:
        return int(cli.main(prog_name="seccomp-learn", standalone_mode=False) or 0)
    except UserError as exc:
        msg = " ".join(str(exc).splitlines())  # one line, and readable when it quotes a 20 MB value
        msg = msg if len(msg) <= 1000 else f"{msg[:700]} [...] {msg[-200:]}"
        click.echo(f"seccomp-learn: {msg}" if not msg.startswith("seccomp-learn:") else msg, err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
