"""--ready and --ready-cmd: the --during driver starts only once the workload can serve it.

The wait runs in the driver's own process. seccomp-learn starts `main` under its own Python
(`python3 -I -c ...`, with this package's root first on sys.path); it polls, then execs the driver in
place, so the pid, process group and exit status the run loop watches are the driver's. A status pipe
tells the tracer whether the driver started, or why not. Polling in a thread of the tracer instead
would race its waitpid(-1), which reaps every child (a --ready-cmd probe's status would be lost).

This file imports only the standard library and tracer.structs, which is all the helper loads. The
helper's own modules (socket, subprocess) are imported where it uses them, so that a learning run
without --ready does not pay for them at start-up.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time

from tracer.structs import Struct

# The helper runs isolated (-I: no PYTHONPATH, no user site), so it is told where this `tracer` package is:
# without that it imported an installed copy's modules, or none ("No module named 'tracer'"), and every
# --ready run failed as "the workload ended before ... was ready".
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_HELPER = ("import sys; sys.path.insert(0, sys.argv[1]); from tracer.capture.ready import main; "
           "sys.exit(main(sys.argv[1:]))")
READY = b"ready"  # what the helper writes before it execs the driver; anything else is why not
POLL_S = 0.1  # between two probes
DEFAULT_TIMEOUT_S = 30.0


class Probe(Struct, frozen=True):
    """One readiness condition: tcp HOST:PORT accepts, unix PATH accepts, or CMD exits 0."""

    kind: str  # "tcp" | "unix" | "cmd"
    target: str  # "HOST:PORT", a socket path, or the command line
    shown: str  # as the user wrote it, for messages


class Ready(Struct, frozen=True):
    probes: tuple[Probe, ...]
    timeout: float = DEFAULT_TIMEOUT_S

    def command(self, driver: list[str], status_fd: int) -> list[str]:
        """The helper's command line: it waits for every probe, reports on status_fd, then execs driver."""
        config = {"probes": [[p.kind, p.target, p.shown] for p in self.probes], "timeout": self.timeout,
                  "status_fd": status_fd}
        return [sys.executable, "-I", "-c", _HELPER, _PACKAGE_ROOT, json.dumps(config), *driver]

    @staticmethod
    def failure(status_fd: int) -> str | None:
        """Read (and close) the helper's status pipe once the driver is gone: None if the driver started, else
        why not ("" when the helper was stopped before the workload was ready)."""
        os.set_blocking(status_fd, False)
        try:
            data = os.read(status_fd, 4096)
        except BlockingIOError:
            data = b""
        finally:
            os.close(status_fd)
        if data == READY:
            return None
        return data.decode(errors="replace")


def parse(ready: str | None, ready_cmd: str | None, timeout: float | None) -> Ready | None:
    """The --ready/--ready-cmd/--ready-timeout options; a ValueError says what is wrong with which."""
    probes = []
    if ready is not None:
        kind, _, target = ready.partition(":")
        if kind == "tcp":
            host, _, port = target.rpartition(":")
            host = host.strip("[]") or "127.0.0.1"
            if not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"--ready {ready}: expected tcp:HOST:PORT with a port from 1 to 65535")
            probes.append(Probe("tcp", f"{host}:{port}", ready))
        elif kind == "unix" and target:
            probes.append(Probe("unix", target, ready))
        else:
            raise ValueError(f"--ready {ready}: expected tcp:HOST:PORT or unix:PATH")
    if ready_cmd is not None:
        if not ready_cmd.strip():
            raise ValueError("--ready-cmd: the command is empty")
        probes.append(Probe("cmd", ready_cmd, f"--ready-cmd {ready_cmd}"))
    if timeout is not None and (not probes or timeout <= 0):
        raise ValueError("--ready-timeout: needs --ready or --ready-cmd, and a positive number of seconds")
    if not probes:
        return None
    return Ready(tuple(probes), DEFAULT_TIMEOUT_S if timeout is None else timeout)


