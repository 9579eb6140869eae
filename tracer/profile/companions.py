"""Companion calls: what libc, language runtimes and common libraries call only under timing, size or platform
conditions, as data. A learning run can miss them: its buffers stayed small, its threads were still running at
exit, its children had already exited, its connects completed at once.

Each row fires when one of its triggers was observed (a name, or a name with a flag bit among the values
recorded for one argument), and then adds its names in a rule of its own whose comment says why. Each row's
evidence is a test that makes the call happen on purpose in a real program, checked with `strace -f`, and
shows that the profile learned without the condition then holds (tests/test_companions.py).
"""

from __future__ import annotations

from tracer.record import Record

CLONE_THREAD = 0x10000


class Trigger(Record, frozen=True):
    name: str
    index: int | None = None  # with bits: the argument whose recorded flag bits must include them
    bits: int = 0

    def text(self) -> str:
        return self.name if self.index is None else f"{self.name}(arg{self.index} & {self.bits:#x})"


class Companion(Record, frozen=True):
    key: str  # the row's name in the profile's comment and in the tests
    adds: tuple[str, ...]
    triggers: tuple[Trigger, ...]
    condition: str  # when the library makes the added call
    evidence: str  # the test that provokes it in a real program


COMPANIONS: tuple[Companion, ...] = (
    Companion("realloc-mremap", ("mremap",), (Trigger("munmap"),),
              "glibc realloc() of a block malloc served with mmap (above M_MMAP_THRESHOLD, which grows up to "
              "32 MiB) moves it with mremap; a run whose buffers stayed smaller never does (python3: a 40 MB "
              "bytearray that grows)",
              "tests/test_companions.py::test_companion_row_provoked_and_held[realloc-mremap]"),
    Companion("thread-exit-madvise", ("madvise",), (Trigger("clone3"), Trigger("clone", 0, CLONE_THREAD)),
              "glibc returns a finished thread's stack with madvise(MADV_DONTNEED) as the thread exits; a run "
              "that ended while its threads still ran never does (python3: a thread joined before exit)",
              "tests/test_companions.py::test_companion_row_provoked_and_held[thread-exit-madvise]"),
    Companion("wait-sigsuspend", ("rt_sigprocmask", "rt_sigsuspend"), (Trigger("wait4"),),
              "dash's `wait` for a child still running blocks signals and suspends in rt_sigsuspend; a run "
              "whose children had exited reaps them with wait4 alone (dash: `sleep 0.5 & wait`)",
              "tests/test_companions.py::test_companion_row_provoked_and_held[wait-sigsuspend]"),
    Companion("nonblocking-connect", ("getsockopt", "poll"), (Trigger("connect"),),
              "a non-blocking connect that does not complete at once (EINPROGRESS: TCP) is finished with poll "
              "and getsockopt(SO_ERROR) (CPython's socket timeouts, curl, hiredis); a unix socket connects at "
              "once (python3: create_connection to 127.0.0.1 with a timeout)",
              "tests/test_companions.py::test_companion_row_provoked_and_held[nonblocking-connect]"),
)
