"""The `seccomp-learn ci` configuration file (docs/config.md): strict schema, file:line errors.

The YAML is parsed by PyYAML's SafeLoader into a node tree (marks give line numbers) and checked
node by node; nothing is ever constructed from a tag other than the safe ones. Aliases are refused
outright (a "billion laughs" document fails at its first alias, before anything is expanded), and
so are duplicate keys, which YAML would otherwise resolve silently to the last one.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from pathlib import Path
from typing import Any

import yaml

from tracer.capture import ready as readiness
from tracer.capture.shell import shell_argv
from tracer.errors import UserError
from tracer.fileio import check_plain_yaml, read_input
from tracer.kernel.signals import parse_signal
from tracer.profile import extras
from tracer.profile.formats import BINARY_FORMATS, FORMATS
from tracer.recording.schema import Follow
from tracer.structs import Struct, field
from tracer.syscalls.abi import ABI_ALIASES, ABI_ORDER
from tracer.syscalls.names import is_known

RUNTIMES = tuple(extras.RUNTIMES)
ARCHES = tuple(sorted(ABI_ALIASES))
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class RunSpec(Struct):
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None  # absolute; None = the config file's directory
    timeout: float | None = None
    duration: float | None = None
    stop_signal: int = signal.SIGTERM
    during: list[str] | None = None
    ready: readiness.Ready | None = None  # ready/ready_cmd/ready_timeout: when the during driver may start
    expect_exit: list[int] = field(default_factory=lambda: [0])
    follow: Follow = "all"
    repeat: int = 1  # run the workload this many times; the runs are merged
    line: int = 0

    def run_ids(self, profile: str) -> list[str]:
        """The ids of this run's recordings: `<profile>/<name>`, and `#1`.. `#N` after it when repeated."""
        base = f"{profile}/{self.name}"
        return [base] if self.repeat == 1 else [f"{base}#{i}" for i in range(1, self.repeat + 1)]


class RegistryPin(Struct):
    """Where the profile is published, to compare with the committed one under `ci --check`."""

    reference: str
    image_digest: str | None = None  # the pulled artifact must say it was learned for this image
    insecure: bool = False


class ProfileSpec(Struct):
    name: str
    output: Path
    recording: Path
    report: Path
    format: str = "docker"
    runtime: str = "docker"
    args: bool = True
    arch: list[str] = field(default_factory=list)
    portable: bool = False
    allow: list[str] = field(default_factory=list)  # allowed whatever the runs saw: calls made on a timer
    runs: list[RunSpec] = field(default_factory=list)
    registry: RegistryPin | None = None


class Config(Struct):
    path: Path
    profiles: list[ProfileSpec]


class _Checker:
    """Type checks on nodes; every failure is one UserError 'file:line: key: problem'."""

    def __init__(self, path: str, loader: yaml.SafeLoader) -> None:
        self.path = path
        self.loader = loader

    def fail(self, node: yaml.Node | None, where: str, problem: str) -> UserError:
        line = node.start_mark.line + 1 if node is not None else 1
        return UserError(f"{where}: {problem}" if where else problem, f"{self.path}:{line}")

    def mapping(self, node: yaml.Node, where: str, allowed: tuple[str, ...],
                required: tuple[str, ...] = ()) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, where, f"must be a mapping, not {_kind(node)}")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                raise self.fail(key_node, where, "keys must be strings")
            key = key_node.value
            full = f"{where}.{key}" if where else key
            if allowed and key not in allowed:
                raise self.fail(key_node, full, f"unknown key (allowed: {', '.join(allowed)})")
            if key in out:
                raise self.fail(key_node, full, "duplicate key")
            out[key] = (key_node, value_node)
        for key in required:
            if key not in out:
                raise self.fail(node, f"{where}.{key}" if where else key, "required key is missing")
        return out

    def scalar(self, node: yaml.Node, where: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, where, f"must be a single value, not {_kind(node)}")
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise self.fail(node, where, str(getattr(exc, "problem", exc))) from None

    def string(self, node: yaml.Node, where: str) -> str:
        value = self.scalar(node, where)
        if not isinstance(value, str) or not value:
            raise self.fail(node, where, f"must be a non-empty string, got {_show(value)}")
        return value

    def boolean(self, node: yaml.Node, where: str) -> bool:
        value = self.scalar(node, where)
        if not isinstance(value, bool):
            raise self.fail(node, where, f"must be true or false, got {_show(value)}")
        return value

    def seconds(self, node: yaml.Node, where: str) -> float:
        value = self.scalar(node, where)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 7 * 86400:
            raise self.fail(node, where, f"must be a number of seconds > 0, got {_show(value)}")
        return float(value)

    def seq(self, node: yaml.Node, where: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, where, f"must be a list, not {_kind(node)}")
        return list(node.value)

    def argv(self, node: yaml.Node, where: str) -> list[str]:
        items = self.seq(node, where)
        if not items:
            raise self.fail(node, where, "must be a non-empty list (program and arguments)")
        out = []
        for i, item in enumerate(items):
            value = self.scalar(item, f"{where}[{i}]")
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise self.fail(item, f"{where}[{i}]", f"must be a string, got {_show(value)}")
            out.append(value if isinstance(value, str) else item.value)  # "8080" and 8080 both mean 8080
        return out


