"""`verify`: run a workload under a profile enforced by the kernel and name every call it denies.

The profile is compiled with libseccomp and loaded in the child after the tracer's own filter.
Its denials are rewritten to SCMP_ACT_TRACE carrying a verdict (the errno, or a kill or trap), so
each denied call stops in the tracer with the kernel's decision in ret_data: the tracer records it
and then applies it. An errno skips the call with that errno. A kill or trap is left to the kernel:
after a RET_TRACE stop the kernel runs the filters again on the (possibly changed) syscall, so the
tracer changes the call's number to one that a third, tiny filter answers with SECCOMP_RET_KILL_THREAD,
KILL_PROCESS or TRAP. The task then ends exactly as under the profile alone: SIGSYS, "Bad system
call" (a trap's SIGSYS can be caught, as the kernel allows). `--complain` records and lets the call
through. An eBPF recorder cannot do this: seccomp denies before its hook runs.
"""

from __future__ import annotations

from tracer.capture.launch import trace_everything
from tracer.capture.state import Denial, TraceOptions, TraceResult
from tracer.capture.trace import trace
from tracer.kernel import ptrace as pt
from tracer.kernel.seccomp_filter import compile_profile
from tracer.profile.model import ALLOWING_ACTIONS, Arg, Profile, Syscall, effective_errno
from tracer.record import Record, field, replace
from tracer.syscalls.decode import shown
from tracer.syscalls.info import filterable_args

EXPLICIT = 0x1000  # the verdict came from an explicit rule (e.g. a fallback ENOSYS), not the default
KILL_THREAD, KILL_PROCESS, TRAP = 0xFFFF, 0xFFFE, 0xFFFD  # verdicts the kernel itself carries out
_KERNEL_ACTIONS = {"SCMP_ACT_KILL": KILL_THREAD, "SCMP_ACT_KILL_THREAD": KILL_THREAD,
                   "SCMP_ACT_KILL_PROCESS": KILL_PROCESS, "SCMP_ACT_TRAP": TRAP}
VERIFY_DENIED = 1  # verify's exit code when the profile denied a call (else the workload's own)

# Syscall numbers no ABI has (below x32's bit 0x40000000), which the third filter kills or traps. After a
# RET_TRACE stop the kernel re-runs the filters; the most severe action wins, so these always do.
_SEVERE_NR = {KILL_THREAD: 0x3FFFFF01, KILL_PROCESS: 0x3FFFFF02, TRAP: 0x3FFFFF03}
_SEVERE_RET = {KILL_THREAD: 0x00000000, KILL_PROCESS: 0x80000000, TRAP: 0x00030000}  # SECCOMP_RET_*
_LD_NR, _JEQ, _RET_ALLOW = 0x20, 0x15, 0x7FFF0000  # BPF_LD|W|ABS of seccomp_data.nr, BPF_JMP|JEQ|K


def severe_filter() -> pt.BpfFilter:
    """Kill the thread, kill the process, or trap on the three reserved numbers; allow everything else."""
    prog = [(_LD_NR, 0, 0, 0)]
    for verdict, nr in _SEVERE_NR.items():
        prog += [(_JEQ, 0, 1, nr), (pt.BPF_RET_K, 0, 0, _SEVERE_RET[verdict])]
    return pt.BpfFilter([*prog, (pt.BPF_RET_K, 0, 0, _RET_ALLOW)])


def verdict_of(action: str, errno_ret: int | None, explicit: bool) -> tuple[str, int | None]:
    """The (action, errno_ret) to compile for one of the profile's actions."""
    if action in ALLOWING_ACTIONS:
        return action, errno_ret
    errno = effective_errno(action, errno_ret)  # ERRNO and TRACE carry one
    if errno is not None:
        return "SCMP_ACT_TRACE", errno | (EXPLICIT if explicit else 0)
    return "SCMP_ACT_TRACE", _KERNEL_ACTIONS.get(action, KILL_THREAD)  # kill, kill_process, trap


