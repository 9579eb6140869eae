"""The Recording: what a traced workload did, per ABI and syscall, and its versioned JSON form.

A recording is plain data that every later step (merge, emit, diff, report) reads; the JSON
format is documented in docs/recording-format.md. Keys are syscall names, or `#<nr>` for a
number the tables do not name (kept, reported, never guessed).
"""

from __future__ import annotations

import os
from typing import Any, Literal, get_args

from tracer.errors import UserError
from tracer.fileio import json_text, read_json, write_atomic
from tracer.structs import Struct, field
from tracer.syscalls.names import is_known, name_of, number_of
from tracer.syscalls.table import TABLES

FORMAT = "seccomp-learn-recording"
VERSION = 1
ARG_VALUES_CAP = 32  # distinct values kept per argument; past it the argument is "many"
PRE_EXEC_NAME = "(seccomp-learn launcher, before exec)"  # the executable of calls made before the workload's exec
Follow = Literal["all", "main"]  # trace until every task exited, or until the main process did
Backend = Literal["ptrace", "notify", "notify-only", "ebpf"]  # the tracing backend that recorded a run


class ArgValues(Struct):
    """Values seen for one argument: a capped set, and (for flag words) the OR of every value."""

    values: set[int] = field(default_factory=set)
    many: bool = False
    bits: int | None = None

    def add(self, value: int) -> None:
        if self.bits is not None:
            self.bits |= value
        if not self.many:
            self.values.add(value)
            if len(self.values) > ARG_VALUES_CAP:
                self.values.clear()
                self.many = True

    def update(self, other: ArgValues) -> None:
        if other.bits is not None:
            self.bits = other.bits | (self.bits or 0)
        if other.many:
            self.values.clear()
            self.many = True
        for v in other.values:
            self.add(v)


class SyscallStats(Struct):
    """One syscall on one ABI. Counts are kept per run, so merging a run twice counts it once."""

    nr: int
    counts: dict[str, int] = field(default_factory=dict)  # run id -> calls
    executables: set[str] = field(default_factory=set)
    args: dict[int, ArgValues] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    @property
    def runs(self) -> set[str]:
        return set(self.counts)


class IncrementalBase(Struct, frozen=True):
    """The --base profile of an incremental run: its names ran in the kernel, uncounted."""

    profile: str
    allowed_in_kernel: int  # names the base allowed unconditionally, hence never traced
    untraced: tuple[str, ...] = ()  # those names (older recordings: not given): the run covers them


class Container(Struct, frozen=True):
    """Who ran: the container as its engine described it (seccomp-learn-runtime's runs only)."""

    id: str
    engine: str = "unknown"  # docker | podman | kubernetes | containerd | unknown
    name: str | None = None
    image: str | None = None
    entrypoint: list[str] = field(default_factory=list)


class OciRuntime(Struct, frozen=True):
    """The real OCI runtime a container's run was traced through, and what only it called."""

    path: str
    version: str
    executables: list[str] = field(default_factory=list)  # the images its own tasks were recorded under
    syscalls_only_by_runtime: dict[str, list[str]] = field(default_factory=dict)  # ABI -> names, none empty


class Run(Struct):
    """One traced execution. `exit` is {"code": n} or {"signal": n, "name": "SIGTERM"}.

    The optional fields are written only when set (docs/recording-format.md); `extra` keeps keys this
    version does not know, so a newer recording passes through merge unchanged.
    """

    id: str
    command: list[str]
    started: str
    duration_s: float
    exit: dict[str, Any]
    partial: bool = False
    partial_reason: str | None = None
    kernel: str = ""
    machine: str = ""
    follow: Follow = "all"
    tasks: int = 0
    syscalls: int = 0
    backend: Backend | None = None
    calls_via_listener: int | None = None  # notify backends: calls that came through the seccomp listener
    signal_repairs: int | None = None  # calls the tracer made restart so that tracing changed nothing
    unfaithful: str | None = None  # notify-only: why the run may have differed from an untraced one
    stopped: str | None = None  # how seccomp-learn stopped the workload on purpose, in words
    setuid_without_privileges: list[str] = field(default_factory=list)  # set-id images run unprivileged
    attached_pid: int | None = None  # --pid: the process attached to
    incremental_base: IncrementalBase | None = None
    container: Container | None = None  # seccomp-learn-runtime: the container that ran
    oci_command: str | None = None  # ... the runtime command traced: create, run or exec (one run per `docker exec`)
    runtime: OciRuntime | None = None  # ... the runtime it went through
    extra: dict[str, Any] = field(default_factory=dict)


