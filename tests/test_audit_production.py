"""From test to production: learn, roll out in complain mode under docker, `seccomp-learn audit --add-to`, enforce.

The profile is learned from busybox's shell (the image's own binary) on a path that leaves its umask alone;
in production the container sets it (umask(2), which the learned profile refuses: `umask` then prints
37777777777 instead of 0077). Under the complain-mode profile the
container runs, and the kernel logs what the profile lacks. `audit --add-to` reads those records live from
the audit netlink group (`--follow --container ID`: the container's id comes from its processes' cgroup)
and from a dmesg-style file the test writes from the same records (`--pid`), and the profile it writes
runs the new path enforced. A second container runs at the same time under the same profile with calls of
its own (times, kill): they must not appear in the first container's profile.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from tests.engines import NO_NETWORK, Engines, run
from tests.helpers import SL, seccomp_learn
from tracer.runtimes.audit import AuditLog

LEARNED = "echo start; exec sleep 2"
NEW_PATH = "echo start; umask 077; umask; exec sleep 2"  # umask(2): not learned
OTHER = "echo other; times; kill -0 $$; exec sleep 2"  # times(2), kill(2): the second container's own
OTHERS_CALLS = {"times", "kill"}


def _names(profile: Path) -> set[str]:
    return {n for rule in json.loads(profile.read_text())["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW"
            for n in rule["names"]}


def _docker_run(docker: list[str], image: str, seccomp: str, script: str) -> subprocess.CompletedProcess[str]:
    return run([*docker, "run", "--rm", *NO_NETWORK, "--security-opt", f"seccomp={seccomp}", image,
                "sh", "-c", script])


def _running_pid(docker: list[str], container: str, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = run([*docker, "inspect", "-f", "{{.State.Pid}}", container]).stdout.strip()
        if pid.isdigit() and pid != "0":
            return int(pid)
        time.sleep(0.05)
    raise AssertionError(f"{container} did not start")


def test_complain_rollout_then_audit_add_to_enforces_the_new_path(engines: Engines, audit_log: AuditLog,
                                                                  tmp_path: Path) -> None:
    engine = engines.get("docker")
    docker, image = list(engine.command), engine.root
    trace, learned, complain = tmp_path / "t.json", tmp_path / "learned.json", tmp_path / "complain.json"
    r = seccomp_learn("record", "-q", "-o", str(trace), "--", "/usr/bin/busybox", "sh", "-c", LEARNED)
    assert r.returncode == 0, r.stderr
    for path, extra in ((learned, []), (complain, ["--complain"])):
        assert seccomp_learn("emit", *extra, "--runtime", "docker", "-o", str(path), str(trace)).returncode == 0
    expected = _docker_run(docker, image, "unconfined", NEW_PATH)
    assert expected.returncode == 0 and expected.stdout.startswith("start\n0077\n"), expected.stderr
    assert _docker_run(docker, image, str(learned), LEARNED).returncode == 0
    refused = _docker_run(docker, image, str(learned), NEW_PATH)
    assert (refused.returncode, refused.stdout) != (0, expected.stdout)  # the learned profile lacks the new path

    ids = {}
    for name, script in (("prod", NEW_PATH), ("other", OTHER)):
        created = run([*docker, "create", *NO_NETWORK, "--security-opt", f"seccomp={complain}", image,
                       "sh", "-c", script])
        assert created.returncode == 0, created.stderr
        ids[name] = created.stdout.strip()
    from_netlink = tmp_path / "from-netlink.json"
    follower = subprocess.Popen([*SL, "audit", "--follow", "--container", ids["prod"], "--add-to", str(complain),
                                 "-o", str(from_netlink)], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert follower.stderr is not None
        assert "reading the audit netlink group" in follower.stderr.readline()
        audit_log.sync()
        mark = audit_log.mark()
        started = {name: subprocess.Popen([*docker, "start", "-a", cid], stdout=subprocess.PIPE, text=True)
                   for name, cid in ids.items()}
        prod_pid = _running_pid(docker, ids["prod"])
        outputs = {name: p.communicate(timeout=60)[0] for name, p in started.items()}
        assert [p.returncode for p in started.values()] == [0, 0]
        assert outputs["prod"] == expected.stdout  # complain mode refused nothing
        audit_log.sync()
    finally:
        follower.send_signal(signal.SIGINT)
        err = follower.communicate(timeout=60)[1]
        run([*docker, "rm", "--force", *ids.values()])
    assert follower.returncode == 0, err
    records = [r for r in audit_log.records() if r.serial > mark]
    assert {r.name for r in records} >= OTHERS_CALLS  # the other container's calls were logged ...

    dmesg = tmp_path / "dmesg.txt"
    dmesg.write_text("".join(f"[{1000 + k / 1000:12.6f}] audit: type=1326 {r.text}\n" for k, r in enumerate(records)))
    from_text = tmp_path / "from-text.json"
    r = seccomp_learn("audit", "--pid", str(prod_pid), "--add-to", str(complain), "-o", str(from_text), str(dmesg))
    assert r.returncode == 0, r.stderr

    for profile in (from_netlink, from_text):
        added = _names(profile) - _names(complain)
        assert "umask" in added and not added & OTHERS_CALLS, added  # ... and stay out of this one's profile
        assert json.loads(profile.read_text())["defaultAction"] == "SCMP_ACT_ERRNO"
        enforced = _docker_run(docker, image, str(profile), NEW_PATH)
        assert (enforced.returncode, enforced.stdout) == (0, expected.stdout), (profile.name, enforced.stderr)
    assert seccomp_learn("lint", str(from_netlink)).returncode == 0
