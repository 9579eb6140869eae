"""Session-wide set-up: this checkout's `tracer` in every subprocess, the real container engines, and the
kernel's seccomp audit records.

Without the PYTHONPATH line, `python3 -m tracer` run from a temporary directory would import whatever
checkout `pip install -e` last pointed at, and a test could pass against code it never ran.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from engines import Engines, unavailable

from tracer.errors import UserError
from tracer.kernel.audit_netlink import AuditLog

REPO_ROOT = str(Path(__file__).resolve().parent.parent)
os.environ["PYTHONPATH"] = os.pathsep.join([REPO_ROOT, *filter(None, [os.environ.get("PYTHONPATH")])])


@pytest.fixture(scope="session")
def engines() -> Iterator[Engines]:
    """crun, runc, podman, a private dockerd and ctr on its containerd, each started on first use and stopped
    at the end; the seccomp-learn-runtime wrapper registered where an engine needs it."""
    session = Engines()
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="session")
def audit_log() -> Iterator[AuditLog]:
    """Every seccomp audit record (type 1326) the kernel logs during the session."""
    try:
        log = AuditLog()
    except UserError as e:
        unavailable(str(e))
    with log:
        yield log
