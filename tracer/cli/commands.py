"""Every command: its help, and where its typed options and the library call that takes them are (its module)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tracer.structs import Struct

if TYPE_CHECKING:
    from tracer.commands.outcome import Outcome


class Command(Struct, frozen=True):
    """One subcommand: its line in `seccomp-learn --help`, its own help, and `load`: its typed options (which
    make its parser: tracer/cli/options.py) and its library call, which takes them, from the command's module,
    imported only for the command that runs."""

    summary: str
    description: str
    module: str  # in tracer/commands/
    options: str  # the typed options class there
    call: str  # the library function there that takes them
    usage: str | None = None  # after "seccomp-learn NAME" (argparse's own, unless the command takes COMMAND words)

    def load(self) -> tuple[type[Struct], Callable[[Any], Outcome]]:
        """The options class and the call, from the command's module (the only command module imported)."""
        module = importlib.import_module(f"tracer.commands.{self.module}")
        return getattr(module, self.options), getattr(module, self.call)


TRACED = "[OPTIONS] [--] COMMAND [ARG...]   (or --pid PID instead of COMMAND)"
COMMANDS: dict[str, Command] = {
    "run": Command(
        "Trace COMMAND and write the profile it needs (the default command).",
        """The command follows the options (or `--`), untouched. stdin/stdout/stderr pass through, and
seccomp-learn exits with the command's exit code (128+N if killed by signal N).

  seccomp-learn -o p.json -- python3 -c 'import json, sqlite3'
  seccomp-learn curl --version""",
        "learn", "RunOptions", "run_command", usage=TRACED),
    "record": Command(
        "Trace COMMAND and write only the recording.",
        """  seccomp-learn record -o run1.trace.json -- ./app
  seccomp-learn emit run1.trace.json -o profile.json""",
        "learn", "RecordOptions", "record_command", usage=TRACED),
    "emit": Command(
        "Write the profile for one or more recordings (several are merged first).",
        """  seccomp-learn emit run1.trace.json -o profile.json
  seccomp-learn emit --format kubernetes --runtime crun a.trace.json b.trace.json -o sp.yaml
  seccomp-learn emit --format kubernetes-oci registry.example.com/app/seccomp:v1""",
        "emit", "EmitCommandOptions", "emit_command"),
    "systemd-unit": Command(
        "Write the systemd drop-in for RECORDING(s) where `systemctl edit NAME` would.",
        """Writes /etc/systemd/system/NAME.service.d/seccomp-learn.conf (SystemCallFilter= and friends;
the file's comments say what systemd cannot express). Nothing else is written; `emit --format
systemd` prints the same drop-in without installing it.

  seccomp-learn record -o web.trace.json -- ./web --port 8080
  seccomp-learn systemd-unit web web.trace.json && systemctl daemon-reload && systemctl restart web""",
        "systemd_unit", "SystemdUnitOptions", "run_systemd_unit"),
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
        "diff", "DiffOptions", "run_diff"),
    "lint": Command(
        "Check seccomp profiles (Docker, OCI, SeccompProfile, systemd, firejail; ours or not) for mistakes.",
        """Prints `FILE: where: message [code] (what each engine does)` per finding: whether docker, podman,
runc and crun refuse such a profile, ignore the rule or load it, as measured in those engines; a
finding some engine refuses is marked `error:`. Exit 0: clean, 1: findings, 2: a file could not
be read or is not a valid profile.

  seccomp-learn lint profile.json /etc/docker/seccomp.json""",
        "lint", "LintOptions", "run_lint"),
    "report": Command(
        "Audit report of a recording (or a profile): blocks, fixes, provenance, risk, extras, hints.",
        """What the baseline blocks and what would fix it, every needed syscall with its provenance and risk,
the extras and argument rules, hints. On a terminal, text fits its width and Markdown is rendered;
files and pipes get them whole.

  seccomp-learn report app.trace.json > report.md
  seccomp-learn report --format json -o report.json app.trace.json""",
        "report", "ReportOptions", "run_report"),
    "merge": Command(
        "Merge recordings into one: the union per ABI and syscall, with provenance.",
        """Counts are kept per run, argument values are unioned, and every syscall keeps the runs and
executables that used it. Syscalls seen by only one of several runs are listed on stderr.

  seccomp-learn merge a.trace.json b.trace.json -o merged.trace.json
  seccomp-learn merge oci://registry.example.com/app/recordings:node1 oci://...:node2 -o merged.trace.json""",
        "merge", "MergeOptions", "run_merge"),
    "ci": Command(
        "Run the workloads in the config, merge per profile, and write (or --check) the profiles.",
        """  seccomp-learn ci                 # regenerate profiles, recordings and reports
  seccomp-learn ci --check         # in CI: fail when a profile is out of date
  seccomp-learn ci --check --incremental   # fast: does the app need anything new?""",
        "ci", "CiOptions", "run_ci"),
    "verify": Command(
        "Run COMMAND under PROFILE, enforced by the kernel, and name every call it denies.",
        """Exits 1 when anything was denied (even if the workload coped), otherwise with the workload's
own exit code (0 when seccomp-learn stopped it as planned, as `run` does). A call the
profile kills ends its task with SIGSYS ("Bad system call"), as under the profile alone.
Options come before PROFILE; the words after it are the command's.

  seccomp-learn verify p.json -- python3 -c 'import json'
  seccomp-learn verify --complain --add-missing p2.json p.json -- ./app""",
        "verify", "VerifyOptions", "run_verify", usage="[OPTIONS] PROFILE [--] COMMAND [ARG...]"),
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
        "audit", "AuditOptions", "run_audit"),
    "container": Command(
        "Run `docker run ...` or `podman run ...` under seccomp-learn-runtime and write the container's profile.",
        """The container runs from its own image, with the engine's settings; the profile holds what it
called plus what the runtime runs after loading the filter. Exits with the container's exit code.

  seccomp-learn container -o web.json -- docker run --rm IMAGE CMD
  seccomp-learn container --wrapper /usr/local/bin/seccomp-learn-runtime -- podman run --rm IMAGE""",
        "container", "ContainerOptions", "container_command", usage="[OPTIONS] [--] docker|podman run ..."),
    "runtime-profile": Command(
        "Measure what the installed RUNTIME calls after loading a container's seccomp filter.",
        """Writes JSON with the versions, the names it needs on every start, those it sometimes makes,
and the values it passes to argument-ruled names: what tracer/profile/extras.py holds per runtime.
Needs root (the kernel's audit records) and strace (argument values).

  seccomp-learn runtime-profile --runtime runc""",
        "runtime_profile", "RuntimeProfileOptions", "run_runtime_profile"),
    "push": Command(
        "Push a profile or a recording to a registry as an OCI artifact (what CRI-O and Kubernetes read).",
        """A profile goes in the runtime-spec form, as one layer under the config media type
application/vnd.cncf.seccomp-profile.config.v1+json; the same file always gets the same digest.
The pinned reference (REF@sha256:...) is printed on stdout. Uses skopeo and its credentials.

  seccomp-learn push --image app@sha256:... p.json registry.example.com/app/seccomp:v1
  seccomp-learn push --insecure run1.trace.json 127.0.0.1:5000/app/recordings:node1""",
        "distribute", "PushOptions", "run_push"),
    "pull": Command(
        "Pull a profile or a recording from a registry.",
        """The artifact's media type is checked, its layer verified by digest and read as a profile or a
recording before anything is written.

  seccomp-learn pull registry.example.com/app/seccomp:v1 -o p.json
  seccomp-learn pull --image-digest sha256:... registry.example.com/app/seccomp@sha256:... -o p.json""",
        "distribute", "PullOptions", "run_pull"),
    "label": Command(
        "Build an image FROM IMAGE that carries PROFILE in its io.containers.seccomp.profile label.",
        """podman uses the label when the container is run with --seccomp-policy=image, so the profile
travels inside the image. The derived image's name is printed on stdout.

  seccomp-learn label localhost/app:1 app.json          # builds localhost/app:1-seccomp
  podman run --seccomp-policy=image localhost/app:1-seccomp""",
        "distribute", "LabelOptions", "run_label"),
}
