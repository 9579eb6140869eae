"""One way from a recording to a profile file (commands/profile_delivery.py): `run`, `emit` and `systemd-unit`
write, byte for byte, what the release before it (OLD, taken from git) writes from the same recording, in
every format, with the same summary.

`run` traces anew, so its recording (--record) is what OLD's `emit` is given; so is the container's, which
`container` read from the wrapper's learn dir (podman, with podman's runtime list).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from engines import IMAGE, NO_NETWORK, PODMAN_RUN_FLAGS, Engines, run
from helpers import SL, seccomp_learn
from test_recording_container import old_tracer  # noqa: F401  (a fixture)

from tracer.profile.formats import FORMATS

WORKLOAD = [sys.executable, "-c", "import os, socket; socket.socket(socket.AF_UNIX).close(); os.fork() or os._exit(0)"]


def old_seccomp_learn(old: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(old)}
    return subprocess.run([sys.executable, "-m", "tracer", *args], capture_output=True, timeout=120, env=env)


def labels(fmt: str) -> list[str]:
    return ["--name", "web", "--namespace", "shop"] if fmt == "kubernetes" else []


@pytest.mark.parametrize("fmt", FORMATS)
def test_run_and_emit_write_what_the_old_code_writes(fmt: str, old_tracer: Path, tmp_path: Path) -> None:  # noqa: F811
    learned, rec = tmp_path / "run.out", tmp_path / "r.trace.json"
    r = seccomp_learn("--format", fmt, *labels(fmt), "-o", str(learned), "--record", str(rec), "--", *WORKLOAD,
                      cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    old = old_seccomp_learn(old_tracer, "emit", "--format", fmt, *labels(fmt), str(rec), "-o", str(tmp_path / "old"))
    assert old.returncode == 0, old.stderr
    new = seccomp_learn("emit", "--format", fmt, *labels(fmt), str(rec), "-o", str(tmp_path / "new"))
    assert new.returncode == 0, new.stderr
    expected = (tmp_path / "old").read_bytes()
    assert learned.read_bytes() == expected and (tmp_path / "new").read_bytes() == expected
    assert new.stderr == old.stderr.decode().replace(str(tmp_path / "old"), str(tmp_path / "new"))
    to_stdout = seccomp_learn("emit", "--format", fmt, *labels(fmt), str(rec), "-o", "-", text=False)
    assert to_stdout.returncode == 0 and to_stdout.stdout == expected


def test_systemd_unit_writes_what_the_old_code_writes(old_tracer: Path, tmp_path: Path) -> None:  # noqa: F811
    rec = tmp_path / "r.trace.json"
    assert seccomp_learn("record", "-o", str(rec), "--", *WORKLOAD, cwd=tmp_path).returncode == 0
    drop_in = Path("etc/systemd/system/web.service.d/seccomp-learn.conf")
    for root, command in (("old", lambda *a: old_seccomp_learn(old_tracer, *a)), ("new", seccomp_learn)):
        (tmp_path / root).mkdir()
        r = command("systemd-unit", "web", str(rec), "--root-dir", str(tmp_path / root))
        assert r.returncode == 0, r.stderr
    assert (tmp_path / "new" / drop_in).read_bytes() == (tmp_path / "old" / drop_in).read_bytes()


def test_container_writes_what_the_old_code_writes(engines: Engines, old_tracer: Path,  # noqa: F811
                                                   tmp_path: Path) -> None:
    podman = list(engines.get("podman").command)
    profile = tmp_path / "profile.json"
    done = run([*SL, "container", "--learn-dir", str(engines.learn_dir), "--wrapper", str(engines.wrapper), "-o",
                str(profile), "--", *podman, "run", "--rm", *NO_NETWORK, *PODMAN_RUN_FLAGS, IMAGE, "true"])
    assert done.returncode == 0 and "recorded " in done.stderr, done.stderr
    recorded = done.stderr.split("recorded ", 1)[1].split()[0]  # the summary's "recorded FILE"
    old = old_seccomp_learn(old_tracer, "emit", "--runtime", "podman", recorded, "-o", str(tmp_path / "old.json"))
    assert old.returncode == 0, old.stderr
    assert profile.read_bytes() == (tmp_path / "old.json").read_bytes()
