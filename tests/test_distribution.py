"""push and pull against a real registry (Debian's docker-registry on 127.0.0.1), read back with skopeo."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from engines import IMAGE, Engines
from engines import run as engine_run
from helpers import seccomp_learn
from registries import Registry, free_port
from test_runtime_engines import EXPECTED, PODMAN_FLAGS, WORKLOAD

CONFIG_MEDIA_TYPE = "application/vnd.cncf.seccomp-profile.config.v1+json"  # CRI-O's and KEP-6061's
IMAGE_DIGEST = "sha256:" + "ab" * 32
USER, PASSWORD = "fleet", "s3cret-pw"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    server = Registry(tmp_path_factory.mktemp("registry") / "plain")
    yield server
    server.close()


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    server = Registry(tmp_path_factory.mktemp("registry") / "auth", USER, PASSWORD)
    yield server
    server.close()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No credentials but those a test gives: an empty HOME, no REGISTRY_AUTH_FILE, DOCKER_CONFIG or XDG dir."""
    home = tmp_path / "home"
    home.mkdir()
    drop = {"REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME"}
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "HOME": str(home)}


@pytest.fixture(scope="module")
def oci_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A profile learned from a real run, in the runtime-spec form an artifact holds."""
    tmp = tmp_path_factory.mktemp("profile")
    rec, out = tmp / "true.trace.json", tmp / "true.json"
    assert seccomp_learn("record", "-q", "-o", str(rec), "--", "/bin/true").returncode == 0
    assert seccomp_learn("emit", "-q", "--format", "oci", str(rec), "-o", str(out)).returncode == 0
    return out


def skopeo_manifest(ref: str) -> bytes:
    """The manifest as the registry serves it, read by skopeo (not by seccomp-learn)."""
    return subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
                          capture_output=True, timeout=60, check=True).stdout


def push(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return seccomp_learn("push", "--insecure", *args, env=env)


def one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    for word in words:
        assert word in done.stderr


def test_push_then_pull_is_byte_identical(registry: Registry, oci_profile: Path, env: dict[str, str],
                                          tmp_path: Path) -> None:
    ref = f"{registry.host}/app/seccomp:v1"
    pushed = push(env, "--image", "localhost/app:1", "--image-digest", IMAGE_DIGEST, str(oci_profile), ref)
    assert pushed.returncode == 0, pushed.stderr
    pinned = pushed.stdout.strip()
    content = oci_profile.read_bytes()
    raw = skopeo_manifest(ref)
    assert pinned == f"{registry.host}/app/seccomp@sha256:{hashlib.sha256(raw).hexdigest()}"
    manifest = json.loads(raw)
    assert manifest["config"]["mediaType"] == CONFIG_MEDIA_TYPE
    assert manifest["artifactType"] == CONFIG_MEDIA_TYPE
    [layer] = manifest["layers"]
    assert layer["digest"] == "sha256:" + hashlib.sha256(content).hexdigest() and layer["size"] == len(content)
    annotations = manifest["annotations"]
    assert annotations["seccomp-learn/image"] == "localhost/app:1"
    assert annotations["seccomp-learn/image-digest"] == IMAGE_DIGEST
    assert "seccomp-learn/version" in annotations
    assert "created" not in raw.decode()  # no time: the digest is the content's
    for source in (ref, pinned):
        out = tmp_path / "pulled.json"
        pulled = seccomp_learn("pull", "--insecure", source, "-o", str(out), env=env)
        assert pulled.returncode == 0, pulled.stderr
        assert out.read_bytes() == content
        assert "warning" not in pulled.stderr
    other = seccomp_learn("pull", "--insecure", "--image-digest", "sha256:" + "cd" * 32, pinned, "-o", "-", env=env)
    assert other.returncode == 0 and other.stdout.encode() == content
    assert f"learned for {IMAGE_DIGEST}, not sha256:{'cd' * 32}" in other.stderr


def test_digest_is_stable_across_pushes(registry: Registry, oci_profile: Path, env: dict[str, str]) -> None:
    refs = [f"{registry.host}/stable/seccomp:{tag}" for tag in ("a", "b", "a")]
    digests = []
    for ref in refs:
        done = push(env, "--image", "localhost/app@" + IMAGE_DIGEST, str(oci_profile), ref)
        assert done.returncode == 0, done.stderr
        digests.append(done.stdout.strip().rsplit("@", 1)[1])
    assert len(set(digests)) == 1
    assert {f"sha256:{hashlib.sha256(skopeo_manifest(r)).hexdigest()}" for r in refs} == set(digests)


def test_credentials_from_docker_config(auth_registry: Registry, oci_profile: Path, env: dict[str, str],
                                        tmp_path: Path) -> None:
    ref = f"{auth_registry.host}/private/seccomp:v1"
    one_line_error(push(env, str(oci_profile), ref), ref, "credentials")
    config = tmp_path / "docker" / "config.json"
    config.parent.mkdir()
    config.write_text(auth_registry.docker_config(USER, PASSWORD))
    home_config = Path(env["HOME"]) / ".docker" / "config.json"
    home_config.parent.mkdir()
    home_config.write_text(auth_registry.docker_config(USER, "wrong"))
    one_line_error(push(env, str(oci_profile), ref), ref, "credentials")  # ~/.docker/config.json, wrong password
    home_config.write_text(auth_registry.docker_config(USER, PASSWORD))
    assert push(env, str(oci_profile), ref).returncode == 0  # ~/.docker/config.json
    home_config.unlink()
    assert push({**env, "DOCKER_CONFIG": str(config.parent)}, str(oci_profile), ref).returncode == 0
    assert push({**env, "REGISTRY_AUTH_FILE": str(config)}, str(oci_profile), ref).returncode == 0
    out = tmp_path / "p.json"
    assert seccomp_learn("pull", "--insecure", "--authfile", str(config), ref, "-o", str(out), env=env).returncode == 0
    assert out.read_bytes() == oci_profile.read_bytes()


def _image_layout(root: Path) -> Path:
    """A one-layer container image in an OCI layout (what a registry mostly holds), for the wrong-type case."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(data: bytes, media_type: str) -> dict[str, object]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}

    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as t:
        info = tarfile.TarInfo("hello")
        info.size = 3
        t.addfile(info, io.BytesIO(b"hi\n"))
    layer = blob(tar.getvalue(), "application/vnd.oci.image.layer.v1.tar")
    config = blob(json.dumps({"architecture": "amd64", "os": "linux",
                              "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}).encode(),
                  "application/vnd.oci.image.config.v1+json")
    manifest = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                "config": config, "layers": [layer]}).encode(),
                    "application/vnd.oci.image.manifest.v1+json")
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [manifest]}))
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return root


