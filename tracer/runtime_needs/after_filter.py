"""What a container runtime calls after it has loaded the container's seccomp filter, from an strace log.

The log is `strace -f -qq -n -e raw=NAMES -o LOG <runtime run ...>` (strace 6.1). A task is filtered
from the moment its `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)` or `prctl(PR_SET_SECCOMP,
SECCOMP_MODE_FILTER, prog)` returns 0; with SECCOMP_FILTER_FLAG_TSYNC every thread of its group is,
and every task it starts later inherits the filter. Its calls count until its group execs the
workload (that execve counts: it runs under the filter). Calls are counted at entry (the line, or
its `<unfinished ...>` half); the raw argument values of the argument-ruled names are kept.
"""

from __future__ import annotations

import re
from collections import Counter

from tracer.structs import Struct, field
from tracer.syscalls.names import name_of

PR_SET_SECCOMP = 0x16
SECCOMP_MODE_FILTER = 2
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1
CLONE_THREAD = 0x10000
SPAWNS = frozenset({"clone", "clone3", "fork", "vfork"})
EXECS = frozenset({"execve", "execveat"})

_LINE = re.compile(r"^(\d+)\s+\[\s*(\d+)\]\s+(.*)$")
_RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
_CALL = re.compile(r"^(\w+)\((.*)$")
_RESULT = re.compile(r"(.*)\)\s+=\s+(-?\w+|\?)")  # arguments, then the last ") = N" of the line
UNFINISHED = " <unfinished ...>"


class AfterFilter(Struct):
    counts: Counter[str] = field(default_factory=Counter)  # syscall name -> calls made under the filter
    args: dict[str, dict[int, set[int]]] = field(default_factory=dict)  # name -> arg index -> raw values
    loaded: bool = False  # a filter load was seen at all


def _raw_args(text: str) -> list[int | None]:
    out: list[int | None] = []
    for part in text.split(", "):
        try:
            out.append(int(part.strip(), 0))
        except ValueError:
            out.append(None)
    return out


def _result(text: str) -> int | None:
    m = _RESULT.match(text)
    if m is None:
        return None
    try:
        return int(m.group(2), 0)
    except ValueError:
        return None


def _loads_filter(name: str, args: list[int | None]) -> int | None:
    """The seccomp flags if this call (raw arguments) installs a filter, else None."""
    if name == "seccomp" and len(args) >= 3 and args[0] == SECCOMP_SET_MODE_FILTER and args[2]:
        return args[1] or 0
    if name == "prctl" and len(args) >= 3 and args[0] == PR_SET_SECCOMP and args[1] == SECCOMP_MODE_FILTER:
        return 0
    return None


def after_filter(log: str, ruled: dict[str, tuple[int, ...]]) -> AfterFilter:
    """Parse an strace -f -n log; `ruled` names the argument indexes to keep (strace printed them raw)."""
    out = AfterFilter()
    group: dict[int, int] = {}  # tid -> thread group leader
    filtered: set[int] = set()  # tids under the filter that have not exec'd the workload
    pending: dict[int, tuple[str, list[int | None], bool]] = {}  # tid -> call waiting for its result
    for line in log.splitlines():
        m = _LINE.match(line)
        if m is None:
            continue
        tid, nr, rest = int(m.group(1)), int(m.group(2)), m.group(3)
        group.setdefault(tid, tid)
        resumed = _RESUMED.match(rest)
        if resumed:
            if tid not in pending:
                continue
            name, args, thread = pending.pop(tid)
            result = _result(resumed.group(2))
        else:
            call = _CALL.match(rest)
            if call is None:
                continue
            name = name_of("x86_64", nr) or call.group(1)
            body = call.group(2)
            unfinished = body.endswith(UNFINISHED)
            complete = _RESULT.match(body)
            args = _raw_args(body[:-len(UNFINISHED)] if unfinished or complete is None else complete.group(1))
            # clone is printed raw (flags first); clone3's struct is decoded by strace.
            thread = (name == "clone" and bool((args[0] or 0) & CLONE_THREAD)) or (
                name == "clone3" and "CLONE_THREAD" in body)
            if tid in filtered:
                out.counts[name] += 1
                for index in ruled.get(name, ()):
                    value = args[index] if index < len(args) else None
                    if value is not None:
                        out.args.setdefault(name, {}).setdefault(index, set()).add(value)
            if unfinished:
                pending[tid] = (name, args, thread)
                continue
            result = _result(body)
        _after_call(tid, name, args, thread, result, group, filtered, out)
    return out


def _after_call(tid: int, name: str, args: list[int | None], thread: bool, result: int | None,
                group: dict[int, int], filtered: set[int], out: AfterFilter) -> None:
    """What a finished call changes: a new task (and its filter), an exec that ends counting, a filter load."""
    if result is None or result < 0:
        return
    if name in SPAWNS and result > 0:
        group[result] = group[tid] if thread else result
        if tid in filtered:
            filtered.add(result)
    elif name in EXECS and tid in filtered:
        filtered.difference_update({t for t in filtered if group.get(t) == group[tid]})
    elif tid not in filtered and not out.loaded and result == 0:
        flags = _loads_filter(name, args)
        if flags is not None:
            out.loaded = True
            filtered.add(tid)
            if flags & SECCOMP_FILTER_FLAG_TSYNC:
                filtered.update(t for t, g in group.items() if g == group[tid])
