"""Command line: click commands that parse options and call library functions. No logic here.

Imports of the heavy modules happen inside each command, so `--version` and the time to the
workload's exec pay only for what the command uses.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from . import __version__
from .errors import UserError

COMMAND = click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)


class DefaultToRun(click.Group):
    """`seccomp-learn [OPTIONS] -- CMD` means `seccomp-learn run [OPTIONS] -- CMD`, like strace."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def trace_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--follow", type=click.Choice(["all", "main"]), default="all", show_default=True,
                     help="all: trace until every started process exited; main: stop when the main process "
                          "exits (the rest are killed, and the recording says so).")(f)
    f = click.option("--run-id", metavar="ID", help="Name of this run in the recording (default: program name).")(f)
    return f


def emit_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for decorator in reversed([
        click.option("--format", "fmt", type=click.Choice(["docker", "oci", "kubernetes"]), default="docker",
                     show_default=True, help="docker (also podman), oci (runtime-spec linux.seccomp), "
                                             "kubernetes (security-profiles-operator SeccompProfile)."),
        click.option("--default-action", type=click.Choice(["errno", "kill", "kill_process", "trap", "log"]),
                     default="errno", show_default=True, help="What the profile does with anything not allowed."),
        click.option("--errno", "errno_ret", type=int, default=1, show_default=True,
                     help="errno returned by the default action errno (1 = EPERM)."),
        click.option("--arch", "arches", metavar="LIST", default="",
                     help="Also list these ABIs (x86_64,x86,x32), as Docker does; default: only those observed."),
        click.option("--no-args", is_flag=True, help="Names only: no argument rules."),
        click.option("--runtime", type=click.Choice(["docker", "podman", "runc", "crun", "none"]),
                     default="docker", show_default=True,
                     help="Add what this container runtime runs after loading the filter (docker = runc)."),
        click.option("--portable", is_flag=True, help="Add the vDSO syscalls (clock_gettime, ...) for hosts "
                                                       "without a vDSO."),
        click.option("--no-fallback", is_flag=True, help="Do not add ENOSYS rules for newer variants "
                                                          "(clone3, statx, ...) of observed syscalls."),
    ]):
        f = decorator(f)
    return f


def _emit_opts(kw: dict[str, Any]) -> Any:
    from .emit import EmitOptions, parse_arches

    return EmitOptions(default_action=kw["default_action"], errno=kw["errno_ret"], arches=parse_arches(kw["arches"]),
                       args=not kw["no_args"], runtime=kw["runtime"], fallback=not kw["no_fallback"],
                       portable=kw["portable"])


def _finish(outcome: Any, quiet: bool) -> None:
    if outcome.stdout:
        click.echo(outcome.stdout, nl=False)
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


@cli.command(context_settings={"ignore_unknown_options": False})
@click.option("-o", "--output", default="seccomp.json", show_default=True, help="Profile to write.")
@click.option("--record", "record_path", metavar="FILE", help="Also write the recording here.")
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr.")
@trace_options
@emit_options
@COMMAND
def run(command: tuple[str, ...], output: str, record_path: str | None, quiet: bool, follow: str,
        run_id: str | None, **kw: Any) -> None:
    """Trace COMMAND and write the profile it needs (the default command).

    Everything after `--` is the command, untouched. stdin/stdout/stderr pass through, and
    seccomp-learn exits with the command's exit code (128+N if killed by signal N).

    \b
      seccomp-learn -o p.json -- python3 -c 'import json, sqlite3'
    """
    from .learn import learn
    from .trace import TraceOptions

    eopts = _emit_opts(kw)
    _finish(learn(list(command), TraceOptions(follow=follow, run_id=run_id), eopts, kw["fmt"], output, record_path),
            quiet)


@cli.command()
@click.option("-o", "--output", default="seccomp.trace.json", show_default=True, help="Recording to write.")
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr.")
@trace_options
@COMMAND
def record(command: tuple[str, ...], output: str, quiet: bool, follow: str, run_id: str | None) -> None:
    """Trace COMMAND and write only the recording.

    \b
      seccomp-learn record -o run1.trace.json -- ./app
      seccomp-learn emit run1.trace.json -o profile.json
    """
    from .learn import learn
    from .trace import TraceOptions

    _finish(learn(list(command), TraceOptions(follow=follow, run_id=run_id), None, "docker", None, output), quiet)


