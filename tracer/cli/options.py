"""The options commands share (driver, tracing, emitting, outputs), and what they become for the library."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, NoReturn

from tracer.errors import UserError

if TYPE_CHECKING:  # built on use: a command that needs neither does not import them
    from tracer.capture.state import TraceOptions
    from tracer.distribution.client import Access
    from tracer.profile.policy import EmitOptions
Options = dict[str, Any]  # the parsed options of one command, by destination name


class Parser(argparse.ArgumentParser):
    """A usage error is one line that says where to look, exit code 2, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see `{self.prog} --help`)")


def command_words(p: Parser) -> None:
    """The traced command: every word after the options (or `--`), untouched, as for strace, time and docker run."""
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND",
                   help="The command to run, with its arguments (after `--` if it starts with '-').")


def driver_options(p: Parser, learning: bool = True) -> None:
    """Servers: how long to learn (verify: to run under the profile), the driver that exercises the workload, and
    when the driver may start. Driver strings are shell commands (tracer/capture/shell.py)."""
    how_long = "learn this long" if learning else "run under PROFILE this long"
    p.add_argument("--duration", type=float, metavar="SECONDS",
                   help=f"For servers: {how_long}, then stop the workload with --stop-signal.")
    p.add_argument("--stop-signal", default="SIGTERM", metavar="SIG",
                   help="Signal that ends the workload after --duration or --during (default SIGTERM). A workload "
                        "that dies of it ended as planned: seccomp-learn then exits 0.")
    p.add_argument("--during", metavar="CMD", help="Run this shell command (/bin/sh -c CMD, untraced) while the "
                   "workload runs, e.g. a load test; stop the workload when it ends. If the driver fails, so does "
                   "the run (exit 1" + (", no profile unless --keep-going)." if learning else ")."))
    p.add_argument("--ready", metavar="tcp:HOST:PORT|unix:PATH",
                   help="Start the --during driver only once a socket listens there (looked up in /proc/net: no "
                        "probe connection reaches the workload).")
    p.add_argument("--ready-cmd", metavar="CMD", help="Start the --during driver only once the shell command CMD "
                   "(/bin/sh -c CMD) exits 0 (retried).")
    p.add_argument("--ready-timeout", type=float, metavar="SECONDS",
                   help="Give up waiting for --ready/--ready-cmd after this long (default 30): the run fails.")


def trace_options(p: Parser) -> None:
    from tracer.capture import backend_names
    driver_options(p)
    p.add_argument("--follow", choices=["all", "main"], default="all",
                   help="all (the default): trace until every started process exited; main: stop when the main "
                        "process exits (the rest are killed, and the recording says so).")
    p.add_argument("--run-id", metavar="ID",
                   help="Name of this run in the recording (default: <program>-<UTC time>-<pid>).")
    p.add_argument("--base", metavar="PROFILE", help="Incremental: let the kernel allow what PROFILE allows "
                   "unconditionally and trace only the rest (fast re-learning; the result is PROFILE's needs plus "
                   "anything new).")
    p.add_argument("--backend", choices=backend_names.CHOICES, default=backend_names.AUTO,
                   help=f"{backend_names.HELP} (default {backend_names.AUTO})")
    p.add_argument("-p", "--pid", type=int, metavar="PID", help="Attach to this running process (and what it "
                   "starts from now on) instead of starting COMMAND; Ctrl-C detaches and leaves it running.")
    p.add_argument("-f", dest="follow_forks", action="store_true",
                   help=argparse.SUPPRESS)  # accepted for strace users: children are always followed
    p.add_argument("--keep-going", action="store_true",
                   help="Write the profile even when the --during driver failed (the run still exits 1).")
    p.add_argument("--snapshot-every", type=float, metavar="SECONDS",
                   help="Also write the recording so far every SECONDS (SIGUSR1 does it once).")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="Run the workload N times, one after another, and merge the runs: calls that depend on "
                        "timing or state show up in some runs only (a run that fails ends the repeats).")


def trace_opts(kw: Options) -> TraceOptions:
    from tracer.commands.learn import trace_options_from
    return trace_options_from(follow=kw.get("follow", "all"), run_id=kw.get("run_id"), duration=kw["duration"],
                              stop_signal=kw["stop_signal"], during=kw["during"],
                              snapshot_every=kw.get("snapshot_every"), pid=kw.get("pid"), base=kw.get("base"),
                              backend=kw.get("backend", "ptrace"), ready=kw["ready"], ready_cmd=kw["ready_cmd"],
                              ready_timeout=kw["ready_timeout"])


