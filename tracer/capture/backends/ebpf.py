"""`--backend ebpf`: the calls are counted in the kernel by BPF programs; this process only names and reads them.

`Recorder` creates the maps, loads the programs of capture/ebpf_programs.py (offsets from the kernel's BTF)
and attaches them to the raw tracepoints sys_enter, sched_process_fork, _exec and _exit, before the workload
starts, so that a kernel that refuses says so first. The workload is forked as for the other backends but
never ptraced and given no filter of ours (`opts.pre_exec`, if any, runs in the child before its exec: the
container wrapper's pid announcement): the child waits on a pipe until its pid is in the `traced` map, then
execs (no window: every task it starts is traced by the fork program before it runs). The loop here sleeps in
poll on the ring buffer (a new executable; once the root has ended, or always for opts.on_exit, which gets its
wait status, a process that ended), the root's pidfd and the signal wake-up pipe; the counts stay in the
kernel until the end (or a snapshot), when `sync` reads the maps into the session's State. Nothing is pinned:
the programs and maps live as long as this process's fds, so they are gone when it exits or is killed.

A process keeps its executable id across fork; the path of an id is read from /proc/PID/exe when the
exec event arrives (checked against the event's inode number), else from the exec's interpreter path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from tracer.capture.backends import ebpf_programs as prog
from tracer.capture.call_counts import CallCounts
from tracer.capture.launch import spawn
from tracer.capture.per_call import argspec, counted_in_kernel
from tracer.capture.session import FORWARDED, kill, run_session
from tracer.capture.state import PRE_EXEC, State, TraceOptions, TraceResult
from tracer.errors import UserError
from tracer.kernel import bpf, btf, procfs
from tracer.recording.schema import ARG_VALUES_CAP, ArgValues
from tracer.syscalls.abi import AUDIT_ARCH_I386, AUDIT_ARCH_X86_64
from tracer.syscalls.info import filterable_args
from tracer.syscalls.table import TABLES

_CAP_SYS_ADMIN, _CAP_PERFMON, _CAP_BPF = 21, 38, 39
_TRACEPOINTS = ("sys_enter", "sched_process_fork", "sched_process_exec", "sched_process_exit")
_ARCH = {prog.ABI_X86_64: AUDIT_ARCH_X86_64, prog.ABI_I386: AUDIT_ARCH_I386}
# Held blocked from the spawn until the loop runs: the workload runs at once (nothing holds it), so a signal
# sent as soon as it shows up must wait for run_session's handlers instead of killing this process.
_HELD = (*FORWARDED, signal.SIGUSR1)
_LOST = ((prog.LOST_CALLS, "syscall counts (a full count map)"), (prog.LOST_ARGS, "argument values (a full map)"),
         (prog.LOST_EVENTS, "exec or exit events (a full ring buffer)"),
         (prog.LOST_TASKS, "new processes (a full map of traced processes)"))


def unavailable() -> str | None:
    """Why this process cannot load tracing programs, without trying; None if it may."""
    caps = procfs.capabilities("self")  # root has them all, unless its capabilities were dropped
    if not (caps >> _CAP_SYS_ADMIN & 1 or (caps >> _CAP_BPF & 1 and caps >> _CAP_PERFMON & 1)):
        return "it needs root or CAP_BPF and CAP_PERFMON"
    if not os.path.exists(btf.VMLINUX):
        return f"the kernel has no BTF ({btf.VMLINUX})"
    return None


class Recorder:
    """The maps and attached programs of one run; `close` frees them (so does this process's death).

    seccomp_gate (the container wrapper, runtime_wrapper/recorder.py): a traced task's calls count only
    once its seccomp mode is set, i.e. from the container's filter on, not during the runtime's set-up."""

    def __init__(self, seccomp_gate: bool = False) -> None:
        self.seccomp_gate = seccomp_gate
        why = unavailable()
        if why:
            raise UserError(f"the eBPF backend cannot run here: {why}", "--backend ebpf")
        self.fds: list[int] = []
        self.maps: list[bpf.Map] = []
        self.ring: bpf.RingBuffer | None = None
        try:
            self._load()
        except (OSError, btf.BtfError) as exc:
            self.close()
            if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
                raise  # the tracer's own limit, not the kernel's answer: no other backend would start either
            raise UserError(f"the eBPF backend cannot load its programs: {exc}", "--backend ebpf") from None

    def _map(self, name: str, kind: int, key: int, value: int, entries: int, flags: int = 0) -> bpf.Map:
        made = bpf.Map(name, kind, key, value, entries, flags)
        self.maps.append(made)
        return made

    def _load(self) -> None:
        offsets = btf.member_offsets(prog.FIELDS)
        h, a = bpf.MAP_TYPE_HASH, bpf.MAP_TYPE_ARRAY
        self.traced = self._map("sclearn_traced", h, prog.TGID.size, prog.EXE.size, prog.TRACED_ENTRIES)
        self.counts = self._map("sclearn_counts", bpf.MAP_TYPE_PERCPU_HASH, prog.COUNT_KEY.size, prog.U64.size,
                                prog.COUNT_ENTRIES, bpf.NO_PREALLOC)
        self.argspec = self._map("sclearn_argspec", a, prog.SLOT.size, 4, prog.SPEC_SLOTS)
        self.argvals = self._map("sclearn_argvals", h, prog.ARG_KEY.size, 4, prog.ARGVAL_ENTRIES)
        self.argstate = self._map("sclearn_argstat", h, 16, prog.ARG_STATE.size, prog.ARGSTATE_ENTRIES)
        self.exes = self._map("sclearn_exes", h, 16, prog.EXE.size, prog.EXE_ENTRIES)
        self.stats = self._map("sclearn_stats", a, prog.SLOT.size, prog.U64.size, prog.STATS)
        self.ring = bpf.RingBuffer("sclearn_events", prog.RING_BYTES)
        m = prog.Maps(self.traced.fd, self.counts.fd, self.argspec.fd, self.argvals.fd, self.argstate.fd,
                      self.exes.fd, self.stats.fd, self.ring.fd)
        self.argspec.update_all({prog.SLOT.pack(slot): prog.SLOT.pack(mask) for slot, mask in _argspec_masks().items()})
        self.set_stat(prog.NEXT_EXE, prog.LAUNCHER + 1)
        status = offsets[("task_struct", "thread_info")] + offsets[("thread_info", "status")]
        gate = offsets[("task_struct", "seccomp")] + offsets[("seccomp", "mode")] if self.seccomp_gate else None
        programs = {"sys_enter": prog.sys_enter(m, status, gate),
                    "sched_process_fork": prog.sched_process_fork(m, offsets[("task_struct", "tgid")]),
                    "sched_process_exec": prog.sched_process_exec(m, offsets),
                    "sched_process_exit": prog.sched_process_exit(m, offsets[("task_struct", "exit_code")])}
        for tp in _TRACEPOINTS:
            fd = bpf.load_program(f"sclearn_{tp.rsplit('_', 1)[-1]}", programs[tp])
            self.fds.append(fd)
            self.fds.append(bpf.attach_raw_tracepoint(tp, fd))

    def set_stat(self, slot: int, value: int) -> None:
        self.stats.update(prog.SLOT.pack(slot), prog.U64.pack(value))

    def stat(self, slot: int) -> int:
        raw = self.stats.lookup(prog.SLOT.pack(slot))
        return 0 if raw is None else prog.U64.unpack(raw)[0]

    def trace(self, tgid: int, exe: int, root: bool = False) -> None:
        """Count this process's calls (and its descendants') from now on, as executable `exe`; the root's
        end is the one after which every exit wakes the loop."""
        if root:
            self.set_stat(prog.ROOT_TGID, tgid)
        self.traced.update(prog.TGID.pack(tgid), prog.EXE.pack(exe))

    def traced_processes(self) -> list[int]:
        return [prog.TGID.unpack(k)[0] for k in self.traced.each_key()]

    def tracing_any(self) -> bool:
        return next(self.traced.each_key(), None) is not None

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []
        for made in self.maps:
            made.close()
        if self.ring is not None:
            self.ring.close()
            self.ring = None


def _argspec_masks() -> dict[int, int]:
    """argspec slot -> the bits of the argument indexes to keep, for every (ABI, nr) with filterable arguments:
    what session.argspec gives, from the ABIs' tables (only their ~400 numbers each, not all SPEC_NR)."""
    out = {}
    for base, abi in ((0, "x86_64"), (prog.SPEC_NR, "x32"), (2 * prog.SPEC_NR, "i386")):
        for nr, name in TABLES[abi].items():
            mask = sum(1 << spec.index for spec in filterable_args(abi, name))
            if mask and nr < prog.SPEC_NR:
                out[base + nr] = mask
    return out


