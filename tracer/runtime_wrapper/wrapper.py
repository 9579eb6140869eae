"""`seccomp-learn-runtime`: an OCI runtime with runc's command line that records what containers do.

Every command goes to the real runtime (runc, or --learn-runtime / SECCOMP_LEARN_RUNTIME). `create`,
`run` and `exec` of a learning container are traced (recorder.py) and recorded into the learn
directory; `delete` waits until the container's recording is written; the rest is exec'd as it is.
The user's bundle is only read: the runtime gets a private copy (privatebundle.py). When recording is
impossible the command fails with one line naming the problem before anything starts, or, with
--learn-optional, runs untouched; the container's own seccomp profile is never dropped.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, NoReturn

from tracer.errors import UserError
from tracer.runtime_wrapper import remembered
from tracer.runtime_wrapper.cmdline import ENV_RUNTIME, LEARNING, Invocation, parse, with_bundle
from tracer.runtime_wrapper.learndir import LearnDir
from tracer.runtime_wrapper.runtimelog import note
from tracer.structs import replace

if TYPE_CHECKING:  # the tracer, even subprocess, only for the commands that need them: the others exec at once
    from tracer.runtime_wrapper.recorder import Plan
WRAPPED = "SECCOMP_LEARN_WRAPPED"  # set for the real runtime: a runtime that is the wrapper again is refused
VERSION_TIMEOUT = 10
DELETE_WAIT = 30  # seconds `delete` waits for the container's recording to be written


def main(argv: list[str] | None = None) -> NoReturn:
    inherited = open_descriptors()  # the engine's: what a detached tracer must let go of
    args = sys.argv[1:] if argv is None else argv
    inv: Invocation | None = None
    try:
        inv = with_remembered(parse(args, os.environ))
        if os.environ.get(WRAPPED):
            raise UserError(f"the runtime to delegate to is {sys.argv[0]} itself (set --learn-runtime or "
                            f"{ENV_RUNTIME} to runc or crun)")
        runtime = resolve_runtime(inv.runtime)
        os.environ[WRAPPED] = "1"
        if inv.command == "delete":
            sys.exit(delete(inv, runtime))
        if inv.command in LEARNING:
            code = learn(inv, runtime, inherited)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)  # everything is closed: the engine waits while the interpreter would unload the tracer
        exec_runtime(runtime, inv)
    except UserError as exc:
        fail(inv, str(exc))
    except OSError as exc:  # no descriptor, no memory, no space left before the container started
        fail(inv, f"cannot run: {exc.strerror or exc}")


def with_remembered(inv: Invocation) -> Invocation:
    """A command that names no settings, for a container created by the wrapper, gets the create's."""
    if inv.explicit or inv.command is None:
        return inv
    command_args = list(inv.forwarded[inv.forwarded.index(inv.command) + 1:])
    container_id = inv.args.positionals[0] if inv.command == "exec" and inv.args.positionals else \
        remembered.container_of(inv.command, command_args)
    settings = remembered.recall(container_id) if container_id else None
    return inv if settings is None else replace(inv, runtime=settings.runtime, learn_dir=settings.learn_dir)


def open_descriptors() -> list[int]:
    """The descriptors open now (without the one listing /proc/self/fd used, closed when it returns)."""
    listed = [int(fd) for fd in os.listdir("/proc/self/fd") if fd.isdigit()]
    return [fd for fd in listed if _is_open(fd)]


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def fail(inv: Invocation | None, message: str) -> NoReturn:
    if inv is None:
        print(f"seccomp-learn-runtime: {' '.join(message.split())}", file=sys.stderr)
    else:
        note(inv, "error", message)
    sys.exit(2)


def resolve_runtime(name: str) -> str:
    """The real runtime's path: a missing or non-executable one fails every command (no container can start)."""
    import shutil
    path = shutil.which(name) if "/" not in name else name
    if path is None or not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise UserError(f"the OCI runtime {name!r} is not an executable file (set --learn-runtime or {ENV_RUNTIME})")
    return path


def exec_runtime(runtime: str, inv: Invocation) -> NoReturn:
    try:
        os.execv(runtime, [runtime, *inv.forwarded])
    except OSError as exc:
        raise UserError(f"cannot run the OCI runtime: {exc.strerror}", runtime) from None


def runtime_version(runtime: str) -> str:
    """The runtime's first `--version` line (asked once per binary: remembered.binary_key); a runtime that
    cannot answer it is broken."""
    try:
        key = remembered.binary_key(runtime)
    except OSError as exc:
        raise UserError(f"the OCI runtime does not run: {exc.strerror}", runtime) from None
    version = remembered.cached_version(key)
    if version is None:
        version = _ask_version(runtime)
        remembered.cache_version(key, version)
    return version


