"""One `ci` run: trace() with a timeout, a learning duration, a stop signal and a driver command.

trace() blocks the main thread (it must: it owns the ptrace relationship and the signal
handlers), so a monitor thread does the timing. It finds the workload's root pid among the main
thread's children (/proc/self/task/<pid>/children), and then:

- `duration`: sends `stop_signal` to the root process after that many seconds;
- `during`: starts the driver command once the workload runs; when the driver ends, sends
  `stop_signal` to the root process;
- `timeout` (and a workload that ignores the stop signal for GRACE_S): stops everything through
  trace()'s own signal forwarding (SIGINT then SIGTERM to the main thread: the first is forwarded
  to the workload, the second SIGKILLs every traced task) and fails the run.

The driver is not our child: trace() waits for any child (waitpid(-1, __WALL)) and would reap
it, losing its exit status and counting it as a traced task. It runs under a small supervisor
process (this module's __main__) that stays alive until trace() has returned and reports the
driver's exit status on a pipe.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .ci_config import RunSpec
from .errors import UserError
from .trace import TraceOptions, TraceResult, trace

GRACE_S = 10.0  # how long a workload may take to exit after its stop signal
POLL_S = 0.02


@dataclass
class RunResult:
    result: TraceResult | None
    failure: str | None  # None: the run did what the config expects
    elapsed: float


def _children(pid: int) -> set[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return {int(p) for p in f.read().split()}
    except FileNotFoundError:  # kernel without CONFIG_PROC_CHILDREN: scan every process
        pass
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.add(int(entry))
    return out


def describe_exit(code: int) -> str:
    if code > 128 and code - 128 < signal.NSIG:
        try:
            return f"{code} ({signal.Signals(code - 128).name})"
        except ValueError:
            pass
    return str(code)


class _Driver:
    """The `during` command, run by a supervisor process that is not reaped by trace()."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str) -> None:
        self.result_r, result_w = os.pipe()
        spec = json.dumps({"argv": argv, "cwd": cwd, "fd": result_w})
        package_parent = str(Path(__file__).resolve().parent.parent)  # so that -m tracer.runner imports
        self.proc = subprocess.Popen([sys.executable, "-m", "tracer.runner", spec], stdin=subprocess.PIPE,
                                     stdout=2, env=env, pass_fds=(result_w,), cwd=package_parent)
        os.close(result_w)
        self.exit: int | None = None
        self.failed_to_start: str | None = None

    def start(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):
            self.proc.stdin.write(b"g")
            self.proc.stdin.flush()

    def poll(self) -> bool:
        """True once the driver has ended (its status is then in self.exit)."""
        if self.exit is not None:
            return True
        ready, _, _ = select.select([self.result_r], [], [], 0)
        if not ready:
            return False
        data = os.read(self.result_r, 4096).decode()
        if data.startswith("error "):
            self.failed_to_start = data[6:].strip()
            self.exit = 127
        else:
            self.exit = int(data) if data.strip() else -1
        return True

    def release(self) -> None:
        """Stop the driver if it still runs, and let the supervisor exit; reap it."""
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=GRACE_S + 5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.poll()
        os.close(self.result_r)


