"""Every command: its options, its help, and the library call it makes with them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tracer.cli.options import (
    Options,
    Parser,
    command_words,
    driver_options,
    emit_options,
    emit_opts,
    output_option,
    profile_output,
    quiet,
    registry_access,
    registry_options,
    trace_options,
    trace_opts,
)
from tracer.errors import UserError
from tracer.structs import Struct

if TYPE_CHECKING:  # commands are imported on use
    from tracer.commands.outcome import Outcome
def _run_options(p: Parser) -> None:
    profile_output(p)
    p.add_argument("--record", dest="record_path", metavar="FILE", help="Also write the recording here.")
    quiet(p)
    trace_options(p)
    emit_options(p)
    command_words(p)


def _run(kw: Options) -> Outcome:
    from tracer.commands.learn import Outputs, run_learn
    from tracer.profile.formats import default_output
    outputs = Outputs(kw["output"] or default_output(kw["fmt"]), kw["record_path"], kw["fmt"], kw["name"],
                      kw["namespace"])
    return run_learn(kw["command"], trace_opts(kw), emit_opts(kw), outputs, kw["keep_going"], live=not kw["quiet"],
                     repeat=kw["repeat"])


def _record_options(p: Parser) -> None:
    output_option(p, "Recording", "seccomp.trace.json")
    quiet(p)
    trace_options(p)
    command_words(p)


def _record(kw: Options) -> Outcome:
    from tracer.commands.learn import Outputs, run_learn

    return run_learn(kw["command"], trace_opts(kw), None, Outputs(None, kw["output"]), kw["keep_going"],
                     live=not kw["quiet"], repeat=kw["repeat"])


def _emit_cmd_options(p: Parser) -> None:
    p.add_argument("recordings", nargs="+", metavar="RECORDING|oci://REF")
    output_option(p, "Profile")
    quiet(p, "No summary on stderr.")
    emit_options(p, references=True)
    p.add_argument("--container", metavar="NAME",
                   help="--format kubernetes-oci: the container's securityContext and annotation, not the pod's.")
    registry_options(p)


def _emit(kw: Options) -> Outcome:
    if kw["fmt"] == "kubernetes-oci":
        from tracer.commands.distribute import run_pod_reference
        return run_pod_reference(kw["recordings"], kw["output"], kw["container"], registry_access(kw))
    from tracer.commands.emit import run_emit
    return run_emit(kw["recordings"], emit_opts(kw), kw["fmt"], kw["output"], kw["name"], kw["namespace"],
                    registry_access(kw))


def _systemd_unit_options(p: Parser) -> None:
    p.add_argument("unit", metavar="NAME", help="The service (nginx or nginx.service).")
    p.add_argument("recordings", nargs="+", metavar="RECORDING")
    p.add_argument("--root-dir", default="/", metavar="DIR",
                   help="Write under DIR/etc/systemd/system instead of /etc/systemd/system (an image, a test).")
    quiet(p, "No summary on stderr.")
    emit_options(p, with_format=False)


def _systemd_unit(kw: Options) -> Outcome:
    from tracer.commands.systemd_unit import run_systemd_unit
    return run_systemd_unit(kw["unit"], kw["recordings"], emit_opts({**kw, "fmt": "systemd"}), kw["root_dir"])


def _diff_options(p: Parser) -> None:
    p.add_argument("inputs", nargs="+", metavar="PROFILE|RECORDING [NEW]")
    p.add_argument("--baseline", metavar="docker|systemd|firejail|FILE",
                   help="Compare with Docker's default profile (docker, the default), systemd's @system-service, "
                        "firejail's default filter (the default for their own files) or a profile file.")
    p.add_argument("--cap-add", action="append", default=[], metavar="CAP",
                   help="A capability added to Docker's default set, as `docker run --cap-add` (repeatable).")
    p.add_argument("--json", dest="as_json", action="store_true", help="JSON output (docs/diff-format.md).")
    p.add_argument("--against-baseline", action="store_true",
                   help="What a node applying KEP-6061 (seccompProfile type OCI) runs: the profile intersected with "
                        "the baseline (its RuntimeDefault), listing every allowed name it silently drops; exit 1 "
                        "when it drops any.")


def _diff(kw: Options) -> Outcome:
    from tracer.commands.diff import run_diff
    return run_diff(kw["inputs"], kw["baseline"], kw["cap_add"], kw["as_json"], kw["against_baseline"])


def _lint_options(p: Parser) -> None:
    p.add_argument("profiles", nargs="+", metavar="PROFILE")
    quiet(p, "No summary on stderr.")


def _lint(kw: Options) -> Outcome:
    from tracer.commands.lint import run_lint
    return run_lint(kw["profiles"])


def _report_options(p: Parser) -> None:
    from tracer.report.formats import FORMATS
    p.add_argument("source", metavar="RECORDING|PROFILE")
    p.add_argument("--format", dest="fmt", choices=list(FORMATS),
                   help="markdown (a pull-request comment; the default), json (docs/report-format.md), text. "
                        "Without it, on a terminal, the Markdown is shown rendered.")
    p.add_argument("--baseline", metavar="docker|systemd|firejail|FILE",
                   help="Compare with Docker's default profile (docker, the default), systemd's @system-service, "
                        "firejail's default filter (the default for their own files) or a profile file.")
    output_option(p, "Report")


def _report(kw: Options) -> Outcome:
    from tracer.commands.report import run_report
    return run_report(kw["source"], kw["fmt"], kw["baseline"], kw["output"])


def _merge_options(p: Parser) -> None:
    p.add_argument("recordings", nargs="+", metavar="RECORDING|oci://REF")
    output_option(p, "Merged recording", "merged.trace.json")
    quiet(p, "No summary on stderr.")
    registry_options(p)


def _merge(kw: Options) -> Outcome:
    from tracer.commands.merge import run_merge
    return run_merge(kw["recordings"], kw["output"], registry_access(kw))


def _ci_options(p: Parser) -> None:
    p.add_argument("--config", default="seccomp-learn.yaml", metavar="FILE",
                   help="The configuration (docs/config.md; default seccomp-learn.yaml).")
    p.add_argument("--only", action="append", default=[], metavar="PROFILE", help="Only this profile (repeatable).")
    p.add_argument("--check", action="store_true", help="Write nothing; exit 1 if any profile would change.")
    p.add_argument("--incremental", action="store_true", help="Use each committed profile as --base: only what it "
                   "does not allow is traced (cannot show that a syscall is no longer needed).")
    quiet(p)


def _ci(kw: Options) -> Outcome:
    from tracer.commands.ci import run_ci
    return run_ci(kw["config"], tuple(kw["only"]), kw["check"], kw["quiet"], kw["incremental"])


def _verify_options(p: Parser) -> None:
    p.add_argument("profile", metavar="PROFILE")
    p.add_argument("--complain", action="store_true", help="Do not enforce: let every call pass and report what "
                                                           "the profile would have denied.")
    p.add_argument("--add-missing", metavar="OUT",
                   help="Write the profile plus what was denied to OUT ('-' = stdout).")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="Run the command N times and say, per denied name, in how many runs it appeared "
                        "(flakiness shows before production does).")
    quiet(p, "Only the denials, and why the run failed, on stderr.")
    driver_options(p, learning=False)
    command_words(p)


def _verify(kw: Options) -> Outcome:
    from tracer.commands.verify import run_verify
    return run_verify(kw["profile"], kw["command"], trace_opts(kw), kw["complain"], kw["add_missing"], kw["quiet"],
                      kw["repeat"])


def _audit_options(p: Parser) -> None:
    from tracer.profile.formats import FORMATS
    p.add_argument("files", nargs="*", metavar="FILE", help="audit.log, dmesg or /dev/kmsg text, journalctl "
                   "output (-o export too), log-enricher lines; '-' is stdin.")
    p.add_argument("--follow", action="store_true", help="Also read the records live from the audit netlink group "
                   "(root) until --duration or Ctrl-C; each record's container is read from its process's cgroup.")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="--follow: stop after this long.")
    p.add_argument("--comm", action="append", default=[], metavar="NAME", help="Only records of this comm "
                   "(repeatable).")
    p.add_argument("--exe", action="append", default=[], metavar="PATH", help="Only records of this executable "
                   "(a path or a shell pattern; repeatable).")
    p.add_argument("--container", action="append", default=[], metavar="ID|NAME",
                   help="Only records of this container: its id or a prefix of it, or the Kubernetes "
                        "namespace/pod/container or container name (repeatable).")
    p.add_argument("--pid", action="append", type=int, default=[], metavar="PID", help="Only records of this "
                   "process (repeatable).")
    p.add_argument("--since", metavar="TIME", help="Only records from TIME on: @EPOCH, 2026-12-07 12:00:00, or "
                   "a span back from now (30m, 2h, 1d).")
    p.add_argument("--add-to", metavar="PROFILE", help="List only what PROFILE lacks (exit 1 if anything); with "
                   "-o, write PROFILE plus it, each addition commented with its evidence, enforced.")
    p.add_argument("-o", "--output", metavar="FILE", help="With --add-to: the profile to write ('-' = stdout).")
    p.add_argument("--format", dest="fmt", choices=FORMATS, default="docker",
                   help="-o's format: docker (the default; its comments hold the evidence), oci, kubernetes.")
    quiet(p, "No counts on stderr (warnings stay).")


def _audit(kw: Options) -> Outcome:
    import sys

    from tracer.auditlog.filters import Filters, parse_since
    from tracer.commands.audit import run_audit
    if kw["duration"] is not None and (kw["duration"] <= 0 or not kw["follow"]):
        raise UserError("--duration is a positive number of seconds for --follow", "--duration")
    filters = Filters(tuple(kw["comm"]), tuple(kw["exe"]), tuple(kw["container"]), tuple(kw["pid"]),
                      None if kw["since"] is None else parse_since(kw["since"]))
    ready = (lambda: print("seccomp-learn: reading the audit netlink group", file=sys.stderr, flush=True)) \
        if not kw["quiet"] else (lambda: None)
    return run_audit(kw["files"], filters, kw["add_to"], kw["output"], kw["fmt"], kw["duration"], kw["follow"],
                     ready)


def _container_options(p: Parser) -> None:
    profile_output(p)
    p.add_argument("--learn-dir", metavar="DIR", help="Where the wrapper writes recordings (default: Docker's "
                   "runtimeArgs --learn-dir, else /var/lib/seccomp-learn).")
    p.add_argument("--runtime-name", default="seccomp-learn",
                   help="Docker: the name the wrapper is registered under in daemon.json (default seccomp-learn).")
    p.add_argument("--wrapper", metavar="PATH",
                   help="podman: the seccomp-learn-runtime program (default: found on PATH).")
    quiet(p, "No summary on stderr.")
    emit_options(p)
    command_words(p)


def _container(kw: Options) -> Outcome:
    from tracer.commands.container import run_container
    from tracer.profile.formats import default_output
    return run_container(kw["command"], kw["output"] or default_output(kw["fmt"]), emit_opts(kw), kw["fmt"],
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
    output_option(p, "JSON")


def _runtime_profile(kw: Options) -> Outcome:
    from tracer.commands.runtime_profile import run_runtime_profile
    return run_runtime_profile(kw["runtime"], kw["runs"], kw["engine_command"], tuple(kw["run_flags"]), kw["attach"],
                               kw["output"])


def _push_options(p: Parser) -> None:
    p.add_argument("file", metavar="PROFILE|RECORDING")
    p.add_argument("ref", metavar="REF", help="Where to push it: REGISTRY[:PORT]/REPOSITORY:TAG.")
    p.add_argument("--image", metavar="IMAGE[@DIGEST]", help="The image it was learned for (an annotation).")
    p.add_argument("--image-digest", metavar="sha256:...", help="That image's manifest digest (an annotation).")
    registry_options(p)
    quiet(p, "No summary on stderr.")


def _push(kw: Options) -> Outcome:
    from tracer.commands.distribute import run_push
    return run_push(kw["file"], kw["ref"], kw["image"], kw["image_digest"], registry_access(kw))


def _pull_options(p: Parser) -> None:
    p.add_argument("ref", metavar="REF", help="REGISTRY[:PORT]/REPOSITORY:TAG or ...@sha256:DIGEST.")
    output_option(p, "Profile or recording")
    p.add_argument("--image-digest", metavar="sha256:...",
                   help="Warn when the artifact says it was learned for another image digest.")
    registry_options(p)
    quiet(p, "No summary on stderr.")


def _pull(kw: Options) -> Outcome:
    from tracer.commands.distribute import run_pull
    return run_pull(kw["ref"], kw["output"], registry_access(kw), kw["image_digest"])


def _label_options(p: Parser) -> None:
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("profile", metavar="PROFILE")
    p.add_argument("-t", "--tag", metavar="NAME", help="The derived image's name (default IMAGE:TAG-seccomp).")
    p.add_argument("--podman", default="podman", metavar="CMD",
                   help="How to invoke podman here, with its global options (default podman).")
    quiet(p, "No summary on stderr.")


def _label(kw: Options) -> Outcome:
    from tracer.commands.distribute import run_label
    return run_label(kw["image"], kw["profile"], kw["tag"], kw["podman"])


class Command(Struct, frozen=True):
    """One subcommand: its line in `seccomp-learn --help`, its own help, its options and its library call."""

    summary: str
    description: str
    options: Callable[[Parser], None]
    call: Callable[[Options], Outcome]
    usage: str | None = None  # after "seccomp-learn NAME" (argparse's own, unless the command takes COMMAND words)
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
  seccomp-learn emit --format kubernetes --runtime crun a.trace.json b.trace.json -o sp.yaml
  seccomp-learn emit --format kubernetes-oci registry.example.com/app/seccomp:v1""",
        _emit_cmd_options, _emit),
    "systemd-unit": Command(
        "Write the systemd drop-in for RECORDING(s) where `systemctl edit NAME` would.",
        """Writes /etc/systemd/system/NAME.service.d/seccomp-learn.conf (SystemCallFilter= and friends;
the file's comments say what systemd cannot express). Nothing else is written; `emit --format
systemd` prints the same drop-in without installing it.

  seccomp-learn record -o web.trace.json -- ./web --port 8080
  seccomp-learn systemd-unit web web.trace.json && systemctl daemon-reload && systemctl restart web""",
        _systemd_unit_options, _systemd_unit),
    "diff": Command(
        "Compare a profile or recording with Docker's default profile, or OLD with NEW.",
        """OLD NEW exits as diff(1) does: 0 when both decide every call alike ("identical"), 1 when
they differ, 2 on trouble. Names no syscall table knows are warned about on stderr.

Shows what the workload needs that the baseline refuses (and what would allow it), argument
conditions it must meet, and the attack surface it removes, by class. A systemd drop-in or a
firejail profile is compared with that sandbox's own default unless --baseline is given.

  seccomp-learn diff app.trace.json
  seccomp-learn diff --cap-add SYS_ADMIN profile.json
  seccomp-learn diff old.json new.json""",
        _diff_options, _diff, quiet_hides_summary=False),
    "lint": Command(
        "Check seccomp profiles (Docker, OCI, SeccompProfile, systemd, firejail; ours or not) for mistakes.",
        """Prints `FILE: where: message [code] (what each engine does)` per finding: whether docker, podman,
runc and crun refuse such a profile, ignore the rule or load it, as measured in those engines; a
finding some engine refuses is marked `error:`. Exit 0: clean, 1: findings, 2: a file could not
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

  seccomp-learn merge a.trace.json b.trace.json -o merged.trace.json
  seccomp-learn merge oci://registry.example.com/app/recordings:node1 oci://...:node2 -o merged.trace.json""",
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
own exit code (0 when seccomp-learn stopped it as planned, as `run` does). A call the
profile kills ends its task with SIGSYS ("Bad system call"), as under the profile alone.
Options come before PROFILE; the words after it are the command's.

  seccomp-learn verify p.json -- python3 -c 'import json'
  seccomp-learn verify --complain --add-missing p2.json p.json -- ./app""",
        _verify_options, _verify, usage="[OPTIONS] PROFILE [--] COMMAND [ARG...]", command_required=True,
        quiet_hides_summary=False),
    "audit": Command(
        "Read the kernel's seccomp audit records: what ran, what a profile lacks, and the profile with it.",
        """audit2allow for seccomp: roll out a profile in complain mode (`--complain`: defaultAction
SCMP_ACT_LOG), collect the kernel's records, and add what they name. Records of a rate limit's
drops are reported, never ignored.

  seccomp-learn audit /var/log/audit/audit.log
  journalctl -k -o export | seccomp-learn audit --exe /usr/sbin/nginx -
  kubectl logs -n security-profiles-operator -l name=spod -c log-enricher | seccomp-learn audit --container web -
  dmesg | seccomp-learn audit --add-to p.json -o p2.json -
  seccomp-learn audit --follow --add-to p.json -o p2.json      # root; Ctrl-C ends the capture""",
        _audit_options, _audit),
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
    "push": Command(
        "Push a profile or a recording to a registry as an OCI artifact (what CRI-O and Kubernetes read).",
        """A profile goes in the runtime-spec form, as one layer under the config media type
application/vnd.cncf.seccomp-profile.config.v1+json; the same file always gets the same digest.
The pinned reference (REF@sha256:...) is printed on stdout. Uses skopeo and its credentials.

  seccomp-learn push --image app@sha256:... p.json registry.example.com/app/seccomp:v1
  seccomp-learn push --insecure run1.trace.json 127.0.0.1:5000/app/recordings:node1""",
        _push_options, _push),
    "pull": Command(
        "Pull a profile or a recording from a registry.",
        """The artifact's media type is checked, its layer verified by digest and read as a profile or a
recording before anything is written.

  seccomp-learn pull registry.example.com/app/seccomp:v1 -o p.json
  seccomp-learn pull --image-digest sha256:... registry.example.com/app/seccomp@sha256:... -o p.json""",
        _pull_options, _pull),
    "label": Command(
        "Build an image FROM IMAGE that carries PROFILE in its io.containers.seccomp.profile label.",
        """podman uses the label when the container is run with --seccomp-policy=image, so the profile
travels inside the image. The derived image's name is printed on stdout.

  seccomp-learn label localhost/app:1 app.json          # builds localhost/app:1-seccomp
  podman run --seccomp-policy=image localhost/app:1-seccomp""",
        _label_options, _label),
}
