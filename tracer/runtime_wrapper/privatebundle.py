"""The real runtime's own bundle: the user's bundle is only read, never written, so nothing can leave it weakened.

The wrapper gives the runtime `--bundle <state dir>/bundles/<name>`, a root-only (0700) directory that
holds one file, config.json: the user's configuration with the recording filter, and with the paths
runc and crun resolve against the bundle (root.path, relative bind-mount sources) made absolute
against the user's bundle as it was opened (bundle.anchored). A crash, a SIGKILL, a full disk or a
concurrent run on the same bundle never reaches the user's files, and each run has its own filter.

The copy is removed when its tracer ends (the container is gone). Its directory is flock'ed by the
wrapper and then by the tracer for their whole lives, so a copy whose tracer was SIGKILLed is known
by its free lock, and the next wrapper removes it. A copy is made under a dot name and renamed into
place once locked, so that nobody removes a copy being made.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import time
from typing import Any

from tracer.errors import UserError
from tracer.runtime_wrapper.safedir import open_dir
from tracer.structs import Struct

CONFIG = "config.json"
STALE_NEW = 60  # seconds after which an unlocked dot-named copy (a wrapper killed while making it) is removed


class PrivateBundle(Struct):
    path: str
    fd: int  # the copy's directory, flock'ed while it is in use
    parent: int  # <state dir>/bundles

    def close(self) -> None:
        """Let go of the descriptors (the lock stays with any other process that holds them)."""
        for fd in (self.fd, self.parent):
            with contextlib.suppress(OSError):
                os.close(fd)

    def remove(self) -> None:
        _remove(self.parent, os.path.basename(self.path), self.fd)
        self.close()


def make(state_dir: str, stem: str, config: dict[str, Any]) -> PrivateBundle:
    """A fresh locked copy holding config; UserError when it cannot be written (before anything ran)."""
    try:
        data = json.dumps(config, allow_nan=False).encode()
    except (ValueError, RecursionError) as exc:
        raise UserError(f"the configuration cannot be written back as JSON: {exc}"[:200]) from None
    where = os.path.join(state_dir, "bundles")
    try:
        parent = open_dir(where, create=True)
    except OSError as exc:
        raise UserError(f"cannot create the runtime's bundle: {exc.strerror}", where) from None
    name = f"{stem[:64]}.{secrets.token_hex(8)}"
    try:
        sweep(parent)
        os.mkdir(f".{name}", 0o700, dir_fd=parent)
        fd = os.open(f".{name}", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    except OSError as exc:
        os.close(parent)
        raise UserError(f"cannot create the runtime's bundle: {exc.strerror}", where) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        out = os.open(CONFIG, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=fd)
        with os.fdopen(out, "wb") as f:
            f.write(data)
        os.rename(f".{name}", name, src_dir_fd=parent, dst_dir_fd=parent)
    except OSError as exc:
        _remove(parent, f".{name}", fd)
        os.close(fd)
        os.close(parent)
        raise UserError(f"cannot write the runtime's bundle: {exc.strerror}", os.path.join(where, name)) from None
    return PrivateBundle(os.path.join(where, name), fd, parent)


def sweep(parent: int) -> None:
    """Remove the copies no live wrapper or tracer holds."""
    now = time.time()
    for name in os.listdir(parent):
        with contextlib.suppress(OSError):
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
            try:
                if name.startswith(".") and now - os.fstat(fd).st_mtime < STALE_NEW:
                    continue
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                _remove(parent, name, fd)
            finally:
                os.close(fd)


def _remove(parent: int, name: str, fd: int) -> None:
    with contextlib.suppress(OSError):
        for entry in os.listdir(fd):
            os.unlink(entry, dir_fd=fd)
        os.rmdir(name, dir_fd=parent)
