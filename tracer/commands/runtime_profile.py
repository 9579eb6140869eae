"""`seccomp-learn runtime-profile`: what the installed runtime calls after loading a container's filter."""

from __future__ import annotations

import shlex

from tracer.commands.outcome import Outcome, deliver
from tracer.commands.typed_options import (
    option,
    output,
    repeated,
)
from tracer.fileio import json_text, read_json
from tracer.profile.extras import Runtime, measured_runtime
from tracer.runtime_needs.containers import Engine
from tracer.runtime_needs.measure import measure
from tracer.structs import Struct


class RuntimeProfileOptions(Struct, frozen=True):
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


def read_runtime_profile(path: str) -> Runtime:
    """The list `runtime-profile -o FILE` wrote, for `--runtime-profile FILE`."""
    doc = read_json(path, "runtime profile")
    return measured_runtime(doc, path)


def run_runtime_profile(o: RuntimeProfileOptions) -> Outcome:
    engine = Engine(o.runtime, tuple(shlex.split(o.engine_command or o.runtime)), o.run_flags)
    return deliver(json_text(measure(engine, o.runs, attach=o.attach).to_json()), o.output)
