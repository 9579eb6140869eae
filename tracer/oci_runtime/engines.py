"""What `seccomp-learn container` knows of the engines' command lines: where to add the wrapper to a
`docker run` or `podman run`, where Docker keeps it registered, how to wait for a detached container.

Docker selects a runtime by name (`--runtime NAME`), which must be registered in the daemon
(`daemon.json` `runtimes`, or `dockerd --add-runtime`); podman takes the runtime's path per run
(`--runtime PATH`) and passes the wrapper's settings with `--runtime-flag`. The engine command is
found in the argument list by its program name, so a prefix (sudo, unshare, ...) is kept as given.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence

from tracer.errors import UserError
from tracer.oci_runtime.cmdline import DEFAULT_DIR
from tracer.record import Record

ENGINES = ("docker", "podman")
DOCKER_RUNTIME = "seccomp-learn"
WRAPPER = "seccomp-learn-runtime"
QUERY_TIMEOUT = 60
RECORDING_WAIT = 60  # seconds to wait for the recording once the container has exited
DAEMON_JSON = "/etc/docker/daemon.json"


class EngineRun(Record, frozen=True):
    """An engine's `run` command line, split where flags are added."""

    engine: str  # docker | podman
    argv: list[str]
    run: int  # index of its `run` subcommand

    @property
    def client(self) -> list[str]:
        """The engine's program with its global options (-H, --root, ...), for other subcommands."""
        return self.argv[:self.run]

    @property
    def run_args(self) -> list[str]:
        return self.argv[self.run + 1:]

    @property
    def detached(self) -> bool:
        options = self.run_args[:next((i for i, a in enumerate(self.run_args) if not a.startswith("-")),
                                      len(self.run_args))]
        return any(a in ("-d", "--detach", "--detach=true") for a in options)


def engine_run(argv: Sequence[str]) -> EngineRun:
    for i, arg in enumerate(argv):
        if os.path.basename(arg) in ENGINES:
            run = next((j for j in range(i + 1, len(argv)) if argv[j] == "run"), None)
            if run is not None:
                return EngineRun(os.path.basename(arg), list(argv), run)
    raise UserError("give the engine's run command after `--`, e.g. `seccomp-learn container -- docker run IMAGE`")


def _option_value(args: Sequence[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    return None


def docker_learn_dir(run: EngineRun, runtime_name: str, wrapper: str, learn_dir: str | None) -> str:
    """The learn directory of Docker's registered wrapper runtime; a one-line fix when it is not registered."""
    query = subprocess.run([*run.client, "info", "--format", "{{json .Runtimes}}"], capture_output=True, text=True,
                           timeout=QUERY_TIMEOUT, stdin=subprocess.DEVNULL)
    if query.returncode != 0:
        raise UserError(f"`docker info` failed: {' '.join(query.stderr.split())[:300]}")
    runtimes = json.loads(query.stdout or "{}") or {}
    entry = runtimes.get(runtime_name)
    if not isinstance(entry, dict):
        snippet = json.dumps({"runtimes": {runtime_name: {"path": wrapper,
                                                          "runtimeArgs": ["--learn-dir", learn_dir or DEFAULT_DIR]}}})
        raise UserError(f"Docker has no runtime {runtime_name!r}: add to {DAEMON_JSON} and restart dockerd: {snippet}")
    configured = _option_value(entry.get("runtimeArgs") or [], "--learn-dir")
    return learn_dir or configured or DEFAULT_DIR


def podman_runtime(run: EngineRun) -> str:
    """The OCI runtime podman would use (the wrapper delegates to it)."""
    query = subprocess.run([*run.client, "info", "--format", "{{.Host.OCIRuntime.Path}}"], capture_output=True,
                           text=True, timeout=QUERY_TIMEOUT, stdin=subprocess.DEVNULL)
    if query.returncode != 0 or not query.stdout.strip():
        raise UserError(f"`podman info` failed: {' '.join(query.stderr.split())[:300]}")
    return query.stdout.strip()


def learning_command(run: EngineRun, cidfile: str, wrapper: str, learn_dir: str, runtime_name: str) -> list[str]:
    """The engine's command with the wrapper selected and seccomp unconfined (unless a profile was given)."""
    if run.engine == "podman":
        chosen = _option_value(run.run_args, "--runtime")
        if chosen is not None and os.path.realpath(chosen) != os.path.realpath(wrapper):
            raise UserError(f"this run already selects --runtime {chosen}; use --runtime {wrapper}")
        added = ["--runtime", wrapper]
        client = [*run.client, "--runtime-flag", f"learn-dir={learn_dir}",
                  "--runtime-flag", f"learn-runtime={podman_runtime(run)}"]
    else:
        added = ["--runtime", runtime_name]
        client = run.client
    if not any("seccomp=" in a for a in run.run_args):  # --security-opt seccomp=X or --security-opt=seccomp=X
        added += ["--security-opt", "seccomp=unconfined"]
    return [*client, "run", *added, "--cidfile", cidfile, *run.run_args]


def wait_detached(run: EngineRun, container_id: str) -> int:
    """A detached container: wait until it stops (its exit code, as `docker wait` prints it)."""
    done = subprocess.run([*run.client, "wait", container_id], capture_output=True, text=True)
    try:
        return int(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return done.returncode
