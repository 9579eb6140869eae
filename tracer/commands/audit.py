"""`seccomp-learn audit`: what the kernel's seccomp records say a profile lacks, and the profile with it (audit2allow).

Records come from files (auditd, dmesg, /dev/kmsg, the journal, the log enricher) or, with --follow, live
from the audit netlink group. stdout lists them by container, executable and pid (with --add-to: only what
the profile lacks); stderr has the counts, and every dropped-records line and malformed line as one warning,
even with -q. Exit 0; with --add-to and no -o, 1 when the profile lacks something (as diff(1) does); 2 on a
file that cannot be read.
"""

from __future__ import annotations

import itertools
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from types import FrameType
from typing import Any

from tracer.auditlog.evidence import Collected, collect, group_lines
from tracer.auditlog.filters import Filters, parse_since
from tracer.auditlog.follow import follow
from tracer.auditlog.lacks import Lacking, add_to, lacking
from tracer.auditlog.model import Event, Note
from tracer.auditlog.read import check_source, read_source
from tracer.baseline.profile_file import load_profile_file
from tracer.commands.outcome import Outcome, deliver
from tracer.commands.typed_options import (
    QuietOptions,
    option,
    positional,
    profile_formats,
    quiet,
    repeated,
    switch,
)
from tracer.enforce import export
from tracer.errors import UserError
from tracer.fileio import check_output
from tracer.profile import formats


class AuditOptions(QuietOptions, frozen=True):
    """`seccomp-learn audit [FILE...]`."""

    files: tuple[str, ...] = positional("FILE", nargs="*", help="audit.log, dmesg or /dev/kmsg text, journalctl "
                                        "output (-o export too), log-enricher lines; '-' is stdin.")
    follow: bool = switch("--follow", help="Also read the records live from the audit netlink group (root) until "
                          "--duration or Ctrl-C; each record's container is read from its process's cgroup.")
    duration: float | None = option("--duration", convert=float, metavar="SECONDS",
                                    help="--follow: stop after this long.")
    comm: tuple[str, ...] = repeated("--comm", metavar="NAME", help="Only records of this comm (repeatable).")
    exe: tuple[str, ...] = repeated("--exe", metavar="PATH", help="Only records of this executable (a path or a "
                                    "shell pattern; repeatable).")
    container: tuple[str, ...] = repeated("--container", metavar="ID|NAME",
                                          help="Only records of this container: its id or a prefix of it, or the "
                                               "Kubernetes namespace/pod/container or container name (repeatable).")
    pid: tuple[int, ...] = repeated("--pid", convert=int, metavar="PID",
                                    help="Only records of this process (repeatable).")
    since: str | None = option("--since", metavar="TIME", help="Only records from TIME on: @EPOCH, 2026-12-07 "
                               "12:00:00, or a span back from now (30m, 2h, 1d).")
    add_to: str | None = option("--add-to", metavar="PROFILE", help="List only what PROFILE lacks (exit 1 if "
                                "anything); with -o, write PROFILE plus it, each addition commented with its "
                                "evidence, enforced.")
    output: str | None = option("-o", "--output", metavar="FILE",
                                help="With --add-to: the profile to write ('-' = stdout).")
    fmt: str = option("--format", choices=profile_formats, default="docker",
                      help="-o's format: docker (the default; its comments hold the evidence), oci, kubernetes.")
    quiet: bool = quiet("No counts on stderr (warnings stay).")


LACKS = 1  # exit code of --add-to without -o when the profile lacks something


class Capture:
    """--follow's wait: until --duration passes, or SIGINT/SIGTERM (Ctrl-C ends the capture, not the command).
    The handlers are in place from `with` on, before the capture says it is ready."""

    def __init__(self, duration: float | None) -> None:
        self.duration = duration
        self._stop = threading.Event()
        self._previous: dict[int, Any] = {}

    def _signalled(self, signum: int, frame: FrameType | None) -> None:
        del signum, frame
        self._stop.set()

    def __enter__(self) -> Capture:
        self._previous = {s: signal.signal(s, self._signalled) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)

    def wait(self) -> None:
        self._stop.wait(self.duration)


def _reading() -> None:
    print("seccomp-learn: reading the audit netlink group", file=sys.stderr, flush=True)


def _sources(paths: list[str]) -> Iterator[Event | Note]:
    for path in paths:
        yield from read_source(path)


