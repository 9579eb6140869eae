"""What the bundle and the engine's own state say about a container: untrusted input, read defensively.

Every file here was written by someone else (the engine, or whoever controls the bundle path), so it is
opened without following a final symlink, must be a regular file under a size cap, and every string
taken from it is cut to a bounded, printable form before it reaches a recording.

Measured with Docker 20.10.24, podman 4.3.1 and ctr (containerd 1.6.20): none of them puts the image or
the container's name in config.json's annotations (Docker and ctr write none at all; podman writes
`io.container.manager: libpod` and its own flags). Kubernetes' CRI does (`io.kubernetes.cri.*`).
So the image and name also come from the engine's state beside the bundle: Docker's
`<data-root>/containers/<id>/config.v2.json` (found from the rootfs path) and the containers/storage
`containers.json` two levels above podman's bundle.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from typing import TYPE_CHECKING, Any

from tracer.errors import UserError
from tracer.structs import Struct

if TYPE_CHECKING:  # pass-through commands import neither the recording's types nor pathlib (7 ms): remembered.py
    from pathlib import Path  # reads its state files with read_json on every command

    from tracer.recording.schema import Container

CONFIG_LIMIT = 16 << 20  # bytes of a config.json (or an engine state file) the wrapper reads at most
TEXT_LIMIT = 256  # characters kept of a name or image reference
ARG_LIMIT = 1024  # characters kept of one entrypoint argument
ARGS_LIMIT = 64  # entrypoint arguments kept
# Annotation keys that name the container and its image, in order of preference.
NAME_KEYS = ("io.kubernetes.cri.container-name", "io.kubernetes.container.name", "nerdctl/name")
IMAGE_KEYS = ("io.kubernetes.cri.image-name", "io.kubernetes.cri-o.ImageName", "org.opencontainers.image.ref.name")
POD_KEYS = (("io.kubernetes.cri.sandbox-namespace", "io.kubernetes.cri.sandbox-name"),
            ("io.kubernetes.pod.namespace", "io.kubernetes.pod.name"))
SANDBOX = ("io.kubernetes.cri.container-type", "sandbox")  # a pod's pause container, not a workload


class UntrustedFile(Struct, frozen=True):
    path: str
    raw: bytes


def read_untrusted(path: str | Path, limit: int = CONFIG_LIMIT, dir_fd: int | None = None,
                   shown: str | None = None) -> UntrustedFile:
    """A regular file's bytes, not through a symlink, at most `limit` of them; UserError naming the file
    (`shown`, for a path relative to `dir_fd`)."""
    src = shown or str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError as exc:
        reason = "is a symlink" if exc.errno == errno.ELOOP else exc.strerror
        raise UserError(f"cannot read: {reason}", src) from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UserError("not a regular file", src)
        if info.st_size > limit:
            raise UserError(f"larger than {limit} bytes", src)
        return UntrustedFile(src, f.read(limit + 1))


def parse_json(file: UntrustedFile) -> Any:
    try:
        return json.loads(file.raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UserError(f"not valid JSON ({str(exc).splitlines()[0][:80]})", file.path) from None


def read_json(path: str | Path, limit: int = CONFIG_LIMIT, dir_fd: int | None = None,
              shown: str | None = None) -> Any:
    return parse_json(read_untrusted(path, limit, dir_fd, shown))


def clean(value: object, limit: int = TEXT_LIMIT) -> str | None:
    """A string from untrusted input, printable and bounded; None for anything that is not a string."""
    if not isinstance(value, str):
        return None
    return "".join(c if c.isprintable() else "?" for c in value[:limit])


class Bundle(Struct, frozen=True):
    """The bundle directory as opened once: what its relative paths mean, whatever its path names later."""

    shown: str  # the path given (for messages and the engine's state beside it)
    fd: int
    real: str  # the opened directory's own path (/proc/self/fd), against which runc and crun resolve


def open_bundle(path: str) -> Bundle:
    """The bundle directory, not through a symlink."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        reason = "is a symlink" if exc.errno == errno.ELOOP else exc.strerror
        raise UserError(f"the bundle cannot be used: {reason}", path) from None
    real = os.readlink(f"/proc/self/fd/{fd}")
    if os.fstat(fd).st_nlink == 0 or not real.startswith("/"):
        os.close(fd)
        raise UserError("the bundle directory was removed", path)
    return Bundle(path, fd, real)


def load_config(bundle: Bundle, config_name: str | None = None) -> dict[str, Any]:
    """The bundle's config.json (crun's --config may name another file), as an object."""
    name = config_name or "config.json"
    shown = name if os.path.isabs(name) else os.path.join(bundle.shown, name)
    config = parse_json(read_untrusted(name, dir_fd=bundle.fd, shown=shown))
    if not isinstance(config, dict):
        raise UserError("not an OCI runtime configuration (not a JSON object)", shown)
    linux = config.get("linux", {})
    if not isinstance(linux, dict) or not isinstance(linux.get("seccomp", {}), dict | None):
        raise UserError("'linux.seccomp' is not an object", shown)
    return config


