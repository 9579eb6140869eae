"""Every command's options, typed: one frozen Struct per command (and per group of options commands share),
each option declared once, with its spelling, default and help (tracer/commands/option_spec.py). The CLI
builds its parser from these and hands the command the typed object."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from tracer.capture import backend_names
from tracer.commands.option_spec import command_words, group, option, positional, repeated, switch
from tracer.structs import Struct

if TYPE_CHECKING:
    from tracer.distribution.client import Access
    from tracer.recording.schema import Backend, Follow


def _formats() -> Sequence[str]:
    from tracer.profile.formats import FORMATS
    return FORMATS


def _runtimes() -> Sequence[str]:
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
    return option("--format", choices=_formats, default="docker", help=f"{FORMAT_HELP}.")


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
    runtime: str | None = option("--runtime", choices=_runtimes,
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


class CommandOptions(Struct, frozen=True):
    """The base of every command's options."""

    def hides_summary(self) -> bool:
        """Whether -q leaves out the summary on stderr (verify's -q keeps its denials, which are its summary)."""
        return False


class QuietOptions(CommandOptions, frozen=True):
    """A command whose -q leaves out its summary (each command re-declares `quiet` with its own help and place)."""

    quiet: bool = quiet()

    def hides_summary(self) -> bool:
        return self.quiet


class RunOptions(QuietOptions, frozen=True):
    """`seccomp-learn [run] [OPTIONS] [--] COMMAND`."""

    output: str | None = profile_output()
    record_path: str | None = option("--record", metavar="FILE", help="Also write the recording here.")
    quiet: bool = quiet()
    trace: TraceFlags = group(TraceFlags)
    fmt: str = profile_format()
    emit: EmitFlags = group(EmitFlags)
    names: NameFlags = group(NameFlags)
    command: tuple[str, ...] = command_words()


class RecordOptions(QuietOptions, frozen=True):
    """`seccomp-learn record [OPTIONS] [--] COMMAND`."""

    output: str = output("Recording", "seccomp.trace.json")
    quiet: bool = quiet()
    trace: TraceFlags = group(TraceFlags)
    command: tuple[str, ...] = command_words()


class EmitCommandOptions(QuietOptions, frozen=True):
    """`seccomp-learn emit RECORDING...`."""

    recordings: tuple[str, ...] = positional("RECORDING|oci://REF", nargs="+")
    output: str = output("Profile")
    quiet: bool = quiet("No summary on stderr.")
    fmt: str = option("--format", choices=lambda: (*_formats(), "kubernetes-oci"), default="docker",
                      help=f"{FORMAT_HELP}; kubernetes-oci REF: the pod's seccompProfile {{type: OCI}} naming a "
                           "pushed profile, and the CRI-O annotation form.")
    emit: EmitFlags = group(EmitFlags)
    names: NameFlags = group(NameFlags)
    container: str | None = option("--container", metavar="NAME", help="--format kubernetes-oci: the container's "
                                   "securityContext and annotation, not the pod's.")
    registry: RegistryFlags = group(RegistryFlags)


class SystemdUnitOptions(QuietOptions, frozen=True):
    """`seccomp-learn systemd-unit NAME RECORDING...`."""

    unit: str = positional("NAME", help="The service (nginx or nginx.service).")
    recordings: tuple[str, ...] = positional("RECORDING", nargs="+")
    root_dir: str = option("--root-dir", default="/", metavar="DIR",
                           help="Write under DIR/etc/systemd/system instead of /etc/systemd/system (an image, a "
                                "test).")
    quiet: bool = quiet("No summary on stderr.")
    emit: EmitFlags = group(EmitFlags)


class DiffOptions(CommandOptions, frozen=True):
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


class LintOptions(QuietOptions, frozen=True):
    """`seccomp-learn lint PROFILE...`."""

    profiles: tuple[str, ...] = positional("PROFILE", nargs="+")
    quiet: bool = quiet("No summary on stderr.")


def _report_formats() -> Sequence[str]:
    from tracer.report.formats import FORMATS
    return list(FORMATS)


class ReportOptions(CommandOptions, frozen=True):
    """`seccomp-learn report RECORDING|PROFILE`."""

    source: str = positional("RECORDING|PROFILE")
    fmt: str | None = option("--format", choices=_report_formats,
                             help="markdown (a pull-request comment; the default), json (docs/report-format.md), "
                                  "text. Without it, on a terminal, the Markdown is shown rendered.")
    baseline: str | None = baseline()
    output: str = output("Report")


class MergeOptions(QuietOptions, frozen=True):
    """`seccomp-learn merge RECORDING...`."""

    recordings: tuple[str, ...] = positional("RECORDING|oci://REF", nargs="+")
    output: str = output("Merged recording", "merged.trace.json")
    quiet: bool = quiet("No summary on stderr.")
    registry: RegistryFlags = group(RegistryFlags)


class CiOptions(QuietOptions, frozen=True):
    """`seccomp-learn ci`."""

    config: str = option("--config", default="seccomp-learn.yaml", metavar="FILE",
                         help="The configuration (docs/config.md; default %(default)s).")
    only: tuple[str, ...] = repeated("--only", metavar="PROFILE", help="Only this profile (repeatable).")
    check: bool = switch("--check", help="Write nothing; exit 1 if any profile would change.")
    incremental: bool = switch("--incremental", help="Use each committed profile as --base: only what it does not "
                               "allow is traced (cannot show that a syscall is no longer needed).")
    quiet: bool = quiet()


class VerifyOptions(CommandOptions, frozen=True):
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


