"""Trace the real runtime from its start and turn what ran into the container's recording.

As root (always, under dockerd, containerd and rootful podman) the ebpf backend records: its programs
are loaded before the runtime starts (`ebpf_recorder`), follow the runtime's forks into the new
namespaces and count a task's calls only once its seccomp mode is set (Recorder's seccomp_gate). The
runtime sets it when it loads the container's own filter (filter.py: unchanged, or an allow-all one
for an unconfined container) right before the container's exec, so the runtime's own set-up (mounts,
pivot_root, unshare, ...) is not recorded, nothing in the container is ptraced or stopped, and a
container may ptrace (strace, gdb) itself. Exit statuses come from the kernel's exit event.

The fallback (--learn-backend ptrace, or where BPF cannot be loaded) is the ptrace backend: the
tracer seizes the runtime before it execs and installs no filter of its own; until the runtime loads
the container's rewritten filter (filter.py) nothing stops. From that load on, every allowed call of
the runtime's init and of everything the entrypoint starts is one seccomp stop. ptrace's auto-attach
follows the runtime's clones.

`create`, `run --detach` and `exec --detach` return while the container keeps running, so there a
detached tracer process holds the trace: the wrapper forks it, it starts the runtime as its traced
child, tells the wrapper the runtime's exit code (which the wrapper exits with), and keeps tracing
until the container's last task has exited. It gives up its copies of the engine's stdio as soon as
the runtime holds them, so the engine's pipes close when the container's processes end.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn

from tracer.capture.backend_names import EBPF, PTRACE
from tracer.capture.state import TraceOptions, TraceResult
from tracer.errors import UserError
from tracer.kernel.wait_status import exit_code_of
from tracer.recording.schema import Container, OciRuntime, Recording
from tracer.runtime_wrapper.cmdline import Invocation
from tracer.runtime_wrapper.learndir import LearnDir, file_stem
from tracer.runtime_wrapper.privatebundle import PrivateBundle
from tracer.runtime_wrapper.runtimelog import note
from tracer.structs import Struct, field, replace

if TYPE_CHECKING:
    from tracer.capture.backends.ebpf import Recorder

STATE_TIMEOUT = 10  # seconds for a `runtime state` query


class TracingImpossible(UserError):
    """The runtime could not be started under the tracer (it never ran): nothing was changed by running it."""


class Plan(Struct):
    """Everything needed to run and record one create/run/exec."""

    inv: Invocation
    runtime: str  # the real runtime's path
    runtime_version: str
    learn: LearnDir
    container: Container
    active_fd: int  # the container's shared 'recording' lock, held while tracing
    private: PrivateBundle | None = None  # the runtime's bundle (create and run), removed when tracing ends
    recorder: Recorder | None = None  # the loaded eBPF programs that record (None: ptrace)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def finish(self) -> None:
        """The tracer's end: the BPF programs unloaded, the runtime's bundle removed, the container's lock let go."""
        if self.recorder is not None:
            self.recorder.close()
        if self.private is not None:
            self.private.remove()
        self.learn.release(self.container.id, self.active_fd)

    @property
    def argv(self) -> list[str]:
        return [self.runtime, *self.inv.forwarded]

    @property
    def run_id(self) -> str:
        kind = "" if self.inv.command != "exec" else "exec-"
        return f"{file_stem(self.container.id)[:64]}-{kind}{self.started.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"


def ebpf_recorder(inv: Invocation) -> Recorder | None:
    """The eBPF programs that will record the container, loaded now (before its bundle is written, which
    depends on the backend), or None for ptrace: `auto` falls back to it where BPF cannot be loaded."""
    if inv.backend == PTRACE:
        return None
    from tracer.capture.backends.ebpf import Recorder
    from tracer.kernel.procfs import status_field
    try:
        if status_field("self", "Seccomp") != 0:  # the runtime's set-up would have a seccomp mode too
            raise UserError("the wrapper already runs under a seccomp filter: the kernel cannot tell the "
                            "container's calls from the runtime's set-up")
        return Recorder(seccomp_gate=True)
    except UserError as exc:
        if inv.backend == EBPF:
            raise UserError(str(exc), "--learn-backend ebpf") from None
        note(inv, "info", f"recording with ptrace: {exc}")
        return None


