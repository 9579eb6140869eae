"""seccomp-learn-runtime under attack (issue 23): nothing written outside the wrapper's own directories,
nothing weakened, the container's own profile kept, bounded waits, bookkeeping that cleans up.

Each case is what an attacker or a fault did to the wrapper on runc (and crun, where the runtime
matters): a real unprivileged user (nobody) doing `mv`/`ln -s` while the container runs, SIGKILL,
parallel runs, a full tmpfs in a private mount namespace. The reference for "what the container may
do" is the same bundle run by plain runc or crun, without the wrapper.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import select
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from engines import PRIVATE_MOUNTS
from oci import available, bundle
from test_runtime_wrapper import WRAPPER, _run, one_line

from tracer.kernel import ptrace_abi
from tracer.runtime_wrapper.learndir import file_stem
from tracer.runtime_wrapper.remembered import ENV_STATE, VERSIONS

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="OCI runtimes need root")
NOBODY = 65534
TIMEOUT = 60  # as test_runtime_wrapper's _run
RUNTIMES = [pytest.param(r, marks=pytest.mark.skipif(not available(r), reason=f"{r} is not installed"))
            for r in ("runc", "crun")]


class Runtime:
    """runc or crun with private state, run directly or through the wrapper (crun in the private mount
    namespace that hides the cgroup2 mount, tests/engines.py)."""

    def __init__(self, name: str, tmp: Path) -> None:
        self.name, self.tmp = name, tmp
        self.learn, self.state = tmp / "learn", tmp / "state"
        root = str(tmp / f"{name}-root")
        self.prefix = PRIVATE_MOUNTS if name == "crun" else ()
        self.globals = ("--cgroup-manager=disabled", "--root", root) if name == "crun" else ("--root", root)

    def wrapper_argv(self, *args: str, learn: Path | None = None) -> list[str]:
        return [*self.prefix, *WRAPPER, "--learn-runtime", self.name, "--learn-dir", str(learn or self.learn),
                *self.globals, *args]

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, ENV_STATE: str(self.state)}

    def wrapped(self, *args: str, learn: Path | None = None, **kw: Any) -> subprocess.CompletedProcess[str]:
        return _run(self.wrapper_argv(*args, learn=learn), env=self.env, **kw)

    def direct(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return _run([*self.prefix, self.name, *self.globals, *args], **kw)

    def bundle(self, argv: list[str], seccomp: dict[str, Any] | None = None, where: Path | None = None) -> Path:
        return bundle(where or self.tmp / f"bundle-{uuid.uuid4().hex[:8]}", argv, seccomp)

    def recording(self, container_id: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.learn / f"{file_stem(container_id)}.trace.json").read_text())
        return data

    def leftovers(self) -> list[str]:
        """What the wrapper left of a container in its state dir and the learn dir: settings, lock files, private
        bundles (the runtime's cached version is no container's)."""
        found = [p.name for p in self.learn.iterdir() if p.name.startswith(".")] if self.learn.is_dir() else []
        if self.state.is_dir():
            found += [p.name for p in self.state.glob("*.json") if p.name != VERSIONS]
            found += [f"bundles/{p.name}" for p in (self.state / "bundles").glob("*")]
        return sorted(found)


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Runtime:
    return Runtime(request.param, tmp_path)


@pytest.fixture
def runc(tmp_path: Path) -> Runtime:
    return Runtime("runc", tmp_path)


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory an unprivileged user can reach (pytest's tmp_path is root's 0700)."""
    path = Path(tempfile.mkdtemp(prefix="sl-wrapper-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def as_nobody(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return _run(["sh", "-c", script], cwd=cwd, user=NOBODY, group=NOBODY, extra_groups=[],
                env={"PATH": os.environ["PATH"], **env})


def files(stdio: Any) -> dict[str, Any]:
    """stdout and stderr to a file: the container a create leaves keeps them (a pipe would never close)."""
    return {"stdout": stdio, "stderr": stdio, "capture_output": False}


def file_facts(path: Path) -> tuple[bytes, int, int, int, int, int]:
    info = os.lstat(path)
    return path.read_bytes(), info.st_ino, info.st_uid, stat.S_IMODE(info.st_mode), info.st_nlink, info.st_mtime_ns


def wait_running(rt: Runtime, container_id: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        state = rt.direct("state", container_id)
        if state.returncode == 0 and json.loads(state.stdout)["status"] == "running":
            return
        time.sleep(0.05)
    raise AssertionError(f"{container_id} never ran")


def test_bundle_swapped_for_a_symlink_while_running_is_never_written(runc: Runtime, shared_tmp: Path) -> None:
    """Finding 1: the bundle's parent is nobody's, who swaps the bundle for a symlink to a root-owned
    directory again and again while the container runs: nothing is written there (nor in the bundle)."""
    parent = shared_tmp / "p"
    parent.mkdir()
    os.chown(parent, NOBODY, NOBODY)
    b = runc.bundle(["sleep", "2"], where=parent / "b")
    os.chown(b, NOBODY, NOBODY)
    os.chown(b / "config.json", NOBODY, NOBODY)
    original = (b / "config.json").read_bytes()
    victim = shared_tmp / "victim"
    victim.mkdir()
    (victim / "config.json").write_text("root's own file\n")
    before = sorted(victim.iterdir()), file_facts(victim / "config.json")
    wrapper = subprocess.Popen(runc.wrapper_argv("run", "--bundle", str(b), "race"), env=runc.env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_running(runc, "race")
        swaps = as_nobody('i=0; while [ $i -lt 20 ]; do mv b b.real && ln -s "$V" b && sleep 0.02 && rm b && '
                          'mv b.real b; i=$((i+1)); done; mv b b.real && ln -s "$V" b', parent, V=str(victim))
        assert swaps.returncode == 0, swaps.stderr
        _, err = wrapper.communicate(timeout=TIMEOUT)
    finally:
        wrapper.kill()
        wrapper.wait()
    assert wrapper.returncode == 0, err
    assert (sorted(victim.iterdir()), file_facts(victim / "config.json")) == before
    assert (parent / "b.real" / "config.json").read_bytes() == original
    assert sorted(p.name for p in (parent / "b.real").iterdir()) == ["config.json", "rootfs"]


def test_sigkill_during_run_leaves_the_bundle_as_it_was(runtime: Runtime) -> None:
    """Finding 2: the wrapper SIGKILLed while its container runs; the bundle is byte for byte what it
    was and the plain runtime runs it as before. The private copy left behind is removed by the next run."""
    b = runtime.bundle(["sh", "-c", "echo ran; read line; exit 0"])
    before = file_facts(b / "config.json")
    wrapper = subprocess.Popen(runtime.wrapper_argv("run", "--bundle", str(b), "killed"), env=runtime.env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wrapper.stdout is not None and wrapper.stdout.readline() == "ran\n"
        wrapper.send_signal(signal.SIGKILL)
        wrapper.wait(timeout=TIMEOUT)
    finally:
        wrapper.kill()
        wrapper.communicate()
    assert runtime.wrapped("delete", "--force", "killed").returncode == 0
    assert file_facts(b / "config.json") == before
    plain = runtime.direct("run", "--bundle", str(b), "plain")
    assert (plain.returncode, plain.stdout) == (0, "ran\n"), plain.stderr
    assert [p for p in runtime.leftovers() if p.startswith("bundles/")], "the killed run's copy is not there"
    again = runtime.wrapped("run", "--bundle", str(b), "again")
    assert (again.returncode, again.stdout) == (0, "ran\n"), again.stderr
    assert runtime.leftovers() == [], "the stale private bundle (or a lock) was not removed"


def test_parallel_runs_on_one_bundle(runtime: Runtime) -> None:
    """Finding 2: six runs of one bundle at once are each recorded under their own filter; the bundle's
    config.json (nobody's, 0640, two links) keeps its bytes, inode, owner, mode, link count and mtime."""
    b = runtime.bundle(["sh", "-c", "echo ok"])
    os.chown(b / "config.json", NOBODY, NOBODY)
    (b / "config.json").chmod(0o640)
    os.link(b / "config.json", b / "second-link.json")
    before = file_facts(b / "config.json")
    ids = [f"par{n}" for n in range(6)]
    with ThreadPoolExecutor(len(ids)) as pool:
        done = list(pool.map(lambda i: runtime.wrapped("run", "--bundle", str(b), i), ids))
    assert [(d.returncode, d.stdout) for d in done] == [(0, "ok\n")] * len(ids), [d.stderr for d in done]
    for container_id in ids:
        rec = runtime.recording(container_id)
        assert rec["runs"][0]["command"] == ["sh", "-c", "echo ok"] and "execve" in rec["abis"]["x86_64"]
    assert file_facts(b / "config.json") == before
    assert runtime.leftovers() == []
    plain = runtime.direct("run", "--bundle", str(b), "plain")
    assert (plain.returncode, plain.stdout) == (0, "ok\n"), plain.stderr


ACTIONS_SCRIPT = ("mkdir /tmp/a 2>&1; echo mkdir=$?; ln -s x /tmp/s 2>&1; echo symlink=$?; "
                  "touch /tmp/f; ln /tmp/f /tmp/h 2>&1; echo link=$?; chmod 600 /tmp/f 2>&1; echo chmod=$?; "
                  "rmdir /tmp/none 2>&1; echo rmdir=$?")
ACTIONS = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
           "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_TRACE"},
                        {"names": ["symlink", "symlinkat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                        {"names": ["link", "linkat"], "action": "SCMP_ACT_LOG"},
                        {"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_NOTIFY"},
                        {"names": ["rmdir"], "action": "SCMP_ACT_KILL"}]}


def refusing_agent(path: Path, containers: int) -> threading.Thread:
    """A seccomp agent at listenerPath: for each of `containers` containers, receives the listener fd the
    runtime sends and answers every notification with EPERM until the container's tasks are gone."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(containers)
    server.settimeout(TIMEOUT)

    def serve() -> None:
        with server:
            for _ in range(containers):
                conn, _ = server.accept()
                with conn:
                    _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
                for listener in fds:
                    _answer_eperm(listener)

    agent = threading.Thread(target=serve, daemon=True)
    agent.start()
    return agent


def _answer_eperm(listener: int) -> None:
    request, response = ptrace_abi.notif_buffers()
    poller = select.poll()
    poller.register(listener, select.POLLIN)
    try:
        while poller.poll(TIMEOUT * 1000):
            ctypes.memset(request, 0, len(request))
            if ptrace_abi.raw_ioctl(listener, ptrace_abi.SECCOMP_IOCTL_NOTIF_RECV, ctypes.addressof(request)) != 0:
                return  # the container's tasks are gone
            notif_id = ptrace_abi.SECCOMP_NOTIF_HEAD.unpack_from(request.raw)[0]
            ptrace_abi.SECCOMP_NOTIF_RESP.pack_into(response, 0, notif_id, 0, -errno.EPERM, 0)
            ptrace_abi.raw_ioctl(listener, ptrace_abi.SECCOMP_IOCTL_NOTIF_SEND, ctypes.addressof(response))
    finally:
        os.close(listener)


def test_the_containers_own_actions_keep_their_meaning(runtime: Runtime) -> None:
    """Finding 3: TRACE (no tracer: ENOSYS), ERRNO, LOG, NOTIFY (an agent answering EPERM) and KILL
    rules of the container's profile do through the wrapper what they do on the plain runtime."""
    sock = runtime.tmp / "agent.sock"
    agent = refusing_agent(sock, 2)
    b = runtime.bundle(["sh", "-c", ACTIONS_SCRIPT], {**ACTIONS, "listenerPath": str(sock)})
    plain = runtime.direct("run", "--bundle", str(b), "plain")
    wrapped = runtime.wrapped("run", "--bundle", str(b), "wrapped")
    agent.join(TIMEOUT)
    assert (wrapped.returncode, wrapped.stdout) == (plain.returncode, plain.stdout), wrapped.stderr
    lines = plain.stdout.splitlines()  # what the plain runtime did, that the test means what it says
    assert "Function not implemented" in lines[0] and lines[1] == "mkdir=1", lines
    assert "Permission denied" in lines[2] and lines[3:5] == ["symlink=1", "link=0"], lines
    assert "Operation not permitted" in lines[5] and lines[6] == "chmod=1", lines
    assert lines[-1] == "rmdir=159", lines  # killed by SIGSYS
    names = set(runtime.recording("wrapped")["abis"]["x86_64"])
    assert "linkat" in names and not {"mkdir", "symlinkat", "fchmodat", "rmdir"} & names


def test_relative_root_and_bind_mount_resolve_against_the_bundle(runtime: Runtime) -> None:
    """The private copy lives elsewhere: a relative root.path and bind-mount source still mean the
    user's bundle, as they do for the plain runtime."""
    b = runtime.bundle(["cat", "/data/f"])
    config = json.loads((b / "config.json").read_text())
    config["root"]["path"] = "rootfs"
    config["mounts"].append({"destination": "/data", "type": "bind", "source": "data", "options": ["rbind", "ro"]})
    (b / "config.json").write_text(json.dumps(config))
    (b / "data").mkdir()
    (b / "data" / "f").write_text("from the bundle\n")
    for done in (runtime.direct("run", "--bundle", str(b), "plain"), runtime.wrapped("run", "--bundle", str(b), "w")):
        assert (done.returncode, done.stdout) == (0, "from the bundle\n"), done.stderr


def test_deeply_nested_seccomp_runs_and_is_recorded(runc: Runtime) -> None:
    """Finding 6 (the wrapper's part): 600 levels of lists in an unknown key of linux.seccomp, which runc
    runs, are recorded (no RecursionError)."""
    deep: Any = []
    for _ in range(600):
        deep = [deep]
    b = runc.bundle(["true"], {"defaultAction": "SCMP_ACT_ALLOW", "x-unknown": deep})
    assert runc.direct("run", "--bundle", str(b), "plain").returncode == 0
    done = runc.wrapped("run", "--bundle", str(b), "deep")
    assert done.returncode == 0, done.stderr
    assert "execve" in runc.recording("deep")["abis"]["x86_64"]


@pytest.mark.parametrize("case", ["planted symlink", "world-writable", "nobody's directory"])
def test_unsafe_learn_dirs_are_refused(runc: Runtime, shared_tmp: Path, case: str) -> None:
    """Finding 4: a learn dir that another user can redirect is refused before anything runs, in one
    line, and nothing lands where it points; a symlink of root's is followed."""
    victim = shared_tmp / "victim"
    victim.mkdir()
    sticky = shared_tmp / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    learn = sticky / "learn"
    if case == "planted symlink":
        assert as_nobody(f"ln -s {victim} learn", sticky).returncode == 0
    elif case == "world-writable":
        open_dir = shared_tmp / "open"
        open_dir.mkdir()
        open_dir.chmod(0o777)
        learn = open_dir / "learn"
    else:
        assert as_nobody("mkdir learn", sticky).returncode == 0
    b = runc.bundle(["sh", "-c", "echo ran"])
    done = runc.wrapped("run", "--bundle", str(b), "unsafe", learn=learn)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert str(learn) in one_line(done)
    assert list(victim.iterdir()) == [] and runc.leftovers() == []
    ours = shared_tmp / "ours"
    ours.symlink_to(victim)  # root's own symlink: followed
    followed = runc.wrapped("run", "--bundle", str(b), "followed", learn=ours)
    assert (followed.returncode, followed.stdout) == (0, "ran\n"), followed.stderr
    assert (victim / "followed.trace.json").is_file()


def test_held_and_foreign_locks_fail_in_one_line(runc: Runtime, shared_tmp: Path) -> None:
    """Finding 5: a lock held by another process fails within its deadline, before the container starts;
    a lock file another user planted (in a sticky learn dir) is refused at once. Nothing is left."""
    b = runc.bundle(["sh", "-c", "echo ran"])
    runc.learn.mkdir()
    held = os.open(runc.learn / ".held.active", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        started = time.monotonic()
        done = runc.wrapped("run", "--bundle", str(b), "held")
        assert time.monotonic() - started < 20
    finally:
        os.close(held)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert ".held.active" in one_line(done) and "locked" in one_line(done)
    (runc.learn / ".held.active").unlink()
    assert runc.leftovers() == []
    sticky = shared_tmp / "learn"
    sticky.mkdir()
    sticky.chmod(0o1777)
    assert as_nobody(f"touch .{file_stem('planted')}.lock", sticky).returncode == 0
    refused = runc.wrapped("run", "--bundle", str(b), "planted", learn=sticky)
    assert (refused.returncode, refused.stdout) == (2, ""), refused.stderr
    assert "owned by uid 65534" in one_line(refused)


def test_refused_and_failed_creates_leave_no_state(runc: Runtime) -> None:
    """Finding 7: a refused create, an id runc rejects and a duplicate create leave no settings, lock or
    bundle copy of their own, and the duplicate leaves the live container's settings alone."""
    b = runc.bundle(["sleep", "30"])
    broken = runc.bundle(["true"])
    (broken / "config.json").write_text("{")
    out = runc.tmp / "create.out"
    with out.open("w") as stdio:
        refused = runc.wrapped("create", "--bundle", str(broken), "refused", **files(stdio))
        rejected = runc.wrapped("create", "--bundle", str(b), "bad id", **files(stdio))
        assert (refused.returncode, rejected.returncode) == (2, 1), out.read_text()
        assert runc.leftovers() == [], "a refused or rejected create left something"
        live = runc.wrapped("create", "--bundle", str(b), "live", **files(stdio))
        assert live.returncode == 0, out.read_text()
        remembered = (runc.state / "live.json").read_bytes()
        duplicate = runc.wrapped("create", "--bundle", str(b), "live", **files(stdio))
    try:
        assert duplicate.returncode == 1, out.read_text()
        assert (runc.state / "live.json").read_bytes() == remembered
        assert (runc.learn / ".live.active").exists()
    finally:
        deleted = _run([*WRAPPER, *runc.globals, "delete", "--force", "live"], env=runc.env)  # remembered settings
    assert deleted.returncode == 0, deleted.stderr
    assert runc.leftovers() == []


def on_full_tmpfs(directory: Path, argv: list[str], listing: Path, env: dict[str, str]) -> \
        subprocess.CompletedProcess[str]:
    """argv run with `directory` a full 64 KiB tmpfs, in a private mount namespace (gone with it); what
    was left in the tmpfs is written to `listing`."""
    directory.mkdir(exist_ok=True)
    script = ('mount -t tmpfs -o size=64k tmpfs "$L" && (dd if=/dev/zero of="$L/fill" bs=4k 2>/dev/null || true) && '
              '"$@"; rc=$?; ls -A "$L" > "$O"; exit $rc')
    return _run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv],
                env={**env, "L": str(directory), "O": str(listing)})


def test_full_learn_dir_keeps_the_containers_exit_code(runc: Runtime) -> None:
    """Finding 10 (the wrapper's part): a full learn dir: the container's rc is kept, one line says why
    nothing was written, no file is left behind."""
    listing = runc.tmp / "learn-listing"
    b = runc.bundle(["sh", "-c", "echo ok; exit 3"])
    done = on_full_tmpfs(runc.learn, runc.wrapper_argv("run", "--bundle", str(b), "full"), listing, runc.env)
    assert (done.returncode, done.stdout) == (3, "ok\n"), done.stderr
    assert "No space left on device" in one_line(done) and "not written" in one_line(done)
    assert listing.read_text().split() == ["fill"]
    assert runc.leftovers() == []


def test_full_state_dir_refuses_before_the_container_starts(runc: Runtime) -> None:
    """Finding 2: no room for the runtime's copy of the bundle: one line before anything runs, and with
    --learn-optional the container runs unrecorded under its own profile, the bundle untouched."""
    listing = runc.tmp / "state-listing"
    b = runc.bundle(["sh", "-c", "echo ok; exit 3"])
    before = file_facts(b / "config.json")
    refused = on_full_tmpfs(runc.state, runc.wrapper_argv("run", "--bundle", str(b), "s1"), listing, runc.env)
    assert (refused.returncode, refused.stdout) == (2, ""), refused.stderr
    assert "No space left on device" in one_line(refused)
    assert listing.read_text().split() == ["bundles", "fill"]
    optional = on_full_tmpfs(runc.state, runc.wrapper_argv("--learn-optional", "run", "--bundle", str(b), "s2"),
                             listing, runc.env)
    assert (optional.returncode, optional.stdout) == (3, "ok\n"), optional.stderr
    assert "not recording (--learn-optional)" in one_line(optional)
    assert file_facts(b / "config.json") == before
    assert runc.leftovers() == []


def test_out_of_descriptors_is_one_line(runc: Runtime) -> None:
    """Finding 10: `ulimit -n` too small for the wrapper (8: its runtime check; 11: the detached tracer's
    pipes): one line, rc 2, nothing left."""
    b = runc.bundle(["true"])
    out = runc.tmp / "create.out"
    for command, limit in (("run", 8), ("create", 11)):
        with out.open("w") as stdio:
            done = _run(["sh", "-c", f'ulimit -n {limit}; exec "$@"', "sh",
                         *runc.wrapper_argv(command, "--bundle", str(b), f"fd{limit}")],
                        env=runc.env, **files(stdio))
        text = out.read_text()
        assert done.returncode == 2 and len(text.splitlines()) == 1 and "Too many open files" in text, text
    assert runc.leftovers() == []


def test_a_held_merge_lock_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding 5: `.<id>.lock` held by another process: writing the recording gives up at its deadline
    (with one line, as a UserError) instead of hanging the tracer after the container ran."""
    from tracer.errors import UserError
    from tracer.recording.schema import Recording
    from tracer.runtime_wrapper import learndir
    monkeypatch.setattr(learndir, "MERGE_TIMEOUT", 0.3)
    learn = learndir.LearnDir(str(tmp_path / "learn"))
    held = os.open(tmp_path / "learn" / ".c.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(UserError, match=r"\.c\.lock: still locked by another process after 0\.3s"):
            learn.add("c", Recording("seccomp-learn"))
    finally:
        os.close(held)
    assert not (tmp_path / "learn" / "c.trace.json").exists()


def test_hostile_container_ids_stay_hashed_names_inside_the_wrappers_dirs(runc: Runtime) -> None:
    """What held (issue 23): ids runc refuses become only hashed names inside the learn and state dirs
    while they are tried, and nothing is left or written anywhere else."""
    b = runc.bundle(["true"])
    before = sorted(p.name for p in runc.tmp.iterdir())
    for container_id in ("../escape", "/abs", "new\nline", "\x1b]0;title\x07", "\udcff", "x" * 5000, ".", "..", ""):
        done = runc.wrapped("run", "--bundle", str(b), container_id)
        assert done.returncode == 1, (container_id, done.stderr)  # runc's own "invalid container id"
        assert runc.leftovers() == [], container_id
    assert sorted(p.name for p in runc.tmp.iterdir()) == sorted({*before, "learn", "state", "runc-root"})
    assert {p.name for p in (runc.state / "bundles").iterdir()} == set()
    for made in (runc.learn, runc.state, runc.state / "bundles"):  # created by the wrapper: root's, 0700
        assert (os.stat(made).st_uid, stat.S_IMODE(os.stat(made).st_mode)) == (0, 0o700), made
