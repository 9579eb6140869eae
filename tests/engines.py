"""The real container engines the tests run containers in, each with private state (a plain module).

`Engines` (one per session, see conftest.py) hands out a `tracer.runtime_needs.containers.Engine` per name:

- crun and runc with their own `--root` state directory. crun 1.8 refuses hybrid cgroups, so it
  runs in a private mount namespace with the cgroup2 mount unmounted (the host's mounts are not
  touched);
- rootful podman (crun underneath) with its own --root/--runroot/--tmpdir/--network-config-dir and
  containers.conf, in the same private mount namespace, with the flags this kind of machine needs
  (no cgroups, explicit nofile/nproc limits, no SELinux label); every container `--network none`;
- a private dockerd: its own socket, data root, exec root (its own containerd underneath) and
  pidfile, no bridge, no iptables, no IP forwarding, the seccomp-learn-runtime wrapper registered
  in its daemon.json; every container `--network none`; stopped by its pidfile at the end;
- ctr on that dockerd's containerd (namespace `seccomp-learn-test`), with a `--runc-binary` script
  that runs the wrapper (ctr passes no runtime arguments).

The wrapper is this checkout's `python3 -m tracer.runtime_wrapper`, learning into `learn_dir`.
Every container gets the same root: busybox-static and its applets plus the merged-/usr symlinks,
imported as an image for podman, docker and ctr (no registry); the tests that run host programs
mount host /usr and /etc over it read-only. All state lives under one short directory in /tmp (a
unix socket path has at most 107 bytes).

An engine whose program is missing is skipped, except in CI (`CI` set), where it fails: CI must
exercise them all.
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
import tomllib
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tracer.runtime_needs.containers import ENGINES, Engine, make_root, with_root
from tracer.structs import replace

REPO_ROOT = Path(__file__).resolve().parent.parent
IN_CI = bool(os.environ.get("CI"))
BUSYBOX = Path("/usr/bin/busybox")  # busybox-static
IMAGE = "seccomp-learn-busybox:1"
CTR_NAMESPACE = "seccomp-learn-test"
HOST_RO = ("/usr", "/etc")
# crun 1.8 and podman+crun refuse hybrid cgroups: hide the cgroup2 mount in a private mount namespace.
PRIVATE_MOUNTS = ("unshare", "--mount", "--propagation", "private", "sh", "-c",
                  'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"', "sh")
NO_NETWORK = ("--network", "none")
PODMAN_RUN_FLAGS = ("--cgroups=disabled", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768",
                    "--security-opt", "label=disable")
# What podman reads when CONTAINERS_CONF is not set, in its order (a later file's keys win).
SYSTEM_PODMAN_CONFS = (Path("/usr/share/containers/containers.conf"), Path("/etc/containers/containers.conf"))
PROGRAMS = {"crun": ("crun",), "runc": ("runc",), "podman": ("podman", "crun", "conmon"),
            "docker": ("dockerd", "docker", "containerd", "runc"), "ctr": ("ctr",)}
DAEMON_START_TIMEOUT = 60
DAEMON_STOP_TIMEOUT = 30
COMMAND_TIMEOUT = 120
RECORDING_TIMEOUT = 30


def unavailable(reason: str) -> NoReturn:
    """Skip, or fail in CI, where every engine must run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must run every engine: .ci/run installs it)")
    pytest.skip(f"{reason} (.ci/run installs it)")


