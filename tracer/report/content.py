"""The audit report as plain data: what `report/build.py` fills in and every format lays out.

The JSON form is this model as is (docs/report-format.md); the formats compute nothing of their own.
"""

from __future__ import annotations

from typing import Literal

from tracer.analysis.hosts import HostView
from tracer.analysis.inputs import SourceKind
from tracer.profile.policy import Extra
from tracer.structs import Struct, field
from tracer.syscalls.info import ArgKind

FORMAT = "seccomp-learn-report"
VERSION = 1
THIS_PROFILE = "<this profile>"  # stands for the learned profile in `docker run` lines
InputKind = Literal["recording", "profile"]
BlockedKind = Literal["blocked", "conditional", "fallback"]
NameStatus = Literal["allowed", "allowed_with_args", "needs_capability", "blocked"]
HintKind = Literal["sigreturn", "one-run", "short-run", "unnamed", "partial", "abi", "launcher", "condition",
                   "limit"]


class Input(Struct):
    path: str  # the file, or "recording" / "profile" when built from an object
    kind: InputKind
    tool: str  # the recording's tool ("seccomp-learn 0.1.0"), "" for a profile


class BaselineInfo(Struct):
    path: str  # "docker" or the file
    kind: SourceKind  # "docker-default" or "profile"
    description: str


class RunInfo(Struct):
    id: str
    command: list[str]
    started: str
    duration_s: float
    exit: dict[str, object]
    partial: bool
    partial_reason: str | None


class ReportSummary(Struct):
    needed: int  # x86_64 names the profile allows (analysis/compare.py counts only x86_64 names)
    needed_allowed: int  # of those, names the baseline allows too
    baseline_allowed: int  # x86_64 names the baseline allows
    removed: int  # baseline_allowed - needed_allowed
    removed_percent: float
    observed: int | None  # distinct named syscalls the recording saw, all ABIs (None: a profile)
    abis: list[str]  # ABIs with observed syscalls (recording) or the profile's ABIs
    architectures: list[str]  # the profile's SCMP_ARCH_* list
    runs: int | None  # None for a profile
    partial_runs: list[str]  # ids of partial runs
    fails: bool  # the workload fails under the baseline unless something changes
    failing: int  # the entries of `blocked` with fails=True


class BlockedEntry(Struct):
    """A needed call the baseline refuses, or allows only with argument values the workload does not use."""

    name: str
    cls: str
    kind: BlockedKind  # conditional: allowed only with other argument values; fallback: ENOSYS
    fails: bool  # False only for "fallback": libc retries with an older call the baseline allows
    baseline: str  # what the baseline does: "EPERM", "allowed if domain in {...}"
    reason: str  # the risk (Docker's REASONS, or analysis/danger.py's for a dangerous call), "" if none
    capability: str | None  # the capability that makes Docker's default allow it
    fix: list[str]  # `docker run` options, any one of which makes the baseline's refusal go away
    note: str  # more on the refusal or the fix, "" if nothing


class ArgSeen(Struct):
    index: int
    name: str  # the man-page name: "flags", "domain"
    kind: ArgKind
    values: list[str]  # decoded, in numeric order; empty when `many`
    many: bool  # more distinct values than the recording keeps
    bits: str | None  # flags only: every bit seen in any call, decoded


class SyscallEntry(Struct):
    name: str
    abi: str | None  # None for a profile (its rules are per name, for every listed ABI)
    cls: str
    nr: int | None
    count: int | None  # None: a profile has no counts
    runs: int | None  # runs that saw it
    runs_total: int | None
    run_ids: list[str]
    executables: list[str]
    args: list[ArgSeen]
    status: NameStatus
    status_text: str  # "allowed", "allowed if ...", "needs CAP_SYS_ADMIN", "blocked (EPERM)"
    capability: str | None
    risk: str | None  # one sentence for sensitive calls


class RuleEntry(Struct):
    name: str
    text: str  # "domain in {AF_UNIX, AF_INET}"


class HintEntry(Struct):
    kind: HintKind
    text: str
    names: list[str]


class Report(Struct):
    input: Input
    baseline: BaselineInfo
    summary: ReportSummary
    runs: list[RunInfo] = field(default_factory=list)
    blocked: list[BlockedEntry] = field(default_factory=list)
    change: list[str] = field(default_factory=list)  # `docker run` options that make it work
    syscalls: list[SyscallEntry] = field(default_factory=list)  # by class, then name, then ABI
    extras: list[Extra] = field(default_factory=list)  # emit's own, as it added them
    rules: list[RuleEntry] = field(default_factory=list)
    hints: list[HintEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hosts: list[HostView] = field(default_factory=list)  # per host, when the profile is for two or more
