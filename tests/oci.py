"""Run a host program in a real OCI container (crun or runc) with a given seccomp object.

The bundle's rootfs is an empty directory with /usr and /etc bind-mounted read-only and the
merged-/usr symlinks (bin, lib, lib64, sbin), so host programs run without an image. Process
settings follow Docker's defaults: its 14 capabilities and no-new-privileges off.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
               "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
               "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
RUNTIMES = ("crun", "runc")


def available(runtime: str) -> bool:
    return shutil.which(runtime) is not None


def bundle(directory: Path, argv: list[str], seccomp: dict[str, Any] | None, cwd: str = "/tmp") -> Path:
    rootfs = directory / "rootfs"
    rootfs.mkdir(parents=True)
    for d in ("usr", "etc", "proc", "dev", "tmp", "sys"):
        (rootfs / d).mkdir()
    for link in ("bin", "lib", "lib64", "sbin", "lib32", "libx32"):
        if os.path.islink(f"/{link}"):
            (rootfs / link).symlink_to(f"usr/{link}")
    ro_bind = ["rbind", "ro", "nosuid", "nodev"]
    config: dict[str, Any] = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": argv,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp"],
            "cwd": cwd,
            "capabilities": {k: DOCKER_CAPS for k in ("bounding", "effective", "permitted")},
            "noNewPrivileges": False,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "seccomp-learn-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]},
            {"destination": "/usr", "type": "bind", "source": "/usr", "options": ro_bind},
            {"destination": "/etc", "type": "bind", "source": "/etc", "options": ro_bind},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")],
            "maskedPaths": ["/proc/kcore", "/proc/keys"],
        },
    }
    program = Path(argv[0])
    if program.is_absolute() and program.parts[1] not in ("usr", "bin", "sbin", "lib", "lib64", "etc"):
        (rootfs / program.parent.relative_to("/")).mkdir(parents=True, exist_ok=True)
        config["mounts"].append({"destination": str(program.parent), "type": "bind",
                                 "source": str(program.parent), "options": ro_bind})
    if seccomp is not None:
        config["linux"]["seccomp"] = seccomp
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    return directory


def command(runtime: str, bundle_dir: Path) -> list[str]:
    """The runtime's `run` command line; crun is started the way this kind of machine needs."""
    name = f"sl-{uuid.uuid4().hex[:12]}"
    if runtime == "crun":
        # crun 1.8 refuses hybrid cgroups: hide the cgroup2 mount in a private mount namespace.
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"', "sh",
                "crun", "--cgroup-manager=disabled", "run", "--bundle", str(bundle_dir), name]
    return ["runc", "run", "--bundle", str(bundle_dir), name]


def run(runtime: str, directory: Path, argv: list[str], seccomp: dict[str, Any] | None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    b = bundle(directory, argv, seccomp)
    return subprocess.run(command(runtime, b), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
