"""seccomp-learn-runtime under a private dockerd with its default, ebpf, backend: ptrace inside the
container, the same recording as the ptrace fallback, and what the wrapper costs a `docker run`.

References: the container's own output (strace's, which fails when its tracee is already ptraced),
/proc (TracerPid) and the ptrace fallback's recording of the same container.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import pytest
from engines import IMAGE, NO_NETWORK, Engines, run
from test_runtime_engines import WORKLOAD

from tracer.capture.backends.ebpf import unavailable

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=f"ebpf: {unavailable()}")
HOST_USR = ("-v", "/usr:/usr:ro")  # strace and its libraries from the host, over the image's busybox
TIMED_RUNS = 5


def learned(engines: Engines, runtime: str, *args: str) -> tuple[Any, dict[str, Any]]:
    """`docker run --rm` of args through the wrapper runtime `runtime`: the run and its recording."""
    docker = list(engines.get("docker").command)
    cid = Path(engines.base) / f"cid-{time.monotonic_ns()}"
    done = run([*docker, "run", "--rm", "--cidfile", str(cid), *NO_NETWORK, "--runtime", runtime, *args])
    return done, engines.recording(cid.read_text())


def container_names(rec: dict[str, Any]) -> set[str]:
    """The names the container's own processes called (not only the runtime's init after its filter)."""
    labels = set(rec["runs"][0]["runtime"]["executables"])
    return {name for name, entry in rec["abis"]["x86_64"].items() if set(entry["executables"]) - labels}


def test_strace_inside_the_container_works(engines: Engines) -> None:
    """ebpf holds no process under ptrace, so the container can trace its own; under the ptrace fallback
    strace cannot attach (its tracee already has a tracer)."""
    argv = (*HOST_USR, IMAGE, "strace", "-f", "-qq", "-e", "trace=execve", "true")
    done, rec = learned(engines, "seccomp-learn", *argv)
    assert done.returncode == 0 and "execve(" in done.stderr, done.stderr
    assert rec["runs"][0]["backend"] == "ebpf"
    assert {"ptrace", "wait4", "execve"} <= container_names(rec)
    ptraced, _ = learned(engines, "seccomp-learn-ptrace", *argv)
    assert ptraced.returncode != 0, ptraced.stderr


def test_ebpf_records_what_the_ptrace_fallback_records(engines: Engines) -> None:
    """The same container through both backends (Docker's default profile, left as it is under ebpf):
    the same exit, the same names called by the container's processes, the same argument rules."""
    recs = {}
    for runtime in ("seccomp-learn", "seccomp-learn-ptrace"):
        done, recs[runtime] = learned(engines, runtime, IMAGE, *WORKLOAD)
        assert (done.returncode, done.stdout) == (3, "2\n"), done.stderr
    ebpf, ptrace = recs["seccomp-learn"], recs["seccomp-learn-ptrace"]
    assert [r["backend"] for r in (ebpf["runs"][0], ptrace["runs"][0])] == ["ebpf", "ptrace"]
    assert ebpf["runs"][0]["exit"] == ptrace["runs"][0]["exit"] == {"code": 3}
    assert container_names(ebpf) == container_names(ptrace)
    for name in container_names(ebpf):
        assert ebpf["abis"]["x86_64"][name].get("args") == ptrace["abis"]["x86_64"][name].get("args"), name


def test_docker_run_true_with_and_without_the_wrapper(engines: Engines, capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the medians of `docker run --rm IMAGE /bin/true` without the wrapper, through it (ebpf) and
    through its ptrace fallback, timed interleaved in this one run (the bench's numbers: no timing assertion)."""
    docker = list(engines.get("docker").command)
    cases = {"runc": (), "wrapper (ebpf)": ("--runtime", "seccomp-learn"),
             "wrapper (ptrace)": ("--runtime", "seccomp-learn-ptrace")}
    times: dict[str, list[float]] = {case: [] for case in cases}
    for _ in range(TIMED_RUNS + 1):  # the first round warms the image and the page cache: not counted
        for case, flags in cases.items():
            start = time.perf_counter()
            done = run([*docker, "run", "--rm", *NO_NETWORK, *flags, IMAGE, "/bin/true"])
            times[case].append(time.perf_counter() - start)
            assert done.returncode == 0, done.stderr
    base = statistics.median(times["runc"][1:])
    with capsys.disabled():
        print(f"\ndocker run --rm {IMAGE} /bin/true, medians of {TIMED_RUNS}, interleaved:")
        for case, measured in times.items():
            median = statistics.median(measured[1:])
            print(f"  {case:18} {median:.3f} s  {median / base:.2f}x")
