"""Atomic file output: a reader (or git) never sees a half-written profile or recording."""

from __future__ import annotations

import contextlib
import itertools
import os

from .errors import UserError

_serial = itertools.count()


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write text to a new file beside path (O_EXCL: never someone else's), fsync it, rename it over path.

    os only, no tempfile or pathlib: this is on the path of every trace, and those imports cost start-up.
    """
    target = os.fspath(path)
    directory, name = os.path.split(target)
    while True:
        tmp = os.path.join(directory, f".{name}.{os.getpid()}.{next(_serial)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            break
        except FileExistsError:
            continue  # left behind by a process that had our pid
        except OSError as exc:
            raise UserError(f"cannot write: {exc.strerror}", target) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # readable by all, whatever the umask
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
