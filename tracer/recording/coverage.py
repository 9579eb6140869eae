"""What a recording may lack, and the advice every summary and the report give for it.

One run sees only what that run did: a server stopped within a second misses what it does on a timer
(lighttpd calls sysinfo, for getloadavg, a second after it starts and then every 30 s), and a call that
depends on state (git's utimensat, a reused data directory) shows up in some runs only. Both are said,
with what to do: let the server run longer, or merge more runs (`--repeat N`, `repeat:` in the ci config).
"""

from __future__ import annotations

from tracer.recording.schema import Recording, Run
from tracer.recording.union import low_coverage

SHORT_SERVER_S = 2.0  # a server stopped sooner may miss its once-a-second timers (lighttpd's sysinfo)
_MORE_RUNS = "--repeat N; in the ci config, repeat: N"


def short_server_runs(rec: Recording) -> list[Run]:
    """The runs seccomp-learn stopped (--duration, --during) before SHORT_SERVER_S."""
    return [r for r in rec.runs if r.stopped and r.duration_s < SHORT_SERVER_S]


def advice(rec: Recording) -> list[str]:
    """One line per reason the recording may lack calls the workload makes: short server runs, names that
    only one of several runs saw (those are listed by low_coverage)."""
    lines = []
    short = short_server_runs(rec)
    if short:
        longest = max(r.duration_s for r in short)
        which = "the workload was" if len(rec.runs) == 1 else f"{len(short)} of {len(rec.runs)} runs were"
        lines.append(f"{which} stopped after {longest:.1f}s or less: what a server does on a timer (lighttpd's "
                     f"sysinfo, a second after it starts) may be missing; let it run {SHORT_SERVER_S:g}s or more (a "
                     f"longer --during driver, or --duration), or merge more runs ({_MORE_RUNS})")
    if low_coverage(rec):
        lines.append(f"some syscalls were seen in only one of {len(rec.runs)} runs: calls that depend on timing "
                     f"or state may be missing too; merge more runs ({_MORE_RUNS}) to be surer")
    return lines


def low_coverage_lines(rec: Recording) -> list[str]:
    """The syscalls only one of several runs saw, one line per run."""
    n = len(rec.runs)
    return [f"  low coverage: seen only in run {run} (1 of {n}): {' '.join(names)}"
            for run, names in low_coverage(rec).items()]
