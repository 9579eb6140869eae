"""Files in and out: stable JSON text, written atomically so a reader (or git) never sees a half-written
file; the one reader of every input file (bounded: regular files only, size, nesting, strict JSON numbers),
and the guard every YAML input passes before PyYAML builds anything from it."""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import math
import os
import stat
import sys
from collections.abc import Iterator
from typing import Any

from tracer.errors import UserError

STDOUT = "-"  # the output name that means standard output, for every command
MAX_INPUT_BYTES = 64 << 20  # the largest file any command reads: a recording of many runs is a few MB
MAX_YAML_BYTES = 1 << 20  # YAML costs PyYAML ~100x JSON's time and memory per byte: a config is a few hundred
MAX_DEPTH = 64  # nesting of any document read; what we write nests 7 deep, and deeper risks RecursionError
_serial = itertools.count()


def check_output(path: str | os.PathLike[str]) -> None:
    """Refuse, before any work is done, an output that write_atomic could not create or must not replace.

    A directory, a missing or unwritable parent directory, and anything that is not a regular file
    (a device, a FIFO: renaming over it would replace it) are one-line errors naming the path.
    """
    if str(path) == STDOUT:
        return
    target = os.fspath(path)
    try:
        mode: int | None = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise UserError(f"cannot write: {exc.strerror}", target) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise UserError("is a directory; give a file name", target)
    if mode is not None and not stat.S_ISREG(mode):
        raise UserError("is not a regular file (use - for standard output)", target)
    directory = os.path.dirname(target) or os.curdir
    if not os.path.isdir(directory):
        raise UserError(f"directory {directory} does not exist", target)
    # the real test of writability: what write_atomic will do (root ignores mode bits, not a read-only fs)
    fd, probe = _new_temp(target, f"cannot write in {directory}")
    os.close(fd)
    os.unlink(probe)