def _summary(collected: Collected, sources: str, gone: int, filters: Filters) -> list[str]:
    lines = [f"read {collected.records} seccomp record(s) from {sources}"
             + (f"; {collected.kept} kept by the filters" if filters != Filters() else "")]
    if collected.duplicates:
        lines.append(f"  note: {collected.duplicates} record(s) read twice (the same audit time and serial) "
                     "were counted once")
    if collected.untimed:
        lines.append(f"  note: {collected.untimed} record(s) without a time were left out by --since")
    if gone:
        lines.append(f"  note: {gone} record(s) came from processes that had exited before their container "
                     "could be read: they name no container")
    if collected.unnamed:
        unnamed = " ".join(sorted(call for _, call in collected.unnamed))
        lines.append(f"  warning: no name in the tables, not added: {unnamed}")
    if collected.dropped():
        lines.append(f"  warning: {collected.dropped()} line(s) say the kernel dropped records: the calls they "
                     "named are missing here: the kernel log keeps few of a burst (printk's rate limit), auditd's "
                     "audit.log and --follow get every record unless `auditctl -s` shows a rate or backlog limit")
    return lines


def _lacking_lines(profile_path: str, missing: Lacking) -> list[str]:
    lines = [f"{profile_path} lacks {len(missing.names)} syscall(s)"
             + (":" if missing.names else "")]
    lines += [f"  {abi} {name}: {ev}" for (abi, name), ev in sorted(missing.names.items())]
    lines += [f"  architecture {arch} (records of its ABI): added to architectures" for arch in missing.arches]
    lines += [f"  {abi} {name}: allowed only for some argument values, called with others ({ev}); the records "
              "carry no arguments: `seccomp-learn verify --add-missing` learns them"
              for (abi, name), ev in sorted(missing.argument_ruled.items())]
    lines += [f"  {abi} {name}: refused by the profile's own errno rule ({ev}); not added"
              for (abi, name), ev in sorted(missing.refused.items())]
    return lines


def run_audit(o: AuditOptions) -> Outcome:
    if o.duration is not None and (o.duration <= 0 or not o.follow):
        raise UserError("--duration is a positive number of seconds for --follow", "--duration")
    filters = Filters(o.comm, o.exe, o.container, o.pid, None if o.since is None else parse_since(o.since))
    paths, add_to_path, output, fmt, following = list(o.files), o.add_to, o.output, o.fmt, o.follow
    if not paths and not following:
        raise UserError("give the log files to read (FILE..., '-' for stdin) or --follow")
    if output is not None and add_to_path is None:
        raise UserError("-o writes the --add-to profile with what the records name: give --add-to PROFILE")
    formats.check(fmt)
    for path in paths:
        check_source(path)
    if output is not None:
        check_output(output)
    target = None if add_to_path is None else (add_to_path, load_profile_file(add_to_path))
    found: Iterable[Event | Note] = _sources(paths)
    gone = 0
    if following:
        with Capture(o.duration) as capture:
            follower = follow(capture.wait, _reading if not o.quiet else lambda: None)
        found, gone = itertools.chain(found, follower.found), follower.gone
    collected = collect(found, filters)
    sources = ", ".join([*paths, *(["the audit netlink group"] if following else [])])
    summary = _summary(collected, sources, gone, filters)
    errors = [n.line() for n in collected.notes]
    if collected.more_notes:
        errors.append(f"warning: {collected.more_notes} more malformed or dropped-records line(s)")
    if target is None:
        return Outcome(0, summary, "".join(f"{line}\n" for line in group_lines(collected)), errors)
    add_to_path, profile = target
    missing = lacking(profile, collected)
    lines = _lacking_lines(add_to_path, missing)
    listed = group_lines(collected, set(missing.names) | set(missing.argument_ruled))
    if output is None:
        return Outcome(LACKS if missing.names or missing.arches else 0, summary,
                       "".join(f"{line}\n" for line in [*listed, *lines]), errors)
    result = add_to(profile, missing)
    if profile.default_action == "SCMP_ACT_LOG":
        lines.append(f"enforced: default SCMP_ACT_ERRNO (EPERM) instead of {add_to_path}'s complain-mode SCMP_ACT_LOG")
    text = export.render_profile(fmt, result, "seccomp-learn audit")
    written = deliver(text, output, [*summary, *lines])
    return Outcome(0, written.summary, written.stdout, errors)
