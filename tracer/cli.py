"""Command line: argparse parsers that read options and call library functions. No logic here.

Only the parser of the command being run is built, and each command imports its modules when it
runs, so `--version` and the time to the workload's exec pay only for what the command uses.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from tracer import __version__
from tracer.errors import UserError
from tracer.record import Record

if TYPE_CHECKING:  # commands are imported on use
    from tracer.commands.outcome import Outcome

PROG = "seccomp-learn"
Options = dict[str, Any]  # the parsed options of one command, by destination name


class Parser(argparse.ArgumentParser):
    """A usage error is one line that says where to look, exit code 2, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see `{self.prog} --help`)")


def _command_words(p: Parser) -> None:
    """The traced command: every word after the options (or `--`), untouched, as for strace, time and docker run."""
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND",
                   help="The command to run, with its arguments (after `--` if it starts with '-').")


def _driver_options(p: Parser) -> None:
    """Servers: how long to learn, the driver that exercises the workload, and when the driver may start."""
    p.add_argument("--duration", type=float, metavar="SECONDS",
                   help="For servers: learn this long, then stop the workload with --stop-signal.")
    p.add_argument("--stop-signal", default="SIGTERM", metavar="SIG",
                   help="Signal that ends the workload after --duration or --during (default SIGTERM). A workload "
                        "that dies of it ended as planned: seccomp-learn then exits 0.")
    p.add_argument("--during", metavar="CMD", help="Run this driver (untraced) while the workload is traced, e.g. a "
                   "load test; stop the workload when it ends. If the driver fails, so does the run (exit 1, no "
                   "profile unless --keep-going).")
    p.add_argument("--ready", metavar="tcp:HOST:PORT|unix:PATH",
                   help="Start the --during driver only once this socket accepts a connection.")
    p.add_argument("--ready-cmd", metavar="CMD", help="Start the --during driver only once CMD exits 0 (retried).")
    p.add_argument("--ready-timeout", type=float, metavar="SECONDS",
                   help="Give up waiting for --ready/--ready-cmd after this long (default 30): the run fails.")


def _trace_options(p: Parser) -> None:
    from tracer.capture import backends

    _driver_options(p)
    p.add_argument("--follow", choices=["all", "main"], default="all",
                   help="all (the default): trace until every started process exited; main: stop when the main "
                        "process exits (the rest are killed, and the recording says so).")
    p.add_argument("--run-id", metavar="ID",
                   help="Name of this run in the recording (default: <program>-<UTC time>-<pid>).")
    p.add_argument("--base", metavar="PROFILE", help="Incremental: let the kernel allow what PROFILE allows "
                   "unconditionally and trace only the rest (fast re-learning; the result is PROFILE's needs plus "
                   "anything new).")
    p.add_argument("--backend", choices=backends.CHOICES, default=backends.AUTO,
                   help=f"{backends.HELP} (default {backends.AUTO})")
    p.add_argument("-p", "--pid", type=int, metavar="PID", help="Attach to this running process (and what it "
                   "starts from now on) instead of starting COMMAND; Ctrl-C detaches and leaves it running.")
    p.add_argument("-f", dest="follow_forks", action="store_true",
                   help=argparse.SUPPRESS)  # accepted for strace users: children are always followed
    p.add_argument("--keep-going", action="store_true",
                   help="Write the profile even when the --during driver failed (the run still exits 1).")
    p.add_argument("--snapshot-every", type=float, metavar="SECONDS",
                   help="Also write the recording so far every SECONDS (SIGUSR1 does it once).")


def _trace_opts(kw: Options) -> Any:
    from tracer.commands.learn import trace_options_from

    return trace_options_from(follow=kw.get("follow", "all"), run_id=kw.get("run_id"), duration=kw["duration"],
                              stop_signal=kw["stop_signal"], during=kw["during"],
                              snapshot_every=kw.get("snapshot_every"), pid=kw.get("pid"), base=kw.get("base"),
                              backend=kw.get("backend", "ptrace"), ready=kw["ready"], ready_cmd=kw["ready_cmd"],
                              ready_timeout=kw["ready_timeout"])