# ---- the helper: runs in the driver's process, before the driver's exec ----------------------------------
#
# Sockets are looked up in /proc/net, never connected to: the workload sees nothing it would not see
# without --ready (a probe connection would be one more accept, and a one-shot server would serve it).

_TCP_LISTEN = "0A"
_UNIX_ACCEPTCON = 0x10000  # the listening flag in /proc/net/unix
_UNIX_DGRAM = 2


def _proc_lines(table: str) -> list[str]:
    """The rows of a /proc/net table, without its heading."""
    with open(table, encoding="ascii", errors="replace") as f:
        return f.read().splitlines()[1:]


def _proc_ip(hexaddr: str) -> str:
    """An address as /proc/net/tcp{,6} writes it (32-bit words in host order) as text."""
    import socket

    raw = bytes.fromhex(hexaddr)
    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def _tcp_listeners(port: int) -> set[str]:
    """Local addresses with a socket listening on port."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = _proc_lines(table)
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            addr, _, hexport = fields[1].partition(":")
            if fields[3] == _TCP_LISTEN and int(hexport, 16) == port:
                out.add(_proc_ip(addr))
    return out


def _tcp_ready(target: str) -> tuple[bool, str]:
    import socket

    host, _, port = target.rpartition(":")
    try:
        wanted = {str(info[4][0]) for info in socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)}
    except OSError as exc:
        return False, exc.strerror or str(exc)
    listening = _tcp_listeners(int(port))
    ipv4 = any(":" not in w for w in wanted)
    # A wildcard listener takes every address of its family; "::" takes IPv4 too unless it is IPV6_V6ONLY.
    if wanted & listening or "::" in listening or (ipv4 and "0.0.0.0" in listening):
        return True, ""
    return False, f"nothing listens on {target}"


def _unix_ready(path: str) -> tuple[bool, str]:
    names = {path, os.path.abspath(path), os.path.realpath(path)}
    try:
        lines = _proc_lines("/proc/net/unix")
    except OSError as exc:
        return False, exc.strerror or str(exc)
    for line in lines:
        fields = line.split()
        bound = fields[7] if len(fields) > 7 else ""
        if (bound in names or os.path.realpath(bound) in names) and (
                int(fields[3], 16) & _UNIX_ACCEPTCON or int(fields[4], 16) == _UNIX_DGRAM):
            return True, ""
    return False, f"no socket listens at {path}"


def _check(probe: Probe, limit: float) -> tuple[bool, str]:
    """(ready, why not)."""
    import subprocess

    if probe.kind == "tcp":
        return _tcp_ready(probe.target)
    if probe.kind == "unix":
        return _unix_ready(probe.target)
    try:
        # shell=True is /bin/sh -c, as for --during (tracer/capture/shell.py)
        code = subprocess.run(probe.target, shell=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=limit, check=False).returncode
    except subprocess.TimeoutExpired:
        return False, f"still running after {limit:.1f}s"
    return code == 0, f"exited with {code}"


def wait(probes: list[Probe], timeout: float) -> str | None:
    """Poll until every probe passes (None) or the timeout expires (why not)."""
    deadline = time.monotonic() + timeout
    pending = list(probes)
    while True:
        still = []
        for probe in pending:
            ok, why = _check(probe, max(0.05, min(5.0, deadline - time.monotonic())))
            if not ok:
                still.append((probe, why))
        if not still:
            return None
        if time.monotonic() >= deadline:
            probe, why = still[0]
            return f"{probe.shown}: not ready after {timeout:g}s (last try: {why})"
        pending = [p for p, _ in still]
        time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))


def main(argv: list[str]) -> int:
    config, driver = json.loads(argv[1]), argv[2:]
    status = int(config["status_fd"])
    probes = [Probe(kind, target, shown) for kind, target, shown in config["probes"]]
    why = wait(probes, float(config["timeout"]))  # a --ready-cmd that does not exist: the shell's 127
    if why is not None:
        os.write(status, why.encode())
        return 1
    os.write(status, READY)
    os.close(status)
    try:
        os.execvp(driver[0], driver)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.write(2, f"seccomp-learn: --during {driver[0]}: {exc.strerror}\n".encode())
    return 127

