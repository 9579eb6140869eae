"""The four real container engines the tests run profiles in, each with private state (a plain module).

`Engines` (one per session, see conftest.py) hands out a `tracer.runtimes.containers.Engine` per name:

- crun and runc with their own `--root` state directory. crun 1.8 refuses hybrid cgroups, so it
  runs in a private mount namespace with the cgroup2 mount unmounted (the host's mounts are not
  touched);
- rootful podman (crun underneath) with its own --root/--runroot/--tmpdir/--network-config-dir,
  in the same private mount namespace, with the flags this kind of machine needs (no cgroups,
  explicit nofile/nproc limits, no SELinux label); every container `--network none`;
- a private dockerd: its own socket, data root, exec root (its own containerd underneath) and
  pidfile, no bridge, no iptables, no IP forwarding; stopped by its pidfile at the end.

Every container gets the same root: busybox-static plus the merged-/usr symlinks, imported as an
image for podman and docker (no registry); host /usr and /etc are mounted over it read-only.
All state lives under one short directory in /tmp (a unix socket path has at most 107 bytes).

An engine whose program is missing is skipped, except in CI (`CI` set), where it fails: CI must
exercise all four.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import pytest

from tracer.runtimes.containers import ENGINES, Engine, make_root, with_root

IN_CI = bool(os.environ.get("CI"))
BUSYBOX = Path("/usr/bin/busybox")  # busybox-static
HOST_RO = ("/usr", "/etc")
# crun 1.8 and podman+crun refuse hybrid cgroups: hide the cgroup2 mount in a private mount namespace.
PRIVATE_MOUNTS = ("unshare", "--mount", "--propagation", "private", "sh", "-c",
                  'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"', "sh")
PODMAN_RUN_FLAGS = ("--cgroups=disabled", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768",
                    "--security-opt", "label=disable")
PROGRAMS = {"crun": ("crun",), "runc": ("runc",), "podman": ("podman", "crun", "conmon"),
            "docker": ("dockerd", "docker", "containerd", "runc")}
DAEMON_START_TIMEOUT = 60
DAEMON_STOP_TIMEOUT = 30
COMMAND_TIMEOUT = 120


def unavailable(reason: str) -> NoReturn:
    """Skip, or fail in CI, where every engine must run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must run every engine: .ci/run installs it)")
    pytest.skip(f"{reason} (.ci/run installs it)")


def new_audit_session(ses_file: Path) -> tuple[str, ...]:
    """A command prefix that starts a new audit session (inherited by every descendant) and writes its id."""
    return ("sh", "-c", f'echo 0 > /proc/self/loginuid && cat /proc/self/sessionid > {ses_file} && exec "$@"', "sh")


def read_session(ses_file: Path) -> int:
    return int(ses_file.read_text())


