"""Typed options: how a command's option is declared, and the groups of options commands share.

An option is declared once, as a field of the command's typed options (a frozen Struct, in the command's own
module), whose default is the option's default and whose metadata says how the command line spells it:

    class DiffOptions(Struct, frozen=True):
        inputs: tuple[str, ...] = positional("PROFILE|RECORDING [NEW]", nargs="+")
        as_json: bool = switch("--json", help="JSON output.")

The parser (tracer/cli/options.py) and the typed object (`build`) both come from these fields; a group of
options several commands share is a Struct of its own, held in a field made by `group`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from tracer.capture import backend_names
from tracer.structs import Struct, field, metadata

if TYPE_CHECKING:  # typing's constructs cost a start too: they are for the type checker only
    from tracer.distribution.client import Access
    from tracer.recording.schema import Backend, Follow

    S = TypeVar("S", bound=Struct)
    Kind = Literal["value", "switch", "append", "positional", "command"]


class Flag(Struct, frozen=True):
    """One option or positional argument: what argparse is told about it, and its default."""

    kind: Kind
    flags: tuple[str, ...]  # "-o", "--output"; () for a positional
    default: Any
    help: str | None = None  # None: not shown (an option kept for other tools' users)
    convert: Callable[[str], Any] | None = None  # argparse's `type`
    choices: Callable[[], Sequence[str]] | None = None  # called when the parser is built: imported on use
    metavar: str | None = None
    nargs: str | None = None  # a positional's: "+", "*"
    required: bool = False  # an option that must be given; command words that must be given


# option(), switch(), ... keep a Flag's fields as a tuple, and group() ("group", its Struct, the words that fill
# `{name}` in its help): the Flags are made by flags_of, when the parser is built, so a start pays only for the
# running command's (a class or a record made at import is paid by every start).


def option(*flags: str, help: str, default: Any = None, convert: Callable[[str], Any] | None = None,
           choices: Callable[[], Sequence[str]] | None = None, metavar: str | None = None,
           required: bool = False) -> Any:
    """An option that takes a value (`--output FILE`)."""
    return field(default=default, metadata=("value", flags, default, help, convert, choices, metavar, None, required))


def switch(*flags: str, help: str | None) -> Any:
    """An option without a value: False, or True when given."""
    return field(default=False, metadata=("switch", flags, False, help))


def repeated(*flags: str, help: str, metavar: str, convert: Callable[[str], Any] | None = None) -> Any:
    """An option that may be given several times: the values in order, a tuple (empty when not given)."""
    return field(default=(), metadata=("append", flags, (), help, convert, None, metavar))


def positional(metavar: str, help: str | None = None, nargs: str | None = None) -> Any:
    """A positional argument (a tuple with `nargs`); required unless nargs is "*"."""
    default: Any = "" if nargs is None else ()
    return field(default=default, metadata=("positional", (), default, help, None, None, metavar, nargs))


def command_words(required: bool = False) -> Any:
    """The traced command, as for strace, time and docker run: every word from the first that is not an option
    (or after `--`), untouched (tracer/cli/options.py splits the command line there)."""
    return field(default=(), metadata=("command", (), (), "The command to run, with its arguments (after `--` if it "
                                       "starts with '-').", None, None, "COMMAND", None, required))


def group(options: type[S], **words: str) -> S:
    """A field holding a group of options; `words` fill the `{name}`s of their help for this command."""
    return field(default_factory=options, metadata=("group", options, words))


def flags_of(options: type[Struct], words: Mapping[str, str] | None = None, prefix: str = ""
             ) -> Iterator[tuple[str, Flag]]:
    """Every option of a command, groups' included, in declaration order: (its dotted name, its Flag with the
    help words filled)."""
    for name, spec in metadata(options).items():
        if spec[0] == "group":
            yield from flags_of(spec[1], {**(words or {}), **spec[2]}, f"{prefix}{name}.")
        else:
            kind, flags, default, text, *rest = spec
            for word, value in (words or {}).items():
                text = text and text.replace(f"{{{word}}}", value)
            yield f"{prefix}{name}", Flag(kind, flags, default, text, *rest)


def build(options: type[S], values: Mapping[str, Any], prefix: str = "") -> S:
    """The typed options from parsed values by dotted name (repeated options and nargs become tuples)."""
    given: dict[str, Any] = {}
    for name, spec in metadata(options).items():
        if spec[0] == "group":
            given[name] = build(spec[1], values, f"{prefix}{name}.")
        else:
            value = values[f"{prefix}{name}"]
            given[name] = tuple(value) if isinstance(value, list) else value
    return options(**given)


def profile_formats() -> Sequence[str]:
    from tracer.profile.formats import FORMATS
    return FORMATS


def runtime_names() -> Sequence[str]:
    from tracer.profile.extras import RUNTIMES
    return list(RUNTIMES)


def quiet(what: str = "No progress or summary on stderr; why a run failed or is partial is still said, "
                      "one line each.") -> bool:
    """-q, --quiet: what it leaves out is the command's own."""
    return switch("-q", "--quiet", help=what)


