"""The seccomp listener both notification backends use: installed by the child, taken by the tracer.

The child reports the descriptor number its listener will get, installs the filter (SECCOMP_FILTER_FLAG_NEW_LISTENER)
as its last act before execve, and the tracer takes that descriptor with pidfd_getfd once /proc shows it.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import time

from tracer.capture.session import kill
from tracer.errors import UserError
from tracer.kernel import procfs
from tracer.kernel import ptrace_abi as pt


def child_install_listener(prog: pt.BpfFilter, report_w: int) -> None:
    """In the child, last before execve: say which fd the listener will be, then install the filter."""
    gc.disable()  # nothing may close a lower fd between the placeholder and seccomp()
    slot = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    os.write(report_w, slot.to_bytes(4, "little"))
    os.close(slot)
    pt.install_listener(prog.prog)
    # No syscall from here to execve: each waits for the parent, which the execve's does.


def fetch_listener(pid: int, pidfd: int, report_r: int, wait: float = 5.0) -> tuple[int, int] | None:
    """Take the child's listener: (our fd, its fd number in the child), or None if the child exited first."""
    data = os.read(report_r, 4)
    if len(data) != 4:
        return None  # the child failed before its installer (it said why on stderr)
    slot = int.from_bytes(data, "little")
    done = select.poll()
    done.register(report_r, select.POLLIN)  # only EOF from now on: the child exited instead of exec
    deadline = time.monotonic() + wait
    attempts = 0
    while True:
        attempts += 1
        candidates = [slot] if procfs.fd_target(pid, slot) == pt.NOTIFY_FD_LINK else []
        if not candidates and time.monotonic() > deadline:
            with contextlib.suppress(OSError):
                candidates = [int(fd) for fd in os.listdir(f"/proc/{pid}/fd")
                              if procfs.fd_target(pid, int(fd)) == pt.NOTIFY_FD_LINK]
            if len(candidates) != 1:
                kill([pid], signal.SIGKILL)  # its parent reaps it
                raise UserError("seccomp user notification: cannot find the workload's listener", "--backend notify")
        if candidates:
            fd = pt.pidfd_getfd(pidfd, candidates[0])
            if procfs.fd_target("self", fd) == pt.NOTIFY_FD_LINK:
                return fd, candidates[0]
            os.close(fd)
        if attempts <= 20:
            time.sleep(0.0001)  # the child installs within microseconds: a 1 ms poll would be most of a short run
        elif done.poll(1):
            return None