def run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    """argv's output as text, stdin closed unless given input, within COMMAND_TIMEOUT."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", COMMAND_TIMEOUT)
    if "input" not in kw:
        kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(argv, **kw)


def new_audit_session(ses_file: Path) -> tuple[str, ...]:
    """A command prefix that starts a new audit session (inherited by every descendant) and writes its id."""
    return ("sh", "-c", f'echo 0 > /proc/self/loginuid && cat /proc/self/sessionid > {ses_file} && exec "$@"', "sh")


def read_session(ses_file: Path) -> int:
    return int(ses_file.read_text())


def podman_conf() -> str:
    """The host's podman settings (CONTAINERS_CONF replaces them all) with the wrapper added to the runtimes
    allowed --cgroups=disabled, which podman checks by basename."""
    conf: dict[str, Any] = {}
    for path in SYSTEM_PODMAN_CONFS:
        if path.is_file():
            _merge(conf, tomllib.loads(path.read_text()))
    engine = conf.setdefault("engine", {})
    engine["runtime_supports_nocgroup"] = [*engine.get("runtime_supports_nocgroup", ["crun", "krun"]),
                                           "seccomp-learn-runtime"]
    return "".join(f"{line}\n" for line in _toml(conf))


def _merge(into: dict[str, Any], table: dict[str, Any]) -> None:
    for key, value in table.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _toml(table: dict[str, Any], prefix: str = "") -> list[str]:
    """table's TOML lines (containers.conf holds tables, strings, numbers, booleans and arrays of them)."""
    lines = [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in table.items() if not isinstance(v, dict)]
    for key, value in table.items():
        if isinstance(value, dict):
            name = f"{prefix}{json.dumps(key)}"
            lines += [f"[{name}]", *_toml(value, f"{name}.")]
    return lines


def _executable(path: Path, script: str) -> Path:
    path.write_text(script)
    path.chmod(0o755)
    return path


