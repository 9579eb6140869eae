"""`seccomp-learn systemd-unit NAME RECORDING...`: the drop-in, written where `systemctl edit NAME` puts one.

Only this command writes under /etc, and only the one file /etc/systemd/system/NAME.service.d/seccomp-learn.conf
(`--root-dir` moves /, for tests and images). The unit name is checked as systemd checks it, so it can
never name another directory.
"""

from __future__ import annotations

import os
import re

from tracer.commands.emit import emit_options_from, emit_summary, render_recordings
from tracer.commands.outcome import Outcome, deliver
from tracer.commands.typed_options import (
    EmitFlags,
    QuietOptions,
    group,
    option,
    positional,
    quiet,
)
from tracer.errors import UserError
from tracer.fileio import check_output


class SystemdUnitOptions(QuietOptions, frozen=True):
    """`seccomp-learn systemd-unit NAME RECORDING...`."""

    unit: str = positional("NAME", help="The service (nginx or nginx.service).")
    recordings: tuple[str, ...] = positional("RECORDING", nargs="+")
    root_dir: str = option("--root-dir", default="/", metavar="DIR",
                           help="Write under DIR/etc/systemd/system instead of /etc/systemd/system (an image, a "
                                "test).")
    quiet: bool = quiet("No summary on stderr.")
    emit: EmitFlags = group(EmitFlags)


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


def run_systemd_unit(o: SystemdUnitOptions) -> Outcome:
    """Write the drop-in (its directory created if needed) once the profile is made, and say how to load it."""
    name = o.unit
    path = drop_in_path(name, o.root_dir)
    text, emitted, rec = render_recordings(list(o.recordings), emit_options_from(o.emit, "systemd"), "systemd")
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    check_output(path)
    unit = name.removesuffix(".service")
    return deliver(text, path, written=lambda line: [
        *emit_summary(emitted, rec, line, "systemd"),
        f"  load it: systemctl daemon-reload && systemctl restart {unit}.service"])