def runtime_labels(rec: Recording, runtime: str) -> set[str]:
    """The executables under which the runtime's own tasks were recorded.

    Its init runs from a sealed memfd copy of the runtime (runc >= 1.1, crun), which /proc shows as "/"
    once the task is in the container's mount namespace (measured: runc 1.1.5, crun 1.8.1), as
    "/memfd:..." before; a runtime without that protection shows its own path.
    """
    own = os.path.realpath(runtime)
    seen = {e for table in rec.abis.values() for stats in table.values() for e in stats.executables}
    return {e for e in seen if e == "/" or e.startswith("/memfd:") or e.removesuffix(" (deleted)") == own}


def exit_json(status: int) -> dict[str, object]:
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        return {"signal": signum, "name": signal.Signals(signum).name}
    return {"code": exit_code_of(status)}


def container_recording(result: TraceResult, plan: Plan, status: int | None) -> Recording | None:
    """The recording of the container (None when its entrypoint never ran): its own calls and the
    runtime's after the filter was loaded, told apart by executable, and who ran, with what."""
    rec = result.recording
    labels = runtime_labels(rec, plan.runtime)
    if not any(stats.executables - labels for table in rec.abis.values() for stats in table.values()):
        return None
    traced = rec.runs[-1]
    reasons = [traced.partial_reason] if traced.partial_reason else []
    ended = traced.exit if status is None else exit_json(status)
    if status is not None and os.WIFSIGNALED(status):
        reasons.append(f"the container's process was killed by {ended['name']} (docker stop, podman stop "
                       "or a runtime kill): what it would have done later is not recorded")
    only_runtime = {abi: sorted(k for k, s in table.items() if s.executables <= labels)
                    for abi, table in sorted(rec.abis.items())}
    run = replace(traced, command=plan.container.entrypoint or traced.command, exit=ended, partial=bool(reasons),
                  partial_reason="; ".join(reasons) or None, container=plan.container, oci_command=plan.inv.command,
                  runtime=OciRuntime(plan.runtime, plan.runtime_version, sorted(labels),
                                     {abi: names for abi, names in only_runtime.items() if names}))
    return Recording(rec.tool, [*rec.runs[:-1], run], rec.abis)


def _options(plan: Plan, on_exit: Callable[[int, int], None] | None,
             announce: Callable[[], None] | None) -> TraceOptions:
    """No filter of our own: the runtime loads the container's (ebpf) or the recording filter (ptrace) itself."""
    return TraceOptions(run_id=plan.run_id, backend=PTRACE if plan.recorder is None else EBPF, filters=(),
                        pre_exec=announce, on_exit=on_exit)


def _trace(plan: Plan, opts: TraceOptions) -> TraceResult:
    """Run the runtime under the plan's backend until the container's last task has exited."""
    if plan.recorder is None:
        from tracer.capture.choice import trace
        return trace(plan.argv, opts)
    from tracer.capture.backends.ebpf import trace_ebpf
    return trace_ebpf(plan.argv, opts, plan.recorder)


def _save(plan: Plan, result: TraceResult, status: int | None) -> str | None:
    rec = container_recording(result, plan, status)
    if rec is None:
        return None
    path = plan.learn.add(plan.container.id, rec)
    if plan.inv.learn_push:
        from tracer.runtime_wrapper.push import push_learned
        push_learned(plan.inv, path, plan.container)
    return path


def record_foreground(plan: Plan) -> int:
    """`run` or `exec` without --detach: trace here, write the recording, exit as the runtime did."""
    try:
        try:
            result = _trace(plan, _options(plan, None, None))
        except UserError as exc:  # raised only before the runtime's exec: resolving, seizing
            raise TracingImpossible(str(exc)) from None
        try:
            written = _save(plan, result, None)
            note(plan.inv, "info", f"wrote {written}" if written else "the container's entrypoint never ran: "
                 "nothing recorded")
        except UserError as exc:  # the container has run: keep its exit code, say why nothing was written
            note(plan.inv, "error", f"the recording was not written: {exc}")
        return result.exit_code
    finally:
        plan.finish()