def anchored(config: dict[str, Any], bundle: Bundle) -> dict[str, Any]:
    """config with the paths runc and crun take relative to the bundle (root.path, a bind mount's
    source) made absolute against the opened bundle, for a copy of config.json that lives elsewhere."""
    out = dict(config)
    root = config.get("root")
    if isinstance(root, dict) and isinstance(root.get("path"), str):
        out["root"] = {**root, "path": _against(bundle, root["path"])}
    mounts = config.get("mounts")
    if isinstance(mounts, list):
        out["mounts"] = [{**m, "source": _against(bundle, m["source"])} if _relative_bind(m) else m for m in mounts]
    return out


def _relative_bind(mount: object) -> bool:
    if not isinstance(mount, dict) or not isinstance(mount.get("source"), str) or os.path.isabs(mount["source"]):
        return False
    options = mount.get("options")
    return mount.get("type") == "bind" or (isinstance(options, list) and bool({"bind", "rbind"} & set(
        o for o in options if isinstance(o, str))))


def _against(bundle: Bundle, path: str) -> str:
    """Go's filepath.Join(bundle, path), as runc resolves it; an absolute path stays as it is."""
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(bundle.real, path))


def annotations_of(config: dict[str, Any]) -> dict[str, str]:
    raw = config.get("annotations")
    return {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(raw, dict) else {}


def is_sandbox(config: dict[str, Any]) -> bool:
    key, value = SANDBOX
    return annotations_of(config).get(key) == value


def entrypoint(process: object) -> list[str]:
    args = process.get("args") if isinstance(process, dict) else None
    if not isinstance(args, list):
        return []
    return [clean(a, ARG_LIMIT) or "" for a in args[:ARGS_LIMIT]]


def describe(container_id: str, bundle: Path, config: dict[str, Any]) -> Container:
    """The container's engine, name, image and entrypoint, from annotations or the engine's state."""
    from tracer.recording.schema import Container

    notes = annotations_of(config)
    name = next((clean(notes[k]) for k in NAME_KEYS if k in notes), None)
    image = next((clean(notes[k]) for k in IMAGE_KEYS if k in notes), None)
    for ns_key, pod_key in POD_KEYS:
        if name and ns_key in notes and pod_key in notes:
            name = clean(f"{notes[ns_key]}/{notes[pod_key]}/{name}")
    if notes.get("io.container.manager") == "libpod":  # podman also writes io.kubernetes.cri-o.* keys
        engine = "podman"
        name, image = _podman_state(container_id, bundle) or (name, image)
    elif any(k.startswith("io.kubernetes.") for k in notes):
        engine = "kubernetes"
    elif (docker := _docker_state(container_id, config)) is not None:
        engine, (name, image) = "docker", docker
    elif "io.containerd.runtime.v2.task" in bundle.parts:
        engine = "containerd"
    else:
        engine = "unknown"
    return Container(container_id, engine, name, image, entrypoint(config.get("process")))


def _docker_state(container_id: str, config: dict[str, Any]) -> tuple[str | None, str | None] | None:
    """Docker keeps a container's name and image in <data-root>/containers/<id>/config.v2.json; the data
    root is three levels above the rootfs (overlay2/<layer>/merged, vfs/dir/<layer>)."""
    root = config.get("root", {}).get("path") if isinstance(config.get("root"), dict) else None
    if not isinstance(root, str) or not os.path.isabs(root):
        return None
    from pathlib import Path
    rootfs = Path(root)
    if len(rootfs.parents) < 3:
        return None
    overlay2 = (rootfs.parents[1].name, rootfs.name) == ("overlay2", "merged")
    vfs = (rootfs.parents[1].name, rootfs.parent.name) == ("vfs", "dir")
    if not (overlay2 or vfs):
        return None
    state = _optional_json(rootfs.parents[2] / "containers" / container_id / "config.v2.json")
    if not isinstance(state, dict) or state.get("ID") != container_id:
        return None
    name = clean(state.get("Name"))
    image = state.get("Config", {}).get("Image") if isinstance(state.get("Config"), dict) else None
    return (name.lstrip("/") if name else None), clean(image)


def _podman_state(container_id: str, bundle: Path) -> tuple[str | None, str | None] | None:
    """containers/storage lists every container with its names and image in ../../containers.json."""
    if bundle.name != "userdata" or bundle.parent.name != container_id:
        return None
    listing = _optional_json(bundle.parent.parent / "containers.json")
    entry = next((c for c in listing if isinstance(c, dict) and c.get("id") == container_id), None) \
        if isinstance(listing, list) else None
    if entry is None:
        return None
    names = entry.get("names")
    try:
        metadata = json.loads(entry.get("metadata", "{}"))
    except (TypeError, ValueError):
        metadata = {}
    image = metadata.get("image-name") if isinstance(metadata, dict) else None
    return clean(names[0]) if isinstance(names, list) and names else None, clean(image)


def _optional_json(path: Path) -> Any:
    """Best-effort metadata: a missing or malformed engine state file only means 'unknown'."""
    try:
        return read_json(path)
    except UserError:
        return None
