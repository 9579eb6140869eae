"""Real engines with seccomp-learn-runtime registered, for the learning-in-a-container tests (a plain module).

One `RuntimeEngines` per session (see test_runtime_engines.py), each engine started on first use:

- a private dockerd: its own socket, data root, exec root (its own containerd underneath) and
  pidfile, no bridge, no iptables, no IP forwarding, the wrapper registered in its daemon.json as
  `seccomp-learn` with `runtimeArgs: ["--learn-dir", DIR]`; every container `--network none`;
  stopped by its pidfile at the end;
- ctr against that dockerd's containerd (namespace `seccomp-learn-test`), with `--runc-binary`
  pointing at a two-line script that adds `--learn-dir` (ctr passes no runtime arguments);
- rootful podman with its own --root/--runroot/--tmpdir/--network-config-dir, always
  `--network=none`, in a private mount namespace with the cgroup2 mount unmounted (crun 1.8 refuses
  hybrid cgroups; the host's mounts are not touched), with the flags this kind of machine needs.

Every container runs the same image: busybox-static and its applets, imported (no registry).
An engine whose program is missing is skipped, except in CI (`CI` set), where it fails.
The same private-daemon design as tests/engines.py of the engines branch; the lead unifies them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
IN_CI = bool(os.environ.get("CI"))
BUSYBOX = Path("/usr/bin/busybox")  # busybox-static
IMAGE = "seccomp-learn-busybox:1"
CTR_NAMESPACE = "seccomp-learn-test"
PRIVATE_MOUNTS = ("unshare", "--mount", "--propagation", "private", "sh", "-c",
                  'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"', "sh")
PODMAN_RUN_FLAGS = ("--network=none", "--cgroups=disabled", "--ulimit", "nofile=20000:20000",
                    "--ulimit", "nproc=32768:32768", "--security-opt", "label=disable")
DOCKER_RUN_FLAGS = ("--network", "none")
PROGRAMS = {"docker": ("dockerd", "docker", "containerd", "runc"), "podman": ("podman", "crun", "conmon"),
            "ctr": ("dockerd", "docker", "containerd", "ctr", "runc")}
TIMEOUT = 120
DAEMON_START_TIMEOUT = 60


def unavailable(reason: str) -> NoReturn:
    """Skip, or fail in CI, where every engine must run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must run every engine: .ci/run installs it)")
    pytest.skip(f"{reason} (.ci/run installs it)")


def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", TIMEOUT)
    if "input" not in kw:
        kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(argv, **kw)  # type: ignore[call-overload,no-any-return]