def _emit_options(p: Parser) -> None:
    from tracer.profile.extras import RUNTIMES
    from tracer.profile.formats import FORMATS

    p.add_argument("--format", dest="fmt", choices=FORMATS, default="docker",
                   help="docker (the default; also podman), oci (runtime-spec linux.seccomp), kubernetes "
                        "(security-profiles-operator SeccompProfile).")
    p.add_argument("--default-action", choices=["errno", "kill", "kill_process", "trap", "log"], default="errno",
                   help="What the profile does with anything not allowed (default errno).")
    p.add_argument("--errno", dest="errno_ret", type=int, default=1,
                   help="errno returned by the default action errno (default 1 = EPERM).")
    p.add_argument("--arch", dest="arches", metavar="LIST", default="",
                   help="Also list these ABIs (x86_64,x86,x32,aarch64), as Docker does; default: only those "
                        "observed. x86_64,aarch64: a profile for amd64 and arm64 hosts, each with the calls its libc "
                        "makes for what was observed on the other.")
    p.add_argument("--no-args", action="store_true", help="Names only: no argument rules.")
    p.add_argument("--runtime", choices=list(RUNTIMES), default="docker",
                   help="Add what this container runtime runs after loading the filter (default docker = runc).")
    p.add_argument("--runtime-profile", metavar="FILE",
                   help="Use the runtime list `seccomp-learn runtime-profile -o FILE` measured on this machine's "
                        "runtime instead of the built-in one for --runtime.")
    p.add_argument("--portable", action="store_true",
                   help="Add the vDSO syscalls (clock_gettime, ...) for hosts without a vDSO.")
    p.add_argument("--no-fallback", action="store_true",
                   help="Do not add ENOSYS rules for newer variants (clone3, statx, ...) of observed syscalls.")
    p.add_argument("--namespace", metavar="NS", help="--format kubernetes: metadata.namespace.")
    p.add_argument("--name", metavar="NAME", help="--format kubernetes: metadata.name (default: seccomp-learn).")


def _emit_opts(kw: Options) -> Any:
    from tracer.profile.emit import EmitOptions, parse_arches

    runtime_list = None
    if kw["runtime_profile"]:
        from tracer.commands.runtime_profile import read_runtime_profile

        runtime_list = read_runtime_profile(kw["runtime_profile"])
    return EmitOptions(default_action=kw["default_action"], errno=kw["errno_ret"], arches=parse_arches(kw["arches"]),
                       args=not kw["no_args"], runtime=kw["runtime"], runtime_list=runtime_list,
                       fallback=not kw["no_fallback"], portable=kw["portable"])


def _quiet(p: Parser, what: str = "No progress or summary on stderr.") -> None:
    p.add_argument("-q", "--quiet", action="store_true", help=what)


def _profile_output(p: Parser) -> None:
    p.add_argument("-o", "--output", metavar="FILE", help="Profile to write ('-' = stdout; default seccomp.json, "
                                                          "seccomp.yaml for --format kubernetes).")


# ---- the commands: options, then the library call ---------------------------------------------------------


def _run_options(p: Parser) -> None:
    _profile_output(p)
    p.add_argument("--record", dest="record_path", metavar="FILE", help="Also write the recording here.")
    _quiet(p)
    _trace_options(p)
    _emit_options(p)
    _command_words(p)


def _run(kw: Options) -> Outcome:
    from tracer.commands.learn import Outputs, run_learn
    from tracer.profile.formats import default_output

    outputs = Outputs(kw["output"] or default_output(kw["fmt"]), kw["record_path"], kw["fmt"], kw["name"],
                      kw["namespace"])
    return run_learn(kw["command"], _trace_opts(kw), _emit_opts(kw), outputs, kw["keep_going"], live=not kw["quiet"])


def _record_options(p: Parser) -> None:
    p.add_argument("-o", "--output", default="seccomp.trace.json", metavar="FILE",
                   help="Recording to write ('-' = stdout; default seccomp.trace.json).")
    _quiet(p)
    _trace_options(p)
    _command_words(p)


