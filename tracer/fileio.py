"""Files in and out: stable JSON text, written atomically so a reader (or git) never sees a half-written
file, and the guard every YAML input passes before PyYAML builds anything from it."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import stat
import sys
from collections.abc import Iterator
from typing import Any

from tracer.errors import UserError

STDOUT = "-"  # the output name that means standard output, for every command
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
        with os.fdopen(fd, "wb") as out:
            out.write(text.encode() if isinstance(text, str) else text)
            out.flush()
            os.fsync(out.fileno())
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
    """Sorted keys, two-space indent, a newline at the end: output that diffs cleanly in git."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def check_plain_yaml(text: str, source: str, noun: str) -> None:
    """Refuse anchors and aliases (a "billion laughs" document fails at its first one, before anything is
    expanded) and nesting past 64 levels (PyYAML is quadratic in flow nesting: 1 MB of '[' would take
    minutes). A UserError names `source` and the line; `noun` says what the file is ("config")."""
    import yaml  # on use: a trace does not pay for PyYAML

    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = f"{source}:{event.start_mark.line + 1}" if event.start_mark is not None else source
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise UserError(f"YAML anchors and aliases are not allowed in the {noun}", line)
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > 64:
                raise UserError(f"{noun} is nested too deeply", line)
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
