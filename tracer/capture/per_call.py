"""What a backend does for each syscall it sees: count it per executable and keep its filterable argument values.

The hot path of every backend but ebpf (which counts in the kernel): `count_call` runs once per call, so
its names are bound once and what it keeps is bounded by distinct keys (capture/call_counts.py). This module
is the one writer of the State's counters (calls, args, denied, notified).
"""

from __future__ import annotations

import ctypes
import os
import struct
from collections.abc import Callable

from tracer.capture.call_counts import NATIVE, ArgSpec, CallCounts
from tracer.capture.state import State
from tracer.kernel import ptrace_abi as pt
from tracer.recording.schema import ArgValues
from tracer.syscalls.abi import AUDIT_ARCH_X86_64, abi_of
from tracer.syscalls.info import filterable_args
from tracer.syscalls.names import name_of

_RET_DATA = struct.Struct("<I")
DENIED_ARG_SAMPLES = 8  # argument tuples kept per denied syscall, for the verify report

# A stop's or a notification's bytes: arch and nr first, the six arguments at SYSCALL_INFO_ARGS_OFFSET.
CallData = bytes | ctypes.Array[ctypes.c_char]


def _args_of(buf: CallData) -> tuple[int, ...]:
    return pt.SYSCALL_INFO_ARGS.unpack_from(buf, pt.SYSCALL_INFO_ARGS_OFFSET)


def exe_id(st: State, pid: int) -> int:
    """The index of what pid runs now (/proc/PID/exe) in st.exes."""
    try:
        path = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        path = "?"
    return st.exe_named(path)


def argspec(arch: int, nr: int) -> ArgSpec:
    """(arg index, is-flags) pairs to record for this (arch, nr); computed once per slot."""
    abi, bare = abi_of(arch, nr)
    name = name_of(abi, bare)
    return tuple((s.index, s.kind == "flags") for s in (filterable_args(abi, name) if name else ()))


def count_call(st: State, pid: int, arch: int, nr: int, buf: CallData,
               verdict: Callable[[int, int], None] | None) -> None:
    """One syscall: count it (or, under verify, record the denial) and keep its filterable arguments."""
    if st.restarted and st.repair is not None and st.repair.counted_before(pid, arch, nr):
        return  # made again only because a repair restarted it: counted already
    exe = st.exe_of.get(pid)
    if exe is None:
        exe = exe_id(st, pid)
        st.runs(pid, exe)
    if verdict is not None and (ret_data := _RET_DATA.unpack_from(buf, pt.SYSCALL_INFO_RET_DATA_OFFSET)[0]):
        _deny(st, pid, exe, arch, nr, ret_data, _args_of(buf), verdict)
        return  # a denied call's arguments are not what the workload needs
    calls = st.calls
    slot = nr if arch == AUDIT_ARCH_X86_64 and nr < NATIVE else calls.slot(arch, nr)
    row = calls.rows.get(exe)
    if row is None or slot >= len(row):
        row = calls.row(exe)
    row[slot] += 1
    spec = calls.specs[slot]
    if spec is None:
        spec = calls.specs[slot] = argspec(arch, nr)
    if spec:
        values, args = _args_of(buf), st.args
        for index, is_flags in spec:
            key = (arch, nr, index)
            av = args.get(key)
            if av is None:
                av = args[key] = ArgValues(bits=0 if is_flags else None)
            av.add(values[index])


def count_notified(st: State, tid: int, arch: int, nr: int, buf: CallData) -> None:
    """A call a seccomp listener received (the default backend's other calls are ptrace stops)."""
    st.notified += 1
    count_call(st, tid, arch, nr, buf, None)


def counted_in_kernel(st: State, calls: CallCounts, args: dict[tuple[int, int, int], ArgValues]) -> None:
    """The counters as a backend that counts in the kernel (ebpf) read them, each time anew."""
    st.calls, st.args = calls, args


def _deny(st: State, pid: int, exe: int, arch: int, nr: int, data: int, values: tuple[int, ...],
          verdict: Callable[[int, int], None]) -> None:
    key = (exe, arch, nr, data)
    st.denied_counts[key] += 1
    samples = st.denied.setdefault(key, [])
    if len(samples) < DENIED_ARG_SAMPLES and values not in samples:
        samples.append(values)
    verdict(pid, data)