def _record(kw: Options) -> Outcome:
    from tracer.commands.learn import Outputs, run_learn

    return run_learn(kw["command"], _trace_opts(kw), None, Outputs(None, kw["output"]), kw["keep_going"],
                     live=not kw["quiet"])


def _stdout_output(what: str, default: str = "-") -> Callable[[Parser], None]:
    def add(p: Parser) -> None:
        shown = "stdout" if default == "-" else default
        p.add_argument("-o", "--output", default=default, metavar="FILE",
                       help=f"{what} to write ('-' = stdout; default {shown}).")
    return add


def _emit_cmd_options(p: Parser) -> None:
    p.add_argument("recordings", nargs="+", metavar="RECORDING")
    _stdout_output("Profile")(p)
    _quiet(p, "No summary on stderr.")
    _emit_options(p)


def _emit(kw: Options) -> Outcome:
    from tracer.commands.emit import run_emit

    return run_emit(kw["recordings"], _emit_opts(kw), kw["fmt"], kw["output"], kw["name"], kw["namespace"])


def _diff_options(p: Parser) -> None:
    p.add_argument("inputs", nargs="+", metavar="PROFILE|RECORDING [NEW]")
    p.add_argument("--baseline", metavar="docker|FILE",
                   help="Compare with Docker's default profile (docker, the default) or a profile file.")
    p.add_argument("--cap-add", action="append", default=[], metavar="CAP",
                   help="A capability added to Docker's default set, as `docker run --cap-add` (repeatable).")
    p.add_argument("--json", dest="as_json", action="store_true", help="JSON output (docs/diff-format.md).")


def _diff(kw: Options) -> Outcome:
    from tracer.commands.diff import run_diff

    return run_diff(kw["inputs"], kw["baseline"], kw["cap_add"], kw["as_json"])


def _lint_options(p: Parser) -> None:
    p.add_argument("profiles", nargs="+", metavar="PROFILE")
    _quiet(p, "No summary on stderr.")


def _lint(kw: Options) -> Outcome:
    from tracer.commands.lint import run_lint

    return run_lint(kw["profiles"])


def _report_options(p: Parser) -> None:
    from tracer.report.formats import FORMATS

    p.add_argument("source", metavar="RECORDING|PROFILE")
    p.add_argument("--format", dest="fmt", choices=list(FORMATS),
                   help="markdown (a pull-request comment; the default), json (docs/report-format.md), text. "
                        "Without it, on a terminal, the Markdown is shown rendered.")
    p.add_argument("--baseline", default="docker", metavar="docker|FILE",
                   help="Compare with Docker's default profile (docker, the default) or a profile file.")
    _stdout_output("Report")(p)


def _report(kw: Options) -> Outcome:
    from tracer.commands.report import run_report

    return run_report(kw["source"], kw["fmt"], kw["baseline"], kw["output"])


def _merge_options(p: Parser) -> None:
    p.add_argument("recordings", nargs="+", metavar="RECORDING")
    _stdout_output("Merged recording", "merged.trace.json")(p)
    _quiet(p, "No summary on stderr.")


def _merge(kw: Options) -> Outcome:
    from tracer.commands.merge import run_merge

    return run_merge(kw["recordings"], kw["output"])


def _ci_options(p: Parser) -> None:
    p.add_argument("--config", default="seccomp-learn.yaml", metavar="FILE",
                   help="The configuration (docs/config.md; default seccomp-learn.yaml).")
    p.add_argument("--only", action="append", default=[], metavar="PROFILE", help="Only this profile (repeatable).")
    p.add_argument("--check", action="store_true", help="Write nothing; exit 1 if any profile would change.")
    p.add_argument("--incremental", action="store_true", help="Use each committed profile as --base: only what it "
                   "does not allow is traced (cannot show that a syscall is no longer needed).")
    _quiet(p)


def _ci(kw: Options) -> Outcome:
    from tracer.commands.ci import run_ci

    return run_ci(kw["config"], tuple(kw["only"]), kw["check"], kw["quiet"], kw["incremental"])