class Engines:
    """The session's engines, started on first use and stopped by close()."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="sl-", dir="/tmp"))
        self.root = make_root(self.base / "root")
        self._engines: dict[str, Engine] = {}
        self._dockerd: subprocess.Popen[bytes] | None = None
        self.docker_session: int | None = None  # the audit session of dockerd and all its containers

    def get(self, name: str) -> Engine:
        if name not in self._engines:
            self._engines[name] = self._start(name)
        return self._engines[name]

    def _start(self, name: str) -> Engine:
        assert name in ENGINES
        missing = [p for p in PROGRAMS[name] if shutil.which(p) is None]
        if missing or not BUSYBOX.is_file():
            unavailable(f"{name}: {', '.join(missing) or 'busybox-static'} is not installed")
        if not (self.root / "usr/bin/busybox").exists():
            self._busybox_root()
        state = self.base / name
        state.mkdir()
        if name == "runc":
            engine = Engine("runc", ("runc", "--root", str(state)))
        elif name == "crun":
            engine = Engine("crun", (*PRIVATE_MOUNTS, "crun", "--cgroup-manager=disabled", "--root", str(state)))
        elif name == "podman":
            engine = Engine("podman", (*PRIVATE_MOUNTS, "podman", "--root", f"{state}/root", "--runroot",
                                       f"{state}/run", "--tmpdir", f"{state}/tmp", "--network-config-dir",
                                       f"{state}/net", "--cgroup-manager=cgroupfs", "--events-backend=file"),
                            PODMAN_RUN_FLAGS)
        else:
            engine = self._start_dockerd(state)
        return with_root(engine, self.root, "seccomp-learn-busybox:1")

    def _busybox_root(self) -> None:
        shutil.copy2(BUSYBOX, self.root / "usr/bin/busybox")
        for applet in ("sh", "true", "cat", "echo"):
            (self.root / "usr/bin" / applet).symlink_to("busybox")

    def _start_dockerd(self, state: Path) -> Engine:
        sock = state / "docker.sock"
        (state / "daemon.json").write_text("{}")  # not the host's /etc/docker/daemon.json
        common = ["dockerd", "-H", f"unix://{sock}", "--config-file", str(state / "daemon.json"),
                  "--data-root", str(state / "data"), "--exec-root", str(state / "exec"),
                  "--pidfile", str(state / "docker.pid"), "--iptables=false", "--ip6tables=false",
                  "--ip-forward=false", "--ip-masq=false", "--bridge=none",
                  "--exec-opt", "native.cgroupdriver=cgroupfs"]
        engine = Engine("docker", (shutil.which("docker") or "docker", "-H", f"unix://{sock}"))
        errors = []
        for driver in ("overlay2", "vfs"):
            log = (state / f"dockerd-{driver}.log").open("wb")
            self._dockerd = subprocess.Popen([*new_audit_session(state / "docker.ses"), *common,
                                              "--storage-driver", driver],
                                             stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             start_new_session=True)
            if self._wait_for_dockerd(engine):
                self.docker_session = read_session(state / "docker.ses")
                return engine
            self._stop_dockerd(state)
            errors.append(f"{driver}: {(state / f'dockerd-{driver}.log').read_text()[-400:]}")
        pytest.fail("the private dockerd did not start:\n" + "\n".join(errors))

    def _wait_for_dockerd(self, engine: Engine) -> bool:
        deadline = time.monotonic() + DAEMON_START_TIMEOUT
        while time.monotonic() < deadline:
            if self._dockerd is not None and self._dockerd.poll() is not None:
                return False
            done = subprocess.run([*engine.command, "version", "--format", "{{json .Server}}"],
                                  capture_output=True, timeout=COMMAND_TIMEOUT)
            if done.returncode == 0 and json.loads(done.stdout or b"null"):
                return True
            time.sleep(0.5)
        return False

    def _stop_dockerd(self, state: Path) -> None:
        """SIGTERM the pid in dockerd's pidfile, wait, and SIGKILL only what we started if it hangs."""
        pidfile = state / "docker.pid"
        if self._dockerd is None:
            return
        # The wrapper execs dockerd, so the pidfile names our child; never signal a stale or foreign pid.
        if pidfile.exists() and int(pidfile.read_text()) == self._dockerd.pid and self._dockerd.poll() is None:
            os.kill(self._dockerd.pid, signal.SIGTERM)
        try:
            self._dockerd.wait(timeout=DAEMON_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._dockerd.kill()
            self._dockerd.wait(timeout=DAEMON_STOP_TIMEOUT)
        self._dockerd = None

    def close(self) -> None:
        """Remove what is left of the containers (a test that failed midway), stop dockerd, delete the state."""
        podman = self._engines.get("podman")
        if podman is not None:
            subprocess.run([*podman.command, "rm", "--all", "--force", "--time", "0"], capture_output=True,
                           timeout=COMMAND_TIMEOUT)
        docker = self._engines.get("docker")
        if docker is not None:
            left = subprocess.run([*docker.command, "ps", "--all", "--quiet"], capture_output=True, text=True,
                                  timeout=COMMAND_TIMEOUT).stdout.split()
            if left:
                subprocess.run([*docker.command, "rm", "--force", *left], capture_output=True, timeout=COMMAND_TIMEOUT)
            self._stop_dockerd(self.base / "docker")
        if not _mounts_under(self.base):
            shutil.rmtree(self.base, ignore_errors=True)

    def containerd_pid(self) -> int:
        """The private dockerd's containerd, which starts its containers (strace follows it)."""
        return int((self.base / "docker/exec/containerd/containerd.pid").read_text())

    def audited(self, engine: Engine, ses_file: Path) -> Engine:
        """The engine, its containers in a new audit session written to ses_file (docker: the daemon's)."""
        if engine.name == "docker":
            assert self.docker_session is not None
            ses_file.write_text(str(self.docker_session))
            return engine
        return replace(engine, command=(*new_audit_session(ses_file), *engine.command))


def _mounts_under(directory: Path) -> list[str]:
    """Mount points below directory in this mount namespace: never delete through a mount."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == str(directory) or p.startswith(f"{directory}/")]
