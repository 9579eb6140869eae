"""Per-container settings remembered at create, for the commands an engine runs without them.

podman's cleanup process calls `RUNTIME delete --force ID` without the `--runtime-flag`s (and
without the environment) that the create had, so without this a container created on crun would be
deleted through runc, and its learn directory not found. At create the wrapper writes the real
runtime and learn directory to `<state dir>/<id>.json`; a later command for that id that names
neither uses them. The state directory (default /run/seccomp-learn, SECCOMP_LEARN_STATE) is the
wrapper's own, like /run/runc is runc's.
"""

from __future__ import annotations

import contextlib
import json
import os

from tracer.errors import UserError
from tracer.oci_runtime.bundle import read_json
from tracer.oci_runtime.learndir import LearnDir, file_stem
from tracer.record import Record, asdict

ENV_STATE = "SECCOMP_LEARN_STATE"
DEFAULT_STATE = "/run/seccomp-learn"
# Commands whose first positional argument is the container id.
BY_ID = frozenset({"start", "state", "kill", "delete", "pause", "resume"})


class Settings(Record, frozen=True):
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


def recall(container_id: str) -> Settings | None:
    path = os.path.join(state_dir(), f"{file_stem(container_id)}.json")
    try:
        data = read_json(path, 4096)
    except UserError:
        return None
    if isinstance(data, dict) and isinstance(data.get("runtime"), str) and isinstance(data.get("learn_dir"), str):
        return Settings(data["runtime"], data["learn_dir"])
    return None


def forget(container_id: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(os.path.join(state_dir(), f"{file_stem(container_id)}.json"))


def container_of(command: str | None, args: list[str]) -> str | None:
    """The container id of a by-id command line (flags of these commands take no value)."""
    if command not in BY_ID:
        return None
    return next((a for a in args if not a.startswith("-")), None)