def _verify_options(p: Parser) -> None:
    p.add_argument("profile", metavar="PROFILE")
    p.add_argument("--complain", action="store_true", help="Do not enforce: let every call pass and report what "
                                                           "the profile would have denied.")
    p.add_argument("--add-missing", metavar="OUT",
                   help="Write the profile plus what was denied to OUT ('-' = stdout).")
    _quiet(p, "Only the denials on stderr.")
    _driver_options(p)
    _command_words(p)


def _verify(kw: Options) -> Outcome:
    from tracer.commands.verify import run_verify

    return run_verify(kw["profile"], kw["command"], _trace_opts(kw), kw["complain"], kw["add_missing"], kw["quiet"])


def _container_options(p: Parser) -> None:
    _profile_output(p)
    p.add_argument("--learn-dir", metavar="DIR", help="Where the wrapper writes recordings (default: Docker's "
                   "runtimeArgs --learn-dir, else /var/lib/seccomp-learn).")
    p.add_argument("--runtime-name", default="seccomp-learn",
                   help="Docker: the name the wrapper is registered under in daemon.json (default seccomp-learn).")
    p.add_argument("--wrapper", metavar="PATH",
                   help="podman: the seccomp-learn-runtime program (default: found on PATH).")
    _quiet(p, "No summary on stderr.")
    _emit_options(p)
    _command_words(p)


def _container(kw: Options) -> Outcome:
    from tracer.oci_runtime.engines import learn_container
    from tracer.profile.formats import default_output

    return learn_container(kw["command"], kw["output"] or default_output(kw["fmt"]), _emit_opts(kw), kw["fmt"],
                           kw["learn_dir"], kw["runtime_name"], kw["wrapper"], kw["name"], kw["namespace"])


def _runtime_profile_options(p: Parser) -> None:
    p.add_argument("--runtime", choices=["crun", "runc", "podman", "docker"], required=True,
                   help="The runtime to measure.")
    p.add_argument("--runs", type=int, default=10,
                   help="Containers to start (default 10): calls made in every one are told from calls that "
                        "depend on timing.")
    p.add_argument("--command", dest="engine_command", metavar="CMD",
                   help="How to invoke the runtime here (default: its name), e.g. 'docker -H unix:///run/docker.sock'.")
    p.add_argument("--run-flag", dest="run_flags", action="append", default=[], metavar="FLAG",
                   help="podman/docker: an extra `run` flag this machine needs (repeatable).")
    p.add_argument("--attach", type=int, metavar="PID",
                   help="docker: the pid of the daemon's containerd, for strace to follow to the container.")
    _stdout_output("JSON")(p)


def _runtime_profile(kw: Options) -> Outcome:
    from tracer.commands.runtime_profile import run_runtime_profile

    return run_runtime_profile(kw["runtime"], kw["runs"], kw["engine_command"], tuple(kw["run_flags"]), kw["attach"],
                               kw["output"])


class Command(Record, frozen=True):
    """One subcommand: its line in `seccomp-learn --help`, its own help, its options and its library call."""

    summary: str
    description: str
    options: Callable[[Parser], None]
    call: Callable[[Options], Outcome]
    usage: str | None = None  # after "seccomp-learn NAME", for commands that take COMMAND words (they end the options)
    command_required: bool = False
    quiet_hides_summary: bool = True  # verify's -q keeps its denials, which are its summary


