"""A firejail profile: `seccomp.keep` (the allowlist), the errno, and the 32-bit ABI blocked or kept.

`firejail --profile=FILE CMD` loads it; its `seccomp.keep` line is also the list for `--seccomp.keep=`.
firejail filters by name only, as systemd does: the comment block says what was dropped (formats/systemd.py
words it). What firejail adds on its own: prctl, execve and execveat (its group @default-keep, handled by
its preload library), and, without `seccomp.block-secondary`, a 32-bit ABI that is not filtered at all.
A 32-bit keep list cannot help: firejail 0.9.72 compiles `seccomp.32.keep` for the native ABI (measured:
its list then refuses native calls, and i386 calls still pass). So the 32-bit ABI is blocked unless i386
calls were seen; then it is left unfiltered, and the file says so.
"""

from __future__ import annotations

import errno
import textwrap

from tracer.errors import UserError
from tracer.profile.formats.metadata import Metadata
from tracer.profile.formats.systemd import WIDTH, dropped
from tracer.profile.seccomp_json import Profile, effective_errno

KEEP_ADDED = ("execve", "execveat", "prctl")  # firejail's @default-keep (firejail(1), --seccomp.keep)


def _error_action(profile: Profile) -> str:
    if profile.default_action in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD"):
        return "kill"
    if profile.default_action == "SCMP_ACT_LOG":
        return "log"
    ret = effective_errno(profile.default_action, profile.default_errno_ret)
    if profile.default_action != "SCMP_ACT_ERRNO" or ret is None:
        raise UserError(f"firejail's seccomp-error-action cannot express default action {profile.default_action}",
                        "--format firejail")
    return errno.errorcode.get(ret, str(ret))


def render(profile: Profile, meta: Metadata) -> str:
    names = sorted(profile.allowing_names())
    if not names:  # an empty seccomp.keep is refused by firejail
        raise UserError("the profile allows nothing, which seccomp.keep cannot express", "--format firejail")
    notes = dropped(profile) or ["nothing: the profile has no argument rules"]
    lines = [f"# seccomp-learn ({meta.source}): every system call the program was seen to make.",
             "# Use: firejail --profile=THIS-FILE CMD (or --seccomp.keep= with the seccomp.keep list).",
             f"# firejail allows on its own, unlisted: {', '.join(KEEP_ADDED)} (@default-keep).",
             "# What firejail cannot express (it filters by name only):"]
    lines += [f"#   {part}" for note in notes
              for part in textwrap.wrap(note, WIDTH - 4, subsequent_indent="  ", break_on_hyphens=False)]
    lines += [f"seccomp-error-action {_error_action(profile)}", f"seccomp.keep {','.join(names)}"]
    if "SCMP_ARCH_X86" in profile.architectures:  # before the settings: a comment at the end would be lost
        at = lines.index("# What firejail cannot express (it filters by name only):") + 1
        lines[at:at] = ["#   i386 calls were seen: firejail cannot filter the 32-bit ABI by name (seccomp.32.keep",
                        "#     is compiled for the native one), so it is left unfiltered; seccomp.block-secondary",
                        "#     would refuse every i386 call"]
    else:
        lines.append("seccomp.block-secondary")
    return "\n".join(lines) + "\n"
