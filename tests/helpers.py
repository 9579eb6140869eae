"""Running seccomp-learn as a user would: the real command, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

SL = [sys.executable, "-m", "tracer"]
REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared" / "reference"


def seccomp_learn(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run([*SL, *args], **kw)


def recorded(path: Path) -> dict[str, dict[str, Any]]:
    return json.loads(path.read_text())["abis"]


def recorded_counts(path: Path) -> dict[tuple[str, str], int]:
    return {(abi, name): e["count"] for abi, table in recorded(path).items() for name, e in table.items()}
