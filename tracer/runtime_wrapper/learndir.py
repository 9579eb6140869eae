"""The learn directory: one `<container-id>.trace.json` per container, written safely and merged under a lock.

Names come from container ids, which the engine (or a user of ctr) chooses: an id that is not a plain
file name is rewritten into one (with a hash, so two ids never share a file). Every file is opened
relative to the directory's descriptor, never through a symlink: new files are created with O_EXCL
(a temporary name, renamed into place), existing ones are read with O_NOFOLLOW and must be regular.

The directory itself is opened by safedir.open_dir (no symlink but root's, nobody else's directory).

Two locks per container (flock, released by the kernel when their holder dies), each taken within a
deadline and refused when another user owns the file:
- `.<name>.active`: held shared by every tracer of the container (its create and each exec) for its
  whole life; `delete` takes it exclusive to wait until every recording is written; the last tracer
  (or `delete`) removes both lock files;
- `.<name>.lock`: held exclusive for the read-merge-write of the recording.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import stat
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from tracer.errors import UserError
from tracer.runtime_wrapper.safedir import flock, open_dir

if TYPE_CHECKING:  # imported by `add` only: the runtime's pass-through commands (start, delete) start faster
    from tracer.recording.schema import Recording

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}")
RECORDING_LIMIT = 64 << 20  # an existing recording larger than this is not merged into
SUFFIX = ".trace.json"
WAIT_STEP = 0.005  # `delete` waits for the recording: every engine's `run --rm` waits as long
ACTIVE_TIMEOUT = 5  # seconds to take the `active` lock (held exclusive only for an instant by `delete`)
MERGE_TIMEOUT = 60  # seconds to take the `lock` lock (held for one read-merge-write of a recording)
REOPENS = 10  # times the `active` lock is opened again when the last tracer removed it meanwhile


def file_stem(container_id: str) -> str:
    """A file name for a container id: the id itself when it is a plain name, else a cleaned form + hash."""
    if SAFE_NAME.fullmatch(container_id):
        return container_id
    import hashlib  # OpenSSL's, 10 ms to load: only for an id that is not a plain name
    cleaned = re.sub(r"[^A-Za-z0-9_.+-]", "_", container_id)[:64].lstrip(".") or "_"
    return f"{cleaned}-{hashlib.sha256(container_id.encode(errors='surrogateescape')).hexdigest()[:16]}"


def _lock_name(container_id: str, kind: str) -> str:
    """The container's `active` or `lock` lock file (hidden: not a recording)."""
    return f".{file_stem(container_id)}.{kind}"