def test_bad_references_are_one_line_errors(registry: Registry, env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out.json"

    def pull(ref: str, *flags: str) -> subprocess.CompletedProcess[str]:
        return seccomp_learn("pull", *flags, ref, "-o", str(out), env=env)

    one_line_error(pull(f"{registry.host}/app/none:v1", "--insecure"), "no such")
    down = f"127.0.0.1:{free_port()}/app/seccomp:v1"  # bound, closed: nothing listens there
    one_line_error(pull(down, "--insecure"), down, "not reachable")
    one_line_error(pull(f"{registry.host}/app/seccomp:v1"), "--insecure")  # plain HTTP refused unless asked
    one_line_error(pull("app/seccomp:v1", "--insecure"), "not a registry reference")
    image = f"{registry.host}/app/image:v1"
    subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{_image_layout(tmp_path / 'img')}",
                    f"docker://{image}"], check=True, timeout=60, capture_output=True)
    one_line_error(pull(image, "--insecure"), image, "wrong media type", "application/vnd.oci.image.config.v1+json")
    assert not out.exists()


# KEP-6061's SeccompProfile, transcribed from its Go types (SecurityProfileOCIArtifact, SecurityProfileOCIBase):
# kubernetes-validate's newest schemas (1.37) predate the OCI type.
KEP_6061_SECCOMP_PROFILE = {
    "type": "object", "additionalProperties": False, "required": ["type"],
    "properties": {
        "type": {"enum": ["RuntimeDefault", "Localhost", "Unconfined", "OCI"]},
        "localhostProfile": {"type": "string"},
        "oci": {"type": "object", "additionalProperties": False, "required": ["reference"], "properties": {
            "reference": {"type": "string", "pattern": r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+@sha256:[0-9a-f]{64}$"},
            "baseProfile": {"type": "object", "additionalProperties": False, "required": ["type"], "properties": {
                "type": {"enum": ["RuntimeDefault", "Localhost"]}, "localhostProfile": {"type": "string"}}}}},
    },
}


def test_kubernetes_oci_names_the_profile_by_digest(registry: Registry, oci_profile: Path, env: dict[str, str],
                                                    tmp_path: Path) -> None:
    import jsonschema
    import kubernetes_validate
    import yaml

    ref = f"{registry.host}/k8s/seccomp:v1"
    assert push(env, str(oci_profile), ref).returncode == 0
    digest = "sha256:" + hashlib.sha256(skopeo_manifest(ref)).hexdigest()
    done = seccomp_learn("emit", "--format", "kubernetes-oci", "--insecure", ref, env=env)
    assert done.returncode == 0, done.stderr
    context, annotation = yaml.safe_load_all(done.stdout)
    pinned = f"{registry.host}/k8s/seccomp@{digest}"
    assert context == {"securityContext": {"seccompProfile": {"type": "OCI", "oci": {"reference": pinned}}}}
    assert annotation == {"metadata": {"annotations": {"seccomp-profile.kubernetes.cri-o.io/POD": pinned}}}

    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", **annotation["metadata"]},
           "spec": {"containers": [{"name": "app", "image": "localhost/app:1"}]}}
    kubernetes_validate.validate(pod, kubernetes_validate.latest_version(), strict=True)  # the published schema
    jsonschema.validate(context["securityContext"]["seccompProfile"], KEP_6061_SECCOMP_PROFILE)
    with pytest.raises(kubernetes_validate.ValidationError, match="oci"):  # the published schema lacks the new type
        kubernetes_validate.validate({**pod, "spec": {**pod["spec"], **context}}, "1.37.0", strict=True)

    container = seccomp_learn("emit", "--format", "kubernetes-oci", "--insecure", "--container", "web", ref, env=env)
    assert list(yaml.safe_load_all(container.stdout))[1]["metadata"]["annotations"] == {
        "seccomp-profile.kubernetes.cri-o.io/web": pinned}
    one_line_error(seccomp_learn("emit", "--format", "kubernetes-oci", str(oci_profile), env=env), "push")
    one_line_error(seccomp_learn("emit", "--format", "kubernetes-oci", "--insecure", f"{registry.host}/app/rec:x",
                                 env=env), "no such")