class _Session:
    """What the loop knows beyond State: the recorder, the names of executable ids, the end."""

    def __init__(self, st: State, rec: Recorder, opts: TraceOptions, exe_paths: dict[int, int]) -> None:
        self.st, self.rec, self.opts = st, rec, opts
        self.exe_paths = exe_paths  # executable id -> index in st.exes (PRE_EXEC for the launcher)
        self.tasks_before = st.tasks_seen
        self.lock = threading.RLock()  # sync runs from the loop, a snapshot's signal handler and a progress timer
        self.root_done = False

    def signal_all(self, sig: int) -> None:
        kill(self.rec.traced_processes(), sig)

    def sync(self) -> None:
        """Read the kernel's counts into st (each time anew: what it holds is bounded by distinct keys)."""
        with self.lock:
            st, rec = self.st, self.rec
            self._events()
            calls = CallCounts()
            for key, count in rec.counts.items():
                exe, abi, nr = prog.COUNT_KEY.unpack(key)
                arch, idx = _ARCH[abi], self._exe(exe)
                slot = calls.slot(arch, nr)
                calls.row(idx)[slot] += sum(n for (n,) in prog.U64.iter_unpack(count))  # per CPU
            values: defaultdict[tuple[int, int, int], list[int]] = defaultdict(list)
            for key, _ in rec.argvals.items():
                abi, nr, index, _, seen = prog.ARG_KEY.unpack(key)
                values[(abi, nr, index)].append(seen)
            args = {}
            for key, state in rec.argstate.items():
                abi, nr, index, _ = prog.ARG_KEY.unpack_from(key + bytes(8))[:4]
                entered, bits = prog.ARG_STATE.unpack(state)
                arch = _ARCH[abi]
                is_flags = dict(argspec(arch, nr)).get(index, False)
                av = ArgValues(bits=0 if is_flags else None)
                for seen in sorted(values.get((abi, nr, index), ())):
                    av.add(seen)
                if entered > ARG_VALUES_CAP:
                    av.many = True
                    av.values.clear()
                if is_flags:
                    av.bits = (av.bits or 0) | bits
                args[(arch, nr, index)] = av
            counted_in_kernel(st, calls, args)
            st.counted_elsewhere(self.tasks_before + rec.stat(prog.TASKS),
                                 [f"the kernel dropped {n} {what}" for slot, what in _LOST if (n := rec.stat(slot))])

    def _exe(self, exe: int) -> int:
        idx = self.exe_paths.get(exe)
        return self.st.exe_named("?") if idx is None else idx

    def _events(self) -> None:
        """Name new executables; note the root's exec; tell opts.on_exit of every process that ended."""
        assert self.rec.ring is not None
        for record in self.rec.ring.records():
            kind, tgid = prog.EXIT_EVENT.unpack_from(record)
            if kind == prog.EV_EXIT and self.opts.on_exit is not None:
                self.opts.on_exit(tgid, prog.EXITED.unpack_from(record)[2])
            if kind != prog.EV_EXEC:
                continue
            _, _, exe, _, ino = prog.EXEC_EVENT.unpack_from(record)
            interp = record[prog.EXEC_EVENT.size:].split(b"\0", 1)[0].decode(errors="surrogateescape")
            self.exe_paths[exe] = self.st.exe_named(_path_of(tgid, ino, interp, self.opts.cwd))
            if tgid == self.st.root:
                self.st.root_execd()

    def loop(self, st: State, opts: TraceOptions, driver_ended: Callable[[int], None]) -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)  # run_session's handlers are in place
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        old_chld = signal.signal(signal.SIGCHLD, lambda _s, _f: None)  # so that SIGCHLD writes to wake_w
        old_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        pidfd = os.pidfd_open(st.root)
        try:
            self._loop(driver_ended, wake_r, pidfd)
        finally:
            signal.set_wakeup_fd(old_wakeup)
            signal.signal(signal.SIGCHLD, old_chld)
            for fd in (wake_r, wake_w, pidfd):
                os.close(fd)

    def _loop(self, driver_ended: Callable[[int], None], wake_r: int, pidfd: int) -> None:
        st, rec = self.st, self.rec
        assert rec.ring is not None
        poller = select.poll()
        for fd in (rec.ring.fd, wake_r, pidfd):
            poller.register(fd, select.POLLIN)
        while not st.detaching:
            ready = {fd for fd, _ in poller.poll(1000)}
            if wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 512)
            with self.lock:
                self._events()
            if pidfd in ready and not self.root_done:
                poller.unregister(pidfd)
                self._root_ended()
            if st.driver is not None and st.driver_status is None:
                pid, status = os.waitpid(st.driver, os.WNOHANG)
                if pid:
                    driver_ended(status)
            if self.root_done and not rec.tracing_any():
                break

    def _root_ended(self) -> None:
        st = self.st
        self.root_done = True
        if st.attached is not None:
            return
        status = os.waitpid(st.root, 0)[1]
        rest = self.rec.traced_processes() if self.opts.follow == "main" else []
        st.root_ended(status, sum(procfs.status_field(pid, "Threads") or 1 for pid in rest))
        kill(rest, signal.SIGKILL)