class LearnDir:
    """An open learn directory (created 0700 when missing)."""

    def __init__(self, path: str, create: bool = True) -> None:
        self.path = path
        try:
            self.fd = open_dir(path, create)
        except OSError as exc:
            raise UserError(f"learn directory cannot be used: {exc.strerror}", path) from None

    def close(self) -> None:
        os.close(self.fd)

    def recording_path(self, container_id: str) -> str:
        return os.path.join(self.path, file_stem(container_id) + SUFFIX)

    def _where(self, name: str) -> str:
        return os.path.join(self.path, name)

    def _open_lock(self, container_id: str, kind: str, create: bool = True) -> int:
        """The lock file, created 0600 when missing; one another user owns (or a symlink) is refused."""
        name = _lock_name(container_id, kind)
        try:
            fd = os.open(name, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_CREAT if create else 0), 0o600,
                         dir_fd=self.fd)
        except FileNotFoundError:
            if create:
                raise UserError("cannot write the learn directory: it was removed", self._where(name)) from None
            raise
        except OSError as exc:
            raise UserError(f"cannot write the learn directory: {exc.strerror}", self._where(name)) from None
        info = os.fstat(fd)
        if info.st_uid != os.geteuid() or not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise UserError(f"a lock file owned by uid {info.st_uid}, not by this program", self._where(name))
        return fd

    def check_writable(self, container_id: str) -> None:
        """Before the container starts: its lock files can be opened and its recording is no symlink or
        other non-regular file, so that what it does can be written once it has run (nothing is created)."""
        with contextlib.suppress(FileNotFoundError):
            os.close(self._open_lock(container_id, "lock", create=False))
        name = file_stem(container_id) + SUFFIX
        try:
            info = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if not stat.S_ISREG(info.st_mode):
            raise UserError("the recording is not a regular file (a symlink?)", self._where(name))

    def hold_active(self, container_id: str) -> int:
        """Take the container's shared 'a tracer is recording' lock; the caller keeps the descriptor open.
        A file removed by the last tracer after it was opened here is opened again."""
        name = _lock_name(container_id, "active")
        for _ in range(REOPENS):
            fd = self._open_lock(container_id, "active")
            try:
                flock(fd, fcntl.LOCK_SH, ACTIVE_TIMEOUT, self._where(name))
                with contextlib.suppress(FileNotFoundError):
                    if os.stat(name, dir_fd=self.fd, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                        return fd
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
        raise UserError(f"removed again each of {REOPENS} times it was opened", self._where(name))

    def release(self, container_id: str, active_fd: int) -> None:
        """A tracer's end: let go of its `active` lock; the last one removes the container's lock files."""
        try:
            fcntl.flock(active_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return
        else:
            self._remove_locks(container_id)
        finally:
            os.close(active_fd)

    def _remove_locks(self, container_id: str) -> None:
        for done in (_lock_name(container_id, "active"), _lock_name(container_id, "lock")):
            with contextlib.suppress(OSError):
                os.unlink(done, dir_fd=self.fd)

    def _existing_active(self, container_id: str) -> int | None:
        """The container's 'a tracer is recording' lock file opened to test it; None when there is none
        (or when it is not this program's)."""
        try:
            fd = os.open(_lock_name(container_id, "active"), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                         dir_fd=self.fd)
        except OSError:
            return None
        if os.fstat(fd).st_uid != os.geteuid():
            os.close(fd)
            return None
        return fd

    def is_active(self, container_id: str) -> bool:
        """A tracer of this container is running (its create is learning)."""
        fd = self._existing_active(container_id)
        if fd is None:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def has_active(self, container_id: str) -> bool:
        """A tracer of this container is running or has not yet removed its lock files."""
        fd = self._existing_active(container_id)
        if fd is not None:
            os.close(fd)
        return fd is not None

    def wait_idle(self, container_id: str, timeout: float) -> bool:
        """Wait until no tracer of the container is left (its recording is written); False on timeout."""
        fd = self._existing_active(container_id)
        if fd is None:
            return True
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        return False
                    time.sleep(WAIT_STEP)
                    continue
                self._remove_locks(container_id)
                return True
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _locked(self, container_id: str) -> Iterator[None]:
        fd = self._open_lock(container_id, "lock")
        try:
            flock(fd, fcntl.LOCK_EX, MERGE_TIMEOUT, self._where(_lock_name(container_id, "lock")))
            yield
        finally:
            os.close(fd)

    def add(self, container_id: str, rec: Recording) -> str:
        """Merge rec into the container's recording (creating it), atomically; returns its path."""
        from tracer.recording import schema as rec_io
        from tracer.recording.union import merge
        name = file_stem(container_id) + SUFFIX
        with self._locked(container_id):
            existing = self._read(name)
            merged = rec if existing is None else merge([existing, rec], [self.recording_path(container_id), "new run"])
            self.write_text(name, rec_io.dumps(merged))
        return self.recording_path(container_id)

    def _read(self, name: str) -> Recording | None:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=self.fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise UserError(f"cannot read: {exc.strerror}", self._where(name)) from None
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > RECORDING_LIMIT:
                raise UserError("not a regular file of a recording's size", self._where(name))
            data = f.read(RECORDING_LIMIT + 1)
        from tracer.recording import schema as rec_io
        try:
            return rec_io.from_json(json.loads(data))
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
            raise UserError(f"malformed recording: {exc}"[:300], self._where(name)) from None

    def write_text(self, name: str, text: str) -> None:
        """Create a fresh temporary file (O_EXCL, never through a symlink), fsync it, rename it over name."""
        tmp = f".{name}.{os.getpid()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                         dir_fd=self.fd)
        except OSError as exc:
            if exc.errno == errno.EEXIST:  # left by a tracer with our pid that died: ours to replace
                os.unlink(tmp, dir_fd=self.fd)
                return self.write_text(name, text)
            raise UserError(f"cannot write: {exc.strerror}", self._where(name)) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.rename(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=self.fd)
            if isinstance(exc, OSError):  # a full disk, a quota: the old file is still there
                raise UserError(f"cannot write: {exc.strerror}", self._where(name)) from None
            raise
        return None
