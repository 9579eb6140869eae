"""Start the workload as a traced child: fork, wait to be seized, install the filter, exec.

Order matters (see docs/architecture.md): a RET_TRACE filter that is active before the tracer
has seized the task makes every syscall fail with ENOSYS, so the child waits on a pipe until
the parent has called PTRACE_SEIZE. os.fork is used, not subprocess.Popen(preexec_fn=...),
which deadlocks when the child waits for its own parent.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence

from tracer.errors import UserError
from tracer.kernel import ptrace_abi as pt
from tracer.printable import printable

# Python ignores these at start-up; a workload must get the defaults, as under a shell.
_RESET_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)


def resolve(argv: list[str], env: dict[str, str], cwd: str | None = None) -> str:
    """Find the program like execvp would, in the parent: no PATH-walk of execve calls is traced.

    A relative path (./app) is taken relative to cwd, where the child will be when it execs.
    """
    if not argv:
        raise UserError("no command given (usage: seccomp-learn [OPTIONS] -- COMMAND [ARGS...])")
    prog = argv[0]
    if "/" in prog:
        path = os.path.join(cwd, prog) if cwd else prog
        if not os.path.exists(path):
            raise UserError("No such file or directory", f"seccomp-learn: {prog}", exit_code=127)
    else:
        found = _which(prog, env.get("PATH", os.defpath))
        if found is None:
            raise UserError("No such file or directory", f"seccomp-learn: {prog}", exit_code=127)
        path = found
    if os.path.isdir(path) or not os.access(path, os.X_OK):
        raise UserError("Permission denied", f"seccomp-learn: {prog}", exit_code=126)
    return path


def _which(prog: str, search: str) -> str | None:
    """shutil.which's answer (the first executable file along search), without importing shutil for it."""
    for directory in search.split(os.pathsep):
        path = os.path.join(directory or os.curdir, prog)
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    return None


def fork_exec(child: Callable[[], None], label: str, failure_code: int) -> int:
    """Fork; the child runs `child`, which ends in an exec. If it raises instead, the child says why in
    one line ("seccomp-learn: LABEL: reason") and exits with failure_code; it never returns to the caller."""
    pid = os.fork()
    if pid == 0:
        try:
            child()
        except BaseException as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            os.write(2, f"seccomp-learn: {printable(label)}: {printable(reason)}\n".encode())
        finally:
            os._exit(failure_code)
    return pid


def trace_everything() -> Callable[[], None]:
    """The default filter: every syscall of every ABI stops once in the tracer."""
    return pt.trace_everything_filter().install


def spawn(argv: list[str], env: dict[str, str], cwd: str | None = None,
          filters: Sequence[Callable[[], None]] | None = None, seize: bool = True,
          before_go: Callable[[int], None] | None = None, pre_exec: Callable[[], None] | None = None) -> int:
    """Fork the workload, seize it, let it install its filters (prepared here, before the fork) and exec.

    `filters` run in the child in order, after PTRACE_SEIZE; None is `trace_everything()`, () no filter.
    With `seize=False` (the seccomp user-notification backend, capture/backends/notify_only.py) the child is not
    ptraced: it still waits for the parent's go, then installs `filters` and execs.
    `before_go(pid)` runs in the parent before the go (the eBPF backend starts counting the pid there);
    `pre_exec()` in the child after the go, before the filters (TraceOptions.pre_exec).
    Returns the child's pid.
    """
    path = resolve(argv, env, cwd)
    installers = [trace_everything()] if filters is None else list(filters)
    int_handler = signal.getsignal(signal.SIGINT)
    restore = {sig: signal.SIG_DFL for sig in _RESET_SIGNALS}
    restore[signal.SIGINT] = signal.SIG_IGN if int_handler == signal.SIG_IGN else signal.SIG_DFL
    for sig in (signal.SIGTERM, signal.SIGHUP):
        restore[sig] = signal.SIG_IGN if signal.getsignal(sig) == signal.SIG_IGN else signal.SIG_DFL
    use_nnp = os.geteuid() != 0  # as root, CAP_SYS_ADMIN lets us skip no_new_privs so setuid works
    parent = os.getpid()
    ready_r, ready_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()

    def child() -> None:  # only async-signal-safe-ish work until exec
        os.close(ready_w)
        for sig, disposition in restore.items():
            signal.signal(sig, disposition)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        pt.prctl(pt.PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.read(ready_r, 1) != b"x" or os.getppid() != parent:
            os._exit(127)
        os.close(ready_r)
        if cwd is not None:
            os.chdir(cwd)
        if use_nnp:
            pt.prctl(pt.PR_SET_NO_NEW_PRIVS, 1)
        if pre_exec is not None:
            pre_exec()
        for install in installers:
            install()
        os.execve(path, argv, env)

    pid = fork_exec(child, argv[0], 126)
    os.close(ready_r)
    try:
        if seize:
            pt.seize(pid)
        if before_go is not None:
            before_go(pid)
    except OSError as exc:
        os.close(ready_w)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        hint = "; is ptrace allowed here?" if seize else ""
        raise UserError(f"cannot trace the workload ({exc.strerror}){hint}") from None
    os.write(ready_w, b"x")
    os.close(ready_w)
    return pid
