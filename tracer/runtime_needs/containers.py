"""Run a program in a real container engine (crun, runc, podman, docker) under a given seccomp profile.

One description of a container (`ContainerSpec`) and one of how an engine is invoked on this machine
(`Engine`), so the runtime measurements (tracer.runtime_measure) and the tests start containers the
same way on every engine. The process settings follow Docker's defaults: root, Docker's 14
capabilities, no-new-privileges off, pid/ipc/uts/mount/network namespaces. Containers never get a
network: crun and runc get a new, empty network namespace, podman and docker `--network none`.

crun and runc take the profile as the OCI `linux.seccomp` object in config.json; podman and docker
take Docker JSON (`--security-opt seccomp=FILE`).
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import uuid
from pathlib import Path
from typing import Any

from tracer.errors import UserError
from tracer.structs import Struct, replace

ENGINES = ("crun", "runc", "podman", "docker")
OCI_ENGINES = ("crun", "runc")  # given a bundle; the others are given an image
CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DOCKER_CAPS = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
               "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
               "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE")
ROOT_DIRS = ("usr", "etc", "proc", "dev", "tmp", "sys")  # mount points every root has
TMPFS_OPTIONS = ("nosuid", "nodev", "mode=1777")  # /tmp: executable, as a bundle's tmpfs is by default
# Kill (SIGKILL, no grace period) and remove a container by name.
REMOVE = {"crun": ("delete", "--force"), "runc": ("delete", "--force"), "podman": ("rm", "--force", "--time", "0"),
          "docker": ("rm", "--force")}
REMOVE_TIMEOUT = 60


class Engine(Struct, frozen=True):
    """How one engine is invoked here: its argv (global options included) and the root containers get."""

    name: str  # crun | runc | podman | docker
    command: tuple[str, ...]
    run_flags: tuple[str, ...] = ()  # podman/docker: extra `run` flags this machine needs
    root: str = ""  # crun/runc: the root directory; podman/docker: the image (see with_root)


class ContainerSpec(Struct, frozen=True):
    """A container to run for measuring (argv, profile, mounts), not a recorded one (recording/schema.Container)."""

    argv: tuple[str, ...]
    seccomp: dict[str, Any] | None  # OCI object (crun, runc) or Docker JSON (podman, docker); None: unconfined
    host_ro: tuple[str, ...] = ()  # host directories mounted read-only at the same path (e.g. /usr, /etc)
    cwd: str = "/tmp"  # a tmpfs in every container


def make_root(directory: Path, files: dict[str, bytes] | None = None) -> Path:
    """A root directory with the mount points, the merged-/usr symlinks and `files` (path -> content, mode 755)."""
    directory.mkdir(parents=True, exist_ok=True)
    for d in ROOT_DIRS:
        (directory / d).mkdir(exist_ok=True)
    for link in ("bin", "lib", "lib64", "sbin"):
        (directory / "usr" / link).mkdir(exist_ok=True)
        if not (directory / link).is_symlink():
            (directory / link).symlink_to(f"usr/{link}")
    for path, content in (files or {}).items():
        target = directory / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(0o755)
    return directory


def with_root(engine: Engine, root: Path, tag: str, timeout: float = 120) -> Engine:
    """The engine, giving containers `root`: the directory itself (crun, runc) or an image imported from it."""
    if engine.name in OCI_ENGINES:
        return replace(engine, root=str(root.resolve()))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in sorted(root.rglob("*")):
            info = tar.gettarinfo(str(path), str(path.relative_to(root)))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
            if info.isfile():
                with path.open("rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    try:
        imported = subprocess.run([*engine.command, "import", "-", tag], input=buf.getvalue(), capture_output=True,
                                  timeout=timeout)
    except OSError as e:
        raise UserError(f"cannot run {engine.name} ({engine.command[0]}): {e.strerror}") from e
    if imported.returncode != 0:
        raise UserError(f"{engine.name} import failed (exit {imported.returncode}): "
                        f"{imported.stderr.decode(errors='replace').strip()}")
    return replace(engine, root=tag)


def oci_config(engine: Engine, c: ContainerSpec) -> dict[str, Any]:
    ro_bind = ["rbind", "ro", "nosuid", "nodev"]
    config: dict[str, Any] = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": list(c.argv),
            "env": [f"PATH={CONTAINER_PATH}", "HOME=/tmp"],
            "cwd": c.cwd,
            "capabilities": {k: list(DOCKER_CAPS) for k in ("bounding", "effective", "permitted")},
            "noNewPrivileges": False,
        },
        "root": {"path": engine.root, "readonly": True},
        "hostname": "seccomp-learn",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": list(TMPFS_OPTIONS)},
            *({"destination": d, "type": "bind", "source": d, "options": ro_bind} for d in c.host_ro),
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")],
            "maskedPaths": ["/proc/kcore", "/proc/keys"],
        },
    }
    if c.seccomp is not None:
        config["linux"]["seccomp"] = c.seccomp
    return config


def run_command(engine: Engine, c: ContainerSpec, workdir: Path, name: str) -> list[str]:
    """The command line that runs c in the foreground as `name` (files it needs are written to workdir)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if engine.name in OCI_ENGINES:
        (workdir / "config.json").write_text(json.dumps(oci_config(engine, c), indent=1, allow_nan=False))
        return [*engine.command, "run", "--bundle", str(workdir), name]
    seccomp = "unconfined"
    if c.seccomp is not None:
        (workdir / "seccomp.json").write_text(json.dumps(c.seccomp, allow_nan=False))
        seccomp = str(workdir / "seccomp.json")
    mounts = [arg for d in c.host_ro for arg in ("-v", f"{d}:{d}:ro")]
    return [*engine.command, "run", "--rm", "--name", name, "--network", "none", *engine.run_flags,
            "--security-opt", f"seccomp={seccomp}", "--hostname", "seccomp-learn", *mounts,
            "--tmpfs", f"/tmp:rw,exec,{','.join(TMPFS_OPTIONS)}", "-w", c.cwd,
            "-e", f"PATH={CONTAINER_PATH}", "-e", "HOME=/tmp", engine.root, *c.argv]


def run(engine: Engine, c: ContainerSpec, workdir: Path, timeout: float = 120,
        wrap: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run c to completion; stdout and stderr are the container's (and the engine's messages).

    wrap: a command prefix for the engine's command (strace). A container still running after
    `timeout` seconds is removed: killing the engine's process alone would leave it running.
    """
    name = f"sl-{uuid.uuid4().hex[:12]}"
    argv = [*wrap, *run_command(engine, c, workdir, name)]
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except OSError as e:
        raise UserError(f"cannot run {engine.name} ({argv[0]}): {e.strerror}") from e
    except subprocess.TimeoutExpired as e:
        subprocess.run([*engine.command, *REMOVE[engine.name], name], capture_output=True, timeout=REMOVE_TIMEOUT)
        raise UserError(f"{engine.name}: the container did not exit within {timeout:g} s, so it was removed") from e