def emit_options(p: Parser, with_format: bool = True, references: bool = False) -> None:
    """How a profile is made; with_format: also --format and the Kubernetes metadata (not for a fixed format);
    `references`: emit's own --format kubernetes-oci, which names a pushed profile rather than writing one."""
    from tracer.profile.extras import RUNTIMES
    from tracer.profile.formats import FORMATS
    if with_format:
        p.add_argument("--format", dest="fmt", choices=[*FORMATS, *(["kubernetes-oci"] if references else [])],
                       default="docker",
                       help="docker (the default; also podman), oci (runtime-spec linux.seccomp), kubernetes "
                            "(security-profiles-operator SeccompProfile), systemd (a [Service] drop-in), bpf (the "
                            "compiled filter for `bwrap --seccomp FD`), pfc (its text), firejail (a profile with "
                            "seccomp.keep)" + (
                                "; kubernetes-oci REF: the pod's seccompProfile {type: OCI} naming a pushed "
                                "profile, and the CRI-O annotation form." if references else "."))
    p.add_argument("--default-action", choices=["errno", "kill", "kill_process", "trap", "log"], default="errno",
                   help="What the profile does with anything not allowed (default errno).")
    p.add_argument("--complain", action="store_true",
                   help="Complain mode: defaultAction SCMP_ACT_LOG, so every call the rules do not allow runs and "
                        "the kernel logs it (audit type 1326); `seccomp-learn audit --add-to` turns the records "
                        "into the enforced profile.")
    p.add_argument("--errno", dest="errno_ret", type=int, default=1,
                   help="errno returned by the default action errno (default 1 = EPERM).")
    p.add_argument("--arch", dest="arches", metavar="LIST", default="",
                   help="Also list these ABIs (x86_64,x86,x32,aarch64), as Docker does; default: only those "
                        "observed. x86_64,aarch64: a profile for amd64 and arm64 hosts, each with the calls its libc "
                        "makes for what was observed on the other.")
    p.add_argument("--no-args", action="store_true", help="Names only: no argument rules.")
    p.add_argument("--runtime", choices=list(RUNTIMES),
                   help="Add what this container runtime runs after loading the filter (default docker = runc; "
                        "none for the sandbox formats systemd, bpf, pfc and firejail).")
    p.add_argument("--runtime-profile", metavar="FILE",
                   help="Use the runtime list `seccomp-learn runtime-profile -o FILE` measured on this machine's "
                        "runtime instead of the built-in one for --runtime.")
    p.add_argument("--portable", action="store_true",
                   help="Add the vDSO syscalls (clock_gettime, ...) for hosts without a vDSO.")
    p.add_argument("--no-companions", action="store_true",
                   help="Do not add companion calls (mremap when munmap was seen, madvise when threads were, ...: "
                        "tracer/profile/companions.py) that libraries make only under timing or size conditions.")
    p.add_argument("--no-fallback", action="store_true",
                   help="Do not add ENOSYS rules for newer variants (clone3, statx, ...) of observed syscalls.")
    p.add_argument("--allow-threads", action="store_true",
                   help="clone's argument rule also allows starting threads, even if no recorded run did.")
    p.add_argument("--allow-spawn", action="store_true",
                   help="clone's argument rule also allows posix_spawn and vfork children.")
    p.add_argument("--allow-family", dest="allow_families", action="append", default=[], metavar="AF",
                   help="socket's argument rule also allows this address family, e.g. AF_INET6 (repeatable).")
    if with_format:
        p.add_argument("--namespace", metavar="NS", help="--format kubernetes: metadata.namespace.")
        p.add_argument("--name", metavar="NAME", help="--format kubernetes: metadata.name (default: seccomp-learn).")


def emit_opts(kw: Options) -> EmitOptions:
    from tracer.profile.formats import default_runtime
    from tracer.profile.limits import family_number
    from tracer.profile.policy import EmitOptions, parse_arches

    runtime_list = None
    if kw["runtime_profile"]:
        from tracer.commands.runtime_profile import read_runtime_profile
        runtime_list = read_runtime_profile(kw["runtime_profile"])
    try:
        families = tuple(sorted({family_number(f) for f in kw["allow_families"]}))
    except ValueError as exc:
        raise UserError(str(exc), "--allow-family") from None
    return EmitOptions(default_action=kw["default_action"], errno=kw["errno_ret"], arches=parse_arches(kw["arches"]),
                       args=not kw["no_args"], runtime=kw["runtime"] or default_runtime(kw["fmt"]),
                       runtime_list=runtime_list, fallback=not kw["no_fallback"], portable=kw["portable"],
                       complain=kw["complain"], companions=not kw["no_companions"],
                       allow_threads=kw["allow_threads"], allow_spawn=kw["allow_spawn"], allow_families=families)


def registry_options(p: Parser) -> None:
    """How to reach a registry, as skopeo and podman take it."""
    p.add_argument("--insecure", action="store_true",
                   help="Allow plain HTTP and unverified TLS (a registry on 127.0.0.1); HTTPS is verified otherwise.")
    p.add_argument("--authfile", metavar="FILE", help="Registry credentials (default: REGISTRY_AUTH_FILE, "
                   "containers' auth.json, $DOCKER_CONFIG/config.json, ~/.docker/config.json).")


def registry_access(kw: Options) -> Access:
    from tracer.distribution.client import Access
    return Access(insecure=kw["insecure"], authfile=kw["authfile"])


def quiet(p: Parser, what: str = "No progress or summary on stderr; why a run failed or is partial is still said, "
                                  "one line each.") -> None:
    p.add_argument("-q", "--quiet", action="store_true", help=what)


def profile_output(p: Parser) -> None:
    p.add_argument("-o", "--output", metavar="FILE", help="Profile to write ('-' = stdout; default seccomp.json, "
                                                          "seccomp.yaml for --format kubernetes).")


def output_option(p: Parser, what: str, default: str = "-") -> None:
    """-o FILE for a command whose output has a fixed default ('-' = stdout)."""
    shown = "stdout" if default == "-" else default
    p.add_argument("-o", "--output", default=default, metavar="FILE",
                   help=f"{what} to write ('-' = stdout; default {shown}).")
