"""`verify`: run a workload under a profile enforced by the kernel and name every call it denies.

The profile is compiled with libseccomp and loaded in the child after the tracer's own filter.
Its denials are rewritten to SCMP_ACT_TRACE carrying a verdict (the errno, or kill), so each
denied call stops in the tracer with the kernel's decision in ret_data: the tracer records it
and then applies it (skips the call with that errno, or kills the task). `--complain` records
and lets the call through. An eBPF recorder cannot do this: seccomp denies before its hook runs.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field, replace

from . import ptrace_ext as pt
from .enforce import compile_profile
from .launch import trace_everything
from .profile import Arg, Profile, Syscall
from .session import Denial, TraceOptions, TraceResult
from .syscall_decode import decode
from .syscall_info import filterable_args
from .trace import trace

EXPLICIT = 0x1000  # the verdict came from an explicit rule (e.g. a fallback ENOSYS), not the default
KILL = 0xFFFF


def verdict_of(action: str, errno_ret: int | None, explicit: bool) -> tuple[str, int | None]:
    """The (action, errno_ret) to compile for one of the profile's actions."""
    if action in ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG"):
        return action, errno_ret
    if action in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        return "SCMP_ACT_TRACE", (1 if errno_ret is None else errno_ret) | (EXPLICIT if explicit else 0)
    return "SCMP_ACT_TRACE", KILL  # kill, kill_process, trap: the task does not survive the call


def verdict_profile(profile: Profile) -> Profile:
    action, errno_ret = verdict_of(profile.default_action, profile.default_errno_ret, explicit=False)
    rules = []
    for rule in profile.syscalls:
        r_action, r_errno = verdict_of(rule.action, rule.errno_ret, explicit=True)
        rules.append(replace(rule, action=r_action, errno_ret=r_errno))
    return replace(profile, default_action=action, default_errno_ret=errno_ret, syscalls=rules)


def apply_verdict(pid: int, verdict: int) -> None:
    """Do what the profile would have done: fail the call with its errno, or kill the task."""
    if verdict == KILL:
        os.kill(pid, signal.SIGKILL)
        return
    pt.set_register(pid, pt.REG_ORIG_RAX, -1)  # the kernel skips the call ...
    pt.set_register(pid, pt.REG_RAX, -(verdict & 0xFFF))  # ... and returns -errno


@dataclass
class VerifyResult:
    trace: TraceResult
    denied: list[Denial] = field(default_factory=list)  # by the default action: the profile misses these
    expected: list[Denial] = field(default_factory=list)  # by the profile's own errno rules
    skipped: list[str] = field(default_factory=list)  # names this libseccomp could not compile


def verify(profile: Profile, argv: list[str], complain: bool = False) -> VerifyResult:
    compiled = compile_profile(verdict_profile(profile))
    opts = TraceOptions(filters=[trace_everything(), compiled.filter.load],
                        verdict=(lambda _pid, _v: None) if complain else apply_verdict)
    result = trace(argv, opts)
    out = VerifyResult(result, skipped=compiled.skipped)
    for d in result.denials:
        (out.expected if d.verdict & EXPLICIT and d.verdict != KILL else out.denied).append(d)
    return out


def describe(d: Denial) -> str:
    what = "killed" if d.verdict == KILL else f"errno {d.verdict & 0xFFF}"
    specs = filterable_args(d.abi, d.name)
    shown = []
    for sample in d.arg_samples:
        parts = [f"{s.name}={decode(s.decoder, sample[s.index], sample) if s.decoder else hex(sample[s.index])}"
                 for s in specs]
        if parts:
            shown.append(", ".join(parts))
    args = f" [{'; '.join(sorted(set(shown)))}]" if shown else ""
    return f"{d.abi} {d.name} x{d.count} ({what}) by {', '.join(sorted(d.executables))}{args}"


def with_missing(profile: Profile, denied: list[Denial]) -> Profile:
    """The profile plus what was denied: widened argument rules where the name had some, else the name."""
    missing: dict[str, list[tuple[int, ...]]] = {}
    for d in denied:
        missing.setdefault(d.name, []).extend(d.arg_samples)
    rules = list(profile.syscalls)
    plain = []
    for name, samples in sorted(missing.items()):
        conditional = [r for r in rules if name in r.names and r.args and r.action == "SCMP_ACT_ALLOW"]
        widened = _widen(name, conditional, samples)
        if widened is None:
            plain.append(name)
        else:
            rules = [r for r in rules if r not in conditional] + widened
    if plain:
        rules.append(Syscall(plain, "SCMP_ACT_ALLOW", comment="added by seccomp-learn verify: denied during the run"))
    return replace(profile, syscalls=rules)


def _widen(name: str, conditional: list[Syscall], samples: list[tuple[int, ...]]) -> list[Syscall] | None:
    """Widen single-condition rules (EQ value sets, MASKED_EQ flag masks) by the values that were denied."""
    if not conditional or any(len(r.args) != 1 or r.names != [name] for r in conditional):
        return None
    index, op = conditional[0].args[0].index, conditional[0].args[0].op
    if any(r.args[0].index != index or r.args[0].op != op for r in conditional):
        return None
    comment = "widened by seccomp-learn verify: values denied during the run"
    if op == "SCMP_CMP_EQ":
        values = {r.args[0].value for r in conditional} | {s[index] for s in samples}
        return [Syscall([name], "SCMP_ACT_ALLOW", [Arg(index, v, op)], comment=comment) for v in sorted(values)]
    if op == "SCMP_CMP_MASKED_EQ" and len(conditional) == 1:
        mask = conditional[0].args[0].value
        for s in samples:
            mask &= ~s[index]
        return [Syscall([name], "SCMP_ACT_ALLOW", [Arg(index, mask, op, 0)], comment=comment)] if mask else None
    return None