class RuntimeEngines:
    """The session's engines and the wrapper they run, started on first use and stopped by close()."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="slr-", dir="/tmp"))  # short: unix socket paths
        self.learn_dir = self.base / "learn"
        self.wrapper = self.base / "bin" / "seccomp-learn-runtime"  # podman names a runtime by its basename
        self.wrapper.parent.mkdir()
        self.wrapper.write_text(f"#!/bin/sh\nPYTHONPATH={REPO_ROOT} exec {sys.executable} -m tracer.oci_runtime "
                                '"$@"\n')
        self.wrapper.chmod(0o755)
        self.root = self.base / "root"
        self._dockerd: subprocess.Popen[bytes] | None = None
        self._docker_client: list[str] = []
        self._started: dict[str, list[str]] = {}

    def need(self, engine: str) -> None:
        missing = [p for p in PROGRAMS[engine] if shutil.which(p) is None]
        if missing or not BUSYBOX.is_file():
            unavailable(f"{engine}: {', '.join(missing) or 'busybox-static'} is not installed")
        if not self.root.exists():
            self._busybox_root()

    def _busybox_root(self) -> None:
        for d in ("usr/bin", "tmp", "etc", "proc", "dev", "sys", "www"):
            (self.root / d).mkdir(parents=True)
        shutil.copy2(BUSYBOX, self.root / "usr/bin/busybox")
        applets = run([str(BUSYBOX), "--list"]).stdout.split()
        for applet in applets:
            if applet != "busybox":
                (self.root / "usr/bin" / applet).symlink_to("busybox")
        for link in ("bin", "sbin"):
            (self.root / link).symlink_to("usr/bin")
        (self.root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        (self.root / "www/index.html").write_text("hello from the image\n")

    def _tar(self) -> bytes:
        return subprocess.run(["tar", "-C", str(self.root), "-c", "."], capture_output=True, check=True,
                              timeout=TIMEOUT).stdout

    # -- docker --------------------------------------------------------------------------------------
    def docker(self) -> list[str]:
        """The docker client of the private daemon (the wrapper registered as `seccomp-learn`)."""
        if "docker" not in self._started:
            self.need("docker")
            self._started["docker"] = self._start_dockerd()
        return self._started["docker"]

    def _start_dockerd(self) -> list[str]:
        state = self.base / "docker"
        state.mkdir()
        unusable = ["--learn-dir", "/proc/seccomp-learn"]  # a learn directory that cannot be created
        (state / "daemon.json").write_text(json.dumps({"runtimes": {
            "seccomp-learn": {"path": str(self.wrapper), "runtimeArgs": ["--learn-dir", str(self.learn_dir)]},
            "seccomp-learn-unusable": {"path": str(self.wrapper), "runtimeArgs": unusable},
            "seccomp-learn-optional": {"path": str(self.wrapper), "runtimeArgs": [*unusable, "--learn-optional"]}}}))
        client = [shutil.which("docker") or "docker", "-H", f"unix://{state}/docker.sock"]
        self._docker_client = client
        log = (state / "dockerd.log").open("wb")
        self._dockerd = subprocess.Popen(
            ["dockerd", "-H", f"unix://{state}/docker.sock", "--config-file", str(state / "daemon.json"),
             "--data-root", str(state / "data"), "--exec-root", str(state / "exec"), "--pidfile",
             str(state / "docker.pid"), "--iptables=false", "--ip6tables=false", "--ip-forward=false",
             "--ip-masq=false", "--bridge=none", "--exec-opt", "native.cgroupdriver=cgroupfs"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + DAEMON_START_TIMEOUT
        while run([*client, "version", "--format", "{{.Server.Version}}"]).returncode != 0:
            if self._dockerd.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the private dockerd did not start: {(state / 'dockerd.log').read_text()[-600:]}")
            time.sleep(0.5)
        imported = run([*client, "import", "-", IMAGE], input=self._tar(), text=False)
        assert imported.returncode == 0, imported.stderr
        return client

    @property
    def containerd_socket(self) -> Path:
        return self.base / "docker" / "exec" / "containerd" / "containerd.sock"

    # -- ctr -----------------------------------------------------------------------------------------
    def ctr(self) -> tuple[list[str], Path]:
        """ctr on the private dockerd's containerd, and the --runc-binary script that adds --learn-dir."""
        if "ctr" not in self._started:
            self.need("ctr")
            docker = self.docker()
            client = ["ctr", "-a", str(self.containerd_socket), "-n", CTR_NAMESPACE]
            saved = subprocess.run([*docker, "save", IMAGE], capture_output=True, check=True, timeout=TIMEOUT).stdout
            imported = run([*client, "images", "import", "-"], input=saved, text=False)
            assert imported.returncode == 0, imported.stderr
            script = self.base / "bin" / "seccomp-learn-runc"
            script.write_text(f"#!/bin/sh\nexec {self.wrapper} --learn-dir {self.learn_dir} \"$@\"\n")
            script.chmod(0o755)
            self._started["ctr"] = client
        return self._started["ctr"], self.base / "bin" / "seccomp-learn-runc"

    # -- podman --------------------------------------------------------------------------------------
    def podman(self) -> tuple[list[str], dict[str, str]]:
        """The podman command (private storage, private mount namespace) and the environment it needs."""
        if "podman" not in self._started:
            self.need("podman")
            state = self.base / "podman"
            # This machine's hybrid cgroups need --cgroups=disabled, which podman allows only for the
            # runtimes it lists by basename: add the wrapper's.
            (state / "containers.conf").parent.mkdir()
            (state / "containers.conf").write_text(
                '[engine]\nruntime_supports_nocgroup = ["crun", "krun", "seccomp-learn-runtime"]\n')
            client = [*PRIVATE_MOUNTS, "podman", "--root", f"{state}/root", "--runroot", f"{state}/run",
                      "--tmpdir", f"{state}/tmp", "--network-config-dir", f"{state}/net",
                      "--cgroup-manager=cgroupfs", "--events-backend=file"]
            imported = run([*client, "import", "-", IMAGE], input=self._tar(), text=False, env=self.podman_env)
            assert imported.returncode == 0, imported.stderr
            self._started["podman"] = client
        return self._started["podman"], self.podman_env

    @property
    def podman_env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(self.base / "podman" / "containers.conf")}

    def recording(self, container_id: str, timeout: float = 30) -> dict[str, object]:
        """The container's recording in the learn directory (waiting for its tracer to write it)."""
        from tracer.oci_runtime.learndir import LearnDir

        learned = LearnDir(str(self.learn_dir))
        assert learned.wait_idle(container_id, timeout), f"{container_id}: the tracer did not finish"
        path = Path(learned.recording_path(container_id))
        assert path.is_file(), f"no recording for {container_id} in {self.learn_dir}: {os.listdir(self.learn_dir)}"
        data: dict[str, object] = json.loads(path.read_text())
        return data

    def close(self) -> None:
        if "podman" in self._started:
            run([*self._started["podman"], "rm", "-a", "-f", "-t", "0"], env=self.podman_env)
        if "ctr" in self._started:
            client = self._started["ctr"]
            for task in run([*client, "tasks", "ls", "-q"]).stdout.split():
                run([*client, "tasks", "kill", "-s", "SIGKILL", task])
                run([*client, "tasks", "delete", "-f", task])
            for container in run([*client, "containers", "ls", "-q"]).stdout.split():
                run([*client, "containers", "delete", container])
        if self._dockerd is not None:
            leftovers = run([*self._docker_client, "ps", "-aq"]).stdout.split()
            if leftovers:
                run([*self._docker_client, "rm", "-f", *leftovers])
            pidfile = self.base / "docker" / "docker.pid"
            # Never signal a stale or foreign pid: only the daemon we started, named by its pidfile.
            if pidfile.exists() and int(pidfile.read_text()) == self._dockerd.pid and self._dockerd.poll() is None:
                os.kill(self._dockerd.pid, signal.SIGTERM)
            try:
                self._dockerd.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._dockerd.kill()
                self._dockerd.wait(timeout=30)
        if not _mounts_under(self.base):
            shutil.rmtree(self.base, ignore_errors=True)


def _mounts_under(directory: Path) -> list[str]:
    """Mount points below directory in this mount namespace: never delete through a mount."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == str(directory) or p.startswith(f"{directory}/")]