def _path_of(tgid: int, ino: int, interp: str, cwd: str | None) -> str:
    """The executable's path as /proc/PID/exe shows it, while the process still runs that file; else the
    interpreter path of the exec, resolved (relative to the process's or the workload's directory)."""
    exe = f"/proc/{tgid}/exe"
    with contextlib.suppress(OSError):
        if os.stat(exe).st_ino == ino:
            return os.readlink(exe)
    if not os.path.isabs(interp):
        with contextlib.suppress(OSError):
            return os.path.realpath(os.path.join(os.readlink(f"/proc/{tgid}/cwd"), interp))
        return os.path.realpath(os.path.join(cwd or os.getcwd(), interp))
    return os.path.realpath(interp)


def trace_ebpf(argv: list[str], opts: TraceOptions, rec: Recorder) -> TraceResult:
    """Start argv (or attach to opts.attach) and count it and everything it starts in the kernel; closes rec."""
    if opts.filters or opts.verdict is not None:
        rec.close()
        raise UserError("verify needs the ptrace backend", "--backend ebpf")
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        env = dict(os.environ if opts.env is None else opts.env)
        st = State()
        started = time.gmtime()
        if opts.on_exit is not None:
            rec.set_stat(prog.ROOT_DONE, 1)  # whoever waits for every exit gets every exit told
        if opts.attach is not None:
            exe_paths = _attach(st, rec, opts.attach)
            argv = _cmdline(opts.attach)
        else:
            exe_paths = {prog.LAUNCHER: PRE_EXEC}
            st.begin(spawn(argv, env, opts.cwd, (), seize=False,  # no filter: the kernel's programs count
                           before_go=lambda pid: rec.trace(pid, prog.LAUNCHER, root=True), pre_exec=opts.pre_exec))
        session = _Session(st, rec, opts, exe_paths)
        st.use_hooks(signal_all=session.signal_all, sync=session.sync)
        return run_session(st, argv, opts, env, started, session.loop)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        rec.close()


def _attach(st: State, rec: Recorder, pid: int) -> dict[int, int]:
    """Count pid and the processes below it from now on, each as the executable it runs now."""
    st.begin(pid, attached=True)
    exe_paths = {}
    pids = [pid, *procfs.descendants(pid)]
    rec.set_stat(prog.NEXT_EXE, prog.LAUNCHER + 1 + len(pids))  # before any of them can exec
    for exe, tgid in enumerate(pids, start=prog.LAUNCHER + 1):
        try:
            path = os.readlink(f"/proc/{tgid}/exe")
            st.more_tasks(len(os.listdir(f"/proc/{tgid}/task")))
        except OSError as exc:
            if tgid == pid:
                raise UserError(f"cannot attach: {exc.strerror}", f"--pid {pid}") from None
            continue
        exe_paths[exe] = st.exe_named(path)
        rec.trace(tgid, exe, root=tgid == pid)
    return exe_paths


def _cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
