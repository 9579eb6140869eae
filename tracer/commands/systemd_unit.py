"""`seccomp-learn systemd-unit NAME RECORDING...`: the drop-in, written where `systemctl edit NAME` puts one.

Only this command writes under /etc, and only the one file /etc/systemd/system/NAME.service.d/seccomp-learn.conf
(`--root-dir` moves /, for tests and images). The unit name is checked as systemd checks it, so it can
never name another directory.
"""

from __future__ import annotations

import os
import re

from tracer.commands.emit import render_recordings
from tracer.commands.outcome import Outcome
from tracer.commands.profile_output import ProfileOutput
from tracer.errors import UserError
from tracer.profile.policy import EmitOptions

UNIT_DIR = "etc/systemd/system"
DROP_IN = "seccomp-learn.conf"
_UNIT_NAME = re.compile(r"[A-Za-z0-9:_.\\@-]{1,248}")  # systemd's unit name characters; ".service" is added


def drop_in_path(name: str, root: str = "/") -> str:
    """Where the drop-in of service NAME (with or without .service) goes under root."""
    unit = name.removesuffix(".service")
    if not _UNIT_NAME.fullmatch(unit) or unit.startswith(".") or unit.startswith("-"):
        raise UserError("not a service name: letters, digits and :_.@\\- only (e.g. nginx or getty@tty1)", name)
    if not os.path.isdir(root):
        raise UserError("the root directory does not exist", f"--root-dir {root}")
    return os.path.join(root, UNIT_DIR, f"{unit}.service.d", DROP_IN)


def run_systemd_unit(name: str, recording_paths: list[str], eopts: EmitOptions, root: str = "/") -> Outcome:
    """Write the drop-in (its directory created if needed) once the profile is made, and say how to load it."""
    out = ProfileOutput(drop_in_path(name, root), "systemd")
    made = render_recordings(recording_paths, eopts, out)
    os.makedirs(os.path.dirname(out.path), mode=0o755, exist_ok=True)
    out.check()
    unit = name.removesuffix(".service")
    return out.write(made, more=lambda: [f"  load it: systemctl daemon-reload && systemctl restart {unit}.service"])