class AuditOptions(QuietOptions, frozen=True):
    """`seccomp-learn audit [FILE...]`."""

    files: tuple[str, ...] = positional("FILE", nargs="*", help="audit.log, dmesg or /dev/kmsg text, journalctl "
                                        "output (-o export too), log-enricher lines; '-' is stdin.")
    follow: bool = switch("--follow", help="Also read the records live from the audit netlink group (root) until "
                          "--duration or Ctrl-C; each record's container is read from its process's cgroup.")
    duration: float | None = option("--duration", convert=float, metavar="SECONDS",
                                    help="--follow: stop after this long.")
    comm: tuple[str, ...] = repeated("--comm", metavar="NAME", help="Only records of this comm (repeatable).")
    exe: tuple[str, ...] = repeated("--exe", metavar="PATH", help="Only records of this executable (a path or a "
                                    "shell pattern; repeatable).")
    container: tuple[str, ...] = repeated("--container", metavar="ID|NAME",
                                          help="Only records of this container: its id or a prefix of it, or the "
                                               "Kubernetes namespace/pod/container or container name (repeatable).")
    pid: tuple[int, ...] = repeated("--pid", convert=int, metavar="PID",
                                    help="Only records of this process (repeatable).")
    since: str | None = option("--since", metavar="TIME", help="Only records from TIME on: @EPOCH, 2026-12-07 "
                               "12:00:00, or a span back from now (30m, 2h, 1d).")
    add_to: str | None = option("--add-to", metavar="PROFILE", help="List only what PROFILE lacks (exit 1 if "
                                "anything); with -o, write PROFILE plus it, each addition commented with its "
                                "evidence, enforced.")
    output: str | None = option("-o", "--output", metavar="FILE",
                                help="With --add-to: the profile to write ('-' = stdout).")
    fmt: str = option("--format", choices=_formats, default="docker",
                      help="-o's format: docker (the default; its comments hold the evidence), oci, kubernetes.")
    quiet: bool = quiet("No counts on stderr (warnings stay).")


class ContainerOptions(QuietOptions, frozen=True):
    """`seccomp-learn container [OPTIONS] [--] docker|podman run ...`."""

    output: str | None = profile_output()
    learn_dir: str | None = option("--learn-dir", metavar="DIR", help="Where the wrapper writes recordings "
                                   "(default: Docker's runtimeArgs --learn-dir, else /var/lib/seccomp-learn).")
    runtime_name: str = option("--runtime-name", default="seccomp-learn",
                               help="Docker: the name the wrapper is registered under in daemon.json (default "
                                    "%(default)s).")
    wrapper: str | None = option("--wrapper", metavar="PATH",
                                 help="podman: the seccomp-learn-runtime program (default: found on PATH).")
    quiet: bool = quiet("No summary on stderr.")
    fmt: str = profile_format()
    emit: EmitFlags = group(EmitFlags)
    names: NameFlags = group(NameFlags)
    command: tuple[str, ...] = command_words(required=True)


class RuntimeProfileOptions(CommandOptions, frozen=True):
    """`seccomp-learn runtime-profile --runtime RUNTIME`."""

    runtime: str = option("--runtime", choices=lambda: ("crun", "runc", "podman", "docker"), required=True,
                          help="The runtime to measure.")
    runs: int = option("--runs", convert=int, default=10,
                       help="Containers to start (default %(default)s): calls made in every one are told from calls "
                            "that depend on timing.")
    engine_command: str | None = option("--command", metavar="CMD",
                                        help="How to invoke the runtime here (default: its name), e.g. 'docker -H "
                                             "unix:///run/docker.sock'.")
    run_flags: tuple[str, ...] = repeated("--run-flag", metavar="FLAG",
                                          help="podman/docker: an extra `run` flag this machine needs (repeatable).")
    attach: int | None = option("--attach", convert=int, metavar="PID",
                                help="docker: the pid of the daemon's containerd, for strace to follow to the "
                                     "container.")
    output: str = output("JSON")


class PushOptions(QuietOptions, frozen=True):
    """`seccomp-learn push FILE REF`."""

    file: str = positional("PROFILE|RECORDING")
    ref: str = positional("REF", help="Where to push it: REGISTRY[:PORT]/REPOSITORY:TAG.")
    image: str | None = option("--image", metavar="IMAGE[@DIGEST]",
                               help="The image it was learned for (an annotation).")
    image_digest: str | None = option("--image-digest", metavar="sha256:...",
                                      help="That image's manifest digest (an annotation).")
    registry: RegistryFlags = group(RegistryFlags)
    quiet: bool = quiet("No summary on stderr.")


class PullOptions(QuietOptions, frozen=True):
    """`seccomp-learn pull REF`."""

    ref: str = positional("REF", help="REGISTRY[:PORT]/REPOSITORY:TAG or ...@sha256:DIGEST.")
    output: str = output("Profile or recording")
    image_digest: str | None = option("--image-digest", metavar="sha256:...",
                                      help="Warn when the artifact says it was learned for another image digest.")
    registry: RegistryFlags = group(RegistryFlags)
    quiet: bool = quiet("No summary on stderr.")


class LabelOptions(QuietOptions, frozen=True):
    """`seccomp-learn label IMAGE PROFILE`."""

    image: str = positional("IMAGE")
    profile: str = positional("PROFILE")
    tag: str | None = option("-t", "--tag", metavar="NAME",
                             help="The derived image's name (default IMAGE:TAG-seccomp).")
    podman: str = option("--podman", default="podman", metavar="CMD",
                         help="How to invoke podman here, with its global options (default %(default)s).")
    quiet: bool = quiet("No summary on stderr.")
