"""What a tracing session is given and what it accumulates: the options, the state of the loop, the result.

The types every backend and command share (docs/architecture.md); capture/session.py runs the session.
"""

from __future__ import annotations

import signal
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

from tracer.capture.call_counts import CallCounts
from tracer.kernel import ptrace_abi as pt
from tracer.recording.schema import ArgValues, Backend, Follow, Recording
from tracer.structs import Struct, field

if TYPE_CHECKING:
    from tracer.capture.incremental import BaseProfile
    from tracer.capture.ready import Ready
    from tracer.capture.signal_repair import SignalRepair
class TraceOptions(Struct):
    follow: Follow = "all"  # "all": until every task exited; "main": until the main process exited
    env: dict[str, str] | None = None
    cwd: str | None = None
    run_id: str | None = None
    duration: float | None = None  # stop the workload with stop_signal after this many seconds
    stop_signal: int = signal.SIGTERM
    during: list[str] | None = None  # a driver run untraced; when it ends the workload is stopped
    ready: Ready | None = None  # --ready/--ready-cmd: what the driver waits for before it starts
    snapshot: Callable[[Recording], None] | None = None  # on SIGUSR1 and every snapshot_every seconds
    snapshot_every: float | None = None
    filters: Sequence[Callable[[], None]] = ()  # seccomp filters the child installs (default: trace all)
    verdict: Callable[[int, int], None] | None = None  # applies a denial: (pid, ret_data)
    attach: int | None = None  # for the CLI: attach to this pid instead of starting a command
    timeout: float | None = None  # kill every traced task after this many seconds (a failed run)
    progress: Callable[[Tally], None] | None = None  # called every progress_every seconds, from a timer thread
    progress_every: float = 1.0
    notice: Callable[[str], None] | None = None  # a line for the user now (default: stderr), e.g. Ctrl-C ignored
    base: BaseProfile | None = None  # --base: the kernel allows what this profile allows; see incremental.py
    backend: Backend | Literal["auto"] = "auto"  # see capture/choice.py, backend_for
    on_exit: Callable[[int, int], None] | None = None  # (tid, wait status) of each traced task that ends (ebpf: pid)


class Tally(Struct, frozen=True):
    """The run so far, for a progress line."""

    tasks: int  # processes and threads traced so far
    syscalls: int
    distinct: int  # distinct (ABI, syscall) pairs
    elapsed: float  # seconds


class Denial(Struct):
    abi: str
    name: str
    nr: int
    verdict: int
    count: int
    executables: set[str]
    arg_samples: list[tuple[int, ...]]


class TraceResult(Struct):
    recording: Recording
    exit_code: int  # the workload's, 128+N when killed by signal N
    exec_ok: bool  # the command's own exec succeeded
    denials: list[Denial] = field(default_factory=list)
    driver_exit: int | None = None  # the --during driver's exit code (128+N: killed by signal N)
    stopped_by: str | None = None  # "duration" or "driver": seccomp-learn stopped the workload on purpose
    timed_out: bool = False
    driver_failure: str | None = None  # why the --during driver failed or never ran: the run failed
    partial_reasons: list[str] = field(default_factory=list)  # why the recording is partial, one line each


class State:
    """Everything the loop accumulates; all of it is bounded by distinct keys, not by syscalls.

    A plain class, not a Struct: the loop reads these attributes on every call, and only the loop makes one.
    """

    def __init__(self, resume: int = pt.PTRACE_CONT, stop_status: int = pt.SECCOMP_STOP_STATUS,
                 attached: int | None = None, root: int = 0, exec_ok: bool = False) -> None:
        self.calls = CallCounts()
        self.args: dict[tuple[int, int, int], ArgValues] = {}
        self.exe_of: dict[int, int] = {}  # tid -> index in exes
        self.exes: list[str] = []
        self.exe_index: dict[str, int] = {}
        self.denied: dict[tuple[int, int, int, int], list[tuple[int, ...]]] = {}
        self.denied_counts: defaultdict[tuple[int, int, int, int], int] = defaultdict(int)
        self.live: set[int] = set()
        self.tasks_seen = 0
        self.seen: set[int] = set()  # every tid ever traced (bounded by tasks, not syscalls)
        self.root = root
        self.root_status = 0
        self.exec_ok = exec_ok
        self.killed_rest = 0
        self.signals: list[int] = []
        self.stopped: str | None = None  # "duration" or "driver": why seccomp-learn stopped the workload on purpose
        self.driver: int | None = None
        self.driver_status: int | None = None
        self.ready_fd: int | None = None  # the --ready helper's status pipe (read end)
        self.not_ready: str | None = None  # why the driver never started (tracer.capture.ready)
        self.resume = resume  # PTRACE_SYSCALL when attached: two stops per syscall
        self.stop_status = stop_status  # the waitpid status of the per-syscall stop
        self.attached = attached  # pid given to --pid
        self.detaching = False
        self.setuid_unprivileged: set[str] = set()  # set-id images exec'd without privilege
        self.timed_out = False
        # Backends without a list of traced tids (backends/notify_only.py) send a signal to the workload with this.
        self.signal_all: Callable[[int], None] | None = None
        # tid -> (arch, nr) of a call a signal repair made it restart (capture/signal_repair.py): counted once.
        self.restarted: dict[int, tuple[int, int]] = {}
        self.repair: SignalRepair | None = None  # seizing backends: the repairs at signal-delivery-stops
        self.notified = 0  # calls that came through a seccomp listener (the rest were ptrace stops)
        # Backends that count elsewhere (capture/ebpf.py: in the kernel) bring calls, args and tasks up to date.
        self.sync: Callable[[], None] | None = None
        self.incomplete: list[str] = []  # what the backend lost (a full kernel map): each makes the run partial