@cli.command(name="emit")
@click.argument("recordings", nargs=-1, required=True, metavar="RECORDING...")
@click.option("-o", "--output", default="-", show_default=True, help="Profile to write ('-' = stdout).")
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr.")
@emit_options
def emit_cmd(recordings: tuple[str, ...], output: str, quiet: bool, **kw: Any) -> None:
    """Write the profile for one or more recordings (several are merged first).

    \b
      seccomp-learn emit run1.trace.json -o profile.json
      seccomp-learn emit --format kubernetes --runtime crun a.trace.json b.trace.json -o sp.yaml
    """
    from .learn import emit_file

    _finish(emit_file(list(recordings), _emit_opts(kw), kw["fmt"], output), quiet)


@cli.command(name="diff")
@click.argument("inputs", nargs=-1, required=True, metavar="PROFILE|RECORDING [NEW]")
@click.option("--baseline", metavar="docker|FILE",
              help="Compare with Docker's default profile (docker, the default) or a profile file.")
@click.option("--cap-add", "cap_add", multiple=True, metavar="CAP",
              help="A capability added to Docker's default set, as `docker run --cap-add` (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="JSON output (docs/diff-format.md).")
def diff_cmd(inputs: tuple[str, ...], baseline: str | None, cap_add: tuple[str, ...], as_json: bool) -> None:
    """Compare a profile or recording with Docker's default profile, or OLD with NEW.

    Shows what the workload needs that the baseline refuses (and what would allow it), argument
    conditions it must meet, and the attack surface it removes, by class.

    \b
      seccomp-learn diff app.trace.json
      seccomp-learn diff --cap-add SYS_ADMIN profile.json
      seccomp-learn diff old.json new.json
    """
    import json
    import shutil

    from .diff import diff_files, render_text, to_json

    result = diff_files(list(inputs), baseline=baseline, cap_add=list(cap_add))
    if as_json:
        click.echo(json.dumps(to_json(result), indent=2, sort_keys=True))
        return
    tty = sys.stdout.isatty()
    width = shutil.get_terminal_size((100, 24)).columns if tty else 100
    click.echo(render_text(result, color=tty, width=width), nl=False)


@cli.command(name="lint")
@click.argument("profiles", nargs=-1, required=True, metavar="PROFILE...")
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr.")
def lint_cmd(profiles: tuple[str, ...], quiet: bool) -> None:
    """Check Docker/OCI seccomp profiles (ours or not) for mistakes.

    Prints `FILE: where: message [code]` per finding. Exit 0: clean, 1: findings, 2: a file could not
    be read or is not a valid profile.

    \b
      seccomp-learn lint profile.json /etc/docker/seccomp.json
    """
    from .lint import lint_paths

    outcome = lint_paths(list(profiles))
    for error in outcome.errors:
        click.echo(f"seccomp-learn: {error}", err=True)
    _finish(outcome, quiet)


@cli.command(name="report")
@click.argument("source", metavar="RECORDING|PROFILE")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json", "text"]), default="markdown",
              show_default=True, help="markdown (a pull-request comment), json (docs/report-format.md), text.")
@click.option("--baseline", default="docker", show_default=True, metavar="docker|FILE",
              help="Compare with Docker's default profile or a profile file.")
@click.option("-o", "--output", default="-", show_default=True, help="Report to write ('-' = stdout).")
def report_cmd(source: str, fmt: str, baseline: str, output: str) -> None:
    """Audit report of a recording (or a profile): what the baseline blocks and what would fix it,
    every needed syscall with its provenance and risk, the extras and argument rules, hints.

    \b
      seccomp-learn report app.trace.json > report.md
      seccomp-learn report --format json -o report.json app.trace.json
    """
    from .atomic import write_atomic
    from .learn import Outcome
    from .report import report_file

    text = report_file(source, fmt, baseline)
    if output == "-":
        _finish(Outcome(0, [], stdout=text), True)
    write_atomic(output, text)
    _finish(Outcome(0, [f"wrote {output}"]), False)


def main() -> None:
    try:
        cli.main(prog_name="seccomp-learn", standalone_mode=False)
    except UserError as exc:
        click.echo(f"seccomp-learn: {exc}" if not str(exc).startswith("seccomp-learn:") else str(exc), err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
