"""Learning inside a sandbox: `seccomp-learn -- bwrap ... CMD` records CMD as bubblewrap runs it.

bubblewrap loads a `--seccomp FD` filter as the last thing before it execs the program, after its own
set-up (clone into new namespaces, mounts, pivot_root, dropping capabilities). So the tracer gives it one:
a filter that sends every call of every ABI to the tracer (SECCOMP_RET_TRACE), and installs none of its own.
Until bwrap loads it, nothing stops: bwrap's set-up is neither slowed nor recorded. From its execve of the
program on, every call of the program and of all it starts is one seccomp stop of the ptrace backend, the
same design as the container runtime wrapper (docs/container-learning.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from tracer.capture.state import TraceOptions
from tracer.errors import UserError
from tracer.kernel import ptrace_abi as pt
from tracer.structs import replace

BWRAP = "bwrap"
_OWN_FILTERS = ("--seccomp", "--add-seccomp-fd")  # a filter of the user's own would decide before ours


def is_bwrap(argv: list[str]) -> bool:
    return bool(argv) and os.path.basename(argv[0]) == BWRAP


@contextmanager
def inside(argv: list[str], opts: TraceOptions) -> Iterator[tuple[list[str], TraceOptions]]:
    """The command and options that trace it: unchanged, or for bwrap, with the recording filter given to it."""
    if not is_bwrap(argv):
        yield argv, opts
        return
    if any(word in _OWN_FILTERS for word in argv[1:]):
        raise UserError("learning inside bwrap gives bwrap its own --seccomp filter: run the command without "
                        "--seccomp/--add-seccomp-fd (verify the learned profile with it afterwards)", argv[0])
    if opts.base is not None:
        raise UserError("--base cannot be used when learning inside bwrap: its filter would apply to bwrap's "
                        "own set-up", "--base")
    fd = os.memfd_create("seccomp-learn-bwrap", 0)  # inherited by bwrap (not close-on-exec), which reads it
    try:
        os.write(fd, pt.trace_everything_filter().buffer.raw)
        os.lseek(fd, 0, os.SEEK_SET)
        # options first: bwrap reads its options up to the first word that is not one (the program)
        yield [argv[0], "--seccomp", str(fd), *argv[1:]], replace(opts, filters=(), backend="ptrace")
    finally:
        os.close(fd)