class Engines:
    """The session's engines, started on first use and stopped by close()."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="sl-", dir="/tmp"))
        self.root = make_root(self.base / "root")
        self.learn_dir = self.base / "learn"
        (self.base / "bin").mkdir()
        # podman names a runtime by its basename; PYTHONPATH: this checkout's tracer, whoever starts it.
        wrapper = f'#!/bin/sh\nPYTHONPATH={REPO_ROOT} exec {sys.executable} -m tracer.runtime_wrapper "$@"\n'
        self.wrapper = _executable(self.base / "bin" / "seccomp-learn-runtime", wrapper)
        self._engines: dict[str, Engine] = {}
        self._dockerd: subprocess.Popen[bytes] | None = None
        self._ctr: list[str] | None = None
        self.docker_session: int | None = None  # the audit session of dockerd and all its containers

    def get(self, name: str) -> Engine:
        if name not in self._engines:
            self._engines[name] = self._start(name)
        return self._engines[name]

    def _need(self, name: str) -> None:
        missing = [p for p in PROGRAMS[name] if shutil.which(p) is None]
        if missing or not BUSYBOX.is_file():
            unavailable(f"{name}: {', '.join(missing) or 'busybox-static'} is not installed")

    def _start(self, name: str) -> Engine:
        assert name in ENGINES
        self._need(name)
        if not (self.root / "usr/bin/busybox").exists():
            self._busybox_root()
        state = self.base / name
        state.mkdir()
        if name == "runc":
            engine = Engine("runc", ("runc", "--root", str(state)))
        elif name == "crun":
            engine = Engine("crun", (*PRIVATE_MOUNTS, "crun", "--cgroup-manager=disabled", "--root", str(state)))
        elif name == "podman":
            (state / "containers.conf").write_text(podman_conf())
            engine = Engine("podman", (*PRIVATE_MOUNTS, "env", f"CONTAINERS_CONF={state}/containers.conf", "podman",
                                       "--root", f"{state}/root", "--runroot", f"{state}/run", "--tmpdir",
                                       f"{state}/tmp", "--network-config-dir", f"{state}/net",
                                       "--cgroup-manager=cgroupfs", "--events-backend=file"),
                            PODMAN_RUN_FLAGS)
        else:
            engine = self._start_dockerd(state)
        return with_root(engine, self.root, IMAGE)

    def _busybox_root(self) -> None:
        """busybox and all its applets, a passwd for root, and a page for httpd to serve."""
        shutil.copy2(BUSYBOX, self.root / "usr/bin/busybox")
        for applet in run([str(BUSYBOX), "--list"]).stdout.split():
            if applet != "busybox":
                (self.root / "usr/bin" / applet).symlink_to("busybox")
        (self.root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        (self.root / "www").mkdir()
        (self.root / "www/index.html").write_text("hello from the image\n")

    def _daemon_json(self) -> str:
        """No host settings; the wrapper as `seccomp-learn` (as `seccomp-learn-ptrace` on its ptrace fallback), and
        with a learn directory it cannot create."""
        unusable = ["--learn-dir", "/proc/seccomp-learn"]
        wrapper = str(self.wrapper)
        return json.dumps({"runtimes": {
            "seccomp-learn": {"path": wrapper, "runtimeArgs": ["--learn-dir", str(self.learn_dir)]},
            "seccomp-learn-ptrace": {"path": wrapper, "runtimeArgs": ["--learn-dir", str(self.learn_dir),
                                                                      "--learn-backend", "ptrace"]},
            "seccomp-learn-unusable": {"path": wrapper, "runtimeArgs": unusable},
            "seccomp-learn-optional": {"path": wrapper, "runtimeArgs": [*unusable, "--learn-optional"]}}})

    def _start_dockerd(self, state: Path) -> Engine:
        sock = state / "docker.sock"
        (state / "daemon.json").write_text(self._daemon_json())  # not the host's /etc/docker/daemon.json
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
            done = run([*engine.command, "version", "--format", "{{json .Server}}"])
            if done.returncode == 0 and json.loads(done.stdout or "null"):
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

    def ctr(self) -> tuple[list[str], Path]:
        """ctr on the private dockerd's containerd with the image, and the --runc-binary script of the wrapper."""
        script = self.base / "bin" / "seccomp-learn-runc"
        if self._ctr is None:
            docker = self.get("docker")
            self._need("ctr")
            client = ["ctr", "-a", str(self.base / "docker/exec/containerd/containerd.sock"), "-n", CTR_NAMESPACE]
            saved = subprocess.run([*docker.command, "save", docker.root], capture_output=True, check=True,
                                   timeout=COMMAND_TIMEOUT).stdout
            imported = run([*client, "images", "import", "-"], input=saved, text=False)
            assert imported.returncode == 0, imported.stderr
            _executable(script, f'#!/bin/sh\nexec {self.wrapper} --learn-dir {self.learn_dir} "$@"\n')
            self._ctr = client
        return self._ctr, script

    def recording(self, container_id: str) -> dict[str, Any]:
        """The container's recording in the learn directory (waiting for its tracer to write it)."""
        from tracer.runtime_wrapper.learndir import LearnDir
        learned = LearnDir(str(self.learn_dir))
        assert learned.wait_idle(container_id, RECORDING_TIMEOUT), f"{container_id}: the tracer did not finish"
        path = Path(learned.recording_path(container_id))
        assert path.is_file(), f"no recording for {container_id} in {self.learn_dir}: {os.listdir(self.learn_dir)}"
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def close(self) -> None:
        """Remove what is left of the containers (a test that failed midway), stop dockerd, delete the state."""
        podman = self._engines.get("podman")
        if podman is not None:
            run([*podman.command, "rm", "--all", "--force", "--time", "0"])
        if self._ctr is not None:
            for task in run([*self._ctr, "tasks", "ls", "-q"]).stdout.split():
                run([*self._ctr, "tasks", "kill", "-s", "SIGKILL", task])
                run([*self._ctr, "tasks", "delete", "-f", task])
            for container in run([*self._ctr, "containers", "ls", "-q"]).stdout.split():
                run([*self._ctr, "containers", "delete", container])
        docker = self._engines.get("docker")
        if docker is not None:
            left = run([*docker.command, "ps", "--all", "--quiet"]).stdout.split()
            if left:
                run([*docker.command, "rm", "--force", *left])
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
