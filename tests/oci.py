"""Run a host program in a real OCI container (crun or runc) with a given seccomp object.

The container's root is an empty directory with host /usr and /etc mounted read-only (and the
program's own directory when it lives elsewhere), so host programs run without an image. How the
container is set up is tracer.containers' (Docker's defaults); how crun and runc are invoked on
this machine is tests/engines.py's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from engines import HOST_RO, PRIVATE_MOUNTS

from tracer.runtime_needs.containers import ContainerSpec, Engine, make_root, oci_config, with_root
from tracer.runtime_needs.containers import run as run_container

RUNTIMES = ("crun", "runc")


def available(runtime: str) -> bool:
    return shutil.which(runtime) is not None


def engine(runtime: str, directory: Path) -> Engine:
    state = str(directory / "state")
    if runtime == "crun":
        return Engine("crun", (*PRIVATE_MOUNTS, "crun", "--cgroup-manager=disabled", "--root", state))
    return Engine("runc", ("runc", "--root", state))


def _host_ro(argv: list[str]) -> tuple[str, ...]:
    """Host /usr and /etc, and the program's own directory when it lives elsewhere."""
    program = Path(argv[0])
    own_dir = program.is_absolute() and program.parts[1] not in ("usr", "bin", "sbin", "lib", "lib64", "etc")
    return (*HOST_RO, str(program.parent)) if own_dir else HOST_RO


def bundle(directory: Path, argv: list[str], seccomp: dict[str, Any] | None, cwd: str = "/tmp") -> Path:
    """An OCI bundle (rootfs and config.json) for a runtime to be called on directly."""
    e = with_root(Engine("runc", ("runc",)), make_root(directory / "rootfs"), tag="")
    config = oci_config(e, ContainerSpec(tuple(argv), seccomp, _host_ro(argv), cwd))
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    return directory


def run(runtime: str, directory: Path, argv: list[str], seccomp: dict[str, Any] | None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    e = with_root(engine(runtime, directory), make_root(directory / "rootfs"), tag="")
    return run_container(e, ContainerSpec(tuple(argv), seccomp, _host_ro(argv)), directory / "bundle", timeout=timeout)