def _new_temp(target: str, failure: str) -> tuple[int, str]:
    """A new file beside target (O_EXCL: never someone else's), opened for writing, and its name.

    os only, no tempfile or pathlib: this is on the path of every trace, and those imports cost start-up.
    """
    directory, name = os.path.split(target)
    while True:
        tmp = os.path.join(directory, f".{name}.{os.getpid()}.{next(_serial)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644), tmp
        except FileExistsError:
            continue  # left behind by a process that had our pid
        except OSError as exc:
            raise UserError(f"{failure}: {exc.strerror}", target) from None


def write_atomic(path: str | os.PathLike[str], text: str | bytes) -> bool:
    """Write text (UTF-8) or bytes to a new file beside path, fsync it, then rename it over path.

    Returns whether an existing file was replaced (the summary says "replaced", not "wrote").
    """
    target = os.fspath(path)
    fd, tmp = _new_temp(target, "cannot write")
    try:
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(text.encode() if isinstance(text, str) else text)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:  # a full disk or quota: the old file stays as it was
            raise UserError(f"cannot write: {exc.strerror} (the file is left as it was)", target) from None
        os.chmod(tmp, 0o644)  # readable by all, whatever the umask
        replaced = os.path.isfile(target)
        try:
            os.replace(tmp, target)
        except OSError as exc:  # e.g. the path became a directory meanwhile
            raise UserError(f"cannot write: {exc.strerror}", target) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return replaced


def wrote(path: str | os.PathLike[str], replaced: bool) -> str:
    """The summary's word for an output: a new file was written, or an existing one replaced."""
    return f"{'replaced' if replaced else 'wrote'} {path}"


@contextlib.contextmanager
def stdout_on_stderr(when: bool = True) -> Iterator[None]:
    """While a workload runs, point descriptor 1 at stderr (when `when`), so that our stdout carries only
    what we write there: the profile of `-o -`, the `ci --check` report. The workload inherits it."""
    if not when:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def json_text(data: Any) -> str:
    """Sorted keys, two-space indent, a newline at the end: output that diffs cleanly in git. Strict JSON:
    a NaN or infinity is a bug here (every reader refuses them), never written as the non-JSON `NaN`."""
    return json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"


def read_input(path: str | os.PathLike[str], noun: str) -> str:
    """The UTF-8 text of an input file; a UserError naming the file for anything else.

    Only a regular file is opened: a FIFO would block open() and a device (/dev/zero) never ends, so both
    are refused on stat() before any open, and the open (O_NONBLOCK, so a swap for a FIFO cannot block
    it) is checked again with fstat(). Nothing past MAX_INPUT_BYTES is read. `noun` says what the file
    is ("recording", "profile", "config").
    """
    src = os.fsdecode(path)
    try:
        _check_regular(os.stat(path), noun, src)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise UserError(f"cannot read {noun}: {exc.strerror}", src) from None
    try:
        _check_regular(os.fstat(fd), noun, src)
        chunks, size = [], 0
        while size <= MAX_INPUT_BYTES:
            chunk = os.read(fd, MAX_INPUT_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise UserError(f"cannot read {noun}: {exc.strerror}", src) from None
    finally:
        os.close(fd)
    if size > MAX_INPUT_BYTES:
        raise UserError(f"{noun} is larger than {MAX_INPUT_BYTES >> 20} MiB", src)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{noun} is not UTF-8 text ({exc.reason} at byte {exc.start})", src) from None


def _check_regular(st: os.stat_result, noun: str, src: str) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise UserError(f"cannot read {noun}: {os.strerror(errno.EISDIR)}", src)
    if not stat.S_ISREG(st.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else "a device"
        raise UserError(f"cannot read {noun}: not a regular file ({kind})", src)
    if st.st_size > MAX_INPUT_BYTES:
        raise UserError(f"{noun} is larger than {MAX_INPUT_BYTES >> 20} MiB", src)


class NotJSON(UserError):
    """Text that is not JSON at all: a reader that also takes YAML tries that instead."""


class _Refused(ValueError):
    """A number JSON parsing must not turn into a value, with why."""


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number {text[:20]} is out of range for a float")
    return value


def _no_constant(text: str) -> Any:
    raise _Refused(f"{text} is not JSON")


def parse_json(text: str, source: str) -> Any:
    """Strict JSON: no NaN or Infinity (nor 1e999, which Python reads as infinity), no integer past Python's
    4300-digit limit, nesting at most MAX_DEPTH. Every problem is one UserError naming `source`; text that is
    not JSON at all is a NotJSON."""
    try:
        doc = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise NotJSON(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", source) from None
    except RecursionError:
        raise UserError(f"not valid JSON: nested more than {MAX_DEPTH} levels deep", source) from None
    except _Refused as exc:
        raise UserError(f"not valid JSON: {exc}", source) from None
    except ValueError as exc:  # an integer past Python's int/str conversion limit
        raise UserError(f"not valid JSON: {str(exc).split(':')[0]}", source) from None
    check_depth(doc, source)
    return doc


def check_depth(doc: Any, source: str) -> None:
    """Refuse a parsed document nested deeper than MAX_DEPTH, without recursing (copying, printing or
    validating a deeper one would hit Python's recursion limit)."""
    level: list[Any] = [doc]
    for _ in range(MAX_DEPTH):
        level = [v for node in level if isinstance(node, dict | list)
                 for v in (node.values() if isinstance(node, dict) else node)]
        if not level:
            return
    if any(isinstance(node, dict | list) for node in level):
        raise UserError(f"nested more than {MAX_DEPTH} levels deep", source)


def read_json(path: str | os.PathLike[str], noun: str) -> Any:
    """An input file's JSON (read_input, then parse_json)."""
    return parse_json(read_input(path, noun), os.fsdecode(path))


def check_plain_yaml(text: str, source: str, noun: str) -> None:
    """Refuse more than MAX_YAML_BYTES, anchors and aliases (a "billion laughs" document fails at its first
    one, before anything is expanded) and nesting past MAX_DEPTH (PyYAML is quadratic in flow nesting: 1 MB
    of '[' would take minutes). A UserError names `source` and the line; `noun` says what the file is."""
    import yaml  # on use: a trace does not pay for PyYAML

    if len(text) > MAX_YAML_BYTES:  # characters: at most the bytes, a cheap bound before any parsing
        raise UserError(f"{noun} is larger than {MAX_YAML_BYTES >> 20} MiB, the limit for YAML", source)
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = f"{source}:{event.start_mark.line + 1}" if event.start_mark is not None else source
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise UserError(f"YAML anchors and aliases are not allowed in the {noun}", line)
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise UserError(f"{noun} is nested too deeply", line)
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