def _ask_version(runtime: str) -> str:
    import subprocess

    from tracer.runtime_wrapper.bundle import clean
    try:
        done = subprocess.run([runtime, "--version"], capture_output=True, text=True, timeout=VERSION_TIMEOUT,
                              stdin=subprocess.DEVNULL, errors="replace")
    except (OSError, subprocess.SubprocessError) as exc:
        raise UserError(f"the OCI runtime does not run: {exc}", runtime) from None
    first = (done.stdout.strip().splitlines() or [""])[0]
    if done.returncode != 0 or not first:
        raise UserError(f"the OCI runtime is broken: `--version` exited {done.returncode}", runtime)
    return clean(first) or ""


def delete(inv: Invocation, runtime: str) -> int:
    """Delete, and wait (bounded) until the container's tracers have written its recording. A container
    the wrapper holds nothing for (no tracer, no remembered settings: a second `delete --force`, one
    that never learned) is deleted by the runtime itself, exec'd."""
    import subprocess
    container_id = remembered.container_of(inv.command, list(inv.forwarded[inv.forwarded.index("delete") + 1:]))
    learn_dir = _learn_dir(inv)
    if container_id is None or not (remembered.known(container_id) or
                                    (learn_dir is not None and learn_dir.has_active(container_id))):
        exec_runtime(runtime, inv)
    deleting = subprocess.Popen([runtime, *inv.forwarded])  # while the tracers write the recording
    if learn_dir is not None and not learn_dir.wait_idle(container_id, DELETE_WAIT):
        note(inv, "warning", f"the recording of {container_id} was still not written after {DELETE_WAIT}s")
    code = deleting.wait()
    if code == 0:
        remembered.forget(container_id)
    return code


def _learn_dir(inv: Invocation) -> LearnDir | None:
    try:
        return LearnDir(inv.learn_dir, create=False)
    except (UserError, OSError):
        return None


def learn(inv: Invocation, runtime: str, inherited: list[int]) -> int:
    from tracer.runtime_wrapper.recorder import TracingImpossible, record_detached, record_foreground

    version = runtime_version(runtime)
    try:
        plan = prepare(inv, runtime, version)
    except UserError as problem:
        if not inv.optional:
            raise
        note(inv, "warning", f"not recording (--learn-optional): {problem}")
        plan = None
    if plan is not None:
        try:
            code = record_detached(plan, inherited) if inv.detaches else record_foreground(plan)
        except TracingImpossible as problem:
            if not inv.optional:
                raise
            note(inv, "warning", f"not recording (--learn-optional): {problem}")
        else:
            if code == 0 and inv.command != "exec" and (inv.detaches or "keep" in inv.args.booleans):
                try:  # a container is left for later commands
                    remembered.remember(inv.args.container_id, remembered.Settings(runtime, inv.learn_dir))
                except UserError as exc:
                    note(inv, "warning", f"later commands will not find this container's settings: {exc}")
            return code
    exec_runtime(runtime, inv)


def prepare(inv: Invocation, runtime: str, version: str) -> Plan | None:
    """Everything that can make recording impossible, checked before anything runs; no plan when there
    is nothing to record (a pod's sandbox, an exec in a container that is not learning)."""
    from pathlib import Path

    from tracer.recording.schema import Container
    from tracer.runtime_wrapper import bundle as bundles
    from tracer.runtime_wrapper import privatebundle
    from tracer.runtime_wrapper.filter import with_filter
    from tracer.runtime_wrapper.learndir import file_stem
    from tracer.runtime_wrapper.recorder import Plan, ebpf_recorder
    container_id = inv.args.container_id
    if inv.command == "exec":
        learn_dir = LearnDir(inv.learn_dir)
        if not learn_dir.is_active(container_id):
            return None
        container = Container(container_id, entrypoint=_exec_args(inv))
        recorder = ebpf_recorder(inv)
        return Plan(inv, runtime, version, learn_dir, container, learn_dir.hold_active(container_id),
                    recorder=recorder)
    bundle = bundles.open_bundle(inv.flag("bundle", "b") or ".")
    try:
        config = bundles.load_config(bundle, inv.flag("config", "f"))
        anchored = bundles.anchored(config, bundle)
    finally:
        os.close(bundle.fd)
    if bundles.is_sandbox(config):
        return None
    container = bundles.describe(container_id, Path(bundle.real), config)
    learn_dir = LearnDir(inv.learn_dir)
    learn_dir.check_writable(container_id)
    recorder = ebpf_recorder(inv)
    try:
        recording_config = with_filter(anchored, ebpf=recorder is not None)
        active = learn_dir.hold_active(container_id)
    except BaseException:
        if recorder is not None:
            recorder.close()
        raise
    try:
        private = privatebundle.make(remembered.state_dir(), file_stem(container_id), recording_config)
    except BaseException:
        learn_dir.release(container_id, active)
        if recorder is not None:
            recorder.close()
        raise
    return Plan(replace(inv, forwarded=with_bundle(inv, private.path)), runtime, version, learn_dir, container,
                active, private, recorder)


def _exec_args(inv: Invocation) -> list[str]:
    from tracer.runtime_wrapper import bundle as bundles
    process_file = inv.flag("process", "p")
    if process_file:
        with contextlib.suppress(UserError):
            return bundles.entrypoint(bundles.read_json(process_file))
        return []
    return bundles.entrypoint({"args": list(inv.args.positionals[1:])})
