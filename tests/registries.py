"""Private OCI registries for the tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1, on a free
port, with its own config and storage in a temporary directory; optionally behind htpasswd (bcrypt) auth.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from engines import unavailable

START_TIMEOUT = 20
ATTEMPTS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Registry:
    """One docker-registry process; `close()` stops it and waits for it."""

    def __init__(self, root: Path, user: str | None = None, password: str | None = None) -> None:
        for program in ("docker-registry", "skopeo") + (("htpasswd",) if user else ()):
            if shutil.which(program) is None:
                unavailable(f"{program} is not installed")
        root.mkdir(parents=True)
        self.root, self.user, self.password = root, user, password
        for _ in range(ATTEMPTS):  # the free port may be taken by another engineer's server before ours binds it
            if self._start():
                return
        raise RuntimeError(f"docker-registry could not bind a free port in {ATTEMPTS} attempts: {self._log()}")

    def _start(self) -> bool:
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        config = [
            "version: 0.1", "log:", "  level: error", "storage:", "  filesystem:",
            f"    rootdirectory: {self.root / 'data'}", "http:", f"  addr: {self.host}",
        ]
        if self.user and self.password:
            htpasswd = self.root / "htpasswd"
            subprocess.run(["htpasswd", "-Bbc", str(htpasswd), self.user, self.password], check=True,
                           capture_output=True)
            config += ["auth:", "  htpasswd:", "    realm: seccomp-learn-tests", f"    path: {htpasswd}"]
        (self.root / "config.yml").write_text("".join(f"{line}\n" for line in config))
        self.log = open(self.root / "registry.log", "wb")  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(["docker-registry", "serve", str(self.root / "config.yml")],
                                        stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        return self._wait()

    def _log(self) -> str:
        return (self.root / "registry.log").read_text(errors="replace")

    def _wait(self) -> bool:
        """Whether our registry answers; False when it exited (its port was taken)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.close()
                if "address already in use" in self._log():
                    return False
                raise RuntimeError(f"docker-registry exited {self.process.returncode}: {self._log()}")
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2) as answer:
                    headers = answer.headers
            except urllib.error.HTTPError as exc:  # 401 from an auth registry: it is up
                headers = exc.headers
            except OSError:
                time.sleep(0.05)
                continue
            if headers.get("Docker-Distribution-Api-Version") == "registry/2.0" and self.process.poll() is None:
                return True
            time.sleep(0.05)  # someone else's server on the port: ours is about to exit
        self.close()
        raise RuntimeError(f"docker-registry did not answer on {self.host} in {START_TIMEOUT} s")

    def docker_config(self, user: str, password: str) -> str:
        """A ~/.docker/config.json that holds these credentials for this registry."""
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return json.dumps({"auths": {self.host: {"auth": token}}})

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