def output(what: str, default: str = "-") -> str:
    """-o FILE for a command whose output has a fixed default ('-' = stdout)."""
    shown = "stdout" if default == "-" else default
    return option("-o", "--output", default=default, metavar="FILE",
                  help=f"{what} to write ('-' = stdout; default {shown}).")


def profile_output() -> str | None:
    """-o FILE for the profile of a learning run; its default depends on --format (formats.default_output)."""
    return option("-o", "--output", metavar="FILE",
                  help="Profile to write ('-' = stdout; default seccomp.json, seccomp.yaml for --format kubernetes).")


FORMAT_HELP = ("docker (the default; also podman), oci (runtime-spec linux.seccomp), kubernetes "
               "(security-profiles-operator SeccompProfile), systemd (a [Service] drop-in), bpf (the compiled "
               "filter for `bwrap --seccomp FD`), pfc (its text), firejail (a profile with seccomp.keep)")


def baseline() -> str | None:
    """--baseline: what diff and report compare with."""
    return option("--baseline", metavar="docker|systemd|firejail|FILE",
                  help="Compare with Docker's default profile (docker, the default), systemd's @system-service, "
                       "firejail's default filter (the default for their own files) or a profile file.")


def profile_format() -> str:
    """--format of a learning run's profile."""
    return option("--format", choices=profile_formats, default="docker", help=f"{FORMAT_HELP}.")


class DriverFlags(Struct, frozen=True):
    """Servers: how long to run, the driver that exercises the workload, and when the driver may start.
    Driver strings are shell commands (tracer/capture/shell.py)."""

    duration: float | None = option("--duration", convert=float, metavar="SECONDS",
                                    help="For servers: {how_long}, then stop the workload with --stop-signal.")
    stop_signal: str = option("--stop-signal", default="SIGTERM", metavar="SIG",
                              help="Signal that ends the workload after --duration or --during (default "
                                   "%(default)s). A workload that dies of it ended as planned: seccomp-learn "
                                   "then exits 0.")
    during: str | None = option("--during", metavar="CMD",
                                help="Run this shell command (/bin/sh -c CMD, untraced) while the workload runs, "
                                     "e.g. a load test; stop the workload when it ends. If the driver fails, so "
                                     "does the run (exit 1{unless}).")
    ready: str | None = option("--ready", metavar="tcp:HOST:PORT|unix:PATH",
                               help="Start the --during driver only once a socket listens there (looked up in "
                                    "/proc/net: no probe connection reaches the workload).")
    ready_cmd: str | None = option("--ready-cmd", metavar="CMD",
                                   help="Start the --during driver only once the shell command CMD (/bin/sh -c "
                                        "CMD) exits 0 (retried).")
    ready_timeout: float | None = option("--ready-timeout", convert=float, metavar="SECONDS",
                                         help="Give up waiting for --ready/--ready-cmd after this long (default "
                                              "30): the run fails.")


LEARNING = {"how_long": "learn this long", "unless": ", no profile unless --keep-going"}


class TraceFlags(Struct, frozen=True):
    """How a learning run traces its workload."""

    driver: DriverFlags = group(DriverFlags, **LEARNING)
    follow: Follow = option("--follow", choices=lambda: ("all", "main"), default="all",
                         help="all (the default): trace until every started process exited; main: stop when the "
                              "main process exits (the rest are killed, and the recording says so).")
    run_id: str | None = option("--run-id", metavar="ID",
                                help="Name of this run in the recording (default: <program>-<UTC time>-<pid>).")
    base: str | None = option("--base", metavar="PROFILE",
                              help="Incremental: let the kernel allow what PROFILE allows unconditionally and trace "
                                   "only the rest (fast re-learning; the result is PROFILE's needs plus anything "
                                   "new).")
    backend: Backend | Literal["auto"] = option("--backend", choices=lambda: backend_names.CHOICES,
                                                default=backend_names.AUTO,
                                                help=f"{backend_names.HELP} (default %(default)s)")
    pid: int | None = option("-p", "--pid", convert=int, metavar="PID",
                             help="Attach to this running process (and what it starts from now on) instead of "
                                  "starting COMMAND; Ctrl-C detaches and leaves it running.")
    follow_forks: bool = switch("-f", help=None)  # accepted for strace users: children are always followed
    keep_going: bool = switch("--keep-going",
                              help="Write the profile even when the --during driver failed (the run still exits 1).")
    snapshot_every: float | None = option("--snapshot-every", convert=float, metavar="SECONDS",
                                          help="Also write the recording so far every SECONDS (SIGUSR1 does it "
                                               "once).")
    repeat: int = option("--repeat", convert=int, default=1, metavar="N",
                         help="Run the workload N times, one after another, and merge the runs: calls that depend "
                              "on timing or state show up in some runs only (a run that fails ends the repeats).")


