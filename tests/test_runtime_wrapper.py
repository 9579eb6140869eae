"""seccomp-learn-runtime on runc directly: pass-through, create/start/delete, faults, safety, faithfulness.

The bundles are tests/oci.py's (host /usr and /etc read-only, Docker's capabilities), run by the real
runc with a private --root. References: runc's own output for pass-through commands, /proc for the
state of a container process (TracerPid: ptrace or not) and for the BPF programs a tracer holds,
`bpftool` for what the kernel still holds, `strace -f` for what the runtime and the container called.
As root the wrapper records with ebpf; `--learn-backend ptrace` is the fallback, tested here too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from oci import bundle
from strace_ref import strace_binary

from fixtures import build
from tracer.runtime_wrapper.learndir import file_stem
from tracer.runtime_wrapper.remembered import ENV_STATE

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="OCI runtimes need root")
WRAPPER = [sys.executable, "-m", "tracer.runtime_wrapper"]
PIPELINE = ["sh", "-c", "echo hello world | tr a-z A-Z | wc -w"]
TIMEOUT = 60
GO_SCHEDULING = frozenset({"futex", "nanosleep", "sched_yield"})


class Runc:
    """runc with a private state directory, through the wrapper or directly."""

    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "runc-root"
        self.learn = tmp / "learn"
        self.log = tmp / "runtime-log.json"
        self.tmp = tmp

    def globals(self) -> list[str]:
        return ["--root", str(self.root), "--log", str(self.log), "--log-format", "json"]

    def wrapped(self, *args: str, learn: Path | None = None, extra: tuple[str, ...] = (),
                **kw: Any) -> subprocess.CompletedProcess[str]:
        argv = [*WRAPPER, "--learn-dir", str(learn or self.learn), *extra, *self.globals(), *args]
        return _run(argv, env={**os.environ, ENV_STATE: str(self.tmp / "state")}, **kw)

    def create(self, *args: str, backend: str = "auto") -> subprocess.CompletedProcess[str]:
        """`create` through the wrapper: the container inherits its stdio, so files, not pipes, hold it."""
        out, err = self.tmp / "create.out", self.tmp / "create.err"
        with out.open("w") as stdout, err.open("w") as stderr:
            done = self.wrapped("create", *args, stdout=stdout, stderr=stderr, capture_output=False,
                                extra=("--learn-backend", backend))
        return subprocess.CompletedProcess(done.args, done.returncode, out.read_text(), err.read_text())

    def direct(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run(["runc", *self.globals(), *args])

    def bundle(self, argv: list[str], seccomp: dict[str, Any] | None = None) -> Path:
        return bundle(self.tmp / f"bundle-{uuid.uuid4().hex[:8]}", argv, seccomp)

    def recording(self, container_id: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.learn / f"{file_stem(container_id)}.trace.json").read_text())
        return data


def _run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", TIMEOUT)
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(argv, **kw)  # type: ignore[no-any-return]


@pytest.fixture
def runc(tmp_path: Path) -> Runc:
    return Runc(tmp_path)


def status_of(pid: int) -> dict[str, str]:
    """/proc/PID/status as a dict; empty when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def test_pass_through_matches_runc(runc: Runc) -> None:
    assert runc.wrapped("--version").stdout == runc.direct("--version").stdout
    b = runc.bundle(["sleep", "30"])
    container_id = f"pt-{uuid.uuid4().hex[:8]}"
    created = runc.create("--bundle", str(b), container_id)
    try:
        assert created.returncode == 0, created.stderr
        ours, theirs = runc.wrapped("--debug", "state", container_id), runc.direct("--debug", "state", container_id)
        assert json.loads(ours.stdout) == json.loads(theirs.stdout)
        assert json.loads(ours.stdout)["status"] == "created"
    finally:
        runc.wrapped("delete", "--force", container_id)
    assert runc.direct("state", container_id).returncode != 0


