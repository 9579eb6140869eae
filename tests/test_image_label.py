"""podman's image policy: `seccomp-learn label` builds an image whose label holds the profile, and
`podman run --seccomp-policy=image` enforces it (the real podman, --network=none)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from engines import IMAGE, Engines, run
from helpers import SL
from test_runtime_engines import EXPECTED, PODMAN_FLAGS, WORKLOAD

LABEL = "io.containers.seccomp.profile"


def label(podman: list[str], profile: Path, tag: str) -> None:
    done = run([*SL, "label", "--podman", shlex.join(podman), "--tag", tag, IMAGE, str(profile)])
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{tag}\n"


def without(profile: dict[str, Any], name: str) -> dict[str, Any]:
    rules = [{**rule, "names": [n for n in rule["names"] if n != name]} for rule in profile["syscalls"]]
    return {**profile, "syscalls": [r for r in rules if r["names"]]}


def test_labelled_image_runs_under_its_profile(engines: Engines, tmp_path: Path) -> None:
    podman = list(engines.get("podman").command)
    profile = tmp_path / "profile.json"
    learned = run([*SL, "container", "-q", "--learn-dir", str(engines.learn_dir), "--wrapper", str(engines.wrapper),
                   "-o", str(profile), "--", *podman, "run", "--rm", *PODMAN_FLAGS, IMAGE, *WORKLOAD])
    assert (learned.returncode, learned.stdout) == EXPECTED, learned.stderr
    label(podman, profile, "localhost/sl-labelled:1")
    inspected = run([*podman, "image", "inspect", "--format", "{{json .Labels}}", "localhost/sl-labelled:1"])
    assert json.loads(json.loads(inspected.stdout)[LABEL]) == json.loads(profile.read_text())
    policy = [*podman, "run", "--rm", *PODMAN_FLAGS, "--seccomp-policy=image"]
    held = run([*policy, "localhost/sl-labelled:1", *WORKLOAD])
    assert (held.returncode, held.stdout) == EXPECTED, held.stderr

    data = json.loads(profile.read_text())
    telling = "mkdir" if any("mkdir" in r["names"] for r in data["syscalls"]) else "mkdirat"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(without(data, telling)))
    label(podman, broken, "localhost/sl-labelled:broken")
    refused = run([*policy, "localhost/sl-labelled:broken", *WORKLOAD])
    assert (refused.returncode, refused.stdout) != EXPECTED
    assert "Operation not permitted" in refused.stderr
    # The same image without the policy gets podman's default profile, which allows mkdir: the label did it.
    default = run([*podman, "run", "--rm", *PODMAN_FLAGS, "localhost/sl-labelled:broken", *WORKLOAD])
    assert (default.returncode, default.stdout) == EXPECTED, default.stderr


def test_a_bad_profile_builds_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"defaultAction": "SCMP_ACT_NOPE", "syscalls": []}')
    done = run([*SL, "label", "--podman", "false", IMAGE, str(bad)])  # podman would fail: it is never run
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and str(bad) in done.stderr
    assert "unknown action" in done.stderr