class Recording(Struct):
    tool: str
    runs: list[Run] = field(default_factory=list)
    abis: dict[str, dict[str, SyscallStats]] = field(default_factory=dict)

    @property
    def partial(self) -> bool:
        return any(run.partial for run in self.runs)

    def names(self, abi: str) -> set[str]:
        """Named syscalls recorded for abi (numbers without a name are left out)."""
        return {key for key in self.abis.get(abi, {}) if not key.startswith("#")}

    def all_names(self) -> set[str]:
        """Named syscalls recorded for any ABI."""
        return {key for table in self.abis.values() for key in table if not key.startswith("#")}

    def unnamed(self) -> list[tuple[str, int]]:
        return sorted((abi, s.nr) for abi, table in self.abis.items() for k, s in table.items() if k[0] == "#")


def unnamed_key(nr: int) -> str:
    return f"#{nr}"


# ---- JSON ----------------------------------------------------------------------------------


def to_json(rec: Recording) -> dict[str, Any]:
    abis: dict[str, Any] = {}
    for abi in sorted(rec.abis):
        entries: dict[str, Any] = {}
        for key in sorted(rec.abis[abi]):
            s = rec.abis[abi][key]
            entry: dict[str, Any] = {
                "nr": s.nr,
                "count": s.count,
                "executables": sorted(s.executables),
                "runs": dict(sorted(s.counts.items())),
            }
            if s.args:
                entry["args"] = {str(i): _arg_json(a) for i, a in sorted(s.args.items())}
            entries[key] = entry
        abis[abi] = entries
    return {
        "format": FORMAT,
        "version": VERSION,
        "tool": rec.tool,
        "partial": rec.partial,
        "runs": [_run_json(r) for r in rec.runs],
        "abis": abis,
    }


def _arg_json(a: ArgValues) -> dict[str, Any]:
    out: dict[str, Any] = {"values": sorted(a.values), "many": a.many}
    if a.bits is not None:
        out["bits"] = a.bits
    return out


def _run_json(r: Run) -> dict[str, Any]:
    out = {
        "id": r.id,
        "command": r.command,
        "started": r.started,
        "duration_s": round(r.duration_s, 3),
        "exit": r.exit,
        "partial": r.partial,
        "partial_reason": r.partial_reason,
        "kernel": r.kernel,
        "machine": r.machine,
        "follow": r.follow,
        "tasks": r.tasks,
        "syscalls": r.syscalls,
    }
    out.update(r.extra)
    if r.backend is not None:
        out["backend"] = r.backend
    if r.calls_via_listener is not None:
        out["calls_via_listener"] = r.calls_via_listener
    if r.signal_repairs is not None:
        out["signal_repairs"] = r.signal_repairs
    if r.unfaithful is not None:
        out["unfaithful"] = r.unfaithful
    if r.stopped:
        out["stopped"] = r.stopped
    if r.setuid_without_privileges:
        out["setuid_without_privileges"] = r.setuid_without_privileges
    if r.attached_pid is not None:
        out["attached_pid"] = r.attached_pid
    if r.incremental_base is not None:
        base: dict[str, Any] = {"profile": r.incremental_base.profile,
                                "allowed_in_kernel": r.incremental_base.allowed_in_kernel}
        if r.incremental_base.untraced:
            base["untraced"] = list(r.incremental_base.untraced)
        out["incremental_base"] = base
    if r.container is not None:
        c = r.container
        out["container"] = {"id": c.id, "engine": c.engine, "name": c.name, "image": c.image,
                            "entrypoint": c.entrypoint}
    if r.oci_command is not None:
        out["oci_command"] = r.oci_command
    if r.runtime is not None:
        out["runtime"] = {"path": r.runtime.path, "version": r.runtime.version,
                          "executables": r.runtime.executables,
                          "syscalls_only_by_runtime": r.runtime.syscalls_only_by_runtime}
    return out


def dumps(rec: Recording) -> str:
    return json_text(to_json(rec))


def save(rec: Recording, path: str | os.PathLike[str]) -> bool:
    """Write the recording atomically; returns whether an existing file was replaced."""
    return write_atomic(path, dumps(rec))


