"""Directories root writes into (learn and state dirs), opened so that nobody else can redirect the writes.

The path is walked one component at a time from `/` with a descriptor per step, never letting the
kernel follow a link: a symlink is followed only when root owns it (like /var/run), a directory that
others may write to must have the sticky bit (like /tmp), and the last directory must be the wrapper's
own. Missing components are created 0700. Everything afterwards goes through the returned descriptor,
so renaming or replacing a component later changes nothing.

flock with a deadline: a lock another user (or a stuck process) holds never hangs an engine's command.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time

from tracer.errors import UserError

MAX_LINKS = 40  # symlinks followed in one path, as the kernel's ELOOP limit
LOCK_STEP = 0.02  # seconds between two tries of a held lock


def open_dir(path: str, create: bool) -> int:
    """A read-only descriptor of directory `path`, checked as the module says; UserError naming the path.
    FileNotFoundError when it is missing and `create` is false."""
    parts = [p for p in os.path.abspath(path).split("/") if p]
    fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    links = 0
    try:
        while parts:
            name = parts.pop(0)
            try:
                info = _lstat_or_create(name, fd, create)
            except FileNotFoundError:
                raise
            except OSError as exc:
                raise UserError(f"cannot use {name!r}: {exc.strerror}", path) from None
            if stat.S_ISLNK(info.st_mode):
                if info.st_uid != 0:
                    raise UserError(f"{name!r} is a symlink owned by uid {info.st_uid}, not by root", path)
                links += 1
                if links > MAX_LINKS:
                    raise UserError("too many levels of symbolic links", path)
                target = os.readlink(name, dir_fd=fd)
                if target.startswith("/"):
                    os.close(fd)
                    fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
                parts[:0] = [p for p in target.split("/") if p]
                continue
            try:
                step = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            except OSError as exc:
                raise UserError(f"cannot use {name!r}: {exc.strerror}", path) from None
            os.close(fd)
            fd = step
            _check_writers(os.fstat(fd), name, path)
        mine = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
    finally:
        os.close(fd)
    owner = os.fstat(mine).st_uid
    if owner != os.geteuid():
        os.close(mine)
        raise UserError(f"owned by uid {owner}, not by uid {os.geteuid()} (this program)", path)
    return mine


def _lstat_or_create(name: str, fd: int, create: bool) -> os.stat_result:
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        if not create or name == "..":
            raise
    with contextlib.suppress(FileExistsError):  # made meanwhile by another wrapper: checked as any other
        os.mkdir(name, 0o700, dir_fd=fd)
    return os.stat(name, dir_fd=fd, follow_symlinks=False)


def _check_writers(info: os.stat_result, name: str, path: str) -> None:
    """Others may add entries only where the sticky bit stops them from renaming or removing ours."""
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX:
        raise UserError(f"{name!r} is writable by group or others without the sticky bit "
                        f"(mode {stat.S_IMODE(info.st_mode):04o})", path)


def flock(fd: int, operation: int, timeout: float, what: str) -> None:
    """flock(fd, operation) within `timeout` seconds, else a UserError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EINTR):
                raise UserError(f"cannot lock: {exc.strerror}", what) from None
        if time.monotonic() >= deadline:
            raise UserError(f"still locked by another process after {timeout:g}s", what)
        time.sleep(LOCK_STEP)
