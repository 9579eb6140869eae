"""What a tracing session is given and what it accumulates: the options, the state of the loop, the result.

The types every backend and command share (docs/architecture.md); capture/session.py runs the session.
"""

from __future__ import annotations

import signal
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

from tracer.capture.call_counts import CallCounts
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


PRE_EXEC = -1  # executable id of the root task before its exec: the launcher, not the workload


class State:
    """Everything the loop accumulates; all of it is bounded by distinct keys, not by syscalls.

    A plain class, not a Struct: the loop reads these attributes on every call, and only the loop makes one.
    Each fact has one writer (tests/test_state_owners.py): the methods below; capture/per_call.py for the
    per-call counters; capture/session.py for what the session does around the backend's loop.
    """

    def __init__(self) -> None:
        # The per-call counters: capture/per_call.py fills them (or replaces them by the kernel's: ebpf).
        self.calls = CallCounts()
        self.args: dict[tuple[int, int, int], ArgValues] = {}
        self.denied: dict[tuple[int, int, int, int], list[tuple[int, ...]]] = {}
        self.denied_counts: defaultdict[tuple[int, int, int, int], int] = defaultdict(int)
        self.notified = 0  # calls that came through a seccomp listener (the rest were ptrace stops)
        # The executables, named once each (exe_named), and the tasks: the methods below.
        self.exes: list[str] = []
        self.exe_index: dict[str, int] = {}
        self.exe_of: dict[int, int] = {}  # tid -> index in exes
        self.live: set[int] = set()
        self.seen: set[int] = set()  # every tid ever traced (bounded by tasks, not syscalls)
        self.tasks_seen = 0
        self.root = 0
        self.root_status = 0
        self.exec_ok = False  # the root has exec'd the command
        self.killed_rest = 0
        self.attached: int | None = None  # pid given to --pid
        self.setuid_unprivileged: set[str] = set()  # set-id images exec'd without privilege
        self.incomplete: list[str] = []  # what the backend lost (a full kernel map): each makes the run partial
        # How the backend is driven (begin, use_hooks).
        self.repair: SignalRepair | None = None  # seizing backends: the repairs at signal-delivery-stops
        # The repair's tid -> (arch, nr) of a call it made restart: per_call.py counts that call once.
        self.restarted: dict[int, tuple[int, int]] = {}
        # Backends without a list of traced tids (backends/notify_only.py) send a signal to the workload with this.
        self.signal_all: Callable[[int], None] | None = None
        # Backends that count elsewhere (backends/ebpf.py: in the kernel) bring calls, args and tasks up to date.
        self.sync: Callable[[], None] | None = None
        # What the session does around the loop (capture/session.py).
        self.signals: list[int] = []
        self.stopped: str | None = None  # "duration" or "driver": why seccomp-learn stopped the workload on purpose
        self.driver: int | None = None
        self.driver_status: int | None = None
        self.ready_fd: int | None = None  # the --ready helper's status pipe (read end)
        self.not_ready: str | None = None  # why the driver never started (tracer.capture.ready)
        self.detaching = False
        self.timed_out = False

    def begin(self, root: int, attached: bool = False, repair: SignalRepair | None = None) -> None:
        """The start of every trace: the root task (a started one runs the launcher until its exec; the tasks
        of an attached process, which exec'd long ago, are registered as they are seized) and its repairs."""
        self.root = root
        self.repair = repair
        if repair is not None:
            self.restarted = repair.restarted
        if attached:
            self.attached, self.exec_ok = root, True
        else:
            self.new_task(root, PRE_EXEC)

    def use_hooks(self, signal_all: Callable[[int], None] | None = None,
                  sync: Callable[[], None] | None = None) -> None:
        """A backend that keeps no list of traced tids signals the workload with signal_all; one that counts
        elsewhere brings the counters up to date with sync."""
        self.signal_all, self.sync = signal_all, sync

    def new_task(self, tid: int, exe: int | None = None) -> bool:
        """A task seen for the first time (False: seen before), and what it runs if known."""
        if tid in self.seen:
            return False
        self.seen.add(tid)
        self.live.add(tid)
        self.tasks_seen += 1
        if exe is not None:
            self.exe_of[tid] = exe
        return True

    def reported(self, tid: int) -> None:
        """A task that reports: it is live (a new one can report before its parent's fork event)."""
        if tid not in self.live:
            self.live.add(tid)
            if tid not in self.seen:
                self.seen.add(tid)
                self.tasks_seen += 1

    def more_tasks(self, n: int) -> None:
        """Tasks a backend without a task table counted."""
        self.tasks_seen += n

    def gone(self, tid: int) -> None:
        """A task that ended, or that is no longer traced."""
        self.live.discard(tid)
        self.exe_of.pop(tid, None)

    def runs(self, tid: int, exe: int) -> None:
        self.exe_of[tid] = exe

    def exe_changes(self, tid: int) -> None:
        """tid execs: what it runs is read again at its next call."""
        self.exe_of.pop(tid, None)

    def exe_named(self, path: str) -> int:
        """The index of an executable's path in exes, which it enters the first time."""
        idx = self.exe_index.get(path)
        if idx is None:
            idx = self.exe_index[path] = len(self.exes)
            self.exes.append(path)
        return idx

    def root_execd(self) -> None:
        self.exec_ok = True

    def root_ended(self, status: int, killed_rest: int = 0) -> None:
        """The root's wait status, and the tasks --follow main killed because it ended."""
        self.root_status, self.killed_rest = status, killed_rest

    def setid_dropped(self, path: str) -> None:
        """A set-id image exec'd without its privileges (traced, unprivileged)."""
        self.setuid_unprivileged.add(path)

    def counted_elsewhere(self, tasks: int, lost: list[str]) -> None:
        """The tasks a backend that counts elsewhere (ebpf: in the kernel) saw, and what it lost."""
        self.tasks_seen, self.incomplete = tasks, lost