TRACED = "[OPTIONS] [--] COMMAND [ARG...]   (or --pid PID instead of COMMAND)"
COMMANDS: dict[str, Command] = {
    "run": Command(
        "Trace COMMAND and write the profile it needs (the default command).",
        """The command follows the options (or `--`), untouched. stdin/stdout/stderr pass through, and
seccomp-learn exits with the command's exit code (128+N if killed by signal N).

  seccomp-learn -o p.json -- python3 -c 'import json, sqlite3'
  seccomp-learn curl --version""",
        _run_options, _run, usage=TRACED),
    "record": Command(
        "Trace COMMAND and write only the recording.",
        """  seccomp-learn record -o run1.trace.json -- ./app
  seccomp-learn emit run1.trace.json -o profile.json""",
        _record_options, _record, usage=TRACED),
    "emit": Command(
        "Write the profile for one or more recordings (several are merged first).",
        """  seccomp-learn emit run1.trace.json -o profile.json
  seccomp-learn emit --format kubernetes --runtime crun a.trace.json b.trace.json -o sp.yaml""",
        _emit_cmd_options, _emit),
    "diff": Command(
        "Compare a profile or recording with Docker's default profile, or OLD with NEW.",
        """OLD NEW exits as diff(1) does: 0 when both decide every call alike ("identical"), 1 when
they differ, 2 on trouble. Names no syscall table knows are warned about on stderr.

Shows what the workload needs that the baseline refuses (and what would allow it), argument
conditions it must meet, and the attack surface it removes, by class.

  seccomp-learn diff app.trace.json
  seccomp-learn diff --cap-add SYS_ADMIN profile.json
  seccomp-learn diff old.json new.json""",
        _diff_options, _diff, quiet_hides_summary=False),
    "lint": Command(
        "Check seccomp profiles (Docker, OCI, SeccompProfile; ours or not) for mistakes.",
        """Prints `FILE: where: message [code]` per finding. Exit 0: clean, 1: findings, 2: a file could not
be read or is not a valid profile.

  seccomp-learn lint profile.json /etc/docker/seccomp.json""",
        _lint_options, _lint),
    "report": Command(
        "Audit report of a recording (or a profile): blocks, fixes, provenance, risk, extras, hints.",
        """What the baseline blocks and what would fix it, every needed syscall with its provenance and risk,
the extras and argument rules, hints. On a terminal, text fits its width and Markdown is rendered;
files and pipes get them whole.

  seccomp-learn report app.trace.json > report.md
  seccomp-learn report --format json -o report.json app.trace.json""",
        _report_options, _report, quiet_hides_summary=False),
    "merge": Command(
        "Merge recordings into one: the union per ABI and syscall, with provenance.",
        """Counts are kept per run, argument values are unioned, and every syscall keeps the runs and
executables that used it. Syscalls seen by only one of several runs are listed on stderr.

  seccomp-learn merge a.trace.json b.trace.json -o merged.trace.json""",
        _merge_options, _merge),
    "ci": Command(
        "Run the workloads in the config, merge per profile, and write (or --check) the profiles.",
        """  seccomp-learn ci                 # regenerate profiles, recordings and reports
  seccomp-learn ci --check         # in CI: fail when a profile is out of date
  seccomp-learn ci --check --incremental   # fast: does the app need anything new?""",
        _ci_options, _ci),
    "verify": Command(
        "Run COMMAND under PROFILE, enforced by the kernel, and name every call it denies.",
        """Exits 1 when anything was denied (even if the workload coped), otherwise with the workload's
own exit code (0 when seccomp-learn stopped it as planned, as for learning). A call the
profile kills ends its task with SIGSYS ("Bad system call"), as under the profile alone.
Options come before PROFILE; the words after it are the command's.

  seccomp-learn verify p.json -- python3 -c 'import json'
  seccomp-learn verify --complain --add-missing p2.json p.json -- ./app""",
        _verify_options, _verify, usage="[OPTIONS] PROFILE [--] COMMAND [ARG...]", command_required=True,
        quiet_hides_summary=False),
    "container": Command(
        "Run `docker run ...` or `podman run ...` under seccomp-learn-runtime and write the container's profile.",
        """The container runs from its own image, with the engine's settings; the profile holds what it
called plus what the runtime runs after loading the filter. Exits with the container's exit code.

  seccomp-learn container -o web.json -- docker run --rm IMAGE CMD
  seccomp-learn container --wrapper /usr/local/bin/seccomp-learn-runtime -- podman run --rm IMAGE""",
        _container_options, _container, usage="[OPTIONS] [--] docker|podman run ...", command_required=True),
    "runtime-profile": Command(
        "Measure what the installed RUNTIME calls after loading a container's seccomp filter.",
        """Writes JSON with the versions, the names it needs on every start, those it sometimes makes,
and the values it passes to argument-ruled names: what tracer/profile/extras.py holds per runtime.
Needs root (the kernel's audit records) and strace (argument values).

  seccomp-learn runtime-profile --runtime runc""",
        _runtime_profile_options, _runtime_profile, quiet_hides_summary=False),
}

