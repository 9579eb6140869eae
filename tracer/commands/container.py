"""`seccomp-learn container -- docker run ...`: run the engine's command with the wrapper selected, wait for
the container, and write the profile it needs; or say in one line how to configure the engine."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tracer.commands.emit import emit_summary
from tracer.commands.outcome import Outcome, deliver
from tracer.commands.typed_options import (
    EmitFlags,
    NameFlags,
    QuietOptions,
    command_words,
    group,
    option,
    profile_format,
    profile_output,
    quiet,
)
from tracer.enforce import export
from tracer.errors import UserError
from tracer.fileio import check_output
from tracer.profile import formats
from tracer.profile.policy import EmitOptions, emit
from tracer.recording import schema as rec_io
from tracer.runtime_wrapper.cmdline import DEFAULT_DIR
from tracer.runtime_wrapper.engines import (
    RECORDING_WAIT,
    WRAPPER,
    docker_learn_dir,
    engine_run,
    learning_command,
    wait_detached,
)
from tracer.runtime_wrapper.learndir import LearnDir
from tracer.structs import replace


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


def run_container(argv: Sequence[str], output: str, eopts: EmitOptions, fmt: str, learn_dir: str | None,
                    runtime_name: str, wrapper: str | None, name: str | None = None,
                    namespace: str | None = None) -> Outcome:
    """Run the container under the wrapper, wait for it, and write its profile to output (checked first)."""
    formats.check(fmt, name, namespace)
    check_output(output)
    run = engine_run(argv)
    wrapper_path = wrapper or shutil.which(WRAPPER) or WRAPPER
    if run.engine == "docker":
        directory = docker_learn_dir(run, runtime_name, wrapper_path, learn_dir)
    else:
        directory = learn_dir or DEFAULT_DIR
    with tempfile.TemporaryDirectory(prefix="seccomp-learn-") as tmp:
        cidfile = os.path.join(tmp, "cid")
        code = subprocess.run(learning_command(run, cidfile, wrapper_path, directory, runtime_name)).returncode
        if not os.path.exists(cidfile):
            raise UserError(f"the {run.engine} run did not create a container", exit_code=code or 2)
        container_id = Path(cidfile).read_text().strip()
    if run.detached:
        code = wait_detached(run, container_id)
    learned = LearnDir(directory, create=False)
    learned.wait_idle(container_id, RECORDING_WAIT)
    path = learned.recording_path(container_id)
    if not os.path.exists(path):
        raise UserError(f"no recording was written for container {container_id[:12]} (see the engine's log)", path)
    rec = rec_io.load(path)
    if eopts.runtime == "docker" and run.engine == "podman":
        eopts = replace(eopts, runtime="podman")  # podman's runtime list, not Docker's, for what it started
    emitted = emit(rec, eopts)
    written = deliver(export.render(fmt, emitted.profile, rec, name, namespace), output, notes=[f"recorded {path}"],
                      written=lambda line: emit_summary(emitted, rec, line))
    return Outcome(code, written.summary, written.stdout)


def container_command(o: ContainerOptions) -> Outcome:
    """`seccomp-learn container`: the profile (default output for --format) of the container o.command runs."""
    from tracer.commands.emit import emit_options_from
    return run_container(o.command, o.output or formats.default_output(o.fmt), emit_options_from(o.emit, o.fmt),
                         o.fmt, o.learn_dir, o.runtime_name, o.wrapper, o.names.name, o.names.namespace)
