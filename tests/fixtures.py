"""Build the C fixture programs in ``fixtures/`` for the tests (a plain module, not a conftest).

``build(name)`` compiles ``fixtures/<name>.c`` with gcc into a per-user cache directory and returns
the binary's path. The cache key is a hash of the source, the shared headers (``fixtures/*.h``), the
flags and the compiler path, so an edited fixture or header is rebuilt and an unchanged one is
compiled once per machine, not once per test. Each build goes to a unique temporary name in the
cache directory and is renamed into place, so concurrent test processes (pytest-xdist, two
checkouts) never see a half-written binary.

gcc is a hard requirement of the test suite: a missing gcc raises, it never skips.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURE_DIR = REPO_ROOT / "fixtures"
CACHE_DIR = Path(tempfile.gettempdir()) / f"seccomp-learn-fixtures-{os.getuid()}"

# -lpthread goes after the source file (link order); the rest before it.
CFLAGS = ("-O2", "-Wall", "-Werror")
LDLIBS = ("-lpthread",)

# Fixtures that a tracer-vs-strace equality test should run: (fixture name, argv after the binary).
# "{tmp}" in an argument stands for a per-test temporary directory, to be filled in by the test
# (e.g. ``arg.format(tmp=tmp_path)``).
STRACE_PARITY: list[tuple[str, tuple[str, ...]]] = [
    ("threads", ()),
    ("fork_exec", ()),
    ("vfork", ()),
    ("clone3", ()),
    ("int80", ()),
    ("rawhigh", ()),
    ("daemon", ("{tmp}/marker",)),
    ("sighandler", ()),
    ("killed", ()),
    ("exitcode", ("3",)),
]

# Expected workload exit status of each STRACE_PARITY entry, as subprocess reports it (a negative
# number is death by that signal). Everything not listed exits 0.
EXPECTED_STATUS: dict[str, int] = {"killed": -15, "exitcode": 3}

_lock = threading.Lock()
_built: dict[tuple[str, tuple[str, ...]], Path] = {}


class FixtureBuildError(RuntimeError):
    """gcc is missing, or a fixture failed to compile."""


def gcc() -> str:
    path = shutil.which("gcc")
    if path is None:
        raise FixtureBuildError("gcc not found on PATH: it is required to build the test fixtures")
    return path


def source(name: str) -> Path:
    src = FIXTURE_DIR / f"{name}.c"
    if not src.is_file():
        raise FixtureBuildError(f"no such fixture: {src}")
    return src


def _cache_key(compiler: str, src: Path, flags: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    h.update(compiler.encode())
    h.update(b"\0")
    h.update("\0".join(CFLAGS + flags + LDLIBS).encode())
    h.update(b"\0")
    h.update(src.read_bytes())
    for header in sorted(FIXTURE_DIR.glob("*.h")):
        h.update(header.read_bytes())
    return h.hexdigest()[:16]


def build(name: str, flags: tuple[str, ...] = ()) -> Path:
    """Compile ``fixtures/<name>.c`` (once per session, cached across sessions) and return the binary.

    flags: extra compiler flags, e.g. ("-m32", "-static") for a 32-bit static program.
    """
    with _lock:
        cached = _built.get((name, flags))
        if cached is not None and cached.exists():
            return cached
        compiler = gcc()
        src = source(name)
        CACHE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        out = CACHE_DIR / f"{name}-{_cache_key(compiler, src, flags)}"
        if not out.exists():
            fd, tmp_name = tempfile.mkstemp(prefix=f".{name}-", dir=CACHE_DIR)
            os.close(fd)
            tmp = Path(tmp_name)
            try:
                proc = subprocess.run(
                    [compiler, *CFLAGS, *flags, "-o", str(tmp), str(src), *LDLIBS],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if proc.returncode != 0:
                    raise FixtureBuildError(
                        f"gcc failed on {src} (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
                    )
                tmp.chmod(0o755)
                os.replace(tmp, out)  # atomic: concurrent builders race harmlessly
            finally:
                tmp.unlink(missing_ok=True)
        _built[(name, flags)] = out
        return out


def parity_argv(name: str, args: tuple[str, ...], tmp: Path | str) -> list[str]:
    """The full argv for a STRACE_PARITY entry, with "{tmp}" placeholders filled in."""
    return [str(build(name)), *(a.format(tmp=tmp) for a in args)]