def test_recordings_merged_by_reference_equal_the_files(registry: Registry, oci_profile: Path, env: dict[str, str],
                                                        tmp_path: Path) -> None:
    """Three machines' recordings through the registry: merge and emit by reference give what the files give."""
    commands = [["/bin/true"], ["sh", "-c", "echo x > f && cat f"], ["ls", "/"]]
    files, refs = [], []
    for i, argv in enumerate(commands):
        rec = tmp_path / f"node{i}.trace.json"
        assert seccomp_learn("record", "-q", "-o", str(rec), "--", *argv, cwd=tmp_path).returncode == 0
        ref = f"{registry.host}/fleet/recordings:node{i}"
        done = push(env, str(rec), ref)
        assert done.returncode == 0, done.stderr
        files.append(str(rec))
        refs.append(f"oci://{ref}")
    by_ref, by_file = tmp_path / "by-ref.json", tmp_path / "by-file.json"
    assert seccomp_learn("merge", "--insecure", *refs, "-o", str(by_ref), env=env).returncode == 0
    assert seccomp_learn("merge", *files, "-o", str(by_file), env=env).returncode == 0
    assert by_ref.read_bytes() == by_file.read_bytes()
    assert len(json.loads(by_ref.read_text())["runs"]) == 3
    emitted = seccomp_learn("emit", "--insecure", *refs, env=env)
    assert emitted.returncode == 0 and emitted.stdout == seccomp_learn("emit", *files, env=env).stdout
    profile_ref = f"{registry.host}/fleet/profile:v1"  # a profile is not a recording
    assert push(env, str(oci_profile), profile_ref).returncode == 0
    one_line_error(seccomp_learn("merge", "--insecure", f"oci://{profile_ref}", "-o", str(by_ref), env=env),
                   "wrong media type")