HELP = f"""usage: {PROG} [OPTIONS] [--] COMMAND [ARG...]     (the same as `{PROG} run ...`)
       {PROG} SUBCOMMAND [OPTIONS] ...         (`{PROG} SUBCOMMAND --help` for its options)

Learn the smallest seccomp profile a program needs, by tracing it.

  seccomp-learn -- python3 -c 'import json'      # writes ./seccomp.json
  seccomp-learn -o app.json --record app.trace.json -- ./app --flag
  docker run --security-opt seccomp=app.json IMAGE ./app --flag

A program named like a subcommand (diff, merge, ...) needs `--` or `run` before it.

Commands:
{chr(10).join(f"  {name:<16} {command.summary}" for name, command in COMMANDS.items())}

Options:
  -h, --help       Show this message and exit.
  --version        Show the version and exit.
"""


def _unsized(prog: str) -> argparse.HelpFormatter:
    """A formatter for checking options, never shown."""
    return argparse.RawDescriptionHelpFormatter(prog, width=80)


def parse(argv: list[str]) -> tuple[Command, Options] | str:
    """The command and its options, or the text to print for --help/--version.

    `seccomp-learn [OPTIONS] [--] CMD` means `seccomp-learn run [OPTIONS] [--] CMD`, like strace.
    """
    if not argv or argv[0] in ("-h", "--help"):
        return HELP
    if argv[0] == "--version":
        return f"{PROG} {__version__}\n"
    name, words = (argv[0], argv[1:]) if argv[0] in COMMANDS else ("run", argv)
    command = COMMANDS[name]
    prog = f"{PROG} {name}"
    # argparse makes a formatter for every option it checks; one sized to the terminal imports shutil (with
    # bz2 and lzma), a few ms of every start, so only a run that may show its help gets one.
    shows_help = "-h" in words or "--help" in words
    parser = Parser(prog=prog, usage=command.usage and f"{prog} {command.usage}", allow_abbrev=False,
                    description=f"{command.summary}\n\n{command.description}",
                    formatter_class=argparse.RawDescriptionHelpFormatter if shows_help else _unsized)
    command.options(parser)
    options = vars(parser.parse_args(words))
    if command.usage:
        words = options["command"]
        options["command"] = words[1:] if words[:1] == ["--"] else words
        if command.command_required and not options["command"]:
            parser.error("the command to run is missing")
    return command, options


def _write(stream: Any, text: str) -> None:
    """Text as given, even with the undecodable bytes of a file name (kept as surrogate escapes)."""
    stream.flush()
    stream.buffer.write(text.encode("utf-8", "surrogateescape"))
    stream.buffer.flush()


def _main() -> int:
    try:
        parsed = parse(sys.argv[1:])
        if isinstance(parsed, str):
            _write(sys.stdout, parsed)
            return 0
        command, options = parsed
        outcome = command.call(options)
    except UserError as exc:
        msg = " ".join(str(exc).splitlines())  # one line, and readable when it quotes a 20 MB value
        msg = msg if len(msg) <= 1000 else f"{msg[:700]} [...] {msg[-200:]}"
        _write(sys.stderr, f"{msg}\n" if msg.startswith(f"{PROG}:") else f"{PROG}: {msg}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    if outcome.stdout:
        _write(sys.stdout, outcome.stdout)
    lines = outcome.errors + ([] if options.get("quiet") and command.quiet_hides_summary else outcome.summary)
    if lines:
        _write(sys.stderr, "".join(f"{PROG}: {line}\n" for line in lines))
    return outcome.exit_code


def main() -> None:
    """Run the command, then end the process without Python's teardown.

    Freeing every module and object at exit costs about 10 ms on a small VM, as much as tracing a
    short command; everything is written, closed and flushed by then, and no thread is left but
    daemon timers.
    """
    try:
        code = _main()
    except SystemExit as exc:  # argparse's --help, and the library's own exits
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