def load(path: str | os.PathLike[str]) -> Recording:
    """Read and validate a recording; every problem is one UserError naming the file."""
    return from_document(read_json(path, "recording"), os.fsdecode(path))


def is_recording(data: Any) -> bool:
    """Whether a parsed JSON document says it is a recording (it may still be a malformed one)."""
    return isinstance(data, dict) and data.get("format") == FORMAT


def from_document(data: Any, source: str) -> Recording:
    """A recording from its parsed JSON; every problem is one UserError naming `source`."""
    try:
        return from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError) as exc:
        raise UserError(f"malformed recording: {_describe(exc)}", source) from None


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc) or type(exc).__name__


def _int(value: Any, what: str, lo: int = 0, hi: int = 2**64 - 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValueError(f"{what} must be an integer in [{lo}, {hi}], got {value!r}")
    return value


def _seconds(value: Any, what: str) -> float:
    """A finite, non-negative number (strict JSON has no NaN or infinity, and merge writes it back)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e15:
        raise ValueError(f"{what} must be a number of seconds, got {value!r}")
    return float(value)


def _str_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} must be a list of strings")
    return value


def from_json(data: Any) -> Recording:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"'format' is not {FORMAT!r}")
    if data.get("version") != VERSION:
        raise ValueError(f"format version {data.get('version')!r} is not supported (this tool reads {VERSION})")
    runs = [_run_from(r) for r in data["runs"]]
    run_ids = {r.id for r in runs}
    if len(run_ids) != len(runs):
        raise ValueError("run ids are not unique")
    abis: dict[str, dict[str, SyscallStats]] = {}
    if not isinstance(data["abis"], dict):
        raise ValueError("'abis' must be an object")
    for abi, table in data["abis"].items():
        if not isinstance(table, dict):
            raise ValueError(f"abis.{abi} must be an object")
        abis[abi] = {key: _stats_from(abi, key, entry, run_ids) for key, entry in table.items()}
    return Recording(tool=str(data.get("tool", "")), runs=runs, abis=abis)


def _run_from(r: Any) -> Run:
    if not isinstance(r, dict):
        raise ValueError("each run must be an object")
    known = {"id", "command", "started", "duration_s", "exit", "partial", "partial_reason", "kernel",
             "machine", "follow", "tasks", "syscalls", "backend", "calls_via_listener",
             "signal_repairs", "unfaithful", "stopped", "setuid_without_privileges",
             "attached_pid", "incremental_base", "container", "oci_command", "runtime"}
    if not isinstance(r["id"], str) or not isinstance(r["exit"], dict):
        raise ValueError("run 'id' must be a string and 'exit' an object")
    return Run(
        id=r["id"],
        command=_str_list(r["command"], "run command"),
        started=str(r["started"]),
        duration_s=_seconds(r["duration_s"], "run duration_s"),
        exit=r["exit"],
        partial=bool(r["partial"]),
        partial_reason=r.get("partial_reason"),
        kernel=str(r.get("kernel", "")),
        machine=str(r.get("machine", "")),
        follow=_choice(r.get("follow", "all"), get_args(Follow), "run follow"),
        tasks=_int(r.get("tasks", 0), "run tasks"),
        syscalls=_int(r.get("syscalls", 0), "run syscalls"),
        backend=None if r.get("backend") is None else _choice(r["backend"], get_args(Backend), "run backend"),
        calls_via_listener=(None if r.get("calls_via_listener") is None
                            else _int(r["calls_via_listener"], "run calls_via_listener")),
        signal_repairs=None if r.get("signal_repairs") is None else _int(r["signal_repairs"], "run signal_repairs"),
        unfaithful=None if r.get("unfaithful") is None else str(r["unfaithful"]),
        stopped=None if r.get("stopped") is None else str(r["stopped"]),
        setuid_without_privileges=_str_list(r.get("setuid_without_privileges", []), "run setuid_without_privileges"),
        attached_pid=None if r.get("attached_pid") is None else _int(r["attached_pid"], "run attached_pid"),
        incremental_base=_incremental_base(r.get("incremental_base")),
        container=_container(r.get("container")),
        oci_command=_optional_str(r.get("oci_command"), "run oci_command"),
        runtime=_oci_runtime(r.get("runtime")),
        extra={k: v for k, v in r.items() if k not in known},
    )


def _choice(value: Any, choices: tuple[Any, ...], what: str) -> Any:
    if value not in choices:
        raise ValueError(f"{what} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _incremental_base(value: Any) -> IncrementalBase | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("profile"), str):
        raise ValueError("run incremental_base must be an object with a 'profile' string")
    untraced = value.get("untraced", [])
    if not isinstance(untraced, list) or not all(isinstance(n, str) for n in untraced):
        raise ValueError("run incremental_base.untraced must be a list of syscall names")
    return IncrementalBase(value["profile"], _int(value.get("allowed_in_kernel", 0), "run allowed_in_kernel"),
                           tuple(untraced))


def _optional_str(value: Any, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{what} must be a string or null")
    return value


def _container(value: Any) -> Container | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise ValueError("run container must be an object with an 'id' string")
    return Container(value["id"], str(value.get("engine", "unknown")),
                     _optional_str(value.get("name"), "run container.name"),
                     _optional_str(value.get("image"), "run container.image"),
                     _str_list(value.get("entrypoint", []), "run container.entrypoint"))


def _oci_runtime(value: Any) -> OciRuntime | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("path"), str):
        raise ValueError("run runtime must be an object with a 'path' string")
    only = value.get("syscalls_only_by_runtime", {})
    if not isinstance(only, dict):
        raise ValueError("run runtime.syscalls_only_by_runtime must be an object of ABI -> names")
    return OciRuntime(value["path"], str(value.get("version", "")),
                      _str_list(value.get("executables", []), "run runtime.executables"),
                      {abi: _str_list(names, f"run runtime.syscalls_only_by_runtime.{abi}")
                       for abi, names in only.items()})


def _check_named(abi: str, key: str, nr: int, where: str) -> None:
    """The key is what this version's table calls nr on abi (or `#nr`, a number it does not name): what
    emit needs, so a recording that merges is one that emits."""
    if abi not in TABLES:
        raise ValueError(f"abis.{abi}: unknown ABI (known: {', '.join(sorted(TABLES))})")
    name = name_of(abi, nr)
    if key.startswith("#"):
        if key != unnamed_key(nr):
            raise ValueError(f"{where}: key does not match nr {nr}")
        if name is not None:
            raise ValueError(f"{where}: {abi} syscall {nr} is {name}, not a number without a name")
    elif not is_known(abi, key):
        raise ValueError(f"{where}: {key!r} is not a syscall on {abi}")
    elif name != key:
        raise ValueError(f"{where}.nr is {nr}, but {key} is {number_of(abi, key)} on {abi}")


def _stats_from(abi: str, key: str, entry: Any, run_ids: set[str]) -> SyscallStats:
    where = f"abis.{abi}.{key}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be an object")
    counts = entry["runs"]
    if not isinstance(counts, dict) or not counts:
        raise ValueError(f"{where}.runs must be a non-empty object of run id -> count")
    if not set(counts) <= run_ids:
        raise ValueError(f"{where}.runs names a run that is not in 'runs'")
    stats = SyscallStats(
        nr=_int(entry["nr"], f"{where}.nr", hi=0xFFFFFFFF),
        counts={run: _int(n, f"{where}.runs.{run}") for run, n in counts.items()},
        executables=set(_str_list(entry["executables"], f"{where}.executables")),
    )
    if _int(entry["count"], f"{where}.count") != stats.count:
        raise ValueError(f"{where}.count is not the sum of its per-run counts")
    _check_named(abi, key, stats.nr, where)
    args = entry.get("args", {})
    if not isinstance(args, dict):
        raise ValueError(f"{where}.args must be an object")
    for idx, a in args.items():
        if idx not in {"0", "1", "2", "3", "4", "5"} or not isinstance(a, dict):
            raise ValueError(f"{where}.args: {idx!r} is not an argument index 0-5")
        values = a["values"]
        if not isinstance(values, list):
            raise ValueError(f"{where}.args.{idx}.values must be a list")
        bits = a.get("bits")
        av = ArgValues(
            values={_int(v, f"{where}.args.{idx} value") for v in values},
            many=bool(a["many"]),
            bits=None if bits is None else _int(bits, f"{where}.args.{idx}.bits"),
        )
        if av.bits is not None and any(v & ~av.bits for v in av.values):
            raise ValueError(f"{where}.args.{idx}.bits does not cover every recorded value")
        stats.args[int(idx)] = av
    return stats
