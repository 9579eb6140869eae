"""A systemd drop-in (`[Service]`): SystemCallArchitectures=, SystemCallFilter=, SystemCallErrorNumber=.

systemd filters by name only, so the drop-in lists every name the profile lets run, and a comment block
above `[Service]` says what the profile held that systemd cannot express: argument rules (the name is then
allowed with any arguments), per-rule errnos (e.g. ENOSYS for a newer variant: systemd returns
SystemCallErrorNumber= instead), and what systemd allows on its own (@default). Names are listed one by one,
never as @groups: see docs/sandboxes.md for the measurement.
"""

from __future__ import annotations

import errno
import textwrap
from collections import defaultdict

from tracer.errors import UserError
from tracer.profile.formats.metadata import Metadata
from tracer.profile.seccomp_json import ALLOWING_ACTIONS, OPERATORS, Arg, Profile, Syscall, effective_errno
from tracer.syscalls.decode import shown
from tracer.syscalls.info import filterable_args

# SCMP arch -> systemd's identifier; "native" is the arch systemd itself was built for (the host's).
ARCHITECTURES = {"SCMP_ARCH_X86_64": "native", "SCMP_ARCH_AARCH64": "native", "SCMP_ARCH_X86": "x86",
                 "SCMP_ARCH_X32": "x32", "SCMP_ARCH_ARM": "arm"}
_KILL = ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD")
WIDTH = 100  # SystemCallFilter= lines are split here (systemd merges repeated assignments)


def condition(name: str, a: Arg) -> str:
    """One argument condition of `name`, as the comment block names it: "domain == AF_INET"."""
    label, decoder = next(((s.name, s.decoder) for s in filterable_args("x86_64", name) if s.index == a.index),
                          (f"arg{a.index}", None))
    if a.op == "SCMP_CMP_MASKED_EQ" and a.value_two == 0:  # the bits outside the mask are those let through
        return f"{label} within {shown(decoder, ~a.value & 0xFFFFFFFF)}"
    if a.op == "SCMP_CMP_MASKED_EQ":
        return f"{label} & {a.value:#x} == {a.value_two:#x}"
    return f"{label} {OPERATORS[a.op]} {shown(decoder, a.value)}"


def _errno_setting(profile: Profile) -> str:
    if profile.default_action in _KILL:
        return "kill"
    ret = effective_errno(profile.default_action, profile.default_errno_ret)
    if profile.default_action != "SCMP_ACT_ERRNO" or ret is None:
        raise UserError(f"systemd's SystemCallErrorNumber= cannot express default action {profile.default_action}: "
                        "use --default-action errno or kill", "--format systemd")
    return errno.errorcode.get(ret, str(ret))


def dropped(profile: Profile) -> list[str]:
    """What the profile says that a name list cannot, one sentence per name (the comment block's lines; the
    firejail format says the same)."""
    unconditional = {n for r in profile.syscalls if r.action in ALLOWING_ACTIONS and not r.args for n in r.names}
    allowed = profile.allowing_names()
    ruled: dict[str, list[Syscall]] = defaultdict(list)
    for rule in profile.syscalls:
        for name in rule.names:
            if rule.action in ALLOWING_ACTIONS and rule.args and name not in unconditional:
                ruled[name].append(rule)
    out = []
    for name in sorted(ruled):
        alts = " or ".join(" and ".join(condition(name, a) for a in r.args) for r in ruled[name])
        labels = sorted({condition(name, a).split()[0] for r in ruled[name] for a in r.args})
        out.append(f"{name}: the profile allows it only for {alts}; here it is allowed with any {', '.join(labels)}")
    denied: dict[str, list[str]] = defaultdict(list)  # what the profile returns -> names that get the default
    for rule in profile.syscalls:
        if rule.action in ALLOWING_ACTIONS:
            continue
        ret = effective_errno(rule.action, rule.errno_ret)
        what = errno.errorcode.get(ret, str(ret)) if ret is not None else rule.action
        for name in rule.names:
            if name in allowed:
                out.append(f"{name}: the profile's {what} for some arguments is dropped: it is allowed here")
            else:
                denied[what].append(name)
    for what, names in sorted(denied.items()):
        fallback = " (libc falls back on ENOSYS only: one that tries them first fails)" if what == "ENOSYS" else ""
        out.append(f"{' '.join(sorted(names))}: the profile returns {what}; here they are denied as every unlisted "
                   f"call{fallback}")
    return out


def render(profile: Profile, meta: Metadata) -> str:
    errno_setting = _errno_setting(profile)
    arches = sorted({ARCHITECTURES.get(a, a.removeprefix("SCMP_ARCH_").lower()) for a in profile.architectures}
                    | {"native"}, key=lambda a: (a != "native", a))
    lines = [f"# seccomp-learn ({meta.source}): every system call the service was seen to make.",
             "# Install: seccomp-learn systemd-unit NAME (or systemctl edit NAME), then restart the service.",
             "# systemd allows on its own, unlisted: the @default set (execve, exit, exit_group, getrlimit,",
             "# rt_sigreturn, sigreturn, the time and sleep calls, ...: systemd-analyze syscall-filter @default).",
             "# What systemd cannot express (it filters by name only):"]
    notes = dropped(profile) or ["nothing: the profile has no argument rules"]
    lines += [f"#   {part}" for note in notes
              for part in textwrap.wrap(note, WIDTH - 4, subsequent_indent="  ", break_on_hyphens=False)]
    lines += ["[Service]", f"SystemCallArchitectures={' '.join(arches)}"]
    names = " ".join(sorted(profile.allowing_names()))
    if not names:  # no SystemCallFilter= at all would filter nothing
        raise UserError("the profile allows nothing, which systemd's SystemCallFilter= cannot express",
                        "--format systemd")
    lines += [f"SystemCallFilter={part}" for part in textwrap.wrap(names, WIDTH - len("SystemCallFilter="),
                                                                   break_long_words=False, break_on_hyphens=False)]
    lines.append(f"SystemCallErrorNumber={errno_setting}")
    return "\n".join(lines) + "\n"