def execute(spec: RunSpec, run_id: str, base: Path, progress: Callable[[float], None] | None = None) -> RunResult:
    """Trace one configured run; never raises for the workload's own failures (they are in .failure)."""
    env = {**os.environ, **spec.env}
    cwd = str(spec.cwd or base)
    if not os.path.isdir(cwd):
        return RunResult(None, f"cwd {cwd} is not a directory", 0.0)
    driver = _Driver(spec.during, env, cwd) if spec.during else None
    me = os.getpid()
    before = _children(me)
    done = threading.Event()
    state: dict[str, object] = {}
    main_ident = threading.main_thread().ident
    assert main_ident is not None and threading.current_thread() is threading.main_thread()
    t0 = time.monotonic()

    def stop_everything(why: str) -> None:
        state.setdefault("failure", why)
        # trace()'s handlers: the first signal goes to the workload, a second one SIGKILLs every task.
        signal.pthread_kill(main_ident, signal.SIGINT)
        signal.pthread_kill(main_ident, signal.SIGTERM)

    def monitor() -> None:
        root = None
        stopped_at: float | None = None
        killed = False
        last_progress = 0.0
        while not done.wait(POLL_S):
            now = time.monotonic() - t0
            if root is None:
                new = _children(me) - before - ({driver.proc.pid} if driver else set())
                if new:
                    root = min(new)
                    if driver:
                        driver.start()
            if progress and now - last_progress >= 0.5:
                last_progress = now
                progress(now)
            if killed:
                continue
            if spec.timeout is not None and now >= spec.timeout:
                stop_everything(f"timed out after {spec.timeout:g}s")
                killed = True
                continue
            if root is None:
                continue
            if stopped_at is None:
                reason = None
                if spec.duration is not None and now >= spec.duration:
                    reason = "duration"
                elif driver is not None and driver.poll():
                    reason = "during"
                if reason:
                    stopped_at = now
                    state["stopped"] = reason
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(root, spec.stop_signal)
            elif now - stopped_at >= GRACE_S:
                stop_everything(f"did not exit within {GRACE_S:g}s of {signal.Signals(spec.stop_signal).name}")
                killed = True

    # Stray signals from the monitor after trace() returned must not become KeyboardInterrupt.
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in saved:
        signal.signal(sig, lambda *_: None)
    thread = threading.Thread(target=monitor, name=f"seccomp-learn monitor {run_id}", daemon=True)
    result = None
    error = None
    try:
        thread.start()
        # The workload's stdout goes to our stderr: stdout is for the --check report alone.
        sys.stdout.flush()
        saved_stdout = os.dup(1)
        os.dup2(2, 1)
        try:
            result = trace(spec.command, TraceOptions(follow=spec.follow, env=env, cwd=cwd, run_id=run_id))
        except UserError as exc:
            error = str(exc).removeprefix("seccomp-learn: ")
        finally:
            os.dup2(saved_stdout, 1)
            os.close(saved_stdout)
    finally:
        done.set()
        thread.join()
        if driver:
            driver.release()
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    elapsed = time.monotonic() - t0
    failure = error or _judge(spec, result, driver, state)
    return RunResult(result, failure, elapsed)


def _judge(spec: RunSpec, result: TraceResult | None, driver: _Driver | None, state: dict[str, object]) -> str | None:
    if state.get("failure"):
        return str(state["failure"])
    if result is None or not result.exec_ok:
        return "the command could not be executed"
    if driver is not None:
        if driver.failed_to_start:
            return f"the during command could not be started: {driver.failed_to_start}"
        if state.get("stopped") is None:
            return f"the workload exited ({describe_exit(result.exit_code)}) before the during command ended"
        if state.get("stopped") == "during" and driver.exit != 0:
            return f"the during command exited with {describe_exit(driver.exit or 0)}"
    if result.exit_code not in spec.expect_exit:
        expected = ", ".join(str(c) for c in spec.expect_exit)
        return f"exited with {describe_exit(result.exit_code)}, expected {expected}"
    return None


def _supervise(spec_json: str) -> None:
    """The driver's supervisor: start on 'g', report the exit status, stop the driver on EOF."""
    spec = json.loads(spec_json)
    out = spec["fd"]
    ctl = sys.stdin.buffer
    if ctl.read(1) != b"g":
        return
    try:
        proc = subprocess.Popen(spec["argv"], cwd=spec["cwd"], stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        os.write(out, f"error {spec['argv'][0]}: {exc.strerror}\n".encode())
        ctl.read()
        return

    def on_release() -> None:
        ctl.read()  # EOF: the run is over
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=GRACE_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
        os._exit(0)

    threading.Thread(target=on_release, daemon=True).start()
    code = proc.wait()
    os.write(out, f"{code if code >= 0 else 128 - code}\n".encode())
    threading.Event().wait()  # until on_release ends the process


if __name__ == "__main__":
    _supervise(sys.argv[1])