def bpf_tracer(container_id: str) -> tuple[int, set[int]]:
    """The wrapper's detached tracer of container_id (found by its command line) and the ids of the BPF
    programs it holds (from /proc/PID/fdinfo); (0, set()) if there is none."""
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if b"tracer.runtime_wrapper" not in argv or container_id.encode() not in argv:
                continue
            ids = {int(line.split()[1]) for fd in (entry / "fd").iterdir()
                   if os.readlink(fd) == "anon_inode:bpf-prog"
                   for line in (entry / "fdinfo" / fd.name).read_text().splitlines() if line.startswith("prog_id:")}
        except (OSError, ValueError):
            continue
        if ids:
            return int(entry.name), ids
    return 0, set()


def loaded_programs() -> set[int]:
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True, check=True).stdout
    return {int(p["id"]) for p in json.loads(out or "[]")}


def still_loaded(programs: set[int]) -> set[int]:
    """Those of programs the kernel still holds once it had a moment (they are freed after an RCU grace period)."""
    deadline = time.monotonic() + 10
    while (left := programs & loaded_programs()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.mark.parametrize("backend", ["ebpf", "ptrace"])
def test_create_returns_the_container_stays_traced_then_recorded(runc: Runc, backend: str) -> None:
    b = runc.bundle(PIPELINE)
    original = (b / "config.json").read_bytes()
    container_id = f"cr-{uuid.uuid4().hex[:8]}"
    pid_file = runc.tmp / "init.pid"
    created = runc.create("--bundle", str(b), "--pid-file", str(pid_file), container_id, backend=backend)
    assert created.returncode == 0, created.stderr
    assert (b / "config.json").read_bytes() == original, "the bundle's config.json was not put back"
    init = status_of(int(pid_file.read_text()))
    assert init["State"][0] == "S", init  # waiting for start, not stopped
    programs = bpf_tracer(container_id)[1]
    if backend == "ebpf":  # not ptraced: the detached tracer holds the BPF programs that count it
        assert init["TracerPid"] == "0" and len(programs) == 4, init
    else:
        assert init["TracerPid"] != "0", init
    started = runc.wrapped("start", container_id)
    assert started.returncode == 0, started.stderr
    deleted = _delete_when_stopped(runc, container_id)
    assert deleted.returncode == 0, deleted.stderr
    rec = runc.recording(container_id)
    run = rec["runs"][0]
    assert run["command"] == PIPELINE and run["exit"] == {"code": 0} and not run["partial"]
    assert run["backend"] == backend
    assert run["container"]["id"] == container_id and run["runtime"]["path"].endswith("runc")
    names = set(rec["abis"]["x86_64"])
    assert {"execve", "pipe2", "clone", "wait4"} <= names
    assert run["runtime"]["syscalls_only_by_runtime"]["x86_64"], "the runtime's calls after its filter are missing"
    assert not still_loaded(programs), "the BPF programs outlived their tracer"


def _delete_when_stopped(runc: Runc, container_id: str) -> subprocess.CompletedProcess[str]:
    for _ in range(200):
        state = runc.direct("state", container_id)
        if state.returncode != 0 or json.loads(state.stdout)["status"] == "stopped":
            break
        time.sleep(0.05)
    return runc.wrapped("delete", container_id)


def test_ebpf_tracer_killed_leaves_nothing_loaded_and_the_container_untouched(runc: Runc) -> None:
    """SIGKILL of the ebpf tracer: its programs leave the kernel (bpftool), the container runs on, never stopped."""
    b = runc.bundle(["sleep", "60"])
    container_id = f"kille-{uuid.uuid4().hex[:8]}"
    pid_file = runc.tmp / "init.pid"
    assert runc.create("--bundle", str(b), "--pid-file", str(pid_file), container_id).returncode == 0
    try:
        assert runc.wrapped("start", container_id).returncode == 0
        init = int(pid_file.read_text())
        tracer, programs = bpf_tracer(container_id)
        assert tracer and programs <= loaded_programs()
        os.kill(tracer, signal.SIGKILL)
        assert not still_loaded(programs), "the killed tracer's BPF programs are still loaded"
        left = status_of(init)
        assert left["State"][0] == "S" and left["TracerPid"] == "0", left
    finally:
        runc.wrapped("delete", "--force", container_id)


def test_tracer_killed_leaves_nothing_stopped_or_traced(runc: Runc) -> None:
    b = runc.bundle(["sleep", "60"])
    container_id = f"kill-{uuid.uuid4().hex[:8]}"
    pid_file = runc.tmp / "init.pid"
    assert runc.create("--bundle", str(b), "--pid-file", str(pid_file), container_id, backend="ptrace").returncode == 0
    try:
        assert runc.wrapped("start", container_id).returncode == 0
        init = int(pid_file.read_text())
        tracer = int(status_of(init)["TracerPid"])
        assert tracer != 0
        os.kill(tracer, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while status_of(tracer) and status_of(tracer).get("State", "Z")[0] != "Z" and time.monotonic() < deadline:
            time.sleep(0.05)
        while time.monotonic() < deadline:
            left = status_of(init)
            if not left or left["State"][0] == "Z" or left["TracerPid"] == "0":
                break
            time.sleep(0.05)
        left = status_of(init)
        assert not left or left["State"][0] == "Z" or (left["TracerPid"] == "0" and left["State"][0] not in "tT"), left
    finally:
        runc.wrapped("delete", "--force", container_id)


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def test_missing_and_broken_runtime_fail_with_one_line(runc: Runc, tmp_path: Path) -> None:
    b = runc.bundle(["true"])
    missing = runc.wrapped("create", "--bundle", str(b), "c1", extra=("--learn-runtime", "/nonexistent/runc"))
    # (both fail before anything starts, so their stdio can be pipes)
    assert missing.returncode == 2 and "/nonexistent/runc" in one_line(missing)
    assert json.loads(runc.log.read_text().splitlines()[-1])["level"] == "error"  # what containerd shows
    broken = tmp_path / "broken-runtime"
    broken.write_text("#!/bin/sh\nexit 1\n")
    broken.chmod(0o755)
    failed = runc.wrapped("create", "--bundle", str(b), "c2",
                          extra=("--learn-runtime", str(broken), "--learn-optional"))
    assert failed.returncode == 2 and "broken" in one_line(failed)
    assert not runc.learn.exists() or not list(runc.learn.glob("*.trace.json"))


@pytest.mark.parametrize("fault", ["symlinked config.json", "invalid config.json", "learn dir is a file"])
def test_recording_impossible_fails_or_runs_untouched_when_optional(runc: Runc, tmp_path: Path, fault: str) -> None:
    b = runc.bundle(PIPELINE)
    learn = runc.learn
    if fault == "symlinked config.json":
        (b / "real.json").write_bytes((b / "config.json").read_bytes())
        (b / "config.json").unlink()
        (b / "config.json").symlink_to("real.json")
    elif fault == "invalid config.json":
        # Trailing garbage: runc (Go's json.Decoder) reads the first value and ignores it, the wrapper refuses.
        (b / "config.json").write_text((b / "config.json").read_text() + "}")
    else:
        learn = tmp_path / "not-a-dir"
        learn.write_text("")
    before = (b / "config.json").read_bytes()
    failed = runc.wrapped("run", "--bundle", str(b), "f1", learn=learn)
    assert failed.returncode == 2, failed.stderr
    line = one_line(failed)
    assert str(learn if fault == "learn dir is a file" else b / "config.json") in line
    optional = runc.wrapped("run", "--bundle", str(b), "f2", learn=learn, extra=("--learn-optional",))
    assert (b / "config.json").read_bytes() == before
    assert (optional.returncode, optional.stdout) == (0, "2\n"), optional.stderr
    assert "not recording (--learn-optional)" in optional.stderr
    assert not list(runc.learn.glob("*.trace.json")) if runc.learn.is_dir() else True


def test_the_containers_own_profile_is_kept(runc: Runc) -> None:
    """Recording never weakens the container: what its profile refuses stays refused (and unrecorded)."""
    seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
    argv = ["sh", "-c", "mkdir /tmp/x 2>/dev/null && echo made || echo refused"]
    done = runc.wrapped("run", "--bundle", str(runc.bundle(argv, seccomp)), "kept")
    assert (done.returncode, done.stdout) == (0, "refused\n"), done.stderr
    control = runc.wrapped("run", "--bundle", str(runc.bundle(argv)), "control")
    assert (control.returncode, control.stdout) == (0, "made\n"), control.stderr
    assert "mkdir" not in runc.recording("kept")["abis"]["x86_64"]
    assert "mkdir" in runc.recording("control")["abis"]["x86_64"]


def test_recording_files_never_follow_symlinks(runc: Runc, tmp_path: Path) -> None:
    """A symlink where a recording or a lock goes is never written through, and it is found before the
    container starts: one line naming it, nothing run (with --learn-optional: run unrecorded)."""
    runc.learn.mkdir()
    target = tmp_path / "elsewhere.json"
    target.write_text("keep me\n")
    (runc.learn / "sym.trace.json").symlink_to(target)
    (runc.learn / ".odd.lock").symlink_to(target)
    for container_id, where in (("sym", "sym.trace.json"), ("odd", ".odd.lock")):
        b = runc.bundle(["sh", "-c", "echo ran"])
        done = runc.wrapped("run", "--bundle", str(b), container_id)
        assert (done.returncode, done.stdout) == (2, ""), done.stderr
        assert where in one_line(done)
        optional = runc.wrapped("run", "--bundle", str(b), container_id, extra=("--learn-optional",))
        assert (optional.returncode, optional.stdout) == (0, "ran\n"), optional.stderr
    assert target.read_text() == "keep me\n"
    assert "/" not in file_stem("../../etc/passwd") and file_stem("abc-1.2_x") == "abc-1.2_x"


def test_pipeline_300_times_is_faithful(runc: Runc) -> None:
    """The note's shell pipeline: untraced it always prints 2; traced through the wrapper it must too."""
    script = ('bad=0; i=0; while [ $i -lt 300 ]; do i=$((i+1)); '
              'r=$(echo hello world | tr a-z A-Z | wc -w 2>&1); [ "$r" = 2 ] || bad=$((bad+1)); done; echo bad=$bad')
    done = runc.wrapped("run", "--bundle", str(runc.bundle(["sh", "-c", script])), "pipe300", timeout=300)
    assert (done.returncode, done.stdout) == (0, "bad=0\n"), done.stderr


@pytest.mark.parametrize("backend", ["ebpf", "ptrace"])
def test_ignored_sigchld_does_not_interrupt_epoll_wait(runc: Runc, backend: str) -> None:
    """ebpf never stops the container; ptrace's ignored-signal repair keeps SIGCHLD from waking epoll_wait."""
    fixture = build("epollchld")
    done = runc.wrapped("run", "--bundle", str(runc.bundle([str(fixture), "300"])), "epoll",
                        extra=("--learn-backend", backend))
    assert done.returncode == 0 and done.stdout.startswith("faithful:"), done.stdout + done.stderr


def test_container_and_runtime_calls_match_strace(runc: Runc, tmp_path: Path) -> None:
    """strace -f of the same runc run (an allow-all profile, loaded where any profile is): the container's
    calls are those of the entrypoint's process tree after its exec; the runtime's, those of its init
    from loading the filter to that exec (and of the init's other threads meanwhile)."""
    seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"]}
    ours = runc.wrapped("run", "--bundle", str(runc.bundle(PIPELINE, seccomp)), "ours")
    assert (ours.returncode, ours.stdout) == (0, "2\n"), ours.stderr
    log = tmp_path / "strace.log"
    traced = _run([strace_binary(), "-f", "-qq", "-s", "0", "--pidns-translation", "-o", str(log), "runc", "--root",
                   str(runc.root), "run", "--bundle", str(runc.bundle(PIPELINE, seccomp)), "theirs"])
    assert (traced.returncode, traced.stdout) == (0, "2\n"), traced.stderr
    container, init_after_filter, runtime_after_filter = _strace_split(log.read_text())
    rec = runc.recording("ours")
    labels = set(rec["runs"][0]["runtime"]["executables"])
    table = rec["abis"]["x86_64"]
    ours_container = {name for name, entry in table.items() if set(entry["executables"]) - labels}
    ours_runtime = set(rec["runs"][0]["runtime"]["syscalls_only_by_runtime"]["x86_64"])
    assert ours_container == container, (sorted(ours_container - container), sorted(container - ours_container))
    # The Go runtime's own waiting (futex, nanosleep, sched_yield) in runc's init depends on scheduling.
    assert init_after_filter - GO_SCHEDULING <= set(table), sorted(init_after_filter - set(table))
    assert ours_runtime <= runtime_after_filter, sorted(ours_runtime - runtime_after_filter)


def _strace_split(text: str) -> tuple[set[str], set[str], set[str]]:
    """From an `strace -f` log of `runc run`: the names the entrypoint's process tree called after its exec;
    those the task that loaded the filter called until that exec; those any other runtime task called
    after the filter was loaded."""
    container_pids: set[int] = set()
    loader: int | None = None
    container: set[str] = set()
    init_after: set[str] = set()
    runtime_after: set[str] = set()
    for line in text.splitlines():
        pid_text, _, call = line.partition(" ")
        call = call.strip()
        if not pid_text.isdigit():
            continue
        pid, name = int(pid_text), call.split("(", 1)[0].removeprefix("<... ").split(" ")[0]
        if pid in container_pids and name in ("clone", "clone3", "fork", "vfork"):
            # "= 7 /* 30877 in strace's PID NS */", on the call's line or on its "<... resumed>" line
            host_pid = call.rsplit("/* ", 1)[-1].split()[0] if "in strace's PID NS" in call else ""
            if host_pid.isdigit():
                container_pids.add(int(host_pid))
        if not call[:1].isalpha():
            continue
        if pid in container_pids:
            container.add(name)
        elif pid == loader and name == "execve":  # the entrypoint: the container from here on
            container_pids.add(pid)
            container.add(name)
            loader = None
        elif pid == loader:
            init_after.add(name)
        elif loader is not None:
            runtime_after.add(name)
        elif call.startswith(("prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER", "seccomp(SECCOMP_SET_MODE_FILTER")) and \
                "NULL" not in call:  # libseccomp's probes pass NULL
            loader = pid
    return container, init_after, init_after | runtime_after


def test_a_wrapper_under_a_seccomp_filter_records_with_ptrace(runc: Runc) -> None:
    """Started under a filter (a service's SystemCallFilter=), every task has a seccomp mode from the start,
    so ebpf could not tell the runtime's set-up from the container: auto falls back to ptrace; ebpf refuses."""
    allow_all = ("import os, sys, pyseccomp as s; f = s.SyscallFilter(s.ALLOW); f.load(); "
                 "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])")
    filtered = (sys.executable, "-c", allow_all)
    argv = ["--root", str(runc.root), "run", "--bundle", str(runc.bundle(PIPELINE))]
    env = {**os.environ, ENV_STATE: str(runc.tmp / "state")}
    done = _run([*filtered, *WRAPPER[1:], "--learn-dir", str(runc.learn), *argv, "filtered"], env=env)
    assert (done.returncode, done.stdout) == (0, "2\n"), done.stderr
    assert runc.recording("filtered")["runs"][0]["backend"] == "ptrace"
    refused = _run([*filtered, *WRAPPER[1:], "--learn-dir", str(runc.learn), "--learn-backend", "ebpf", *argv,
                    "refused"], env=env)
    assert refused.returncode == 2 and "already runs under a seccomp filter" in refused.stderr, refused.stderr
