"""Learning inside Docker, podman and containerd with seccomp-learn-runtime, and the profile holding there.

Each round trip: the engine runs the workload from the busybox image with the wrapper as its
runtime and seccomp unconfined; the wrapper writes `<learn-dir>/<container-id>.trace.json`;
`seccomp-learn emit` makes the profile; the engine runs the workload again under that profile
(with its normal runtime) and it must print the same and exit the same. A command the workload
never ran must then be refused, so a profile that allows everything cannot pass.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from engines import IMAGE, NO_NETWORK, PODMAN_RUN_FLAGS, Engines, run
from helpers import EBPF_MISSING, SL, seccomp_learn

WORKLOAD = ["sh", "-c", "d=/tmp/sl-d.$$; mkdir $d && rmdir $d && echo hello world | tr a-z A-Z | wc -w; exit 3"]
EXPECTED = (3, "2\n")
# dash on the host starts mkdir and rmdir with vfork, busybox sh in the image with clone (fork): the
# host-learned profile has no clone at all.
USERLAND = ["sh", "-c", "d=/tmp/sl-d.$$; mkdir $d && rmdir $d && echo ok"]
NEVER_RAN = ["sh", "-c", "chmod 600 /etc/passwd"]  # chmod is not in the workload's profile
PODMAN_FLAGS = (*NO_NETWORK, *PODMAN_RUN_FLAGS)


def emit(recording: Path, out: Path, *options: str) -> Path:
    done = seccomp_learn("emit", "-q", *options, str(recording), "-o", str(out))
    assert done.returncode == 0, done.stderr
    return out


def save(engines: Engines, container_id: str, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    rec = engines.recording(container_id)
    path = tmp_path / "learned.trace.json"
    path.write_text(json.dumps(rec))
    return path, rec


def check_recording(rec: dict[str, Any], engine: str, runtime: str) -> dict[str, Any]:
    first = rec["runs"][0]
    assert first["command"] == WORKLOAD
    assert first["container"]["engine"] == engine
    assert first["exit"] == {"code": 3}
    assert first["runtime"]["version"].startswith(f"{runtime} version")
    assert first["runtime"]["executables"], "the runtime's own calls after loading the filter were not told apart"
    names = set(rec["abis"]["x86_64"])
    assert {"mkdir", "rmdir", "execve", "pipe2", "wait4"} <= names
    # Nothing of the runtime's setup before it loads the filter: that would widen the profile.
    assert not names & {"mount", "pivot_root", "unshare", "setns", "umount2", "sethostname", "keyctl"}
    return first


def test_docker_round_trip(engines: Engines, tmp_path: Path) -> None:
    docker = list(engines.get("docker").command)
    cid = tmp_path / "cid"
    learned = run([*docker, "run", "--rm", "--cidfile", str(cid), *NO_NETWORK, "--runtime", "seccomp-learn",
                   "--security-opt", "seccomp=unconfined", IMAGE, *WORKLOAD])
    assert (learned.returncode, learned.stdout) == EXPECTED, learned.stderr
    path, rec = save(engines, cid.read_text(), tmp_path)
    first = check_recording(rec, "docker", "runc")
    assert (first["container"]["image"], first["container"]["id"]) == (IMAGE, cid.read_text())
    assert first["container"]["name"]
    profile = emit(path, tmp_path / "profile.json")
    replay = run([*docker, "run", "--rm", *NO_NETWORK, "--security-opt", f"seccomp={profile}", IMAGE, *WORKLOAD])
    assert (replay.returncode, replay.stdout) == EXPECTED, replay.stderr
    refused = run([*docker, "run", "--rm", *NO_NETWORK, "--security-opt", f"seccomp={profile}", IMAGE,
                   *NEVER_RAN])
    assert refused.returncode != 0 and "Operation not permitted" in refused.stderr


def test_image_profile_differs_from_host_and_holds(engines: Engines, tmp_path: Path) -> None:
    """The same command learned on the host (dash, coreutils) and in the image (busybox): the profiles
    differ, the host-learned one breaks the image's userland and the image-learned one holds."""
    docker = list(engines.get("docker").command)
    host_rec = tmp_path / "host.trace.json"
    host = seccomp_learn("record", "-q", "-o", str(host_rec), "--", *USERLAND)
    assert (host.returncode, host.stdout) == (0, "ok\n"), host.stderr
    cid = tmp_path / "cid"
    learned = run([*docker, "run", "--rm", "--cidfile", str(cid), *NO_NETWORK, "--runtime", "seccomp-learn",
                   "--security-opt", "seccomp=unconfined", IMAGE, *USERLAND])
    assert (learned.returncode, learned.stdout) == (0, "ok\n"), learned.stderr
    image_rec, _ = save(engines, cid.read_text(), tmp_path)
    host_profile = json.loads(emit(host_rec, tmp_path / "host.json").read_text())
    image_profile = json.loads(emit(image_rec, tmp_path / "image.json").read_text())
    assert host_profile["syscalls"] != image_profile["syscalls"]
    outcomes = {}
    for which in ("host", "image"):
        done = run([*docker, "run", "--rm", *NO_NETWORK, "--security-opt", f"seccomp={tmp_path / which}.json",
                    IMAGE, *USERLAND])
        outcomes[which] = (done.returncode, done.stdout, done.stderr)
    assert outcomes["image"] == (0, "ok\n", "")
    assert outcomes["host"][:2] != (0, "ok\n"), "the host-learned profile also held: the userlands do not differ here"
    assert "Operation not permitted" in outcomes["host"][2]