def record_detached(plan: Plan, inherited: list[int]) -> int:
    """Fork a detached tracer that runs the runtime; return the runtime's exit code when it exits."""
    try:
        read_end, write_end = os.pipe()
        child = os.fork()
    except OSError:
        plan.finish()
        raise
    if child == 0:
        try:
            os.close(read_end)
            os.setsid()
            if os.fork() == 0:
                _tracer(plan, write_end, inherited)
        finally:
            os._exit(0)
    os.close(write_end)
    os.close(plan.active_fd)  # the tracer holds its own copies of the lock, the runtime's bundle, the BPF programs
    if plan.private is not None:
        plan.private.close()
    if plan.recorder is not None:
        plan.recorder.close()
    os.waitpid(child, 0)
    with os.fdopen(read_end, "rb") as reply:
        answer = reply.read().decode(errors="replace").strip()
    kind, _, value = answer.partition(" ")
    if kind == "exit" and value.isdigit():
        return int(value)
    if kind == "error":
        raise TracingImpossible(value)
    raise UserError(f"the tracer ended before `{plan.inv.command}` did")


def _tracer(plan: Plan, report_fd: int, inherited: list[int]) -> NoReturn:
    """The detached tracer: run the runtime traced, report its exit code, trace until the container is gone."""
    pid_pipe: list[int] = []  # (read, write): the runtime's pid, told by the runtime itself
    runtime_pid: list[int] = []
    statuses: dict[int, int] = {}
    watched: list[int] = []  # the container process whose exit status the recording gives
    reported: list[bool] = []  # the exit code went to the wrapper (report_fd closed then, or at the end on a failure)

    def announce() -> None:  # in the runtime's process, after it is seized and before it execs
        os.write(pid_pipe[1], str(os.getpid()).encode())

    def drop_stdio() -> None:  # once the runtime holds the engine's descriptors, let ours go
        data = os.read(pid_pipe[0], 32)
        if data.isdigit():
            runtime_pid.append(int(data))
        null = os.open(os.devnull, os.O_RDWR)
        for fd in inherited:
            with contextlib.suppress(OSError):
                os.dup2(null, fd) if fd <= 2 else os.close(fd)
        os.close(null)
        os.chdir("/")  # never keep the bundle (or a mount in it) busy

    def on_exit(pid: int, status: int) -> None:
        statuses[pid] = status
        if runtime_pid and pid == runtime_pid[0]:
            code = exit_code_of(status)
            os.write(report_fd, f"exit {code}".encode())
            if code == 0:  # else the wrapper returns once this tracer has let go of the container's files
                os.close(report_fd)
            reported.append(True)
            watched.extend(container_pid(plan))

    status = 1
    try:
        pid_pipe.extend(os.pipe2(os.O_CLOEXEC))
        threading.Thread(target=drop_stdio, daemon=True).start()
        result = _trace(plan, _options(plan, on_exit, announce))
        written = _save(plan, result, statuses.get(watched[0]) if watched else None)
        note(plan.inv, "info", f"wrote {written}" if written else "the container's entrypoint never ran: "
             "nothing recorded")
        status = 0
    except (UserError, OSError) as exc:  # before the runtime ran (EMFILE, ptrace refused), or its recording
        message = str(exc) if isinstance(exc, UserError) else f"the tracer failed: {exc.strerror}"
        if reported:  # the container has run: the wrapper has exited with its code
            note(plan.inv, "error", f"the recording was not written: {message}")
        else:  # the wrapper says it
            with contextlib.suppress(OSError):
                os.write(report_fd, f"error {' '.join(message.split())}".encode())
    except BaseException as exc:  # the tracer is detached: the runtime's log is the only place to say why
        note(plan.inv, "error", f"the tracer failed: {type(exc).__name__}: {exc}")
    finally:
        plan.finish()
    os._exit(status)


def container_pid(plan: Plan) -> list[int]:
    """The pid of the process create/run -d/exec -d started: its --pid-file, else `runtime state`."""
    pid_file = plan.inv.flag("pid-file")
    try:
        if pid_file:
            with open(pid_file) as f:
                return [int(f.read().strip())]
        if plan.inv.command != "exec":
            state = subprocess.run([plan.runtime, *plan.inv.global_flags, "state", plan.container.id],
                                   capture_output=True, timeout=STATE_TIMEOUT, check=True)
            return [int(json.loads(state.stdout)["pid"])]
    except (OSError, ValueError, KeyError, TypeError, subprocess.SubprocessError):
        pass
    return []