def test_runtime_wrapper_pushes_each_container(registry: Registry, engines: Engines, env: dict[str, str],
                                               tmp_path: Path) -> None:
    """seccomp-learn-runtime --learn-push: three containers pushed, merged by reference as their files merge;
    a registry that is down does not stop a container."""
    podman = list(engines.get("podman").command)
    repository = f"{registry.host}/fleet/containers"

    def learning(push_to: str, n: int) -> str:
        cid = tmp_path / f"cid{n}"
        flags = ["--runtime-flag", f"learn-dir={engines.learn_dir}", "--runtime-flag", "learn-runtime=crun",
                 "--runtime-flag", f"learn-push={push_to}", "--runtime-flag", "learn-push-insecure"]
        done = engine_run([*podman, *flags, "run", "--rm", "--cidfile", str(cid), *PODMAN_FLAGS, "--runtime",
                           str(engines.wrapper), "--security-opt", "seccomp=unconfined", IMAGE, *WORKLOAD])
        assert (done.returncode, done.stdout) == EXPECTED, done.stderr
        container = cid.read_text().strip()
        engines.recording(container)  # written, and pushed before the tracer let go of it
        return container

    ids = [learning(repository, n) for n in range(3)]
    files = [str(engines.learn_dir / f"{c}.trace.json") for c in ids]
    by_ref, by_file = tmp_path / "by-ref.json", tmp_path / "by-file.json"
    merged = seccomp_learn("merge", "--insecure", *(f"oci://{repository}:{c}" for c in ids), "-o", str(by_ref),
                           env=env)
    assert merged.returncode == 0, merged.stderr
    assert seccomp_learn("merge", *files, "-o", str(by_file)).returncode == 0
    assert by_ref.read_bytes() == by_file.read_bytes()
    annotations = json.loads(skopeo_manifest(f"{repository}:{ids[0]}"))["annotations"]
    assert annotations["seccomp-learn/image"] == f"localhost/{IMAGE}"

    down = learning(f"127.0.0.1:{free_port()}/fleet/containers", 3)  # fails open: same output, exit code
    assert (engines.learn_dir / f"{down}.trace.json").is_file()


def test_ci_check_compares_the_published_profile(registry: Registry, env: dict[str, str], tmp_path: Path) -> None:
    ref = f"{registry.host}/ci/seccomp:v1"
    (tmp_path / "seccomp-learn.yaml").write_text(f"""\
profiles:
  app:
    output: app.json
    registry: {{reference: "{ref}", image_digest: "{IMAGE_DIGEST}", insecure: true}}
    runs:
      - name: start
        command: [/bin/true]
""")

    def ci(*args: str) -> subprocess.CompletedProcess[str]:
        return seccomp_learn("ci", "-q", *args, cwd=tmp_path, env=env)

    assert ci().returncode == 0
    committed = tmp_path / "app.json"
    assert push(env, "--image-digest", IMAGE_DIGEST, str(committed), ref).returncode == 0
    same = ci("--check")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "is the same profile" in same.stdout and "warning" not in same.stdout

    other = tmp_path / "other.json"  # what another build published: a program that writes a file
    rec = tmp_path / "other.trace.json"
    assert seccomp_learn("record", "-q", "-o", str(rec), "--", "sh", "-c", "echo x > f", cwd=tmp_path).returncode == 0
    assert seccomp_learn("emit", "-q", str(rec), "-o", str(other)).returncode == 0
    assert push(env, "--image-digest", IMAGE_DIGEST, str(other), ref).returncode == 0
    differs = ci("--check")
    assert differs.returncode == 1
    assert "differs from the committed profile" in differs.stdout and "only in the registry's" in differs.stdout

    assert push(env, "--image-digest", "sha256:" + "ef" * 32, str(committed), ref).returncode == 0
    stale = ci("--check")
    assert stale.returncode == 0 and "is the same profile" in stale.stdout
    assert f"was learned for sha256:{'ef' * 32}, not {IMAGE_DIGEST}" in stale.stdout