def test_docker_detached_server_exec_and_stop(engines: Engines, tmp_path: Path) -> None:
    """A server started detached, driven by `docker exec`, then `docker stop`: both processes are recorded
    (one run each), the recording is marked partial, and the profile serves the same page."""
    docker = list(engines.get("docker").command)
    server = ["httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/www"]
    client = ["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"]
    started = run([*docker, "run", "-d", *NO_NETWORK, "--runtime", "seccomp-learn", "--security-opt",
                   "seccomp=unconfined", IMAGE, *server])
    assert started.returncode == 0, started.stderr
    container_id = started.stdout.strip()
    page = _fetch(docker, container_id, client)
    assert page == "hello from the image\n"
    stopped = run([*docker, "stop", "-t", "1", container_id])
    assert stopped.returncode == 0, stopped.stderr
    path, rec = save(engines, container_id, tmp_path)
    run([*docker, "rm", container_id])
    commands = sorted(r["command"] for r in rec["runs"])
    assert commands == sorted([server, client])
    assert {r["backend"] for r in rec["runs"]} == {"ptrace" if EBPF_MISSING else "ebpf"}  # the exec'd one too
    main = next(r for r in rec["runs"] if r["command"] == server)
    assert main["partial"] and main["exit"]["name"] in ("SIGTERM", "SIGKILL"), main
    assert {"accept", "bind", "listen", "connect"} <= set(rec["abis"]["x86_64"])
    profile = emit(path, tmp_path / "server.json")
    replay = run([*docker, "run", "-d", *NO_NETWORK, "--security-opt", f"seccomp={profile}", IMAGE, *server])
    assert replay.returncode == 0, replay.stderr
    try:
        assert _fetch(docker, replay.stdout.strip(), client) == page
    finally:
        run([*docker, "rm", "-f", replay.stdout.strip()])


def _fetch(docker: list[str], container_id: str, client: list[str]) -> str:
    """The page, once the server listens (bounded retries)."""
    for _ in range(50):
        done = run([*docker, "exec", container_id, *client])
        if done.returncode == 0:
            return done.stdout
        time.sleep(0.1)
    return done.stderr


def test_podman_round_trip(engines: Engines, tmp_path: Path) -> None:
    podman = list(engines.get("podman").command)
    cid = tmp_path / "cid"
    learning = [*podman, "--runtime-flag", f"learn-dir={engines.learn_dir}", "--runtime-flag", "learn-runtime=crun"]
    learned = run([*learning, "run", "--rm", "--cidfile", str(cid), *PODMAN_FLAGS, "--runtime",
                   str(engines.wrapper), "--security-opt", "seccomp=unconfined", IMAGE, *WORKLOAD])
    assert (learned.returncode, learned.stdout) == EXPECTED, learned.stderr
    path, rec = save(engines, cid.read_text(), tmp_path)
    first = check_recording(rec, "podman", "crun")
    assert first["container"]["image"] == f"localhost/{IMAGE}"
    profile = emit(path, tmp_path / "profile.json", "--runtime", "podman")
    replay = run([*podman, "run", "--rm", *PODMAN_FLAGS, "--security-opt", f"seccomp={profile}", IMAGE, *WORKLOAD])
    assert (replay.returncode, replay.stdout) == EXPECTED, replay.stderr
    refused = run([*podman, "run", "--rm", *PODMAN_FLAGS, "--security-opt", f"seccomp={profile}", IMAGE,
                   *NEVER_RAN])
    assert refused.returncode != 0 and "Operation not permitted" in refused.stderr