def verdict_profile(profile: Profile) -> Profile:
    action, errno_ret = verdict_of(profile.default_action, profile.default_errno_ret, explicit=False)
    rules = []
    for rule in profile.syscalls:
        r_action, r_errno = verdict_of(rule.action, rule.errno_ret, explicit=True)
        rules.append(replace(rule, action=r_action, errno_ret=r_errno))
    return replace(profile, default_action=action, default_errno_ret=errno_ret, syscalls=rules)


def apply_verdict(pid: int, verdict: int) -> None:
    """Do what the profile would have done: fail the call with its errno, or have the kernel kill or trap."""
    if verdict in _SEVERE_NR:
        pt.set_register(pid, pt.REG_ORIG_RAX, _SEVERE_NR[verdict])  # re-checked: severe_filter() acts on it
    else:
        pt.set_register(pid, pt.REG_ORIG_RAX, -1)  # the kernel skips the call ...
        pt.set_register(pid, pt.REG_RAX, -(verdict & 0xFFF))  # ... and returns -errno


class VerifyResult(Record):
    trace: TraceResult
    denied: list[Denial] = field(default_factory=list)  # by the default action: the profile misses these
    expected: list[Denial] = field(default_factory=list)  # by the profile's own errno rules
    skipped: list[str] = field(default_factory=list)  # names this libseccomp could not compile


def verify(profile: Profile, argv: list[str], complain: bool = False, options: TraceOptions | None = None
           ) -> VerifyResult:
    """Run argv under the profile (only recording its denials with `complain`), and sort the denials;
    `options` carries the run's own settings (--during, --ready, --duration, ...)."""
    compiled = compile_profile(verdict_profile(profile))
    # The profile goes last: it may deny the seccomp() call that would install a filter after it.
    opts = replace(options or TraceOptions(), filters=[trace_everything(), severe_filter().install,
                                                       compiled.filter.load],
                   verdict=(lambda _pid, _v: None) if complain else apply_verdict)
    result = trace(argv, opts)
    out = VerifyResult(result, skipped=compiled.skipped)
    for d in result.denials:
        (out.expected if d.verdict & EXPLICIT and d.verdict not in _SEVERE_NR else out.denied).append(d)
    return out


def across_runs(runs: list[list[Denial]]) -> list[tuple[Denial, int]]:
    """The denials of several runs of one workload, each (abi, name, verdict) merged, with the number of runs it
    appeared in: a name denied in some runs only depends on timing or input, and will be denied in production."""
    merged: dict[tuple[str, str, int], tuple[Denial, int]] = {}
    for denials in runs:
        for d in denials:
            key = (d.abi, d.name, d.verdict)
            if key not in merged:
                merged[key] = (replace(d, executables=set(d.executables), arg_samples=list(d.arg_samples)), 1)
                continue
            m, seen = merged[key]
            m.count += d.count
            m.executables |= d.executables
            m.arg_samples += [s for s in d.arg_samples if s not in m.arg_samples]
            merged[key] = (m, seen + 1)
    return [merged[k] for k in sorted(merged)]


_SEVERE_TEXT = {KILL_THREAD: "killed: SIGSYS", KILL_PROCESS: "process killed: SIGSYS", TRAP: "trapped: SIGSYS"}


def describe(d: Denial) -> str:
    """One denial in a line: ABI, name, count, what the profile did, by whom, with which arguments."""
    what = _SEVERE_TEXT.get(d.verdict) or f"errno {d.verdict & 0xFFF}"
    specs = filterable_args(d.abi, d.name)
    samples = []
    for sample in d.arg_samples:
        parts = [f"{s.name}={shown(s.decoder, sample[s.index], sample)}" for s in specs]
        if parts:
            samples.append(", ".join(parts))
    args = f" [{'; '.join(sorted(set(samples)))}]" if samples else ""
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
