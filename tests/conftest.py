"""Session-wide fixtures: the real container engines and the kernel's seccomp audit records."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from engines import Engines, unavailable

from tracer.errors import UserError
from tracer.seccomp_audit import AuditLog


@pytest.fixture(scope="session")
def engines() -> Iterator[Engines]:
    """crun, runc, podman and a private dockerd, each started on first use and stopped at the end."""
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