def test_containerd_round_trip(engines: Engines, tmp_path: Path) -> None:
    """containerd's own client, as Kubernetes' CRI path uses it: the runtime binary is the wrapper."""
    ctr, runc_binary = engines.ctr()
    image = f"docker.io/library/{IMAGE}"
    container_id = f"learn-{tmp_path.name[-20:]}"
    learned = run([*ctr, "run", "--rm", "--runc-binary", str(runc_binary), image, container_id, *WORKLOAD])
    assert (learned.returncode, learned.stdout) == EXPECTED, learned.stderr
    path, rec = save(engines, container_id, tmp_path)
    check_recording(rec, "containerd", "runc")
    profile = emit(path, tmp_path / "profile.json", "--runtime", "runc", "--format", "oci")  # ctr reads OCI JSON
    replay = run([*ctr, "run", "--rm", "--seccomp", "--seccomp-profile", str(profile), image, f"{container_id}-replay",
                  *WORKLOAD])
    assert (replay.returncode, replay.stdout) == EXPECTED, replay.stderr
    refused = run([*ctr, "run", "--rm", "--seccomp", "--seccomp-profile", str(profile), image, f"{container_id}-never",
                   *NEVER_RAN])
    assert refused.returncode != 0 and "Operation not permitted" in refused.stderr


def test_container_command(engines: Engines, tmp_path: Path) -> None:
    """`seccomp-learn container -- docker run ...` writes the profile; an unregistered runtime gets a
    ready-to-paste daemon.json line instead."""
    docker = list(engines.get("docker").command)
    profile = tmp_path / "profile.json"
    done = run([*SL, "container", "-o", str(profile), "--", *docker, "run", "--rm", *NO_NETWORK, IMAGE,
                *WORKLOAD])
    assert (done.returncode, done.stdout) == EXPECTED, done.stderr
    replay = run([*docker, "run", "--rm", *NO_NETWORK, "--security-opt", f"seccomp={profile}", IMAGE, *WORKLOAD])
    assert (replay.returncode, replay.stdout) == EXPECTED, replay.stderr
    missing = run([*SL, "container", "--runtime-name", "not-registered", "-o", str(tmp_path / "x.json"), "--",
                   *docker, "run", "--rm", *NO_NETWORK, IMAGE, "true"])
    assert missing.returncode == 2 and not (tmp_path / "x.json").exists()
    line, = missing.stderr.splitlines()
    snippet = json.loads(line[line.index("{"):])
    assert snippet["runtimes"]["not-registered"]["runtimeArgs"][0] == "--learn-dir"


def test_container_command_podman(engines: Engines, tmp_path: Path) -> None:
    podman = list(engines.get("podman").command)
    profile = tmp_path / "profile.json"
    done = run([*SL, "container", "--learn-dir", str(engines.learn_dir), "--wrapper", str(engines.wrapper), "-o",
                str(profile), "--", *podman, "run", "--rm", *PODMAN_FLAGS, IMAGE, *WORKLOAD])
    assert (done.returncode, done.stdout) == EXPECTED, done.stderr
    replay = run([*podman, "run", "--rm", *PODMAN_FLAGS, "--security-opt", f"seccomp={profile}", IMAGE, *WORKLOAD])
    assert (replay.returncode, replay.stdout) == EXPECTED, replay.stderr


def test_docker_shows_why_a_container_cannot_be_recorded(engines: Engines) -> None:
    """A learn directory that cannot be created: the container does not start and `docker run` shows the
    wrapper's one line; with --learn-optional in runtimeArgs it runs, unrecorded."""
    docker = list(engines.get("docker").command)
    refused = run([*docker, "run", "--rm", *NO_NETWORK, "--runtime", "seccomp-learn-unusable", IMAGE,
                   "echo", "x"])
    assert refused.returncode != 0 and refused.stdout == ""
    assert "seccomp-learn-runtime: /proc/seccomp-learn: learn directory cannot be used" in refused.stderr
    optional = run([*docker, "run", "--rm", *NO_NETWORK, "--runtime", "seccomp-learn-optional", IMAGE,
                    "echo", "x"])
    assert (optional.returncode, optional.stdout) == (0, "x\n"), optional.stderr
