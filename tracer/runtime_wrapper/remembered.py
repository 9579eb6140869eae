"""Per-container settings remembered at create, for the commands an engine runs without them.

podman's cleanup process calls `RUNTIME delete --force ID` without the `--runtime-flag`s (and
without the environment) that the create had, so without this a container created on crun would be
deleted through runc, and its learn directory not found. At create the wrapper writes the real
runtime and learn directory to `<state dir>/<id>.json`; a later command for that id that names
neither uses them. The state directory (default /run/seccomp-learn, SECCOMP_LEARN_STATE) is the
wrapper's own, like /run/runc is runc's, opened as safedir.open_dir says. Settings are written only
once the runtime has created the container, so a create that fails or is refused (a duplicate id)
leaves nothing and never touches another container's.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator

from tracer.errors import UserError
from tracer.runtime_wrapper.bundle import read_json
from tracer.runtime_wrapper.learndir import LearnDir, file_stem
from tracer.runtime_wrapper.safedir import open_dir
from tracer.structs import Struct, asdict

ENV_STATE = "SECCOMP_LEARN_STATE"
# The real runtimes' `--version` lines by binary (path, device, inode, size, mtime, ctime): a create
# asks a runtime only once per binary. Hidden: file_stem never starts with a dot, so no container's.
VERSIONS = ".runtime-versions.json"
VERSIONS_KEPT = 8
DEFAULT_STATE = "/run/seccomp-learn"
# Commands whose first positional argument is the container id.
BY_ID = frozenset({"start", "state", "kill", "delete", "pause", "resume"})


class Settings(Struct, frozen=True):
    runtime: str
    learn_dir: str


def state_dir() -> str:
    return os.environ.get(ENV_STATE) or DEFAULT_STATE


def remember(container_id: str, settings: Settings) -> None:
    directory = LearnDir(state_dir())
    try:
        directory.write_text(f"{file_stem(container_id)}.json", json.dumps(asdict(settings), sort_keys=True))
    finally:
        directory.close()


@contextlib.contextmanager
def _existing_state() -> Iterator[int | None]:
    """The state directory's descriptor, None when there is none (nothing was remembered)."""
    try:
        fd = open_dir(state_dir(), create=False)
    except (OSError, UserError):
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)


def recall(container_id: str) -> Settings | None:
    with _existing_state() as fd:
        if fd is None:
            return None
        try:
            data = read_json(f"{file_stem(container_id)}.json", 4096, dir_fd=fd)
        except UserError:
            return None
    if isinstance(data, dict) and isinstance(data.get("runtime"), str) and isinstance(data.get("learn_dir"), str):
        return Settings(data["runtime"], data["learn_dir"])
    return None


def known(container_id: str) -> bool:
    """Settings are remembered for the container (its create went through the wrapper)."""
    with _existing_state() as fd:
        if fd is None:
            return False
        try:
            os.stat(f"{file_stem(container_id)}.json", dir_fd=fd, follow_symlinks=False)
        except OSError:
            return False
    return True


def forget(container_id: str) -> None:
    with _existing_state() as fd, contextlib.suppress(OSError):
        if fd is not None:
            os.unlink(f"{file_stem(container_id)}.json", dir_fd=fd)


def binary_key(path: str) -> str:
    """What identifies one build of a runtime binary: replacing or touching it gives another key."""
    info = os.stat(path)
    return " ".join(map(str, (os.path.realpath(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns,
                              info.st_ctime_ns)))


def _versions(fd: int) -> dict[str, str]:
    try:
        data = read_json(VERSIONS, 64 << 10, dir_fd=fd)
    except UserError:
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def cached_version(key: str) -> str | None:
    with _existing_state() as fd:
        return None if fd is None else _versions(fd).get(key)


def cache_version(key: str, version: str) -> None:
    """Keep the version for key (and the last few others); a cache that cannot be written is only slower."""
    with contextlib.suppress(OSError, UserError):
        directory = LearnDir(state_dir())
        try:
            kept = [(k, v) for k, v in _versions(directory.fd).items() if k != key][-(VERSIONS_KEPT - 1):]
            directory.write_text(VERSIONS, json.dumps(dict([*kept, (key, version)])))
        finally:
            directory.close()


def container_of(command: str | None, args: list[str]) -> str | None:
    """The container id of a by-id command line (flags of these commands take no value)."""
    if command not in BY_ID:
        return None
    return next((a for a in args if not a.startswith("-")), None)
