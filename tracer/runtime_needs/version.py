"""The installed version of a container runtime, and of the OCI runtime underneath podman and docker.

Each list in tracer.extras records the versions it was measured on (`Runtime.versions`); comparing
them with these tells a user that their runtime may call something the list lacks. Versions are
the upstream part only ("1.1.5" of Debian's "1.1.5+ds1").
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

from tracer.errors import UserError

TIMEOUT = 30
DEFAULT_COMMANDS = {"crun": ("crun",), "runc": ("runc",), "podman": ("podman",), "docker": ("docker",)}
_VERSION = re.compile(r"\d+(?:\.\d+)+")


def upstream(text: str) -> str:
    """The first dotted version number in text: '1.1.5' of 'runc version 1.1.5+ds1'."""
    m = _VERSION.search(text)
    return m.group(0) if m else text.strip()


def _output(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UserError(f"cannot run {argv[0]}: {e}") from e
    if done.returncode != 0:
        raise UserError(f"{' '.join(argv)} failed (exit {done.returncode}): {done.stderr.strip()[-200:]}")
    return done.stdout


def installed_versions(runtime: str, command: tuple[str, ...] | None = None) -> dict[str, str]:
    """{component: version} of the runtime `command` invokes, e.g. {'podman': '4.3.1', 'crun': '1.8.1'}."""
    argv = list(command or DEFAULT_COMMANDS[runtime])
    if runtime in ("crun", "runc"):
        return {runtime: upstream(_output([*argv, "--version"]).splitlines()[0])}
    if runtime == "podman":
        info: dict[str, Any] = json.loads(_output([*argv, "info", "--format", "json"]))
        oci = info["host"]["ociRuntime"]
        return {"podman": upstream(info["version"]["Version"]), oci["name"]: upstream(oci["version"])}
    if runtime == "docker":
        server: dict[str, Any] = json.loads(_output([*argv, "version", "--format", "{{json .Server}}"]))
        components = {c["Name"]: upstream(c["Version"]) for c in server.get("Components") or ()}
        return {"docker": upstream(server["Version"]), "runc": components.get("runc", "unknown")}
    raise UserError(f"unknown runtime {runtime!r} (known: {', '.join(DEFAULT_COMMANDS)})")