class EmitFlags(Struct, frozen=True):
    """How a profile is made from a recording (EmitOptions: commands/emit.py emit_options_from)."""

    default_action: str = option("--default-action", choices=lambda: ("errno", "kill", "kill_process", "trap", "log"),
                                 default="errno",
                                 help="What the profile does with anything not allowed (default %(default)s).")
    complain: bool = switch("--complain",
                            help="Complain mode: defaultAction SCMP_ACT_LOG, so every call the rules do not allow "
                                 "runs and the kernel logs it (audit type 1326); `seccomp-learn audit --add-to` "
                                 "turns the records into the enforced profile.")
    errno_ret: int = option("--errno", convert=int, default=1,
                            help="errno returned by the default action errno (default %(default)s = EPERM).")
    arches: str = option("--arch", metavar="LIST", default="",
                         help="Also list these ABIs (x86_64,x86,x32,aarch64), as Docker does; default: only those "
                              "observed. x86_64,aarch64: a profile for amd64 and arm64 hosts, each with the calls "
                              "its libc makes for what was observed on the other.")
    no_args: bool = switch("--no-args", help="Names only: no argument rules.")
    runtime: str | None = option("--runtime", choices=runtime_names,
                                 help="Add what this container runtime runs after loading the filter (default "
                                      "docker = runc; none for the sandbox formats systemd, bpf, pfc and firejail).")
    runtime_profile: str | None = option("--runtime-profile", metavar="FILE",
                                         help="Use the runtime list `seccomp-learn runtime-profile -o FILE` measured "
                                              "on this machine's runtime instead of the built-in one for --runtime.")
    portable: bool = switch("--portable", help="Add the vDSO syscalls (clock_gettime, ...) for hosts without a vDSO.")
    no_companions: bool = switch("--no-companions",
                                 help="Do not add companion calls (mremap when munmap was seen, madvise when threads "
                                      "were, ...: tracer/profile/companions.py) that libraries make only under "
                                      "timing or size conditions.")
    no_fallback: bool = switch("--no-fallback",
                               help="Do not add ENOSYS rules for newer variants (clone3, statx, ...) of observed "
                                    "syscalls.")
    allow_threads: bool = switch("--allow-threads",
                                 help="clone's argument rule also allows starting threads, even if no recorded run "
                                      "did.")
    allow_spawn: bool = switch("--allow-spawn", help="clone's argument rule also allows posix_spawn and vfork "
                                                     "children.")
    allow_families: tuple[str, ...] = repeated("--allow-family", metavar="AF",
                                               help="socket's argument rule also allows this address family, e.g. "
                                                    "AF_INET6 (repeatable).")


class NameFlags(Struct, frozen=True):
    """--format kubernetes: the SeccompProfile's metadata."""

    namespace: str | None = option("--namespace", metavar="NS", help="--format kubernetes: metadata.namespace.")
    name: str | None = option("--name", metavar="NAME",
                              help="--format kubernetes: metadata.name (default: seccomp-learn).")


class RegistryFlags(Struct, frozen=True):
    """How to reach a registry, as skopeo and podman take it (distribution/client.Access)."""

    insecure: bool = switch("--insecure", help="Allow plain HTTP and unverified TLS (a registry on 127.0.0.1); HTTPS "
                                               "is verified otherwise.")
    authfile: str | None = option("--authfile", metavar="FILE",
                                  help="Registry credentials (default: REGISTRY_AUTH_FILE, containers' auth.json, "
                                       "$DOCKER_CONFIG/config.json, ~/.docker/config.json).")

    def access(self) -> Access:
        from tracer.distribution.client import Access
        return Access(insecure=self.insecure, authfile=self.authfile)


class QuietOptions(Struct, frozen=True):
    """A command whose -q leaves out its summary (each command re-declares `quiet` with its own help and place)."""

    quiet: bool = quiet()