def shown_path(path: Path) -> str:
    """A path the config names, as the summaries show it: relative to the working directory if it can be."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _kind(node: yaml.Node | None) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    return "a list" if isinstance(node, yaml.SequenceNode) else "a single value"


def _show(value: Any) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"


def _signal(ck: _Checker, node: yaml.Node, where: str) -> int:
    value = ck.scalar(node, where)
    if isinstance(value, int | str) and not isinstance(value, bool):
        with contextlib.suppress(UserError):
            return parse_signal(str(value), where)
    raise ck.fail(node, where, f"must be a signal name such as SIGTERM or SIGINT, got {_show(value)}")


def load(path: str | os.PathLike[str]) -> Config:
    src = str(path)
    text = read_input(path, "config")
    try:
        check_plain_yaml(text, src, "config")
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise UserError(f"invalid YAML: {exc.problem or exc.context}", f"{src}:{line}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"invalid YAML: {exc}", src) from None
    if root is None:
        raise UserError("config is empty (expected a 'profiles:' mapping)", f"{src}:1")
    return _config(_Checker(src, loader), root, Path(path).resolve().parent, Path(path))


def _config(ck: _Checker, root: yaml.Node, base: Path, path: Path) -> Config:
    top = ck.mapping(root, "", ("profiles",), ("profiles",))
    profiles_node = top["profiles"][1]
    entries = ck.mapping(profiles_node, "profiles", ())
    if not entries:
        raise ck.fail(profiles_node, "profiles", "must declare at least one profile")
    profiles = [_profile(ck, name, key, node, base) for name, (key, node) in entries.items()]
    outputs: dict[Path, str] = {}
    for p in profiles:
        for kind, target in (("output", p.output), ("recording", p.recording), ("report", p.report)):
            if target in outputs:
                raise UserError(f"profiles.{p.name}.{kind}: {target} is also written by {outputs[target]}", str(path))
            outputs[target] = f"profiles.{p.name}"
    return Config(path=path, profiles=profiles)


PROFILE_KEYS = ("output", "format", "runtime", "recording", "report", "args", "arch", "portable", "allow", "runs",
                "registry")
RUN_KEYS = ("name", "command", "env", "cwd", "timeout", "duration", "stop_signal", "during", "ready", "ready_cmd",
            "ready_timeout", "expect_exit", "follow", "repeat")
MAX_REPEAT = 1000


def _profile(ck: _Checker, name: str, key: yaml.Node, node: yaml.Node, base: Path) -> ProfileSpec:
    where = f"profiles.{name}"
    if not NAME_RE.match(name):
        raise ck.fail(key, where, "profile names are letters, digits, '.', '_' and '-'")
    m = ck.mapping(node, where, PROFILE_KEYS, ("output", "runs"))
    output = base / ck.string(m["output"][1], f"{where}.output")
    spec = ProfileSpec(name=name, output=output, recording=_beside(output, ".trace.json"),
                       report=_beside(output, ".report.md"))
    if "recording" in m:
        spec.recording = base / ck.string(m["recording"][1], f"{where}.recording")
    if "report" in m:
        spec.report = base / ck.string(m["report"][1], f"{where}.report")
    text_formats = tuple(f for f in FORMATS if f not in BINARY_FORMATS)  # --check compares text
    for opt, choices in (("format", text_formats), ("runtime", RUNTIMES)):
        if opt in m:
            value = ck.string(m[opt][1], f"{where}.{opt}")
            if value not in choices:
                raise ck.fail(m[opt][1], f"{where}.{opt}", f"must be one of {', '.join(choices)}, got {value!r}")
            setattr(spec, opt, value)
    for opt in ("args", "portable"):
        if opt in m:
            setattr(spec, opt, ck.boolean(m[opt][1], f"{where}.{opt}"))
    if "arch" in m:
        for i, item in enumerate(ck.seq(m["arch"][1], f"{where}.arch")):
            value = ck.string(item, f"{where}.arch[{i}]")
            if value not in ARCHES:
                raise ck.fail(item, f"{where}.arch[{i}]", f"must be one of {', '.join(ARCHES)}, got {value!r}")
            spec.arch.append(value)
    if "allow" in m:
        for i, item in enumerate(ck.seq(m["allow"][1], f"{where}.allow")):
            value = ck.string(item, f"{where}.allow[{i}]")
            if not any(is_known(abi, value) for abi in ABI_ORDER):
                raise ck.fail(item, f"{where}.allow[{i}]", f"{value!r} is not a syscall name")
            spec.allow.append(value)
    if "registry" in m:
        spec.registry = _registry(ck, m["registry"][1], f"{where}.registry")
    runs_node = m["runs"][1]
    items = ck.seq(runs_node, f"{where}.runs")
    if not items:
        raise ck.fail(runs_node, f"{where}.runs", "must list at least one run")
    for i, item in enumerate(items):
        run = _run(ck, f"{where}.runs[{i}]", item, base)
        if any(r.name == run.name for r in spec.runs):
            raise ck.fail(item, f"{where}.runs[{i}].name", f"run name {run.name!r} is used twice")
        spec.runs.append(run)
    return spec


def _registry(ck: _Checker, node: yaml.Node, where: str) -> RegistryPin:
    from tracer.distribution.client import DIGEST, parse_reference

    m = ck.mapping(node, where, ("reference", "image_digest", "insecure"), ("reference",))
    reference = ck.string(m["reference"][1], f"{where}.reference")
    try:
        parse_reference(reference)
    except UserError as exc:
        raise ck.fail(m["reference"][1], f"{where}.reference", str(exc)) from None
    pin = RegistryPin(reference)
    if "image_digest" in m:
        pin.image_digest = ck.string(m["image_digest"][1], f"{where}.image_digest")
        if not DIGEST.fullmatch(pin.image_digest):
            raise ck.fail(m["image_digest"][1], f"{where}.image_digest", "must be sha256: and 64 hex digits")
    if "insecure" in m:
        pin.insecure = ck.boolean(m["insecure"][1], f"{where}.insecure")
    return pin


def _beside(output: Path, suffix: str) -> Path:
    """profiles/web.json -> profiles/web<suffix>: the last extension is replaced."""
    return output.with_name(output.stem + suffix if output.suffix else output.name + suffix)


def _ready(ck: _Checker, m: dict[str, tuple[yaml.Node, yaml.Node]], where: str, during: bool
           ) -> readiness.Ready | None:
    """ready (tcp:HOST:PORT or unix:PATH), ready_cmd and ready_timeout, checked as --ready & co. are."""
    given = [key for key in ("ready", "ready_cmd", "ready_timeout") if key in m]
    if not given:
        return None
    first = m[given[0]][1]
    if not during:
        raise ck.fail(first, f"{where}.{given[0]}", "holds back the during driver: needs during too")
    ready = ck.string(m["ready"][1], f"{where}.ready") if "ready" in m else None
    ready_cmd = ck.string(m["ready_cmd"][1], f"{where}.ready_cmd") if "ready_cmd" in m else None
    timeout = ck.seconds(m["ready_timeout"][1], f"{where}.ready_timeout") if "ready_timeout" in m else None
    try:
        return readiness.parse(ready, ready_cmd, timeout)
    except ValueError as exc:
        problem = str(exc).split(": ", 1)[-1] if str(exc).startswith("--") else str(exc)
        raise ck.fail(first, f"{where}.{given[0]}", problem) from None


def _run(ck: _Checker, where: str, node: yaml.Node, base: Path) -> RunSpec:
    m = ck.mapping(node, where, RUN_KEYS, ("name", "command"))
    name = ck.string(m["name"][1], f"{where}.name")
    if not NAME_RE.match(name):
        raise ck.fail(m["name"][1], f"{where}.name", "run names are letters, digits, '.', '_' and '-'")
    run = RunSpec(name=name, command=ck.argv(m["command"][1], f"{where}.command"), line=node.start_mark.line + 1)
    if "env" in m:
        for var, (knode, vnode) in ck.mapping(m["env"][1], f"{where}.env", ()).items():
            value = ck.scalar(vnode, f"{where}.env.{var}")
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise ck.fail(vnode, f"{where}.env.{var}", f"must be a string, got {_show(value)}")
            if "=" in var or "\0" in var:
                raise ck.fail(knode, f"{where}.env.{var}", "is not a valid variable name")
            run.env[var] = value if isinstance(value, str) else vnode.value
    if "cwd" in m:
        run.cwd = base / ck.string(m["cwd"][1], f"{where}.cwd")
    for opt in ("timeout", "duration"):
        if opt in m:
            setattr(run, opt, ck.seconds(m[opt][1], f"{where}.{opt}"))
    if "stop_signal" in m:
        run.stop_signal = _signal(ck, m["stop_signal"][1], f"{where}.stop_signal")
    if "during" in m:  # a string is a shell command, a list an argv (tracer/capture/shell.py)
        node = m["during"][1]
        is_text = isinstance(node, yaml.ScalarNode)
        run.during = shell_argv(ck.string(node, f"{where}.during")) if is_text else ck.argv(node, f"{where}.during")
    run.ready = _ready(ck, m, where, run.during is not None)
    if "repeat" in m:
        count = ck.scalar(m["repeat"][1], f"{where}.repeat")
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_REPEAT:
            raise ck.fail(m["repeat"][1], f"{where}.repeat", f"must be a number of runs from 1 to {MAX_REPEAT}, "
                          f"got {_show(count)}")
        run.repeat = count
    if "expect_exit" in m:
        codes = []
        for i, item in enumerate(ck.seq(m["expect_exit"][1], f"{where}.expect_exit")):
            value = ck.scalar(item, f"{where}.expect_exit[{i}]")
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
                raise ck.fail(item, f"{where}.expect_exit[{i}]", f"must be an exit code 0-255, got {_show(value)}")
            codes.append(value)
        if not codes:
            raise ck.fail(m["expect_exit"][1], f"{where}.expect_exit", "must list at least one exit code")
        run.expect_exit = codes
    if "follow" in m:
        follow = ck.string(m["follow"][1], f"{where}.follow")
        if follow not in ("all", "main"):
            raise ck.fail(m["follow"][1], f"{where}.follow", f"must be all or main, got {follow!r}")
        run.follow = "all" if follow == "all" else "main"
    if "stop_signal" in m and run.duration is None and run.during is None:
        raise ck.fail(m["stop_signal"][1], f"{where}.stop_signal", "needs duration or during (when to send it)")
    if "expect_exit" not in m and (run.duration is not None or run.during is not None):
        run.expect_exit = [0, 128 + run.stop_signal]  # stopped by its stop signal is a normal end
    return run
