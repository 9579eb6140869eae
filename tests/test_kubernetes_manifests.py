"""docs/kubernetes: the manifests against the Kubernetes API schemas (kubernetes-validate), the containerd
snippet's layout, the runtime script's settings, and recordings from two nodes merged and emitted as an
SPO SeccompProfile that matches the operator's CRD (../shared/reference)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from helpers import SHARED, seccomp_learn
from oci import bundle

from tracer.runtime_wrapper.cmdline import parse

DOCS = Path(__file__).resolve().parent.parent / "docs" / "kubernetes"
MANIFESTS = sorted(DOCS.glob("*.yaml"))


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid_kubernetes(manifest: Path) -> None:
    for doc in yaml.safe_load_all(manifest.read_text()):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_handler_containerd_runtime_and_script_agree() -> None:
    runtime_class = yaml.safe_load((DOCS / "runtimeclass.yaml").read_text())
    pod = yaml.safe_load((DOCS / "pod-learning.yaml").read_text())
    assert pod["spec"]["runtimeClassName"] == runtime_class["metadata"]["name"]
    config = tomllib.loads((DOCS / "containerd-config.toml").read_text())
    runtimes = config["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
    entry = runtimes[runtime_class["handler"]]
    assert entry["runtime_type"] == "io.containerd.runc.v2"
    script = DOCS / "seccomp-learn-runc"
    assert entry["options"]["BinaryName"].endswith(f"/{script.name}")
    assert subprocess.run(["sh", "-n", str(script)], capture_output=True).returncode == 0
    exec_line = next(line for line in script.read_text().splitlines() if line.startswith("exec "))
    words = shlex.split(exec_line)[1:]
    assert words[0].endswith("/seccomp-learn-runtime") and words[-1] == "$@"
    settings = parse([*words[1:-1], "state", "some-id"], {})
    assert (settings.runtime, settings.learn_dir, settings.command) == ("/usr/sbin/runc", "/var/lib/seccomp-learn",
                                                                       "state")


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/reference is absent")
def test_recordings_from_two_nodes_merge_into_an_spo_profile(tmp_path: Path) -> None:
    """Two containers' recordings (as two nodes would write them) merge in either order into the same
    recording, and its --format kubernetes profile validates against the SPO CRD."""
    learn = tmp_path / "learn"
    for node, argv in (("node-a", ["sh", "-c", "echo a"]), ("node-b", ["sh", "-c", "cat /etc/hostname"])):
        done = subprocess.run([sys.executable, "-m", "tracer.runtime_wrapper", "--learn-dir", str(learn / node),
                               "--root", str(tmp_path / "runc"), "run", "--bundle",
                               str(bundle(tmp_path / node, argv, None)), node],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr
    a, b = (str(learn / n / f"{n}.trace.json") for n in ("node-a", "node-b"))
    ab, ba = tmp_path / "ab.trace.json", tmp_path / "ba.trace.json"
    assert seccomp_learn("merge", "-q", a, b, "-o", str(ab)).returncode == 0
    assert seccomp_learn("merge", "-q", b, a, "-o", str(ba)).returncode == 0
    assert json.loads(ab.read_text()) == json.loads(ba.read_text())
    emitted = seccomp_learn("emit", "--format", "kubernetes", "--runtime", "runc", str(ab))
    assert emitted.returncode == 0, emitted.stderr
    doc = yaml.safe_load(emitted.stdout)
    crd = yaml.safe_load((SHARED / "spo-seccompprofile-crd.yaml").read_text())
    version = next(v for v in crd["spec"]["versions"] if f"{crd['spec']['group']}/{v['name']}" == doc["apiVersion"])
    jsonschema.validate(doc["spec"], version["schema"]["openAPIV3Schema"]["properties"]["spec"])
    assert doc["kind"] == crd["spec"]["names"]["kind"]
