"""Measure what the installed container runtime calls after loading the container's seccomp filter.

This is how the lists in tracer.extras were made, so a user with another runtime version gets the
list for theirs. The container's workload is a 129-byte static program whose only syscall is
exit_group, named uniquely so its audit record marks where the runtime's calls end. The profile
is `defaultAction: SCMP_ACT_LOG` with nothing allowed: every call made under it succeeds and is
logged by the kernel (tracer.seccomp_audit). The runtime's calls are those of the workload's
thread group before that exit_group: everything from the filter load up to and including the
execve. Repeated runs tell calls made on every start from calls that depend on timing (the Go
runtime's threads in runc). A call made on every start is *needed* when the container does not
start with only that call denied (EPERM); the runtime copes with the others failing, but they are
still listed, so that the runtime behaves as it does unconfined.

Audit records carry no arguments, so one more run under `strace -f` (tracer.after_filter) gives
the values of the argument-ruled names (the prctl options, clone flags). A docker container is
started by the daemon's containerd, not by the client: strace attaches to the containerd given as
`attach` (and follows its shim, runc and the container), or docker gets no argument values.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tracer.errors import UserError
from tracer.kernel.audit_netlink import AuditLog
from tracer.profile.policy import RULE_ARGS
from tracer.runtime_needs.after_filter import AfterFilter, after_filter
from tracer.runtime_needs.containers import OCI_ENGINES, ContainerSpec, Engine, make_root, run, with_root
from tracer.runtime_needs.version import installed_versions
from tracer.structs import Struct, field
from tracer.syscalls.names import number_of

LOG_EVERYTHING = {"defaultAction": "SCMP_ACT_LOG", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": []}
EXIT_GROUP = number_of("x86_64", "exit_group") or 231
RUN_TIMEOUT = 120
RAW_NAMES = sorted({"seccomp", "prctl", "clone"} | {name for name, _ in RULE_ARGS})  # strace prints these raw
RULED = {n: tuple(sorted(i for name, i in RULE_ARGS if name == n)) for n, _ in RULE_ARGS}  # args worth a rule


class RuntimeMeasurement(Struct):
    """What one runtime version calls after loading the filter; the fields of an extras.Runtime."""

    runtime: str
    versions: dict[str, str]
    runs: int
    needs: list[str]  # made in every run, and the container does not start when it is denied
    sometimes: list[str]  # made in some runs (or only under strace), or survivable when denied
    args: dict[str, dict[int, list[int]]] = field(default_factory=dict)  # name -> arg index -> values

    def to_json(self) -> dict[str, object]:
        return {"runtime": self.runtime, "versions": self.versions, "runs": self.runs, "needs": self.needs,
                "sometimes": self.sometimes,
                "args": {n: {str(i): v for i, v in sorted(a.items())} for n, a in sorted(self.args.items())}}


def exit_program() -> bytes:
    """A static x86_64 ELF executable whose one syscall is exit_group(0)."""
    base, header, phdr = 0x400000, 64, 56
    code = b"\x31\xff" + b"\xb8" + struct.pack("<I", EXIT_GROUP) + b"\x0f\x05"  # xor edi,edi; mov eax,N; syscall
    size = header + phdr + len(code)
    elf = struct.pack("<4sBBBB8xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 2, 0x3E, 1, base + header + phdr,
                      header, 0, 0, header, phdr, 1, 0, 0, 0)
    load = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)  # PT_LOAD, R+X
    return elf + load + code


def _runtime_calls(log: AuditLog, since: int, comm: str, what: str) -> set[str]:
    """The calls of the container whose workload is `comm`, logged after serial `since`, before its exit_group."""
    log.sync()
    records = [r for r in log.records() if r.serial > since]
    marker = next((r for r in records if r.comm == comm and r.abi == "x86_64" and r.nr == EXIT_GROUP), None)
    if marker is None:
        raise UserError(f"{what}: no audit record of the workload's exit_group: the runtime did not start it")
    return {r.name for r in records if r.pid == marker.pid and r.serial < marker.serial}


def _audited_runs(engine: Engine, c: ContainerSpec, runs: int, comm: str, workdir: Path) -> list[set[str]]:
    per_run = []
    with AuditLog() as log:
        for i in range(runs):
            log.sync()
            since = log.mark()
            done = run(engine, c, workdir / f"run-{i}", timeout=RUN_TIMEOUT)
            if done.returncode != 0:
                raise UserError(f"{engine.name}: the container failed (exit {done.returncode}): "
                                f"{done.stderr.strip()[-300:]}")
            per_run.append(_runtime_calls(log, since, comm, engine.name))
    return per_run


def measure(engine: Engine, runs: int = 5, workdir: Path | None = None, strace: bool = True,
            attach: int | None = None) -> RuntimeMeasurement:
    """Run `runs` containers under a log-everything profile (plus one under strace) and collect the runtime's calls.

    attach: for docker, the pid of the daemon's containerd, which strace follows to the container.
    """
    if runs < 1:
        raise UserError(f"--runs must be at least 1, not {runs}")
    with tempfile.TemporaryDirectory(prefix="sl-rt-", dir=workdir) as tmp:
        comm = f"slm-{uuid.uuid4().hex[:8]}"
        root = make_root(Path(tmp) / "root", {f"/{comm}": exit_program()})
        bound = with_root(engine, root, f"seccomp-learn-measure:{comm}")
        container = ContainerSpec((f"/{comm}",), LOG_EVERYTHING)
        try:
            per_run = _audited_runs(bound, container, runs, comm, Path(tmp))
            traced = _traced(bound, container, Path(tmp) / "strace", attach) if strace else None
            every = set.intersection(*per_run)
            needed = {name for name in every if _fails_without(bound, comm, name, Path(tmp) / f"without-{name}")}
        finally:
            if engine.name not in OCI_ENGINES:
                subprocess.run([*engine.command, "rmi", bound.root], capture_output=True, timeout=RUN_TIMEOUT)
    seen = set().union(*per_run, traced.counts if traced else ())
    args = {n: {i: sorted(v) for i, v in a.items()} for n, a in traced.args.items()} if traced else {}
    return RuntimeMeasurement(engine.name, installed_versions(engine.name, engine.command), runs, sorted(needed),
                              sorted(seen - needed), args)


def _fails_without(engine: Engine, comm: str, name: str, workdir: Path) -> bool:
    """Whether the container fails when only `name` is denied."""
    deny = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": [name], "action": "SCMP_ACT_ERRNO"}]}
    return run(engine, ContainerSpec((f"/{comm}",), deny), workdir, timeout=RUN_TIMEOUT).returncode != 0


def _traced(engine: Engine, c: ContainerSpec, workdir: Path, attach: int | None) -> AfterFilter | None:
    """The runtime's calls under the filter as strace sees them; None without strace, or for docker without attach."""
    if shutil.which("strace") is None or (engine.name == "docker" and attach is None):
        return None
    out = workdir / "strace.log"
    strace = ["strace", "-f", "-qq", "-n", "-e", f"raw={','.join(RAW_NAMES)}", "-o", str(out)]
    if attach is None:
        done = run(engine, c, workdir, timeout=RUN_TIMEOUT, wrap=tuple(strace))
    else:
        workdir.mkdir(parents=True)
        tracer = subprocess.Popen([*strace, "-p", str(attach)], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_traced(attach, tracer.pid)
            done = run(engine, c, workdir, timeout=RUN_TIMEOUT)
        finally:
            tracer.terminate()  # strace detaches from containerd and exits
            tracer.wait(timeout=RUN_TIMEOUT)
    if done.returncode != 0:
        raise UserError(f"{engine.name} under strace failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    traced = after_filter(out.read_text(), RULED)
    if not traced.loaded:
        raise UserError(f"{engine.name} under strace: no seccomp filter load was seen")
    return traced


def _wait_traced(pid: int, tracer: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/status") as f:
            if f"TracerPid:\t{tracer}\n" in f.read():
                return
        time.sleep(0.02)
    raise UserError(f"strace did not attach to pid {pid} within {timeout:g} s")
